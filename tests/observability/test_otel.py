"""`OpenTelemetryDecisions` with the real OpenTelemetry SDK, in memory."""

import pytest
from authzkit import codes
from obskit import NOTES_QUERY, Telemetry, attrs, build_schema
from opentelemetry.trace import StatusCode

from strawberry_authz.otel import OpenTelemetryDecisions, batch_span

ALLOW_NOTES = attrs(
    authz_result="allow", authz_field="Query.notes", authz_phase="before"
)
DENY_SECRET = frozenset(
    {
        ("authz.result", "deny"),
        ("authz.field", "Note.secret"),
        ("authz.phase", "before"),
        ("error.type", "FORBIDDEN"),
    }
)
DENY_NOTES_ANONYMOUS = frozenset(
    {
        ("authz.result", "deny"),
        ("authz.field", "Query.notes"),
        ("authz.phase", "before"),
        ("error.type", "UNAUTHENTICATED"),
    }
)


async def test_decisions_are_counted_per_field_result_phase_and_reason_code(
    telemetry: Telemetry,
) -> None:
    schema = build_schema(telemetry.hook())
    result = await schema.execute(NOTES_QUERY, context_value={"user": "ann"})
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]
    assert telemetry.counts() == {ALLOW_NOTES: 1, DENY_SECRET: 2}

    anonymous = await schema.execute(NOTES_QUERY, context_value={})
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    admin = await schema.execute(NOTES_QUERY, context_value={"user": "admin"})
    assert admin.errors is None
    allow_secret = attrs(
        authz_result="allow", authz_field="Note.secret", authz_phase="before"
    )
    # A counter: totals since the start, across requests.
    assert telemetry.counts() == {
        ALLOW_NOTES: 2,
        DENY_SECRET: 2,
        DENY_NOTES_ANONYMOUS: 1,
        allow_secret: 2,
    }


async def test_post_rule_decisions_are_counted_in_their_phase(
    telemetry: Telemetry,
) -> None:
    schema = build_schema(telemetry.hook())
    await schema.execute(
        '{ me(name: "ann") other: me(name: "bob") }', context_value={"user": "ann"}
    )
    assert telemetry.counts() == {
        attrs(authz_result="allow", authz_field="Query.me", authz_phase="after"): 1,
        frozenset(
            {
                ("authz.result", "deny"),
                ("authz.field", "Query.me"),
                ("authz.phase", "after"),
                ("error.type", "FORBIDDEN"),
            }
        ): 1,
    }


async def test_only_checks_that_waited_on_a_loader_are_timed(
    telemetry: Telemetry,
) -> None:
    schema = build_schema(telemetry.hook())
    result = await schema.execute(
        "{ team notes { text } }", context_value={"user": "ann"}
    )
    assert result.errors is None
    durations = telemetry.points("strawberry_authz.check.duration")
    team = attrs(authz_result="allow", authz_field="Query.team", authz_phase="before")
    # `notes` was answered by a sync loader: counted, not timed.
    assert set(durations) == {team}
    assert durations[team].count == 1
    # The loader sleeps 1 ms: the recorded time is the wait, in seconds.
    assert 0.001 <= durations[team].sum < 1.0
    assert ALLOW_NOTES in telemetry.counts()


async def test_each_denial_is_an_event_on_the_current_span_without_reason(
    telemetry: Telemetry,
) -> None:
    schema = build_schema(telemetry.hook())
    with telemetry.tracer.start_as_current_span("POST /graphql"):
        result = await schema.execute(NOTES_QUERY, context_value={"user": "ann"})
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]

    # No span per field: the request's span is the only one.
    [span] = telemetry.spans()
    assert span.name == "POST /graphql"
    events = [event for event in span.events if event.name == "authz.denied"]
    assert [dict(event.attributes or {}) for event in events] == [
        {
            "authz.field": "Note.secret",
            "authz.path": f"notes.{index}.secret",
            "authz.phase": "before",
            "error.type": "FORBIDDEN",
        }
        for index in (0, 1)
    ]


async def test_reasons_are_on_denial_events_only_when_opted_in(
    telemetry: Telemetry,
) -> None:
    schema = build_schema(telemetry.hook(record_reasons=True))
    with telemetry.tracer.start_as_current_span("request"):
        await schema.execute("{ notes { text } }", context_value={})
    [span] = telemetry.spans()
    [event] = span.events
    assert event.name == "authz.denied"
    assert event.attributes is not None
    assert event.attributes["error.type"] == "UNAUTHENTICATED"
    assert event.attributes["authz.path"] == "notes"
    assert "is_logged_in" in str(event.attributes["authz.reason"])


async def test_without_a_current_span_denials_are_still_counted(
    telemetry: Telemetry,
) -> None:
    schema = build_schema(telemetry.hook())
    result = await schema.execute(NOTES_QUERY, context_value={"user": "ann"})
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]
    assert telemetry.spans() == ()
    assert telemetry.counts()[DENY_SECRET] == 2


def test_sync_execution_is_recorded_too(telemetry: Telemetry) -> None:
    schema = build_schema(telemetry.hook())
    result = schema.execute_sync(NOTES_QUERY, context_value={"user": "ann"})
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]
    assert telemetry.counts() == {ALLOW_NOTES: 1, DENY_SECRET: 2}


def test_a_batch_call_is_one_span_with_its_size(telemetry: Telemetry) -> None:
    hook = telemetry.hook()
    with telemetry.tracer.start_as_current_span("request"):
        with hook.batch_span(3, scope="can_read") as span:
            assert span.is_recording()
        with batch_span(2, tracer_provider=telemetry.tracer_provider):
            pass
    first, second, request = telemetry.spans()
    assert (first.name, dict(first.attributes or {})) == (
        "strawberry_authz.batch",
        {"authz.batch.size": 3, "authz.scope": "can_read"},
    )
    assert (second.name, dict(second.attributes or {})) == (
        "strawberry_authz.batch",
        {"authz.batch.size": 2},
    )
    # Batch spans are children of the span current when the batch ran.
    assert first.parent is not None
    assert first.parent.span_id == request.context.span_id


def test_a_failing_batch_call_is_recorded_on_its_span_and_raised(
    telemetry: Telemetry,
) -> None:
    hook = telemetry.hook()
    with pytest.raises(ConnectionError), hook.batch_span(5):
        raise ConnectionError("engine down")
    [span] = telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


def test_without_an_sdk_the_hook_records_into_the_no_op_api() -> None:
    # Only `opentelemetry-api` installed and nothing configured: the global
    # providers are no-ops, and the hook must still work.
    hook = OpenTelemetryDecisions()
    schema = build_schema(hook)
    result = schema.execute_sync(NOTES_QUERY, context_value={"user": "ann"})
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]
    with hook.batch_span(1):
        pass
