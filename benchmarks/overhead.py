"""Overhead of strawberry-authz against the same schema without authorization.

Run: ``python benchmarks/overhead.py [--objects N] [--rounds R] [--check]``.

Every variant builds the same schema from its own Python classes (Strawberry
types belong to one class), runs the same query over ``--objects`` items, and
is timed side by side with the others in one process. Each round runs every
variant once, in a rotated order, so machine drift hits them all alike; the
reported figure is the median of the per-round ratios.

Cases (the targets come from issue #2, "Performance"):

1. ``type_rule`` on a 5-field type, sync scope, ``execute_sync``:
   ours / no authorization, target <= 1.2x.
2. The same with an async ``load_scopes`` and an async scope loader,
   ``await schema.execute``: ours / no authorization, target <= 1.3x.
3. Strawberry's ``PermissionExtension`` with an equivalent async
   ``BasePermission`` on each of the 5 fields, against ours (async):
   ours must be >= 5x faster.
4. Case 1 with ``OpenTelemetryDecisions`` as ``on_decision`` (the real
   OpenTelemetry SDK, an in-memory metric reader): ours / no authorization,
   target <= 1.5x (issue #10). Every field is then a decision the hook
   records; as a counting hook (``count_allowed``), it counts the allowed
   fields answered from the request's decisions without a record each.

Every run's result is checked (same data as the reference, no errors), so a
broken variant cannot look fast.
"""

# No `from __future__ import annotations`: the types are local classes whose
# annotations Strawberry must resolve where they are defined.

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import ExecutionResult

from strawberry_authz import AuthExtension

QUERY = "{ items { id name score active rank } }"
DEFAULT_OBJECTS = 5_000
DEFAULT_ROUNDS = 11
MIN_ROUNDS = 9


@dataclass(frozen=True)
class Row:
    """One stored object; every variant's `Item` type is built from these."""

    id: int
    name: str
    score: float
    active: bool
    rank: int


def make_rows(objects: int) -> list[Row]:
    return [
        Row(id=i, name=f"item-{i}", score=i * 0.5, active=i % 2 == 0, rank=i % 7)
        for i in range(objects)
    ]


def expected_data(rows: list[Row]) -> dict[str, Any]:
    return {
        "items": [
            {
                "id": row.id,
                "name": row.name,
                "score": row.score,
                "active": row.active,
                "rank": row.rank,
            }
            for row in rows
        ]
    }


@dataclass
class Variant:
    """One way of building the schema, and how to run its query."""

    name: str
    schema: strawberry.Schema
    is_async: bool

    def run(self, loop: asyncio.AbstractEventLoop) -> ExecutionResult:
        if self.is_async:
            return loop.run_until_complete(self.schema.execute(QUERY))
        return self.schema.execute_sync(QUERY)


def _item_kwargs(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "score": row.score,
        "active": row.active,
        "rank": row.rank,
    }


# -- variants -------------------------------------------------------------------


def build_plain(rows: list[Row], *, is_async: bool) -> Variant:
    """The reference: the same schema without any authorization."""

    @strawberry.type
    class Item:
        id: int
        name: str
        score: float
        active: bool
        rank: int

    objects = [Item(**_item_kwargs(row)) for row in rows]

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return objects

    name = "plain (async)" if is_async else "plain (sync)"
    return Variant(name, strawberry.Schema(query=Query), is_async)


def sync_scopes(allow: bool) -> Callable[[object], Mapping[str, object]]:
    def load_scopes(context: object) -> Mapping[str, object]:
        def is_logged_in(_: object) -> bool:
            return allow

        return {"is_logged_in": is_logged_in}

    return load_scopes


def async_scopes(
    allow: bool,
) -> Callable[[object], Coroutine[Any, Any, Mapping[str, object]]]:
    async def load_scopes(context: object) -> Mapping[str, object]:
        await asyncio.sleep(0)

        async def is_logged_in(_: object) -> bool:
            await asyncio.sleep(0)
            return allow

        return {"is_logged_in": is_logged_in}

    return load_scopes


def build_authz(
    rows: list[Row],
    *,
    is_async: bool,
    allow: bool = True,
    on_decision: Any = None,
    name: str | None = None,
) -> Variant:
    """Ours: `type_rule({"is_logged_in": True})` on `Item`.

    With `is_async`, both `load_scopes` and the `is_logged_in` loader are
    coroutines and the query runs with `await schema.execute`.
    """
    load_scopes = async_scopes(allow) if is_async else sync_scopes(allow)
    authz = AuthExtension(load_scopes, on_decision=on_decision)

    @authz.type_rule({"is_logged_in": True})
    @strawberry.type
    class Item:
        id: int
        name: str
        score: float
        active: bool
        rank: int

    objects = [Item(**_item_kwargs(row)) for row in rows]

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return objects

    schema = strawberry.Schema(query=Query, extensions=[authz])
    authz.validate(schema)
    if name is None:
        name = "authz (async)" if is_async else "authz (sync)"
    return Variant(name, schema, is_async)


