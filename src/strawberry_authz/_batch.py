"""`BatchScope`: a scope loader that answers many values in one call.

`load_scopes` may return a `BatchScope` in place of a plain loader:
`{"can": BatchScope(check_many)}`. `check_many(values)` receives a list of rule
values and answers, in order, one `bool` (or one exception) per value; or the
set of the allowed values; or a mapping value -> bool (or exception). A value
a set or a mapping does not answer is denied.
`Batches` is the per-operation side: which values are waiting for a batch, and
asking them once per chunk.

An exception *for one value* denies only the fields that need that value (a
`GraphQLError` is their reason; any other is a failure, `INTERNAL_SERVER_ERROR`,
and a log).
`load_fn` raising, timing out, or answering with the wrong length or a
non-bool denies the whole chunk, logged (fail closed).

An engine adapter may answer a `BatchAnswers` (a list) naming the ids of the
engine calls that gave the answers: the reason of each denial then names
them, so a decision log can be matched with the engine's own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import (
    Awaitable,
    Callable,
    Generator,
    Hashable,
    Iterable,
    Mapping,
    Sequence,
    Set,
)
from contextlib import AbstractContextManager, nullcontext
from inspect import isawaitable
from typing import Any, TypeAlias

from ._asked import AskedTogether
from ._columns import NO_MATCH, column_value
from ._errors import ForbiddenError
from ._outcomes import (
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
from .conditions import is_member

__all__ = [
    "BatchAnswers",
    "BatchLoadFn",
    "BatchObserver",
    "BatchScope",
    "Batches",
    "Queued",
]

logger = logging.getLogger("strawberry_authz")

BatchObserver = Callable[[str, int], "AbstractContextManager[Any]"]
"""`observer(scope_name, size)`: a context entered around each batch call."""

BatchAnswer: TypeAlias = (
    "Sequence[bool | BaseException] | Set[Any] | Mapping[Any, bool | BaseException]"
)
BatchLoadFn = Callable[[list[Any]], "BatchAnswer | Awaitable[BatchAnswer]"]
PassingFn = Callable[[Any], Any]
"""`passing(value)`: the column values that pass (see `BatchScope`)."""


class BatchAnswers(list["bool | BaseException"]):
    """A `load_fn`'s answers, with the ids of the engine calls that gave them.

    Denials and failures read from it name the calls in their reason
    (`... (engine call <id>)`), for the decision log.
    """

    __slots__ = ("call_ids",)

    def __init__(self, answers: Iterable[bool | BaseException] = ()) -> None:
        super().__init__(answers)
        self.call_ids: list[str] = []


class BatchScope:
    """A scope whose values are checked in batches.

    Args:
        load_fn: `load_fn(values)`, sync or async, answering one entry per
            value, in order (`[True, False, ...]`, an exception for a value
            that failed); or the set of the allowed values (the natural
            shape of `SELECT id ... WHERE id IN (...)`); or a mapping value
            -> bool (or exception). A value a set or a mapping leaves out is
            denied. For a set or a mapping, a list value is looked up as a
            tuple (`["doc", 3]` as `("doc", 3)`).
        max_batch_size: At most this many values per call of `load_fn`.
        passing: Optional, for filtering a query (`authz.filter`):
            `passing(value)` receives the rule's value with its `Column`
            still in place (`["note", Column("id"), "view"]`) and returns
            the column values that pass: an iterable, an async iterable,
            or an awaitable of an iterable. The filter becomes
            `column IN (those values)`, and the rows it selected pass their
            object check without another `load_fn` call (their ids were
            just listed). It may answer a row condition instead: `True`
            (every row), `False` (none) or a `strawberry_authz.conditions`
            tree on the row's columns (or an awaitable of one), as a policy
            engine's plan does; for a whole-row value (`Resource.each`)
            that is the only answer. Without it, a `Column` on this scope
            cannot be filtered: `authz.filter` refuses it
            (`ConfigurationError`).
        max_passing: More passing values than this make the plan deny
            every row (logged): a truncated list is never taken as whole.
    """

    __slots__ = ("load_fn", "max_batch_size", "max_passing", "passing")

    def __init__(
        self,
        load_fn: BatchLoadFn,
        *,
        max_batch_size: int = 1000,
        passing: PassingFn | None = None,
        max_passing: int = 10_000,
    ) -> None:
        if not callable(load_fn):
            raise TypeError(f"BatchScope: load_fn must be callable, got {load_fn!r}")
        for option, given in (
            ("max_batch_size", max_batch_size),
            ("max_passing", max_passing),
        ):
            if not isinstance(given, int) or isinstance(given, bool) or given < 1:
                raise TypeError(
                    f"BatchScope: {option} must be a positive int, got {given!r}"
                )
        if passing is not None and not callable(passing):
            raise TypeError(f"BatchScope: passing must be callable, got {passing!r}")
        self.load_fn = load_fn
        self.max_batch_size = max_batch_size
        self.passing = passing
        self.max_passing = max_passing

    def __call__(self, value: object) -> object:
        """Answer one value alone (a batch of one).

        The engine batches values itself; this form keeps a `BatchScope`
        usable wherever a plain loader is expected.
        """
        answered = self.load_fn([value])
        if isawaitable(answered):
            return _first_async(answered, value)
        return _first(answered, value)

    def __repr__(self) -> str:
        name = getattr(self.load_fn, "__qualname__", repr(self.load_fn))
        return f"BatchScope({name}, max_batch_size={self.max_batch_size})"


def _listed(lists: list[tuple[object, frozenset[Any]]] | None, value: object) -> bool:
    """Whether `value` is one a filter's `passing=` listed for this scope."""
    if not lists:
        return False
    for template, ids in lists:
        found = column_value(template, value)
        if found is not NO_MATCH and is_member(found, ids, ids=True):
            return True
    return False


