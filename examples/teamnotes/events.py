"""In-process publish/subscribe for the `noteCreated` subscription."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from .db import NoteRow


class NoteEvents:
    """Every subscriber gets every created note; the policy filters per subscriber."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[NoteRow]] = set()

    def publish(self, note: NoteRow) -> None:
        for queue in list(self._queues):
            queue.put_nowait(note)

    async def stream(self) -> AsyncGenerator[NoteRow, None]:
        queue: asyncio.Queue[NoteRow] = asyncio.Queue()
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)
