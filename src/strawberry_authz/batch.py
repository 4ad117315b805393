"""`BatchScope`: a scope loader that answers many values in one call.

`load_scopes` may return a `BatchScope` in place of a plain loader:
`{"can": BatchScope(check_many)}`. `check_many(values)` receives a list of rule
values and answers, in order, one `bool` (or one exception) per value.
`Batches` is the per-operation side: which values are waiting for a batch, and
asking them once per chunk.

An exception *for one value* denies only the fields that need that value (a
`GraphQLError` is their reason; any other gives `FORBIDDEN` and a log).
`load_fn` raising, timing out, or answering with the wrong length or a
non-bool denies the whole chunk, logged (fail closed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Generator, Hashable, Sequence
from contextlib import AbstractContextManager, nullcontext
from inspect import isawaitable
from typing import Any

from .errors import ForbiddenError
from .outcomes import (
    ALLOW,
    Denial,
    MaybeOutcome,
    Outcome,
    denial_from_exception,
    discard,
    misconfigured,
    safe_repr,
    timed_out,
    within,
)

__all__ = ["BatchLoadFn", "BatchObserver", "BatchScope", "Batches", "Queued"]

logger = logging.getLogger("strawberry_authz")

BatchObserver = Callable[[str, int], "AbstractContextManager[Any]"]
"""`observer(scope_name, size)`: a context entered around each batch call."""

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


class Queued:
    """The answer of a value queued for the next batch (sync pre-decision only).

    It is never awaited: once the batch has answered, the answer is in the
    scope cache under `key` (a round that only waited for it reads it there;
    any other is evaluated again).
    """

    __slots__ = ("key",)

    def __init__(self, key: Hashable) -> None:
        self.key = key

    def __await__(self) -> Generator[Any, None, Any]:
        raise RuntimeError("a queued batch value is not awaitable")
        yield  # pragma: no cover

    def __repr__(self) -> str:
        return "<queued for a batch>"


_Entry = tuple[object, Hashable, "asyncio.Future[Any] | None"]
"""A queued value: the value, its cache key, and its future (None when sync)."""


class Batches:
    """The `BatchScope` values one operation still has to ask, and asking them.

    With an event loop, a value not yet known gets a future and joins its
    scope's queue; the queue is flushed once per loop tick (`call_soon`), so
    every value asked by the same pass over a list goes in one `load_fn`
    call per chunk of `max_batch_size`. Without a loop (`execute_sync`), a
    list pre-decision sets `collecting`: values are queued, the round is
    evaluated again after `flush` answered them; any other value is asked
    alone (a batch of one). Answers land in `results` (the scope cache).
    """

    __slots__ = (
        "_queued",
        "_running",
        "collecting",
        "immediate",
        "observer",
        "results",
        "sync",
        "timeout",
    )

    def __init__(
        self,
        results: dict[Hashable, Any],
        timeout: float | None,
        *,
        sync: bool,
        observer: BatchObserver | None = None,
    ) -> None:
        self.results = results
        self.timeout = timeout
        self.sync = sync
        self.observer = observer
        # Set while a sync inline check (`check_sync`) evaluates: it cannot
        # wait for a batch, so each value is asked at once.
        self.immediate = False
        self.collecting = False
        self._queued: dict[str, tuple[BatchScope, list[_Entry], set[Hashable]]] = {}
        self._running: set[asyncio.Future[Any]] = set()

    def ask(
        self, name: str, scope: BatchScope, value: object, key: Hashable
    ) -> MaybeOutcome:
        loop = None
        if not self.sync:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        if self.immediate or (loop is None and not self.collecting):
            return self._answers(name, scope, [value])[0]
        queue = self._queued.get(name)
        if queue is None:
            queue = self._queued[name] = (scope, [], set())
            if loop is not None:
                loop.call_soon(self._flush_async, name)
        if loop is None:
            if key not in queue[2]:
                queue[2].add(key)
                queue[1].append((value, key, None))
            return Queued(key)
        future: asyncio.Future[Any] = loop.create_future()
        queue[1].append((value, key, future))
        return future

    @property
    def queued(self) -> bool:
        return bool(self._queued)

    def flush(self) -> None:
        """Ask every queued value now, synchronously (sync pre-decision)."""
        queued, self._queued = self._queued, {}
        for name, (scope, entries, _) in queued.items():
            for chunk in _chunks(entries, scope.max_batch_size):
                values = [value for value, _, _ in chunk]
                self._settle(chunk, self._answers(name, scope, values))

    def _flush_async(self, name: str) -> None:
        scope, entries, _ = self._queued.pop(name)
        for chunk in _chunks(entries, scope.max_batch_size):
            task = asyncio.ensure_future(self._ask_chunk(name, scope, chunk))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _ask_chunk(
        self, name: str, scope: BatchScope, chunk: list[_Entry]
    ) -> None:
        """One `load_fn` call for `chunk`; every future of it is resolved."""
        values = [value for value, _, _ in chunk]
        try:
            with self._span(name, len(values)):
                answered = scope.load_fn(values)
                if isawaitable(answered):
                    answered = await within(answered, self.timeout)
            outcomes = _read_answers(name, values, answered)
        except asyncio.TimeoutError:
            outcomes = [timed_out(f"BatchScope {name!r}", self.timeout)] * len(chunk)
        except (Exception, asyncio.CancelledError) as error:
            outcomes = [_chunk_failed(name, error)] * len(chunk)
        self._settle(chunk, outcomes)

    def _answers(
        self, name: str, scope: BatchScope, values: list[object]
    ) -> list[Outcome]:
        try:
            with self._span(name, len(values)):
                answered = scope.load_fn(values)
        except (Exception, asyncio.CancelledError) as error:
            return [_chunk_failed(name, error)] * len(values)
        if isawaitable(answered):
            discard(answered)
            return [
                misconfigured(
                    f"BatchScope {name!r}: load_fn is async but the operation runs "
                    "synchronously (execute_sync); use schema.execute"
                )
            ] * len(values)
        return _read_answers(name, values, answered)

    def _span(self, name: str, size: int) -> AbstractContextManager[Any]:
        """The observer's context (a tracing span) around one batch call."""
        if self.observer is None:
            return nullcontext()
        return _Observed(self.observer, name, size)

    def _settle(self, chunk: list[_Entry], outcomes: list[Outcome]) -> None:
        results = self.results
        for entry, outcome in zip(chunk, outcomes, strict=True):
            key, future = entry[1], entry[2]
            if future is None:
                results[key] = outcome
            elif future.done():
                continue
            else:
                if results.get(key) is future:
                    results[key] = outcome
                future.set_result(outcome)


