"""Policy engines at scale: Cedar in process and a real Cerbos server.

Run: ``python benchmarks/engines.py [--items N] [--rounds R] [--check]``
(``bash scripts/test`` installs both engines; Cerbos needs
``CERBOS_BINARY`` or ``.venv/cerbos/<version>/cerbos`` from
``scripts/cerbos.sh``).

The same `Document` list (id, owner, status) is served without authorization
("bare") and with a per-object type rule ``{"can": documents.check(root,
"view")}`` answered by each engine. Each round runs every variant once, in a
rotated order; figures are medians of the per-round ratios. Targets (issue
20, "Performance"):

1. Cedar, ``execute_sync``: ours / bare <= 3x, one ``is_authorized_batch``
   per chunk of 1,000.
2. Cerbos, an async client, ``await schema.execute``: exactly ceil(N / 500)
   ``CheckResources`` calls; the library's share (total minus the time spent
   inside the engine calls, measured around each call) / bare <= 1.5x, i.e.
   the library adds at most 0.5x bare beyond what the engine takes.

Every run's answers are checked (the visible documents, one FORBIDDEN per
hidden one) so a broken variant cannot look fast. ``--check`` runs small
sizes once and only verifies that.
"""

# No `from __future__ import annotations`: Strawberry resolves the local types.

import argparse
import asyncio
import logging
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import strawberry

from strawberry_authz import AuthExtension
from strawberry_authz.engines import Resource

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "engines"))

QUERY = "{ documents { id owner status } }"
CEDAR_POLICIES = """
permit(principal, action == Action::"view", resource)
when { resource.owner == principal.id || resource.status == "published" };
"""
DOCUMENTS = Resource("document", attributes=["owner", "status"])


@dataclass(frozen=True)
class Row:
    id: int
    owner: str
    status: str


def rows(n: int, *, denied: bool) -> list[Row]:
    """`n` documents; with `denied`, alice sees 1 in 2 (her own) and the
    published ones (1 in 4 of the rest), else all of them (timed runs: a
    denial's cost is graphql-core's error handling, not the engine's)."""
    return [
        Row(
            i,
            "alice" if i % 2 or not denied else "bob",
            "published" if i % 8 == 0 else "draft",
        )
        for i in range(n)
    ]


def visible(data: list[Row]) -> int:
    return sum(1 for r in data if r.owner == "alice" or r.status == "published")


def schema(data: list[Row], scope: Any = None) -> strawberry.Schema:
    if scope is None:
        authz = None
    else:
        authz = AuthExtension(lambda context: {"can": scope(context)})

    @strawberry.type
    class Document:
        id: int
        owner: str
        status: str

    if authz is not None:
        Document = authz.type_rule(lambda p: {"can": DOCUMENTS.check(p.root, "view")})(
            Document
        )

    @strawberry.type
    class Query:
        @strawberry.field
        def documents(self) -> list[Document | None]:  # type: ignore[valid-type]
            return [Document(id=r.id, owner=r.owner, status=r.status) for r in data]

    return strawberry.Schema(
        query=Query, extensions=[authz] if authz is not None else []
    )


def checked(result: Any, data: list[Row], authorized: bool) -> None:
    items = result.data["documents"]
    if not authorized:
        assert result.errors is None and len(items) == len(data)
        return
    assert sum(item is not None for item in items) == visible(data)
    assert len(result.errors or []) == len(data) - visible(data)


class Timed:
    """A Cerbos client that times its calls and counts the resources sent.

    Chunks are asked concurrently, so `seconds` is the wall time during
    which at least one call was in flight (the union of their intervals).
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.intervals: list[tuple[float, float]] = []
        self.sent: list[int] = []

    def reset(self) -> None:
        self.intervals, self.sent = [], []

    @property
    def seconds(self) -> float:
        total, end = 0.0, float("-inf")
        for start, stop in sorted(self.intervals):
            if stop > end:
                total += stop - max(start, end)
                end = stop
        return total

    async def check_resources(self, **request: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self.client.check_resources(**request)
        finally:
            self.intervals.append((started, time.perf_counter()))
            self.sent.append(len(request["resources"]))


def cedar_case(n: int, rounds: int, check: bool) -> None:
    import cedarpy

    from strawberry_authz.cedar import Cedar

    data = rows(n, denied=check)
    calls: list[int] = []
    decide = cedarpy.is_authorized_batch

    def counting(requests: list[Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(len(requests))
        return decide(requests, *args, **kwargs)

    cedarpy.is_authorized_batch = counting
    try:
        entities = [
            {
                "uid": {"type": "user", "id": "alice"},
                "attrs": {"id": "alice"},
                "parents": [],
            }
        ]
        cedar = Cedar(
            CEDAR_POLICIES,
            entities=entities,
            principal=lambda c: {"type": "user", "id": "alice"},
        )
        bare, ours = schema(data), schema(data, cedar.scope)
        ratios = []
        for r in range(rounds):
            times = {}
            for name in ("bare", "ours") if r % 2 else ("ours", "bare"):
                target = bare if name == "bare" else ours
                calls.clear()
                started = time.perf_counter()
                result = target.execute_sync(QUERY, context_value={})
                times[name] = time.perf_counter() - started
                checked(result, data, name == "ours")
                if name == "ours":
                    assert calls == [1000] * (n // 1000) + (
                        [n % 1000] if n % 1000 else []
                    )
            ratios.append(times["ours"] / times["bare"])
    finally:
        cedarpy.is_authorized_batch = decide
    print(
        f"Cedar, {n} items, execute_sync: {statistics.median(ratios):.2f}x bare "
        f"(target <= 3x), {math.ceil(n / 1000)} is_authorized_batch calls"
    )


async def cerbos_case(n: int, rounds: int, check: bool) -> None:
    import cerboskit

    from strawberry_authz.cerbos import Cerbos

    data = rows(n, denied=check)
    server = cerboskit.CerbosServer().start()
    try:
        client = Timed(cerboskit.async_client(server))
        cerbos = Cerbos(client, principal=lambda c: {"id": "alice", "roles": ["user"]})
        bare, ours = schema(data), schema(data, cerbos.scope)
        await ours.execute(QUERY, context_value={})  # connect once
        shares, totals, engine = [], [], []
        for r in range(rounds):
            times = {}
            for name in ("bare", "ours") if r % 2 else ("ours", "bare"):
                target = bare if name == "bare" else ours
                client.reset()
                started = time.perf_counter()
                result = await target.execute(QUERY, context_value={})
                times[name] = time.perf_counter() - started
                checked(result, data, name == "ours")
                if name == "ours":
                    assert len(client.sent) == math.ceil(n / 500), client.sent
                    assert max(client.sent) <= 500
                    engine.append(client.seconds)
            shares.append((times["ours"] - engine[-1]) / times["bare"])
            totals.append(times["ours"] / times["bare"])
        print(
            f"Cerbos, {n} items, async: {math.ceil(n / 500)} CheckResources calls; "
            f"total {statistics.median(totals):.2f}x bare, engine "
            f"{statistics.median(engine) * 1000:.0f} ms, library share "
            f"{statistics.median(shares):.2f}x bare (target <= 1.5x)"
        )
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    items, rounds = (600, 1) if args.check else (args.items, args.rounds)
    # Strawberry logs every denied field with its traceback; the library, not
    # the logging setup, is measured here.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    cedar_case(items, rounds, args.check)
    asyncio.run(cerbos_case(items, rounds, args.check))


if __name__ == "__main__":
    main()
