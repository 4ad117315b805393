"""A list's per-object answers, read from their futures in one pass.

`_pending_answers.remember_all` takes a done future's result without first asking
whether it failed: one that raised or was cancelled must still deny. While
nothing emptied the answers since the pass began (`state.kept` is still the
list it began with), it writes each answer without looking its key up; after
a clear or a subscription's next event, only where its future still stands.
"""

import asyncio
from types import SimpleNamespace
from typing import Any

from strawberry_authz._asked import AskedTogether
from strawberry_authz._outcomes import Denial
from strawberry_authz._pending_answers import _remember_asked
from strawberry_authz._pending_answers import remember_all as _remember_all


def _state(table: dict[Any, Any]) -> Any:
    return SimpleNamespace(per_object=table, kept=[])


async def test_an_answer_whose_future_failed_or_was_cancelled_is_a_denial():
    """The answers of a pass are read from their futures without asking each
    whether it failed first: one that raised or was cancelled still denies."""
    loop = asyncio.get_running_loop()
    allowed, failed, cancelled = (loop.create_future() for _ in range(3))
    allowed.set_result(True)
    failed.set_exception(RuntimeError("the engine went away"))
    cancelled.cancel()
    table: dict[Any, Any] = {"a": allowed, "f": failed, "c": cancelled}
    state = _state(table)
    assert await _remember_all(
        state, state.kept, ["a", "f", "c"], [allowed, failed, cancelled]
    )
    assert table["a"] is True
    assert isinstance(table["f"], Denial) and table["f"].failed
    assert isinstance(table["c"], Denial) and table["c"].failed


async def test_answers_are_not_written_back_after_a_clear_before_they_are_read():
    """A clear (a new `kept`) before the answers are read: an answer is written
    only where its own future still stands, never over what came after."""
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    first.set_result(True)
    second.set_result(True)
    table: dict[Any, Any] = {"a": first, "b": second}
    state = _state(table)
    began = state.kept
    table.clear()  # what `RequestState.clear` does
    state.kept = []
    decided_again = Denial.__new__(Denial)
    table["b"] = decided_again  # the key decided afresh after the clear
    assert await _remember_all(state, began, ["a", "b"], [first, second])
    assert table == {"b": decided_again}


async def test_answers_are_not_written_back_after_a_clear_while_they_were_awaited():
    """A clear while the pass waits for one of its answers: the answers read
    after it are not written back into the emptied table."""
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    first.set_result(True)
    table: dict[Any, Any] = {"a": first, "b": second}
    state = _state(table)
    task = asyncio.ensure_future(
        _remember_all(state, state.kept, ["a", "b"], [first, second])
    )
    await asyncio.sleep(0)  # the first answer written, the second awaited
    assert table["a"] is True
    table.clear()  # a subscription's next event (`RequestState.start_event`)
    state.kept = []
    second.set_result(True)
    assert await task
    assert table == {}


async def test_values_asked_together_are_not_written_back_after_a_clear():
    """The objects waiting for values their own pass asked: after a clear (a
    new `kept`) while they waited, the value answered afresh is not written
    for them; the table may hold another list's objects under the same keys
    by then (a path's id is free again once nothing keeps it)."""
    asked = AskedTogether()
    asked.expect(1)
    results: dict[Any, Any] = {"v": asked}
    table: dict[Any, Any] = {}
    state = SimpleNamespace(
        per_object=table, kept=[], scopes=SimpleNamespace(results=results)
    )
    task = asyncio.ensure_future(
        _remember_asked(state, state.kept, asked, ["a"], ["v"])
    )
    await asyncio.sleep(0)  # waiting for the batch
    state.kept = []  # `RequestState.clear`
    results["v"] = True  # asked afresh after the clear, by the new viewer
    table["a"] = decided_again = Denial.__new__(Denial)
    asked.left = 0
    asked.wake()
    assert await task
    assert table == {"a": decided_again}