def _first(answered: object, value: object) -> object:
    answered = _in_order([value], answered)
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


async def _first_async(answered: Awaitable[object], value: object) -> object:
    return _first(await answered, value)


def _in_order(values: list[object], answered: object) -> object:
    """A set or mapping answer as the list in order it stands for.

    A value left out is `False` (denied). Any other answer is returned as it
    is, for the list checks.
    """
    if isinstance(answered, Mapping):
        return [answered.get(_lookup_key(value), False) for value in values]
    if isinstance(answered, Set):
        return [_lookup_key(value) in answered for value in values]
    return answered


def _lookup_key(value: object) -> object:
    """A list value (`["doc", 3]`) as the tuple a set or mapping can hold."""
    return tuple(value) if type(value) is list else value


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


_QueueKey = tuple[str, BatchScope]
"""A queue's scope name and loader."""

_Entry = tuple[object, Hashable, "asyncio.Future[Any] | AskedTogether | None"]
"""A queued value: the value, its cache key, and its future or the list pass
that waits for it (None when sync)."""


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
        "generation",
        "immediate",
        "listed",
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
        # Counts the scope cache's clears (`cleared`): loaders held across
        # user code or a yield (a list pass) may be stale, and an answer of
        # a sync batch asked before a clear is not remembered after it.
        self.generation = 0
        # Per scope name and loader (a clear loads scopes afresh: values
        # asked after it never join a queue of the loader before it).
        self._queued: dict[_QueueKey, tuple[list[_Entry], set[Hashable]]] = {}
        self._running: set[asyncio.Future[Any]] = set()
        # What a query filter's `passing=` listed, per scope: (the rule's
        # value with its Column, the ids as text). A row it selected is then
        # known to pass without asking the engine again (`authz.filter`).
        self.listed: dict[str, list[tuple[object, frozenset[Any]]]] = {}

    def ask(
        self, name: str, scope: BatchScope, value: object, key: Hashable
    ) -> MaybeOutcome:
        if self.listed and _listed(self.listed.get(name), value):
            return ALLOW
        loop = None
        if not self.sync:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        if self.immediate or (loop is None and not self.collecting):
            return self._answers(name, scope, [value])[0]
        queue = self._queued.get((name, scope))
        if queue is None:
            queue = self._queued[name, scope] = ([], set())
            if loop is not None:
                loop.call_soon(self._flush_async, (name, scope))
        if loop is None:
            if key not in queue[1]:
                queue[1].add(key)
                queue[0].append((value, key, None))
            return Queued(key)
        future: asyncio.Future[Any] = loop.create_future()
        queue[0].append((value, key, future))
        return future

    def enqueue(self, name: str, scope: BatchScope, entries: list[_Entry]) -> None:
        """Queue `entries` (value, key, future) for scope `name`'s next batch.

        What `ask` does per value, for a list pre-decision that put each
        value's future (or its `AskedTogether`) in `results` itself: called
        with a running loop, which every entry will be settled in
        (`_ask_chunk` settles every entry of its chunk, whatever `load_fn`
        does).
        """
        queue = self._queued.get((name, scope))
        if queue is None:
            queue = self._queued[name, scope] = ([], set())
            asyncio.get_running_loop().call_soon(self._flush_async, (name, scope))
        queue[0].extend(entries)

    def send(self, name: str, scope: BatchScope, entries: list[_Entry]) -> None:
        """Ask `entries` (value, key, future) now, in chunks, without waiting
        for the queue: a list pass sends each full chunk as it fills, so the
        engine answers it while the rest of the list is decided."""
        for chunk in _chunks(entries, scope.max_batch_size):
            task = asyncio.ensure_future(self._ask_chunk(name, scope, chunk))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def enqueue_sync(self, name: str, scope: BatchScope, entries: list[_Entry]) -> None:
        """Queue `entries` (value, key, None) for scope `name`'s next `flush`.

        What `ask` does per value while collecting without a loop, for a list
        pre-decision that checked `results` itself; a key already queued is
        asked once.
        """
        queue = self._queued.get((name, scope))
        if queue is None:
            # Nothing queued yet: only duplicates within `entries` to drop.
            keys = {entry[1] for entry in entries}
            if len(keys) == len(entries):
                self._queued[name, scope] = (list(entries), keys)
                return
            queue = self._queued[name, scope] = ([], set())
        keys = queue[1]
        for entry in entries:
            if entry[1] not in keys:
                keys.add(entry[1])
                queue[0].append(entry)

    @property
    def queued(self) -> bool:
        return bool(self._queued)

    def cleared(self) -> None:
        """The scope cache was cleared: what was queued without a loop is
        dropped, unasked.

        Those values were asked of the loaders before the clear (the old
        viewer's); their answers must not land in the cache after it. Only
        a sync list pre-decision waits for them, and it reads the cache:
        finding no answer, it leaves those objects undecided (denied).
        Values with a future or a waiting list stay queued: they are
        answered to whoever waits, and their answers are remembered only
        where the cache still holds what waits for them.
        """
        self.generation += 1
        for key, (entries, _) in list(self._queued.items()):
            waited = [entry for entry in entries if entry[2] is not None]
            if len(waited) != len(entries):
                # The key stays: a flush scheduled for it (`call_soon`) pops it.
                self._queued[key] = (waited, {entry[1] for entry in waited})

    def flush(self) -> None:
        """Ask every queued value now, synchronously (sync pre-decision).

        A clear meanwhile (`load_fn` is user code) stops it: the answers of
        the chunk then in flight are not remembered, what is left is not
        asked (see `cleared`).
        """
        queued, self._queued = self._queued, {}
        generation = self.generation
        for (name, scope), (entries, _) in queued.items():
            for chunk in _chunks(entries, scope.max_batch_size):
                values = [value for value, _, _ in chunk]
                answers = self._answers(name, scope, values)
                if self.generation != generation:
                    return
                _settle(self.results, name, chunk, answers)

    def _flush_async(self, key: _QueueKey) -> None:
        entries, _ = self._queued.pop(key)
        self.send(*key, entries)

    async def _ask_chunk(
        self, name: str, scope: BatchScope, chunk: list[_Entry]
    ) -> None:
        """One `load_fn` call for `chunk`; every future of it is resolved."""
        values = [value for value, _, _ in chunk]
        try:
            with self._span(name, len(values)):
                given = values.copy()  # load_fn's own: it may sort or pop it
                answered = scope.load_fn(given)
                if isawaitable(answered):
                    answered = await within(answered, self.timeout)
            outcomes = _read_answers(name, values, answered, given)
        except asyncio.TimeoutError:
            outcomes = [timed_out(f"BatchScope {name!r}", self.timeout)] * len(chunk)
        except (Exception, asyncio.CancelledError) as error:
            outcomes = [_chunk_failed(name, error)] * len(chunk)
        try:
            _settle(self.results, name, chunk, outcomes)
        except Exception as error:  # `_settle` itself broken: the whole chunk
            # Never a field left waiting for an answer that will not come.
            _settle_rest(self.results, chunk, _chunk_failed(name, error))

    def _answers(
        self, name: str, scope: BatchScope, values: list[object]
    ) -> list[Outcome]:
        given = values.copy()  # load_fn's own: it may sort or pop it
        try:
            with self._span(name, len(values)):
                answered = scope.load_fn(given)
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
        return _read_answers(name, values, answered, given)

    def _span(self, name: str, size: int) -> AbstractContextManager[Any]:
        """The observer's context (a tracing span) around one batch call."""
        if self.observer is None:
            return nullcontext()
        return _Observed(self.observer, name, size)


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


