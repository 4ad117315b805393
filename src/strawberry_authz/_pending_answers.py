"""What a list pass waits for, and writing its objects' answers once they came.

A list pass (`_object_pass`) decides most objects at once; the others wait
for a batch. It lists them here, and each list is written into
`state.per_object` in one go once everything it waits for is answered:
one awaitable per list, not a callback per object.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ._asked import AskedTogether
from ._outcomes import (
    Denial,
    Later,
    Outcome,
    outcome_of_done,
    settle,
)
from ._request import RequestState

__all__ = ["PendingAnswers", "remember_all"]


class PendingAnswers:
    """The objects of one list pass still waiting for an answer.

    `asked_keys[i]` waits for the value whose cache key is `asked_values[i]`,
    one the pass asked itself (it stands in the scope cache as `asked` until
    its batch answers); `waiting[i]` for `futures[i]`: a value another field
    asked first, a value another list is asking (its `AskedTogether.waiter`),
    or a rule's pending answer. Parallel lists, not one of pairs: no tuple
    per object for the collector. `pending` holds what else is to be awaited.
    """

    __slots__ = ("asked", "asked_keys", "asked_values", "futures", "pending", "waiting")

    def __init__(self) -> None:
        self.asked = AskedTogether()
        self.asked_keys: list[Any] = []
        self.asked_values: list[Any] = []
        self.waiting: list[Any] = []
        self.futures: list[asyncio.Future[Any]] = []
        self.pending: list[Any] = []

    def forget_asked(self) -> None:
        """A clear (or a subscription's next event) forgot the objects listed
        so far: their answers are not written."""
        self.asked_keys, self.asked_values = [], []

    def ask_afresh(self) -> None:
        """A clear loaded the scopes afresh: the values asked from now on wait
        under a new `AskedTogether`. A value asked again after the clear
        never stands in the scope cache as the one its old loader's batch,
        still running, answers: that answer was the viewer's before it.
        The old one is still awaited (its batches do not outlive the list)."""
        self.forget_asked()
        self.pending.append(Later(_answered, self.asked))
        self.asked = AskedTogether()

    def outcomes(
        self, state: RequestState, kept: list[object], first_kept: list[object]
    ) -> list[Any]:
        """Everything to await, once every value asked was handed to a batch.

        `kept` is `state.kept` as the pass last saw it, `first_kept` as it
        began: a different list since means a clear or an event came.
        """
        if self.asked_keys:
            self.pending.append(
                Later(
                    _remember_asked,
                    state,
                    kept,
                    self.asked,
                    self.asked_keys,
                    self.asked_values,
                )
            )
        if self.futures:
            self.pending.append(
                Later(remember_all, state, first_kept, self.waiting, self.futures)
            )
        return self.pending


async def _answered(asked: AskedTogether) -> Outcome:
    """Wait for every value `asked` (answers nobody reads: a clear forgot them)."""
    await asked.finished()
    return True


async def _remember_asked(
    state: RequestState,
    kept: list[object],
    asked: AskedTogether,
    keys: list[Any],
    values: list[Any],
) -> Outcome:
    """Wait for the values `asked`, then put each object's outcome (the
    object under `keys[i]` waits for the value under `values[i]`) in
    `state.per_object`, read from the scope cache the batches wrote.

    Unless a clear or a subscription's next event came meanwhile (`kept`
    is no longer `state.kept`): it forgot these objects, and their values'
    answers may be gone or be a fresh loader's.
    """
    await asked.finished()
    if state.kept is not kept:
        return True
    results, table = state.scopes.results, state.per_object
    for key, value_key in zip(keys, values, strict=True):
        answer = results.get(value_key)
        if answer is True or type(answer) is Denial:
            table[key] = answer
        # Else its batch could not settle it: undecided, denied by the caller.
    return True


async def remember_all(
    state: RequestState,
    kept: list[object],
    keys: list[Any],
    futures: list[asyncio.Future[Any]],
) -> Outcome:
    """Wait for `futures` and put each outcome in `state.per_object` under
    its key (`keys`, in the same order), where the future still stands.

    `kept` is `state.kept` as the pass began: while it still is, nothing
    emptied the table since (`clear`, a subscription's next event: both
    make a new list), so each future still stands under its key (nothing
    else replaces a key's future) and is not looked up again.
    A batch answers many at once: once one is done, most others are too,
    so a pending one is found by the error its `result` raises.
    """
    table = state.per_object
    unchanged = state.kept is kept
    for key, future in zip(keys, futures, strict=True):
        try:  # what a batch set, mostly: a failed or pending one raises
            outcome = future.result()
        except (Exception, asyncio.CancelledError):
            if future.done():
                outcome = outcome_of_done(future)
            else:
                outcome = await settle(future)
                unchanged = state.kept is kept  # a clear may have come meanwhile
        if unchanged or table.get(key) is future:  # else `clear` forgot it
            table[key] = outcome
    return True
