"""Hooks that only count (`count_allowed`): the same figures, no record per field.

`OpenTelemetryDecisions` is a `CountingHook`: when it is the only hook, an
allowed decision made without waiting (every field of a list item under a
decided type rule) is counted instead of being built as a `Decision`. These
tests run the same queries through that path and through the record path
(the same hook next to a plain recording hook, which needs every record) and
require identical metrics and span events, in sync and async execution and
in subscriptions.
"""

# No `from __future__ import annotations`: the types are local classes whose
# annotations Strawberry must resolve where they are defined.

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from authzkit import codes
from obskit import Attributes, Telemetry, attrs

from strawberry_authz import AuthExtension, Decision, DecisionPhase
from strawberry_authz.audit import AuditLog

ITEMS = 40
LIST_QUERY = "{ items { id name } }"
DENIED_QUERY = "{ items { id secret } }"


def build_item_schema(on_decision: Any, *, is_async: bool) -> strawberry.Schema:
    """`Item` (id, name, secret) under a type rule; a list and a subscription.

    With `is_async`, `load_scopes` and the `is_logged_in` loader are
    coroutines: the first check waits, the list's items are warmed.
    """

    def load_scopes(context: dict[str, Any]) -> Any:
        user = context.get("user")

        def is_logged_in(_: bool) -> bool:
            return user is not None

        async def is_logged_in_later(_: bool) -> bool:
            await asyncio.sleep(0)
            return user is not None

        scopes = {
            "is_logged_in": is_logged_in_later if is_async else is_logged_in,
            "is_admin": lambda _: user == "admin",
        }
        if not is_async:
            return scopes

        async def later() -> dict[str, Any]:
            await asyncio.sleep(0)
            return scopes

        return later()

    authz = AuthExtension(load_scopes, on_decision=on_decision)

    @authz.type_rule({"is_logged_in": True})
    @strawberry.type
    class Item:
        id: int
        name: str

        @authz.rule({"is_admin": True})
        @strawberry.field
        def secret(self) -> str | None:
            return "s"

    @strawberry.type
    class Query:
        @authz.rule({"is_logged_in": True})
        @strawberry.field
        def items(self) -> list[Item]:
            return [Item(id=i, name=f"item-{i}") for i in range(ITEMS)]

    @strawberry.type
    class Subscription:
        @authz.rule({"is_logged_in": True})
        @strawberry.subscription
        async def item_added(self) -> AsyncGenerator[Item, None]:
            for i in range(3):
                yield Item(id=i, name=f"item-{i}")

    return strawberry.Schema(query=Query, subscription=Subscription, extensions=[authz])


class CountingRecorder:
    """A `CountingHook` of the test's own: what came as counts, what as records."""

    def __init__(self) -> None:
        self.counted: Counter[tuple[str, str, str]] = Counter()
        self.records: list[Decision] = []

    def __call__(self, decision: Decision) -> None:
        self.records.append(decision)

    def count_allowed(
        self, type_name: str, field_name: str, phase: DecisionPhase
    ) -> None:
        self.counted[(f"{type_name}.{field_name}", phase, "allow")] += 1

    def totals(self) -> Counter[tuple[str, str, str]]:
        """Every decision, counted or recorded, by (field, phase, result)."""
        totals = Counter(self.counted)
        for record in self.records:
            result = "allow" if record.allowed else "deny"
            totals[(record.coordinate, record.phase, result)] += 1
        return totals


def allow(field: str, phase: str = "before") -> Attributes:
    return attrs(authz_result="allow", authz_field=field, authz_phase=phase)


def deny(field: str) -> Attributes:
    return frozenset(
        {
            ("authz.result", "deny"),
            ("authz.field", field),
            ("authz.phase", "before"),
            ("error.type", "FORBIDDEN"),
        }
    )


def histogram(telemetry: Telemetry) -> dict[Attributes, int]:
    points = telemetry.points("strawberry_authz.check.duration")
    return {attributes: point.count for attributes, point in points.items()}


def denied_events(telemetry: Telemetry) -> list[dict[str, Any]]:
    return [
        dict(event.attributes or {})
        for span in telemetry.spans()
        for event in span.events
        if event.name == "authz.denied"
    ]


async def drain(stream: Any) -> list[Any]:
    async def collect() -> list[Any]:
        return [result async for result in stream]

    return await asyncio.wait_for(collect(), 3.0)


# -- the counted path gives every field its count -----------------------------


def test_sync_every_checked_field_is_counted_once(telemetry: Telemetry) -> None:
    schema = build_item_schema(telemetry.hook(), is_async=False)
    result = schema.execute_sync(LIST_QUERY, context_value={"user": "ann"})
    assert result.errors is None
    assert len(result.data["items"]) == ITEMS
    assert telemetry.counts() == {
        allow("Query.items"): 1,
        allow("Item.id"): ITEMS,
        allow("Item.name"): ITEMS,
    }
    assert histogram(telemetry) == {}


async def test_async_every_checked_field_is_counted_and_only_waits_are_timed(
    telemetry: Telemetry,
) -> None:
    schema = build_item_schema(telemetry.hook(), is_async=True)
    result = await schema.execute(LIST_QUERY, context_value={"user": "ann"})
    assert result.errors is None
    assert telemetry.counts() == {
        allow("Query.items"): 1,
        allow("Item.id"): ITEMS,
        allow("Item.name"): ITEMS,
    }
    # Only the list's own check waited on the loader; its items were warmed.
    assert histogram(telemetry) == {allow("Query.items"): 1}