def _settle(
    results: dict[Hashable, Any],
    name: str,
    chunk: list[_Entry],
    outcomes: list[Outcome],
) -> None:
    """Each entry of `chunk` its outcome: in the cache, and to whoever
    waits for it. If that fails, the entries not yet settled get a
    failure (`_settle_rest`); those settled keep their answers."""
    settled = 0
    try:
        for (_, key, waiting), outcome in zip(chunk, outcomes, strict=True):
            if waiting is None:
                results[key] = outcome
            elif type(waiting) is AskedTogether:
                # `AskedTogether.answered`, inlined: this runs per value.
                if results.get(key) is waiting:  # else a clear forgot it
                    results[key] = outcome
                if waiting.waiters is not None:
                    waiting.answer_waiters(key, outcome)
                waiting.left -= 1
                if waiting.left <= 0:
                    waiting.wake()
            else:
                try:  # its waiters run later (`call_soon`): after `results`
                    waiting.set_result(outcome)
                except asyncio.InvalidStateError:
                    pass  # answered already (or cancelled)
                else:
                    if results.get(key) is waiting:
                        results[key] = outcome
            settled += 1
    except Exception as error:
        _settle_rest(results, chunk[settled:], _chunk_failed(name, error))


def _settle_rest(
    results: dict[Hashable, Any], rest: list[_Entry], outcome: Outcome
) -> None:
    """`outcome` for each entry of `rest`, none of which has its answer
    counted yet; whatever the cache does, nobody is left waiting."""
    for _, key, waiting in rest:
        unanswered = type(waiting) is AskedTogether or (
            waiting is not None and not waiting.done()
        )
        try:
            if waiting is None:
                results.setdefault(key, outcome)
            elif unanswered and results.get(key) is waiting:  # else a clear
                results[key] = outcome
        except Exception:
            logger.exception("strawberry-authz: a batch answer was not cached")
        if type(waiting) is AskedTogether:
            waiting.answered(key, outcome)
        elif waiting is not None and not waiting.done():
            waiting.set_result(outcome)


