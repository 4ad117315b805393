"""`AskedTogether`: the values one list pass asked, waiting without a future each.

A list pass (`_object_pass`) asks thousands of `BatchScope` values at once.
Each value's entry in the scope cache is the pass's `AskedTogether` until
its batch answers (`_batch._settle` writes the outcome there): a future
per value would cost more than the rest of the value's work, and most
values are asked by their list alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any, final

from ._outcomes import MaybeOutcome, Outcome, misconfigured

__all__ = ["AskedTogether"]


@final
class AskedTogether:
    """The values one list pass asked, answered without a future per value.

    A field that finds it in the scope cache waits with `waiter(key)`, a
    future made for that key only. The pass that asked waits for all its
    values with `finished()`, once it counted every value it handed on
    (`expect`): the answers are then in the scope cache, unless a clear
    dropped them. `Batches` settles each value once, failed or not.
    """

    __slots__ = ("_done", "left", "waiters")

    def __init__(self) -> None:
        self.left = 0  # values handed to a batch and not answered yet
        self._done: asyncio.Future[None] | None = None
        # Per key, the futures of the fields waiting for it (made on demand).
        self.waiters: dict[Hashable, list[asyncio.Future[Any]]] | None = None

    def expect(self, count: int) -> None:
        """`count` more values were handed to a batch."""
        self.left += count

    def waiter(self, key: Hashable) -> MaybeOutcome:
        """What a field asking the value under `key` waits for: a future of
        its own, answered when the value is; a failure denial without a
        running loop (nothing could answer it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return misconfigured(
                "a value a list is waiting for was asked without an event loop"
            )
        future: asyncio.Future[Any] = loop.create_future()
        if self.waiters is None:
            self.waiters = {}
        self.waiters.setdefault(key, []).append(future)
        return future

    def answer_waiters(self, key: Hashable, outcome: Outcome) -> None:
        """The fields waiting for the value under `key` get `outcome`."""
        if self.waiters is not None:
            for future in self.waiters.pop(key, ()):
                if not future.done():
                    future.set_result(outcome)

    def answered(self, key: Hashable, outcome: Outcome) -> None:
        """The value under `key` has `outcome`: its waiters are told, and it
        is counted down (`_batch._settle` does this inline, per value)."""
        self.answer_waiters(key, outcome)
        self.left -= 1
        if self.left <= 0:
            self.wake()

    def wake(self) -> None:
        """Every value counted so far is answered: `finished` returns."""
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def finished(self) -> None:
        """Return once every value counted so far is answered.

        One awaiter at a time (the pass that asked): a second one cancelled
        would cancel the first's wait too.
        """
        if self.left > 0:
            if self._done is None or self._done.done():
                self._done = asyncio.get_running_loop().create_future()
            await self._done

    def __repr__(self) -> str:
        return f"<{self.left} values asked together>"
