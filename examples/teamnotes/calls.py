"""Every engine call off the event loop, with a deadline.

Both engines are blocking code (SQLite queries; the embedded SpiceDB's
synchronous client). Called on the event loop, one slow or hung call would
freeze every request and every WebSocket of the server. `EngineCalls.run`
runs it on a small thread pool of its own instead and gives up after
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
afterwards. (A call that started and outlives its deadline cannot be
stopped; the engines' write order keeps that case fail-closed, see
`schema.py`.)

`faults` (tests only, `--fault-switch`) makes calls raise or hang, in the
call's thread, exactly where a failing engine would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, TypeVar

from .faults import EngineFaults

T = TypeVar("T")
_running = threading.local()  # the `abandoned` flag of the thread's call
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
    ) -> T:
        """`call()`'s answer, computed on a thread.

        `subject` (`"user:3"`) is whom a check is for, so that a fault can
        target one user's checks.

        Raises:
            EngineUnavailable: `call` raised, or did not answer within
                `timeout` seconds (it is then abandoned), or the engine is
                presumed hung and another call is finding out.
        """
        if not self._hung:
            return await self._run(kind, call, subject)
        loop = asyncio.get_running_loop()
        if self._probing or loop.time() < self._next_probe:
            raise EngineUnavailable(f"engine presumed hung; {kind} not made")
        self._probing = True
        try:
            answer = await self._run(kind, call, subject)
        finally:
            self._probing = False
            self._next_probe = loop.time() + RETRY_EVERY
        self._hung = False
        return answer

    async def _run(
        self, kind: CallKind, call: Callable[[], T], subject: str | None
    ) -> T:
        abandoned = threading.Event()
        faults = self.faults

        def job() -> T:
            if abandoned.is_set():
                raise EngineUnavailable("abandoned before it started")
            if faults is not None:
                faults.strike(kind, subject)
            _running.abandoned = abandoned
            try:
                return call()
            finally:
                _running.abandoned = None

        future = asyncio.get_running_loop().run_in_executor(self._threads, job)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
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

    @staticmethod
    def still_wanted() -> bool:
        """False once the caller of the engine call this thread runs gave up.

        For a call that waits (for a lock) before it changes anything.
        """
        abandoned: threading.Event | None = getattr(_running, "abandoned", None)
        return abandoned is None or not abandoned.is_set()

    def close(self) -> None:
        if self.faults is not None:
            self.faults.set("off")
        self._threads.shutdown(wait=False, cancel_futures=True)
