"""Every shape in which a resolver can return a list, for list-field tests.

`shaped(shape, items)` gives `items` as a list, a tuple, a generator, a lazy
iterable (`Lazy`: it only iterates), an async generator, any async iterable
(`AsyncItems`) or a list of awaitables. `SYNC_SHAPES` complete under
`execute_sync`; `ASYNC_SHAPES` need `execute`.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any


class Lazy:
    """An iterable that only iterates: asking its truth value or length fails."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __bool__(self) -> bool:
        raise RuntimeError("LAZY-TRUTH-ASKED")

    def __len__(self) -> int:
        raise RuntimeError("LAZY-LENGTH-ASKED")


class AsyncItems:
    """Any object with `__aiter__` (not an async generator itself)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __aiter__(self) -> AsyncIterator[Any]:
        return _async_generator(self.items)


async def _async_generator(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        await asyncio.sleep(0)
        yield item


async def _later(item: Any) -> Any:
    await asyncio.sleep(0)
    return item


SYNC_SHAPES = ["list", "tuple", "generator", "lazy"]
ASYNC_SHAPES = ["async generator", "async iterable", "awaitables"]


def shaped(shape: str, items: list[Any]) -> Any:
    """`items` as the resolver of a list field could return them."""
    if shape == "list":
        return list(items)
    if shape == "tuple":
        return tuple(items)
    if shape == "generator":
        return (item for item in items)
    if shape == "lazy":
        return Lazy(items)
    if shape == "async generator":
        return _async_generator(items)
    if shape == "async iterable":
        return AsyncItems(items)
    assert shape == "awaitables"
    return [_later(item) for item in items]