async def test_subscription_events_count_every_checked_field(
    telemetry: Telemetry,
) -> None:
    schema = build_item_schema(telemetry.hook(), is_async=False)
    stream = await schema.subscribe(
        "subscription { itemAdded { id name } }", context_value={"user": "ann"}
    )
    results = await drain(stream)
    assert [r.data["itemAdded"]["id"] for r in results] == [0, 1, 2]
    assert telemetry.counts() == {
        allow("Subscription.itemAdded", "subscribe"): 1,
        allow("Item.id"): 3,
        allow("Item.name"): 3,
    }


def test_denials_on_the_counted_path_are_still_counted_and_events(
    telemetry: Telemetry,
) -> None:
    schema = build_item_schema(telemetry.hook(), is_async=False)
    with telemetry.tracer.start_as_current_span("request"):
        result = schema.execute_sync(DENIED_QUERY, context_value={"user": "ann"})
    assert codes(result) == ["FORBIDDEN"] * ITEMS
    assert telemetry.counts() == {
        allow("Query.items"): 1,
        allow("Item.id"): ITEMS,
        deny("Item.secret"): ITEMS,
    }
    events = denied_events(telemetry)
    assert [event["authz.path"] for event in events] == [
        f"items.{index}.secret" for index in range(ITEMS)
    ]


# -- identical to the record path --------------------------------------------


def record_path(telemetry: Telemetry) -> list[Any]:
    """The same OpenTelemetry hook next to one that needs every record."""
    records: list[Decision] = []
    return [telemetry.hook(), records.append]


@pytest.mark.parametrize("query", [LIST_QUERY, DENIED_QUERY])
async def test_counted_and_recorded_paths_report_the_same_telemetry(
    query: str,
) -> None:
    counted, recorded = Telemetry(), Telemetry()
    for is_async in (False, True):
        for telemetry, hook in (
            (counted, counted.hook()),
            (recorded, record_path(recorded)),
        ):
            schema = build_item_schema(hook, is_async=is_async)
            for user in ("ann", None, "admin"):
                with telemetry.tracer.start_as_current_span("request"):
                    if is_async:
                        await schema.execute(query, context_value={"user": user})
                    else:
                        schema.execute_sync(query, context_value={"user": user})
    assert counted.counts() == recorded.counts()
    assert histogram(counted) == histogram(recorded)
    assert denied_events(counted) == denied_events(recorded)
    assert sum(counted.counts().values()) > 4 * ITEMS


async def test_a_counting_hook_gets_records_only_for_denials_and_waits() -> None:
    hook = CountingRecorder()
    schema = build_item_schema(hook, is_async=True)
    await schema.execute(DENIED_QUERY, context_value={"user": "ann"})
    assert hook.totals() == {
        ("Query.items", "before", "allow"): 1,
        ("Item.id", "before", "allow"): ITEMS,
        ("Item.secret", "before", "deny"): ITEMS,
    }
    assert {(r.coordinate, r.allowed, r.waited) for r in hook.records} == {
        ("Query.items", True, True),
        ("Item.secret", False, False),
    }
    assert hook.counted == {("Item.id", "before", "allow"): ITEMS}


def test_next_to_a_hook_needing_records_every_decision_is_a_record(
    telemetry: Telemetry,
) -> None:
    audit_lines: list[dict[str, Any]] = []
    counting = CountingRecorder()
    schema = build_item_schema(
        [telemetry.hook(), counting, AuditLog(audit_lines.append)], is_async=False
    )
    schema.execute_sync(LIST_QUERY, context_value={"user": "ann"})
    assert len(audit_lines) == 1 + 2 * ITEMS
    assert not counting.counted
    assert len(counting.records) == 1 + 2 * ITEMS
    assert sum(telemetry.counts().values()) == 1 + 2 * ITEMS


def test_several_counting_hooks_each_count_every_field(telemetry: Telemetry) -> None:
    first, second = CountingRecorder(), CountingRecorder()
    schema = build_item_schema([first, telemetry.hook(), second], is_async=False)
    schema.execute_sync(LIST_QUERY, context_value={"user": "ann"})
    expected = {
        ("Query.items", "before", "allow"): 1,
        ("Item.id", "before", "allow"): ITEMS,
        ("Item.name", "before", "allow"): ITEMS,
    }
    assert first.totals() == second.totals() == expected
    assert sum(telemetry.counts().values()) == 1 + 2 * ITEMS


def test_a_failing_count_is_logged_and_the_other_hooks_still_count(
    telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(CountingRecorder):
        def count_allowed(
            self, type_name: str, field_name: str, phase: DecisionPhase
        ) -> None:
            raise RuntimeError("metrics backend gone")

    schema = build_item_schema([Broken(), telemetry.hook()], is_async=False)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync(LIST_QUERY, context_value={"user": "ann"})
    assert result.errors is None
    assert len(result.data["items"]) == ITEMS
    assert sum(telemetry.counts().values()) == 1 + 2 * ITEMS
    assert "count_allowed raised" in caplog.text
    assert "metrics backend gone" not in str(result)
