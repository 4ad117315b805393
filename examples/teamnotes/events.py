"""In-process publish/subscribe for the `noteCreated` subscription.

An event is a note's id, not the note: the subscription reads the note when
it delivers the event, so no subscriber gets a note as it no longer is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator


class NoteEvents:
    """Every subscriber gets every created note's id; the policy filters."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[int]] = set()

    def publish(self, note_id: int) -> None:
        for queue in list(self._queues):
            queue.put_nowait(note_id)

    async def stream(self) -> AsyncGenerator[int, None]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)
