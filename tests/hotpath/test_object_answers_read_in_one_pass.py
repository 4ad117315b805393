"""A list's per-object answers, read from their futures in one pass.

`_object_pass._remember_all` takes a done future's result without first asking
whether it failed: one that raised or was cancelled must still deny.
"""

import asyncio
from typing import Any

from strawberry_authz._object_pass import _remember_all
from strawberry_authz._outcomes import Denial


async def test_an_answer_whose_future_failed_or_was_cancelled_is_a_denial():
    """The answers of a pass are read from their futures without asking each
    whether it failed first: one that raised or was cancelled still denies."""
    loop = asyncio.get_running_loop()
    allowed, failed, cancelled = (loop.create_future() for _ in range(3))
    allowed.set_result(True)
    failed.set_exception(RuntimeError("the engine went away"))
    cancelled.cancel()
    table: dict[Any, Any] = {"a": allowed, "f": failed, "c": cancelled}
    assert await _remember_all(table, ["a", "f", "c"], [allowed, failed, cancelled])
    assert table["a"] is True
    assert isinstance(table["f"], Denial) and table["f"].failed
    assert isinstance(table["c"], Denial) and table["c"].failed
