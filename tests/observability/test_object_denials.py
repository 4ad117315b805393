"""Object rules are audited and traced like field rules (issue 16, point 9).

Every object an `on_object` rule decides is one decision: a denied single
object, a denied list item and a dropped item are each one `AuditLog`
record (also with `only_denied=True`) and one `authz.denied` span event and
denial count in OpenTelemetry. A hook never changes an answer: a tracer
whose span processor raises leaves every `BatchScope` answer as it was.
"""

import asyncio
import logging
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes
from obskit import Telemetry, attrs
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from strawberry_authz import AuthExtension, BatchScope
from strawberry_authz.audit import AuditLog

ITEMS = 6
DENIED = [0, 3]  # can(id) is False for multiples of 3


def build(on_decision: Any, *, batch: bool = False, is_async: bool = False):
    def can(value: int) -> bool:
        return value % 3 != 0

    def can_many(values: list[int]) -> list[bool]:
        return [can(value) for value in values]

    async def can_many_async(values: list[int]) -> list[bool]:
        await asyncio.sleep(0.001)
        return can_many(values)

    async def can_async(value: int) -> bool:
        await asyncio.sleep(0)
        return can(value)

    loader: Any = can_async if is_async else can
    if batch:
        loader = BatchScope(can_many_async if is_async else can_many)
    authz = AuthExtension(lambda _: {"can": loader}, on_decision=on_decision)

    @authz.type_rule(lambda p: {"can": p.root.id}, on_object=True)
    @strawberry.type
    class Doc:
        id: int

    @authz.type_rule(lambda p: {"can": p.root.id}, on_object=True, drop_denied=True)
    @strawberry.type
    class Memo:
        id: int

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return [Doc(id=i) for i in range(ITEMS)]

        @strawberry.field
        def doc(self, id: int) -> Doc | None:
            return Doc(id=id)

        @strawberry.field
        def memos(self) -> list[Memo]:
            return [Memo(id=i) for i in range(ITEMS)]

    return strawberry.Schema(query=Query, extensions=[authz])


QUERY = (
    "query Q { docs { id } doc(id: 3) { id } allowed: doc(id: 1) { id } memos { id } }"
)

DENIED_PATHS = [
    *(["docs", index] for index in DENIED),
    ["doc"],
    *(["memos", index] for index in DENIED),
]


async def execute(schema: strawberry.Schema, is_async: bool) -> Any:
    if is_async:
        return await schema.execute(QUERY)
    return schema.execute_sync(QUERY)


def check_served(result: Any) -> None:
    assert result.data == {
        "docs": [None if i in DENIED else {"id": i} for i in range(ITEMS)],
        "doc": None,
        "allowed": {"id": 1},
        "memos": [{"id": i} for i in range(ITEMS) if i not in DENIED],
    }
    assert codes(result) == ["FORBIDDEN"] * 3


LOADERS = [
    pytest.param(False, False, id="sync loader"),
    pytest.param(True, False, id="sync batch"),
    pytest.param(False, True, id="async loader"),
    pytest.param(True, True, id="async batch"),
]


@pytest.mark.parametrize(("batch", "is_async"), LOADERS)
async def test_every_object_denial_is_one_audit_record(batch, is_async):
    records: list[dict[str, Any]] = []
    audit = AuditLog(records.append, only_denied=True)
    schema = build(audit, batch=batch, is_async=is_async)
    result = await execute(schema, is_async)
    check_served(result)
    assert sorted((r["path"] for r in records), key=str) == sorted(
        DENIED_PATHS, key=str
    )
    fields = {tuple(r["path"]): r["field"] for r in records}
    assert fields[("doc",)] == "Query.doc"
    assert fields[("docs", 3)] == "Query.docs"
    assert fields[("memos", 0)] == "Query.memos"
    for record in records:
        assert (record["effect"], record["code"], record["source"]) == (
            "deny",
            "FORBIDDEN",
            "type",
        )
        assert (record["operation_name"], record["phase"]) == ("Q", "after")


@pytest.mark.parametrize("is_async", [False, True])
async def test_every_object_decided_is_one_record_allowed_or_denied(is_async):
    records: list[dict[str, Any]] = []
    schema = build(AuditLog(records.append), is_async=is_async)
    await execute(schema, is_async)
    effects = {tuple(r["path"]): r["effect"] for r in records}
    assert len(records) == len(effects) == 2 * ITEMS + 2
    assert effects[("allowed",)] == "allow"
    assert [effects[("docs", i)] for i in range(ITEMS)] == [
        "deny" if i in DENIED else "allow" for i in range(ITEMS)
    ]


@pytest.mark.parametrize(("batch", "is_async"), LOADERS)
async def test_every_object_denial_is_one_span_event_and_counted(
    telemetry: Telemetry, batch, is_async
):
    schema = build(telemetry.hook(), batch=batch, is_async=is_async)
    with telemetry.tracer.start_as_current_span("request"):
        result = await execute(schema, is_async)
    check_served(result)
    request = next(s for s in telemetry.spans() if s.name == "request")
    events = [e for e in request.events if e.name == "authz.denied"]
    assert sorted(e.attributes["authz.path"] for e in events) == sorted(
        ".".join(map(str, path)) for path in DENIED_PATHS
    )
    assert all(e.attributes["error.type"] == "FORBIDDEN" for e in events)
    counts = telemetry.counts()

    def denied(field: str) -> Any:
        return attrs(authz_result="deny", authz_field=field, authz_phase="after") | {
            ("error.type", "FORBIDDEN")
        }

    def allowed(field: str) -> Any:
        return attrs(authz_result="allow", authz_field=field, authz_phase="after")

    assert counts == {
        denied("Query.docs"): 2,
        denied("Query.doc"): 1,
        denied("Query.memos"): 2,
        allowed("Query.docs"): ITEMS - 2,
        allowed("Query.doc"): 1,
        allowed("Query.memos"): ITEMS - 2,
    }


class Broken(SpanProcessor):
    """A span processor that raises when a span starts or ends."""

    def __init__(self, when: str) -> None:
        self.when = when

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.when == "start":
            raise RuntimeError("processor broken on start")

    def on_end(self, span: Any) -> None:
        if self.when == "end":
            raise RuntimeError("processor broken on end")


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("when", ["start", "end"])
async def test_a_broken_tracer_never_changes_a_batch_answer(is_async, when, caplog):
    from strawberry_authz.otel import OpenTelemetryDecisions

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(Broken(when))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    hook = OpenTelemetryDecisions(tracer_provider=provider)
    schema = build(hook, batch=True, is_async=is_async)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await execute(schema, is_async)
    check_served(result)
    logs = authz_logs(caplog)
    assert "load_fn" not in logs
    assert "the batch observer raised (ignored)" in logs