def _chunks(entries: list[_Entry], size: int) -> list[list[_Entry]]:
    return [entries[start : start + size] for start in range(0, len(entries), size)]


def _read_answers(
    name: str, values: list[object], answered: object, given: list[object]
) -> list[Outcome]:
    """One outcome per value; a malformed answer denies the whole chunk.

    `given` is the copy of `values` load_fn received. Answers are read in the
    order of `values`: if load_fn re-ordered or changed its copy, which order
    its answers follow cannot be told, so the chunk is denied.
    """
    try:
        return _answers_of(name, values, answered, given)
    except Exception as error:  # an answer that breaks when read
        return [_chunk_failed(name, error)] * len(values)


def _answers_of(
    name: str, values: list[object], answered: object, given: list[object]
) -> list[Outcome]:
    answered = _in_order(values, answered)
    if not isinstance(answered, Sequence) or isinstance(answered, (str, bytes)):
        return [
            misconfigured(
                f"BatchScope {name!r}: load_fn returned {safe_repr(answered)}, "
                "expected a list with one bool (or exception) per value, a set "
                "of the allowed values or a mapping value -> bool"
            )
        ] * len(values)
    calls = getattr(answered, "call_ids", None)  # before the copy drops it
    answered = list(answered)  # read once: every check sees the same answers
    if len(answered) != len(values):
        return [
            misconfigured(
                f"BatchScope {name!r}: load_fn answered {len(answered)} values "
                f"for {len(values)} asked"
            )
        ] * len(values)
    if given != values:
        return [
            misconfigured(
                f"BatchScope {name!r}: load_fn changed the list of values it was "
                "given (sorted, popped, replaced), so which value an answer is "
                "for cannot be told; answer in the order given"
            )
        ] * len(values)
    if set(map(type, answered)) <= _BOOL:  # all bools, told in one pass in C
        if False not in answered:
            return [ALLOW] * len(values)
    else:
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
    via = f" (engine call {', '.join(calls)})" if calls else ""
    denied_by = f"scope {name!r} denied "
    # Allowed unless told otherwise: only the others are visited one by one.
    outcomes: list[Outcome] = [ALLOW] * len(values)
    # One error for every value the call denies: the client gets a copy per
    # field anyway (`denials.client_error`), and building thousands of
    # errors would cost more than the call.
    denied: ForbiddenError | None = None
    for index in [i for i, answer in enumerate(answered) if answer is not True]:
        answer, value = answered[index], values[index]
        if answer is False:
            if denied is None:
                denied = ForbiddenError()
            outcomes[index] = Denial.naming(denied, denied_by, value, via)
        else:
            outcomes[index] = denial_from_exception(
                answer, f"scope {name!r} ({safe_repr(value)}){via}"
            )
    return outcomes


_BOOL = frozenset({bool})


def _chunk_failed(name: str, error: BaseException) -> Outcome:
    return denial_from_exception(error, f"BatchScope {name!r} load_fn")
