"""A batch's answers, given to futures without asking each whether it is done.

`_batch._settle` sets each future's result and skips one already settled
(cancelled, say) by the error that raises: the entries after it must still
get their own answers, not the chunk's failure.
"""

import asyncio
from typing import Any

from strawberry_authz._batch import Batches, BatchScope
from strawberry_authz._outcomes import Denial


async def test_a_cancelled_future_in_a_chunk_leaves_the_others_their_answers():
    loop = asyncio.get_running_loop()
    results: dict[Any, Any] = {}
    batches = Batches(results, None, sync=False)
    scope = BatchScope(lambda values: [value != "no" for value in values])
    futures = [loop.create_future() for _ in range(3)]
    entries = [
        (value, ("can", value), future)
        for value, future in zip(["a", "b", "no"], futures, strict=True)
    ]
    for _, key, future in entries:
        results[key] = future
    futures[0].cancel()
    batches.send("can", scope, entries)
    await asyncio.gather(*batches._running)
    assert futures[1].result() is True
    assert isinstance(futures[2].result(), Denial)
    assert not futures[2].result().failed
    assert results[("can", "b")] is True
    assert results[("can", "no")] is futures[2].result()
    assert results[("can", "a")] is futures[0]  # left to whoever cancelled it
