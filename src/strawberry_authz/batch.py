"""`BatchScope`: a scope loader that answers many values in one call.

`load_scopes` may return a `BatchScope` in place of a plain loader:
`{"can": BatchScope(check_many)}`. `check_many(values)` receives a list of rule
values and answers, in order, one `bool` (or one exception) per value.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from inspect import isawaitable
from typing import Any

__all__ = ["BatchLoadFn", "BatchScope"]

BatchAnswer = Sequence["bool | BaseException"]
BatchLoadFn = Callable[[list[Any]], "BatchAnswer | Awaitable[BatchAnswer]"]


class BatchScope:
    """A scope whose values are checked in batches.

    Args:
        load_fn: `load_fn(values) -> Sequence[bool | Exception]`, sync or
            async, answering one entry per value, in order.
        max_batch_size: At most this many values per call of `load_fn`.
    """

    __slots__ = ("load_fn", "max_batch_size")

    def __init__(self, load_fn: BatchLoadFn, *, max_batch_size: int = 1000) -> None:
        if not callable(load_fn):
            raise TypeError(f"BatchScope: load_fn must be callable, got {load_fn!r}")
        if (
            not isinstance(max_batch_size, int)
            or isinstance(max_batch_size, bool)
            or max_batch_size < 1
        ):
            raise TypeError(
                "BatchScope: max_batch_size must be a positive int, "
                f"got {max_batch_size!r}"
            )
        self.load_fn = load_fn
        self.max_batch_size = max_batch_size

    def __call__(self, value: object) -> object:
        """Answer one value alone (a batch of one).

        The engine batches values itself; this form keeps a `BatchScope`
        usable wherever a plain loader is expected.
        """
        answered = self.load_fn([value])
        if isawaitable(answered):
            return _first_async(answered)
        return _first(answered)

    def __repr__(self) -> str:
        name = getattr(self.load_fn, "__qualname__", repr(self.load_fn))
        return f"BatchScope({name}, max_batch_size={self.max_batch_size})"


def _first(answered: object) -> object:
    if not isinstance(answered, Sequence) or isinstance(answered, (str, bytes)):
        raise TypeError(f"BatchScope load_fn returned {answered!r}, expected a list")
    if len(answered) != 1:
        raise TypeError(
            f"BatchScope load_fn answered {len(answered)} values for 1 asked"
        )
    answer = answered[0]
    if isinstance(answer, BaseException):
        raise answer
    return answer


async def _first_async(answered: Awaitable[object]) -> object:
    return _first(await answered)
