"""Every engine call off the event loop, with a deadline.

Every engine is blocking code (SQLite queries; the embedded SpiceDB's
synchronous client; the Cerbos gRPC client). Called on the event loop, one
slow or hung call would freeze every request and every WebSocket of the
server. `EngineCalls.run` runs it on a small thread pool of its own instead
and gives up after
`timeout` seconds: the caller then gets `EngineUnavailable` (a check denies,
a mutation answers a plain error and changes nothing), whatever the call
does later.

While a call that timed out has not been followed by one that answered,
the engine is presumed hung: one call at a time, at most every
`RETRY_EVERY` seconds, goes through to find out; the others fail at once
instead of each waiting out its deadline (a subscriber's backlog of events
is then dropped in moments, fail closed, not over minutes).

A call still waiting for a thread when its caller gives up never starts:
a write that its mutation already reported as failed must not happen
afterwards; a write waiting for another (`still_wanted`) starts only with
half its time left. A call that started and still outlives its deadline
cannot be stopped: the engines' write order keeps that case fail-closed
(see `schema.py`), and `on_late` is told when such a call succeeded after
all, to put right what it did.

`faults` (tests only, `--fault-switch`) makes calls raise or hang, in the
call's thread, exactly where a failing engine would.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from .faults import EngineFaults

T = TypeVar("T")
_running = threading.local()  # the `abandoned` flag and deadline of its call
log = logging.getLogger("examples.teamnotes.engine")
CallKind = Literal["check", "write"]
# Seconds an engine call may take; also the checks' `scope_timeout`.
ENGINE_TIMEOUT = 2.0
THREADS = 8
RETRY_EVERY = 0.5


class EngineUnavailable(Exception):
    """An engine call failed or did not answer in time (the reason is logged)."""


class EngineCalls:
    """Runs blocking engine calls on threads, each limited to `timeout` seconds."""

    def __init__(
        self, timeout: float = ENGINE_TIMEOUT, faults: EngineFaults | None = None
    ) -> None:
        self.timeout = timeout
        self.faults = faults
        self._threads = ThreadPoolExecutor(THREADS, thread_name_prefix="engine")
        self._hung = False  # a call timed out, and none answered since
        self._probing = False  # a call is finding out whether it still is
        self._next_probe = 0.0  # loop time

    async def run(
        self,
        kind: CallKind,
        call: Callable[[], T],
        subject: str | None = None,
        on_late: Callable[[], None] | None = None,
    ) -> T:
        """`call()`'s answer, computed on a thread.

        `subject` (`"user:3"`) is whom a check is for, so that a fault can
        target one user's checks. `on_late()` runs (on the loop) if `call`
        succeeds after its caller gave up.

        Raises:
            EngineUnavailable: `call` raised, or did not answer within
                `timeout` seconds (it is then abandoned), or the engine is
                presumed hung and another call is finding out.
        """
        if not self._hung:
            return await self._run(kind, call, subject, on_late)
        loop = asyncio.get_running_loop()
        if self._probing or loop.time() < self._next_probe:
            raise EngineUnavailable(f"engine presumed hung; {kind} not made")
        self._probing = True
        try:
            answer = await self._run(kind, call, subject, on_late)
        finally:
            self._probing = False
            self._next_probe = loop.time() + RETRY_EVERY
        self._hung = False
        return answer

    async def _run(
        self,
        kind: CallKind,
        call: Callable[[], T],
        subject: str | None,
        on_late: Callable[[], None] | None,
    ) -> T:
        abandoned = threading.Event()
        # A write that waited for another starts only with half its time left.
        start_by = time.monotonic() + self.timeout / 2
        faults = self.faults

        def job() -> T:
            if abandoned.is_set():
                raise EngineUnavailable("abandoned before it started")
            if faults is not None:
                faults.strike(kind, subject)
            _running.abandoned, _running.start_by = abandoned, start_by
            try:
                answer = call()
            finally:
                _running.abandoned = None
            if faults is not None:
                faults.answered(kind, subject)
            return answer

        future = asyncio.get_running_loop().run_in_executor(self._threads, job)
        try:
            # Shielded: the thread's answer still arrives after a time-out.
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except asyncio.TimeoutError:
            future.add_done_callback(lambda done: self._late(done, kind, on_late))
            self._hung = True
            self._next_probe = asyncio.get_running_loop().time() + RETRY_EVERY
            raise EngineUnavailable(
                f"no answer within {self.timeout}s (engine {kind})"
            ) from None
        except EngineUnavailable:
            raise
        except Exception as error:
            raise EngineUnavailable(f"engine {kind} failed: {error!r}") from error
        finally:
            # Also on cancellation (a check's `scope_timeout`): not started yet
            # means never started.
            abandoned.set()

    def _late(
        self, done: asyncio.Future[Any], kind: str, on_late: Callable[[], None] | None
    ) -> None:
        """A call whose caller gave up ended: if it succeeded, say so."""
        if done.cancelled() or done.exception() is not None:
            return
        log.warning("an engine %s succeeded after its caller gave up", kind)
        self._hung = False  # it answers again
        if on_late is not None:
            on_late()

    @staticmethod
    def still_wanted() -> bool:
        """False once the caller of the engine call this thread runs gave up,
        or has less than half its time left.

        For a call that waits (for a lock) before it changes anything.
        """
        abandoned: threading.Event | None = getattr(_running, "abandoned", None)
        if abandoned is None:
            return True
        return not abandoned.is_set() and time.monotonic() < _running.start_by

    def close(self) -> None:
        if self.faults is not None:
            self.faults.set("off")
        self._threads.shutdown(wait=False, cancel_futures=True)
