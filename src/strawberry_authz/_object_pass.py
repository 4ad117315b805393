"""Deciding many objects' rules at once: a list's items, in one pass.

A list field decides the per-object rules of all its items before they
resolve (`decide_objects`), so batch scopes ask one call per chunk and every
item then finds its answer. Without an event loop the values are asked in
rounds; with one, the rules run until a scope has a full chunk, which goes
to its engine while the rest of the list is decided (in a task).
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from itertools import count
from typing import Any, TypeAlias

from ._asked import AskedTogether
from ._batch import BatchScope, Queued
from ._keys import scope_key
from ._outcomes import (
    Denial,
    Outcome,
    decided,
    discard,
    has_running_loop,
    settle,
)
from ._params import _UNSET, AuthParams, FieldCall, ObjectCall
from ._pending_answers import PendingAnswers
from ._per_object import PerObject, object_place
from ._request import RequestState
from ._rule_compiler import RuleFunction
from ._rules import BARE_OPERATORS

__all__ = ["ObjectTodo", "collector_paused", "decide_objects"]

ObjectTodo = tuple[PerObject, Any, Any]
"""A per-object rule, the key of its answer, and the object (None: skipped)."""


def decide_objects(
    call: FieldCall, keep: object, todo: Iterable[ObjectTodo]
) -> list[Any]:
    """Decide many objects' per-object rules at once; the answers still pending.

    `call` is the field that returned the objects: each object's rule is
    evaluated at its place, with `params.root` the object and no arguments.
    With an event loop, the rules run now until a scope has a full chunk
    (batch scopes gather their values for one call per chunk); a longer
    list is decided on in a task, returned with whatever else is pending,
    to be awaited together. Without one, batch scopes are asked in rounds: a
    round queues every value it needs, one batch per scope answers them,
    and the objects still undecided are evaluated again (a rule function is
    not called again: its return value is kept per object). Answers land in
    `state.per_object`; `keep` is kept alive with them. Callers build
    `todo` and decide it within `collector_paused`.
    """
    return _decide_objects(call, keep, todo)


@contextmanager
def collector_paused(size: int) -> Iterator[None]:
    """No garbage collection while a list of `size` objects is decided.

    Thousands of small objects are made then (the list of what to decide,
    the keys and answers) and most are kept till the end of the request:
    the collector would scan them again and again meanwhile. The pass is
    bounded; garbage waits for the collector's next round.
    """
    if size < _QUIET_FROM or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_QUIET_FROM = 256


def _decide_objects(
    call: FieldCall, keep: object, todo: Iterable[ObjectTodo]
) -> list[Any]:
    state = call.state
    site, info = call.site, call.info
    per_object = state.per_object
    batches = state.scopes.batches
    state.kept.append(keep)  # once for every key below
    if not state.scopes.sync and has_running_loop():
        return _decide_async(call, keep, todo)
    # The first round, with each object's call made only if needed.
    scopes = state.scopes
    results = scopes.results
    generation = batches.generation
    waiting: list[tuple[PerObject, Any, ObjectCall]] = []
    queued: list[tuple[Any, Queued]] = []
    # The common rule, `{scope: value}` of a `BatchScope`, asked inline
    # (`_batch_value`): the values this round queues (each once) per scope,
    # the objects waiting for a value in two lists.
    fast: _Fast = {}
    waiting_keys: list[Any] = []
    waiting_values: list[Any] = []
    last = _NO_LAST
    params = AuthParams(site, info, None)
    # Handed to the next object only while `getrefcount` tells what it tells
    # now, with only this variable holding them: a rule that kept them made
    # it more. Measured, not assumed: the call's own argument counts one
    # before Python 3.14 and none since (the interpreter lends its reference).
    unshared = getrefcount(params)
    batches.collecting = True
    try:
        for node, key, root in todo:
            if root is None or key in per_object:
                continue
            function = node.function
            item_call: ObjectCall | None = None
            if function is None:
                item_call = _object_call(call, node, key, root)
                item_call.returned = {}
                outcome = node.decide(state, key, None, item_call)
            else:
                if getrefcount(params) > unshared:
                    params = AuthParams(site, info, root)
                else:  # the next object's, with nothing of the last one's
                    params._root = root
                    params._args = _UNSET
                try:  # `function.run`, inlined: this runs per object
                    returned = function.fn(params)
                except (Exception, asyncio.CancelledError) as error:
                    returned = function.run_failed(error)
                value_key = _UNKNOWN
                if (
                    function is last.function
                    and type(returned) is dict
                    and len(returned) == 1
                ):
                    # Its one key: the name itself, not a key that equals
                    # it (rule keys must be strings, `_batch_value`). Read
                    # by a loop, which makes no items view nor tuple.
                    value = None
                    for name in returned:
                        if name is last.name or (
                            type(name) is str and name == last.name
                        ):
                            value = returned[name]
                    if type(value) is list:
                        # `scope_key` of a flat list, inlined.
                        for member in value:
                            kind = type(member)
                            if kind is not str and kind is not int:
                                break
                        else:
                            value_key = (last.name, "list", *value)
                            queue = last.queue
                if value_key is _UNKNOWN:
                    found = _batch_value(state, fast, function, returned)
                    if found is not None:
                        queue, value, value_key = found
                        if type(value) is list:
                            last = _Last(function, queue)
                if value_key is not _UNKNOWN and batches.generation != generation:
                    # User code (this rule function, say) cleared the cache:
                    # the queues are the old loaders', whose values are
                    # never asked (`Batches.cleared` dropped the ones
                    # handed over). This value, and the rest, are asked of
                    # the scopes loaded afresh.
                    generation = batches.generation
                    fast = {}
                    last = _NO_LAST
                    state.kept.append(keep)  # `clear` let go of it
                    value_key = _UNKNOWN
                if value_key is not _UNKNOWN:
                    known = results.get(value_key)
                    if known is None:  # a value to ask (`enqueue_sync` asks it once)
                        queue.entries.append((value, value_key, None))
                        waiting_keys.append(key)
                        waiting_values.append(value_key)
                        continue
                    if known is True or type(known) is Denial:
                        per_object[key] = known
                        continue
                plain = function.plain(returned, state)
                # The common answers, without `node.remember`: allowed, or
                # one batch value (whose answer will be the object's).
                if plain is True:
                    per_object[key] = plain
                    continue
                if type(plain) is Queued:
                    queued.append((key, plain))
                    continue
                if plain is None:
                    item_call = _object_call(call, node, key, root)
                    item_call.returned = {}
                    plain = function.then(returned, state, item_call)
                outcome = node.remember(state, key, plain)
            if type(outcome) is Queued:
                # The rule is that one batch value: its answer is the
                # object's, no need to evaluate the rule again.
                queued.append((key, outcome))
            elif not decided(outcome):
                discard(outcome)
                if item_call is None:  # what the function returned is kept
                    item_call = _object_call(call, node, key, root)
                    item_call.returned = {function: returned}
                waiting.append((node, key, item_call))
    finally:
        batches.collecting = False
        if batches.generation != generation:
            # A clear after the last value asked inline (a rule taking the
            # long way, a loader): `fast` holds the old loaders' queues.
            fast = {}
            state.kept.append(keep)
        for asked_of in fast.values():
            if asked_of is not None and asked_of.entries:
                batches.enqueue_sync(asked_of.name, asked_of.scope, asked_of.entries)
    # The next rounds, as long as a round queued batch values: each asks
    # them, and evaluates again the objects still undecided.
    for round_ in range(1, _MAX_ROUNDS + 1):
        if not (waiting or queued or waiting_keys) or not batches.queued:
            break
        batches.flush()
        for key, value_key in zip(waiting_keys, waiting_values, strict=True):
            answer = results.get(value_key)
            if answer is True or isinstance(answer, Denial):
                per_object[key] = answer
        waiting_keys = waiting_values = []
        for key, wait in queued:
            answer = results.get(wait.key)
            if answer is True or isinstance(answer, Denial):
                per_object[key] = answer
        if round_ == _MAX_ROUNDS:
            break
        todo_calls = [entry for entry in waiting if entry[1] not in per_object]
        waiting, queued = [], []
        batches.collecting = True
        try:
            for node, key, item_call in todo_calls:
                if key in per_object:
                    continue
                outcome = node.decide(state, key, None, item_call)
                if type(outcome) is Queued:
                    queued.append((key, outcome))
                elif not decided(outcome):
                    discard(outcome)
                    waiting.append((node, key, item_call))
        finally:
            batches.collecting = False
    return []


_MAX_ROUNDS = 8
"""Rounds of batches a list decides ahead (a `$chain` of batch scopes needs one
per step); what is still undecided is then decided field by field."""


def _decide_async(
    call: FieldCall, keep: object, todo: Iterable[ObjectTodo]
) -> list[Any]:
    """`decide_objects` with an event loop: the rules start now.

    The common rule, a function returning `{scope: value}` for a
    `BatchScope`, is asked here without a call per object and without a
    future per value: the value joins its scope's queue under the pass's
    `AskedTogether`, and `PendingAnswers` writes each object's outcome
    once the batches answered.

    Once a scope's queue holds a full chunk (`max_batch_size` values), that
    chunk is sent and the rest of the list is decided after yielding to the
    loop: the engine answers the first chunks while the library decides the
    next ones, and every chunk still goes out full.
    """
    decider = _AsyncPass(call, keep)
    items = iter(todo)
    try:
        full = decider.decide(items)
    except BaseException:
        decider.enqueue_rest()
        raise
    if full:
        # A task, not a lazy `Later`: the rest is decided (and every value
        # asked) even if nobody waits for this list any more.
        return [asyncio.ensure_future(decider.finish(items))]
    decider.enqueue_rest()
    return decider.outcomes()


class _AsyncPass:
    """One list's objects decided with an event loop, a chunk at a time.

    `decide` runs rules until a scope has a full chunk to send (True) or the
    objects run out (False); `finish` decides the rest, yielding to the loop
    between chunks. Every value asked is queued for its batch whatever
    happens (`enqueue_rest` in a `finally`): no field waits forever.
    """

    __slots__ = (
        "answers",
        "call",
        "fast",
        "first_kept",
        "generation",
        "keep",
        "kept",
        "last",
        "params",
        "unshared",
    )

    def __init__(self, call: FieldCall, keep: object) -> None:
        self.call = call
        self.keep = keep
        # Per scope name, its `BatchScope` (None: not one, the long way) and
        # the values queued for it since its last full chunk.
        self.fast: _Fast = {}
        self.last = _NO_LAST
        # Reused from object to object while no rule keeps them.
        params = AuthParams(call.site, call.info, None)
        self.unshared = getrefcount(params)  # as `_decide_objects` measures
        self.params = params
        # `clear_cache` meanwhile (a resolver, while the pass yields) makes
        # `fast` stale: its loaders may be the viewer's before the clear.
        self.generation = call.state.scopes.batches.generation
        self.kept = call.state.kept  # holds `keep` (`_decide_objects`)
        self.first_kept = self.kept
        self.answers = PendingAnswers()

    def decide(self, items: Iterator[ObjectTodo]) -> bool:
        """Decide objects from `items` until a chunk is full (True, sent)."""
        call = self.call
        state = call.state
        site, info = call.site, call.info
        per_object = state.per_object
        scopes = state.scopes
        results, batches = scopes.results, scopes.batches
        self._catch_up()
        answers = self.answers
        asked, asked_keys = answers.asked, answers.asked_keys
        asked_values = answers.asked_values
        fast, waiting, futures = self.fast, answers.waiting, answers.futures
        last, params, unshared = self.last, self.params, self.unshared
        generation = self.generation
        for node, key, root in items:
            if root is None or key in per_object:
                continue
            function = node.function
            if function is None:
                outcome = node.decide(
                    state, key, None, _object_call(call, node, key, root)
                )
                if not decided(outcome):
                    answers.pending.append(outcome)
                continue
            # A rule function alone: called directly, and a `FieldCall`
            # made only if its answer needs one.
            if getrefcount(params) > unshared:
                params = AuthParams(site, info, root)
            else:  # the next object's, with nothing of the last one's
                params._root = root
                params._args = _UNSET
            try:  # `function.run`, inlined: this runs per object
                returned = function.fn(params)
            except (Exception, asyncio.CancelledError) as error:
                returned = function.run_failed(error)
            value_key = _UNKNOWN
            if (
                function is last.function
                and type(returned) is dict
                and len(returned) == 1
            ):
                # Its one key: the name itself, not a key that equals it (rule
                # keys are strings, `_batch_value`), read with no items view.
                value = None
                for name in returned:
                    if name is last.name or (type(name) is str and name == last.name):
                        value = returned[name]
                if type(value) is list:
                    # `scope_key` of a flat list, inlined.
                    for member in value:
                        kind = type(member)
                        if kind is not str and kind is not int:
                            break
                    else:
                        value_key = (last.name, "list", *value)
                        queue = last.queue
            if value_key is _UNKNOWN:
                found = _batch_value(state, fast, function, returned)
                if found is not None:
                    queue, value, value_key = found
                    if type(value) is list:
                        last = _Last(function, queue)
            if value_key is not _UNKNOWN and batches.generation != generation:
                # User code (this rule function, say) cleared the cache: this
                # value, and the rest, go to the scopes loaded afresh.
                self.last, self.params = last, params
                self._catch_up()
                asked, asked_keys = answers.asked, answers.asked_keys
                asked_values = answers.asked_values
                fast, last, generation = self.fast, self.last, self.generation
                value_key = _UNKNOWN
            if value_key is not _UNKNOWN:
                known = results.get(value_key)
                if known is None:  # a value to ask
                    results[value_key] = asked
                    entries = queue.entries
                    entries.append((value, value_key, asked))
                    asked_keys.append(key)
                    asked_values.append(value_key)
                    if len(entries) >= queue.size:
                        self.last, self.params = last, params
                        self._send(queue)
                        return True
                    continue
                if known is True or type(known) is Denial:
                    per_object[key] = known
                    continue
                if known is asked:  # an object before this one asked it
                    asked_keys.append(key)
                    asked_values.append(value_key)
                    continue
                if type(known) is AskedTogether:  # another list asked it
                    known = known.waiter(value_key)
                    if type(known) is Denial:
                        per_object[key] = known
                        continue
                if isinstance(known, asyncio.Future):
                    per_object[key] = known
                    waiting.append(key)
                    futures.append(known)
                    continue
            plain = function.plain(returned, state)
            if isinstance(plain, asyncio.Future):
                per_object[key] = plain
                waiting.append(key)
                futures.append(plain)
                continue
            if plain is None:
                plain = function.then(
                    returned, state, _object_call(call, node, key, root)
                )
            outcome = node.remember(state, key, plain)
            if not decided(outcome):
                answers.pending.append(outcome)
        self.last, self.params = last, params
        return False

    def _catch_up(self) -> None:
        """Take in a clear (or a subscription's next event) made since the
        pass last looked: its queues, `AskedTogether` and what it keeps."""
        state = self.call.state
        batches = state.scopes.batches
        if batches.generation != self.generation:
            # A clear (while the pass yielded, or by user code it ran): what
            # was queued is asked now of its own loader, unremembered; the
            # rest of the list is asked of the scopes loaded afresh.
            for stale in self.fast.values():
                if stale is not None and stale.entries:
                    self._send(stale)
            self.fast = {}
            self.last = _NO_LAST
            self.generation = batches.generation
            # The rest waits under a new `AskedTogether`: old answers never reach it.
            self.answers.ask_afresh()
        if state.kept is not self.kept:
            # A clear, or a subscription's next event, let go of what keeps
            # the ids of the answers' keys unique: needed again from now on.
            self.kept = state.kept
            self.kept.append(self.keep)
            # The answers of the objects so far are not written (after an
            # event, a conservative choice: an abandoned list's, same viewer).
            self.answers.forget_asked()

    def _send(self, queue: _Queue) -> None:
        """Ask `queue`'s values (a full chunk) now."""
        entries, queue.entries = queue.entries, []
        self.answers.asked.expect(len(entries))
        self.call.state.scopes.batches.send(queue.name, queue.scope, entries)

    def enqueue_rest(self) -> None:
        """Queue every value not yet asked (a chunk not full) for the next
        batch, with whatever else the operation asks meanwhile."""
        batches = self.call.state.scopes.batches
        for queue in self.fast.values():
            if queue is not None and queue.entries:
                entries, queue.entries = queue.entries, []
                self.answers.asked.expect(len(entries))
                batches.enqueue(queue.name, queue.scope, entries)

    def outcomes(self) -> list[Any]:
        """What is still pending once every object was decided (and every
        value this pass asked was handed to a batch)."""
        return self.answers.outcomes(self.call.state, self.kept, self.first_kept)

    async def finish(self, items: Iterator[ObjectTodo]) -> Outcome:
        """Decide the rest of `items`, a chunk at a time, then wait for all."""
        try:
            full = True
            while full:
                # The chunk just queued goes to its engine meanwhile.
                await asyncio.sleep(0)
                with collector_paused(_QUIET_FROM):
                    full = self.decide(items)
        finally:
            self.enqueue_rest()
        for pending in self.outcomes():
            await settle(pending)
        return True


_UNKNOWN: Any = object()


_COUNTS = count()


def _counted_higher_each_time(_: object) -> int:
    """`getrefcount` where the interpreter counts no references (PyPy):
    params always look kept, so each object gets its own."""
    return next(_COUNTS)


getrefcount: Callable[[object], int] = getattr(
    sys, "getrefcount", _counted_higher_each_time
)


class _Queue:
    """A `BatchScope` a list pass asks inline, and the values it queued."""

    __slots__ = ("entries", "name", "scope", "size")

    def __init__(self, name: str, scope: BatchScope) -> None:
        self.name = name
        self.scope = scope
        self.size = scope.max_batch_size
        self.entries: list[Any] = []


class _Last:
    """The rule function whose answer last took the inline path, and its
    scope's queue: the same function answering `{name: [str | int, ...]}`
    again is keyed without a call (`scope_key` of a flat list, inlined)."""

    __slots__ = ("function", "name", "queue")

    def __init__(self, function: RuleFunction | None, queue: _Queue) -> None:
        self.function = function
        self.queue = queue
        self.name = queue.name


# Matches no rule function; without a queue, which is never read then.
_NO_LAST = _Last.__new__(_Last)
_NO_LAST.function = None
_NO_LAST.name = ""


_Fast: TypeAlias = "dict[str, _Queue | None]"
"""Per scope name, its queue (None: not a `BatchScope`, the long way)."""


def _batch_value(
    state: RequestState, fast: _Fast, function: RuleFunction, returned: object
) -> tuple[_Queue, Any, Hashable] | None:
    """`function.plain` and `Scopes.answer`, inlined for the common rule.

    When a rule function without declared scopes returned `{name: value}`
    for a `BatchScope`: the queue its pass puts values on, the value and
    its key (the caller reads `results` once). None: the long way.
    """
    if (
        type(returned) is not dict
        or len(returned) != 1
        or function.compiler.scopes is not None
    ):
        return None
    ((name, value),) = returned.items()
    queue = fast.get(name, _UNKNOWN) if type(name) is str else None
    if queue is _UNKNOWN:
        queue = fast[name] = _batch_scope(state, name)
    if queue is None:
        return None
    try:
        return queue, value, scope_key(name, value)
    except Exception:
        return None  # `plain` says why


def _batch_scope(state: RequestState, name: str) -> _Queue | None:
    """Scope `name` as a list pre-decision asks it, if `{name: value}` (from a
    rule function without declared scopes) is one `BatchScope` value asked
    as it is, as `RuleFunction.plain` and `Scopes.answer` would; else None
    (the long way)."""
    batches = state.scopes.batches
    if (
        not name
        or name[0] == "$"
        or name in BARE_OPERATORS
        or batches.listed
        or batches.immediate
    ):
        return None
    loaded = state.scopes.loaded()
    scope = loaded.get(name) if type(loaded) is dict else None
    if type(scope) is not BatchScope:
        return None
    return _Queue(name, scope)


def _object_call(call: FieldCall, node: PerObject, key: Any, root: Any) -> ObjectCall:
    """The check of `root`, an object `call`'s field returned, under `key`
    (`object_key_at(path, at, node)` or one of `RequestState.list_keys`)."""
    return call.for_object(node.type_grants, root, object_place(key))
