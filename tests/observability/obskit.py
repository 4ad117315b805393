"""One schema for the observability tests (issue 10, points 4 and 5).

- `Query.notes`: rule `is_logged_in` (raises `UnauthenticatedError` for an
  anonymous request), a sync loader: answered without waiting.
- `Note.secret`: rule `is_admin`, denied (`FORBIDDEN`) for anyone but "admin".
- `Query.team`: rule `is_member`, an async loader: the check waits.
- `Query.me`: a post rule (`source == "post"`).
- `Mutation.rename`: the default scopes of `Mutation` (`is_logged_in`).
"""

# No `from __future__ import annotations`: the types are local classes whose
# annotations Strawberry must resolve where they are defined.

import asyncio
from typing import Any

import strawberry
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from strawberry_authz import AuthExtension, UnauthenticatedError
from strawberry_authz.otel import OpenTelemetryDecisions

NOTES_QUERY = "query Notes { notes { text secret } }"


def load_scopes(context: dict[str, Any]) -> dict[str, Any]:
    user = context.get("user")

    def is_logged_in(_: bool) -> bool:
        if user is None:
            raise UnauthenticatedError()
        return True

    async def is_member(team: str) -> bool:
        await asyncio.sleep(0.001)
        return user == "ann" and team == "blue"

    return {
        "is_logged_in": is_logged_in,
        "is_admin": lambda _: user == "admin",
        "is_member": is_member,
    }


def build_schema(on_decision: Any) -> strawberry.Schema:
    authz = AuthExtension(
        load_scopes,
        default_scopes={"Mutation": {"is_logged_in": True}},
        on_decision=on_decision,
    )

    @strawberry.type
    class Note:
        text: str

        @authz.rule({"is_admin": True})
        @strawberry.field
        def secret(self) -> str | None:
            return f"secret of {self.text}"

    @strawberry.type
    class Query:
        @authz.rule({"is_logged_in": True})
        @strawberry.field
        def notes(self) -> list[Note]:
            return [Note(text="a"), Note(text="b")]

        @authz.rule({"is_member": "blue"})
        @strawberry.field
        async def team(self) -> str | None:
            return "blue"

        @authz.post_rule(lambda params, name: name == params.context.get("user"))
        @strawberry.field
        def me(self, name: str) -> str | None:
            return name

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def rename(self, name: str) -> str:
            return name

    return strawberry.Schema(query=Query, mutation=Mutation, extensions=[authz])


Attributes = frozenset[tuple[str, Any]]


class Telemetry:
    """An SDK meter and tracer provider whose output the test can read."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.tracer_provider.get_tracer("the-app")

    def hook(self, **options: Any) -> OpenTelemetryDecisions:
        return OpenTelemetryDecisions(
            meter_provider=self.meter_provider,
            tracer_provider=self.tracer_provider,
            **options,
        )

    def points(self, name: str) -> dict[Attributes, Any]:
        found: dict[Attributes, Any] = {}
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            found[frozenset(point.attributes.items())] = point
        return found

    def counts(self) -> dict[Attributes, int]:
        points = self.points("strawberry_authz.decisions")
        return {attributes: point.value for attributes, point in points.items()}

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()


def attrs(**values: str) -> Attributes:
    return frozenset((key.replace("_", "."), value) for key, value in values.items())