class _Observed:
    """The observer's context around a batch call, kept out of its answer.

    An observer (a tracer whose span processor raises, say) that fails to
    start or to end its context is logged and ignored: the call runs, and
    its answers and errors stay what `load_fn` made them.
    """

    __slots__ = ("_entered", "_name", "_observer", "_size")

    def __init__(self, observer: BatchObserver, name: str, size: int) -> None:
        self._observer = observer
        self._name = name
        self._size = size
        self._entered: AbstractContextManager[Any] | None = None

    def __enter__(self) -> None:
        try:
            context = self._observer(self._name, self._size)
            context.__enter__()
        except Exception:
            logger.exception("strawberry-authz: the batch observer raised (ignored)")
            return
        self._entered = context

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        # Returns None: what the call raised goes on, whatever the observer says.
        context, self._entered = self._entered, None
        if context is None:
            return
        try:
            context.__exit__(kind, error, traceback)
        except Exception as raised:
            if raised is not error:
                logger.exception(
                    "strawberry-authz: the batch observer raised (ignored)"
                )


def _chunks(entries: list[_Entry], size: int) -> list[list[_Entry]]:
    return [entries[start : start + size] for start in range(0, len(entries), size)]


def _read_answers(name: str, values: list[object], answered: object) -> list[Outcome]:
    """One outcome per value; a malformed answer denies the whole chunk."""
    try:
        return _answers_of(name, values, answered)
    except Exception as error:  # an answer that breaks when read
        return [_chunk_failed(name, error)] * len(values)


def _answers_of(name: str, values: list[object], answered: object) -> list[Outcome]:
    if not isinstance(answered, Sequence) or isinstance(answered, (str, bytes)):
        return [
            misconfigured(
                f"BatchScope {name!r}: load_fn returned {safe_repr(answered)}, "
                "expected a list with one bool (or exception) per value"
            )
        ] * len(values)
    if len(answered) != len(values):
        return [
            misconfigured(
                f"BatchScope {name!r}: load_fn answered {len(answered)} values "
                f"for {len(values)} asked"
            )
        ] * len(values)
    for answer in answered:  # all checked before any is read (and logged)
        if (
            answer is not True
            and answer is not False
            and not isinstance(answer, BaseException)
        ):
            return [
                misconfigured(
                    f"BatchScope {name!r}: load_fn answered something else "
                    "than a bool or an exception"
                )
            ] * len(values)
    outcomes: list[Outcome] = []
    # One error for every value the call denies: the client gets a copy per
    # field anyway (`denials.client_error`), and building thousands of
    # errors would cost more than the call.
    denied: ForbiddenError | None = None
    for value, answer in zip(values, answered, strict=True):
        if answer is True:
            outcomes.append(ALLOW)
        elif answer is False:
            if denied is None:
                denied = ForbiddenError()
            outcomes.append(Denial(denied, f"scope {name!r} denied {safe_repr(value)}"))
        else:
            outcomes.append(
                denial_from_exception(answer, f"scope {name!r} ({safe_repr(value)})")
            )
    return outcomes


def _chunk_failed(name: str, error: BaseException) -> Outcome:
    return denial_from_exception(error, f"BatchScope {name!r} load_fn")
