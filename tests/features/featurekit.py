"""Helpers of the feature tests; importable thanks to conftest.py.

`codes` and `dump` are the shared ones of `authzkit`, re-exported.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import strawberry
from authzkit import codes, dump

__all__ = [
    "PlainQuery",
    "codes",
    "drain",
    "dump",
    "events",
    "frames",
    "subscription_schema",
]


@strawberry.type
class PlainQuery:
    """A Query for schemas that only care about their Subscription."""

    ok: bool = True


async def drain(stream: Any, *, timeout: float = 3.0) -> list[Any]:
    """Every result a `schema.subscribe(...)` stream yields, within `timeout`."""

    async def collect() -> list[Any]:
        results = []
        async for result in stream:
            results.append(result)
        return results

    if not isinstance(stream, AsyncIterator):
        return [stream]
    return await asyncio.wait_for(collect(), timeout)


def frames(results: list[Any]) -> list[tuple[Any, list[str | None]]]:
    """(data, error codes) of each streamed result, for compact assertions."""
    return [(result.data, codes(result)) for result in results]


def subscription_schema(
    authz: Any, subscription: Any, query: Any = PlainQuery
) -> strawberry.Schema:
    """A schema of `subscription` (and `query`) guarded by `authz`."""
    return strawberry.Schema(query=query, subscription=subscription, extensions=[authz])


async def events(schema: Any, query: str, context: Any) -> list[Any]:
    """Every result of subscribing to `query` with `context`, drained."""
    return await drain(await schema.subscribe(query, context_value=context))
