"""Every shape in which a resolver can return a list, for list-field tests.

`shaped(shape, items)` gives `items` as a list, a tuple, a generator, a lazy
iterable (`Lazy`: it only iterates), an async generator, any async iterable
(`AsyncItems`) or a list of awaitables. `SYNC_SHAPES` complete under
`execute_sync`; `ASYNC_SHAPES` need `execute`.
`execute_sync_leaving` runs an operation with `execute_sync` and tells which
coroutines it left never awaited.
"""

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from types import CodeType, CoroutineType
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


def execute_sync_leaving(
    schema: Any, query: str, **options: Any
) -> tuple[Any, list[CodeType]]:
    """`schema.execute_sync(query, **options)`, and each coroutine left unawaited.

    When an operation meets something to await, Strawberry's `execute_sync`
    makes the async result a task on the thread's event loop and cancels it:
    the coroutines behind it never run, and warn "never awaited" whenever
    the garbage collector reaches them, in whatever test runs then.
    (graphql-core's own docs silence these warnings.) Here that loop is
    this call's own, run once and closed, and the garbage is collected
    before returning: the warnings are counted here, not left to surface
    later, each as the code of the coroutine that gave it.
    """
    with unawaited_coroutines() as left:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            result = schema.execute_sync(query, **options)
            loop.run_until_complete(asyncio.sleep(0))  # the cancelled task ends
        finally:
            asyncio.set_event_loop(None)
            loop.close()
        forget_tracebacks(result)
    return result, left


@contextmanager
def unawaited_coroutines() -> Iterator[list[CodeType]]:
    """The code of every coroutine that warned "never awaited" in the block.

    Filled when the block ends, after the garbage is collected (drop, or
    `forget_tracebacks`, what the block still holds that might hold one).
    """
    left: list[CodeType] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield left
        gc.collect()
        while caught:
            # A warning keeps its coroutine, and what that one holds, alive:
            # only the codes are kept, and the garbage is collected again.
            found = [w.source for w in caught if isinstance(w.source, CoroutineType)]
            caught.clear()
            left += [coroutine.cr_code for coroutine in found]
            del found
            gc.collect()


def forget_tracebacks(result: Any) -> None:
    """Drop the tracebacks of `result`'s errors: their frames hold what they saw."""
    for error in result.errors or []:
        _drop_tracebacks(error)


def _drop_tracebacks(error: BaseException | None) -> None:
    while error is not None:
        error.__traceback__ = None
        _drop_tracebacks(getattr(error, "original_error", None))
        error = error.__cause__ or error.__context__
