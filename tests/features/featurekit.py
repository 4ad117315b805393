"""Helpers shared by the feature tests (issue 3); importable thanks to conftest.py."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import strawberry


@strawberry.type
class PlainQuery:
    """A Query for schemas that only care about their Subscription."""

    ok: bool = True


def codes(result: Any) -> list[str | None]:
    """The `extensions["code"]` of every error of an execution result."""
    return [(error.extensions or {}).get("code") for error in result.errors or []]


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


def dump(results: Any) -> str:
    """Everything a client would receive, as text (to look for leaks)."""
    if not isinstance(results, list):
        results = [results]
    return repr([(r.data, [e.formatted for e in r.errors or []]) for r in results])