def build_authz_otel(rows: list[Row], *, allow: bool = True) -> Variant:
    """Case 1 with `OpenTelemetryDecisions` recording into the real SDK."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from strawberry_authz.otel import OpenTelemetryDecisions

    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    hook = OpenTelemetryDecisions(meter_provider=meter_provider)
    return build_authz(
        rows, is_async=False, allow=allow, on_decision=hook, name="authz+otel (sync)"
    )


class IsLoggedIn(BasePermission):
    message = "User is not authenticated"

    async def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return True


def build_permission_extension(rows: list[Row]) -> Variant:
    """Strawberry's own `PermissionExtension` (async) on each of the 5 fields."""

    def guarded() -> Any:
        return strawberry.field(extensions=[PermissionExtension([IsLoggedIn()])])

    @strawberry.type
    class Item:
        id: int = guarded()
        name: str = guarded()
        score: float = guarded()
        active: bool = guarded()
        rank: int = guarded()

    objects = [Item(**_item_kwargs(row)) for row in rows]

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return objects

    return Variant("PermissionExtension", strawberry.Schema(query=Query), True)


def build_variants(objects: int) -> tuple[list[Variant], dict[str, Any]]:
    """Every timed variant, and the data each must return."""
    rows = make_rows(objects)
    variants = [
        build_plain(rows, is_async=False),
        build_authz(rows, is_async=False),
        build_plain(rows, is_async=True),
        build_authz(rows, is_async=True),
        build_permission_extension(rows),
        build_authz_otel(rows),
    ]
    return variants, expected_data(rows)


def check_result(variant: Variant, result: ExecutionResult, expected: object) -> None:
    assert not result.errors, f"{variant.name}: errors {result.errors!r}"
    assert result.data == expected, f"{variant.name}: returned different data"


# -- timing ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    label: str
    numerator: str
    denominator: str
    target: float
    # "max": ratio must be <= target; "min": ratio must be >= target.
    bound: str


CASES = (
    Case(
        "case 1  type_rule, sync scope, execute_sync     ours/plain",
        "authz (sync)",
        "plain (sync)",
        1.2,
        "max",
    ),
    Case(
        "case 2  type_rule, async scope, execute         ours/plain",
        "authz (async)",
        "plain (async)",
        1.3,
        "max",
    ),
    Case(
        "case 3  PermissionExtension(async) vs ours(async) speed-up",
        "PermissionExtension",
        "authz (async)",
        5.0,
        "min",
    ),
    Case(
        "case 4  type_rule + OpenTelemetryDecisions, sync  ours/plain",
        "authz+otel (sync)",
        "plain (sync)",
        1.5,
        "max",
    ),
)


def time_once(
    variant: Variant, loop: asyncio.AbstractEventLoop, expected: object
) -> float:
    gc.collect()
    started = time.perf_counter()
    result = variant.run(loop)
    elapsed = time.perf_counter() - started
    check_result(variant, result, expected)
    return elapsed


def measure(
    variants: list[Variant],
    expected: object,
    rounds: int,
    loop: asyncio.AbstractEventLoop,
) -> list[dict[str, float]]:
    """Per round, the time of each variant; the order rotates every round."""
    for variant in variants:  # warm-up: installs guards, fills caches
        time_once(variant, loop, expected)
    timings: list[dict[str, float]] = []
    for index in range(rounds):
        shift = index % len(variants)
        order = variants[shift:] + variants[:shift]
        timings.append(
            {variant.name: time_once(variant, loop, expected) for variant in order}
        )
    return timings


def report(timings: list[dict[str, float]]) -> bool:
    ok = True
    for case in CASES:
        ratios = [t[case.numerator] / t[case.denominator] for t in timings]
        median = statistics.median(ratios)
        # Ratio of the fastest runs: less sensitive to a noisy machine.
        best = min(t[case.numerator] for t in timings) / min(
            t[case.denominator] for t in timings
        )
        passed = median <= case.target if case.bound == "max" else median >= case.target
        ok = ok and passed
        sign = "<=" if case.bound == "max" else ">="
        print(
            f"{case.label}: median {median:.2f}x (target {sign} {case.target:.1f}x) "
            f"{'PASS' if passed else 'FAIL'}  [min {min(ratios):.2f}x, "
            f"max {max(ratios):.2f}x, n={len(ratios)}; best-of {best:.2f}x]"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=DEFAULT_OBJECTS)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if any target is missed"
    )
    options = parser.parse_args(argv)
    if options.objects < 1 or options.rounds < 1:
        parser.error("--objects and --rounds must be positive")
    if options.rounds < MIN_ROUNDS:
        print(f"note: fewer than {MIN_ROUNDS} rounds; the medians are indicative")

    variants, expected = build_variants(options.objects)
    loop = asyncio.new_event_loop()
    try:
        timings = measure(variants, expected, options.rounds, loop)
    finally:
        loop.close()

    print(
        f"strawberry-authz overhead: {options.objects} objects x 5 fields, "
        f"{options.rounds} interleaved rounds, Python {sys.version.split()[0]}"
    )
    for variant in variants:
        median_ms = statistics.median(t[variant.name] for t in timings) * 1000
        print(f"  {variant.name:<20} median {median_ms:8.1f} ms")
    ok = report(timings)
    return 1 if options.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
