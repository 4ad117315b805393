"""One span per `BatchScope` call, when `OpenTelemetryDecisions` is a hook."""

import asyncio
from typing import Any

import pytest
import strawberry
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from strawberry_authz import AuthExtension, BatchScope
from strawberry_authz.otel import OpenTelemetryDecisions


def build(hook: Any, load_fn: Any, items: int = 25) -> strawberry.Schema:
    authz = AuthExtension(
        lambda _: {"can": BatchScope(load_fn, max_batch_size=10)}, on_decision=hook
    )

    @authz.type_rule(lambda p: {"can": p.root.id})
    @strawberry.type
    class Doc:
        id: int

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return [Doc(id=i) for i in range(items)]

    return strawberry.Schema(query=Query, extensions=[authz])


async def slow_yes(values: list[Any]) -> list[bool]:
    await asyncio.sleep(0.01)
    return [True] * len(values)


@pytest.mark.parametrize("is_async", [False, True])
async def test_each_batch_call_gets_one_span_with_its_size(is_async):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    hook = OpenTelemetryDecisions(tracer_provider=provider)
    load_fn = slow_yes if is_async else (lambda values: [True] * len(values))
    schema = build([hook], load_fn)
    if is_async:
        result = await schema.execute("{ docs { id } }")
    else:
        result = schema.execute_sync("{ docs { id } }")
    assert not result.errors
    spans = [
        s for s in exporter.get_finished_spans() if s.name == "strawberry_authz.batch"
    ]
    assert sorted(s.attributes["authz.batch.size"] for s in spans) == [5, 10, 10]
    assert {s.attributes["authz.scope"] for s in spans} == {"can"}
    if is_async:
        assert all(s.end_time - s.start_time >= 5_000_000 for s in spans)  # the await


def test_no_span_without_a_hook_that_offers_one():
    calls: list[Any] = []

    def load_fn(values: list[Any]) -> list[bool]:
        calls.append(values)
        return [True] * len(values)

    schema = build([lambda decision: None], load_fn)
    assert not schema.execute_sync("{ docs { id } }").errors
    assert len(calls) == 3
