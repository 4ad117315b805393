"""Deciding a list's item rules once, before its items resolve.

A list field whose item type carries rules that depend on scopes alone warms
them when it returns: with async loaders, thousands of per-item waits become
one, and every item then finds its answer already decided.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from inspect import isawaitable
from types import GeneratorType
from typing import Any, TypeAlias

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
)

from ._batch import BatchScope, Queued
from ._compat import ResolveInfo
from ._keys import scope_key
from ._outcomes import (
    Denial,
    Later,
    Outcome,
    decided,
    denial_from_exception,
    discard,
    has_running_loop,
    misconfigured,
    settle,
)
from ._params import AuthParams, FieldCall, ObjectCall
from ._per_object import PerObject
from ._request import RequestState
from ._rule_compiler import RuleFunction
from ._rules import BARE_OPERATORS, Node

__all__ = [
    "ObjectTodo",
    "Warmer",
    "awaits",
    "collector_paused",
    "decide_objects",
    "none_awaited",
    "returns_list_of",
    "selected_field_names",
]


class Warmer:
    """What a list field decides for its items before they resolve.

    `by_field` are the static rules of the item type's fields (decided once
    per request); `objects` the per-object type rules each item field needs
    (decided for every item, in one pass, so batch scopes ask one batch).
    """

    __slots__ = ("by_field", "nodes", "objects")

    def __init__(
        self,
        by_field: dict[str, Node],
        objects: dict[str, tuple[PerObject, ...]] | None = None,
    ) -> None:
        self.by_field = by_field
        self.nodes = tuple(dict.fromkeys(by_field.values()))
        self.objects = objects or {}

    def warm(self, call: FieldCall) -> Awaitable[Any] | None:
        """Decide what the selected item fields need; None if nothing waits."""
        pending: list[Any] = []
        static = self._warm_static(call.state, call.info)
        if static is not None:
            pending.append(static)
        if self.objects:
            pending.extend(self._warm_objects(call))
        if not pending:
            return None
        return _settle_all(pending)

    def _warm_static(
        self, state: RequestState, info: ResolveInfo
    ) -> Awaitable[Any] | None:
        decisions = state.decisions
        if not self.nodes or all(decided(decisions.get(n)) for n in self.nodes):
            return None
        # Every instance of this list field at this place in the query shares
        # one warm-up: the first starts it, the others wait for the same one.
        key = (self, id(info.field_nodes[0]))
        if key in state.warmed:
            warming = state.warmed[key]
            if warming is None or warming.done():
                return None
            return settle(warming)
        names = selected_field_names(info)
        pending = []
        for node in dict.fromkeys(
            node for name, node in self.by_field.items() if name in names
        ):
            outcome = state.decide(node)
            if not decided(outcome):
                pending.append(outcome)
        if not pending:
            state.warmed[key] = None
            return None
        warming = asyncio.ensure_future(_settle_all(pending))
        state.warmed[key] = warming
        return settle(warming)

    def _warm_objects(self, call: FieldCall) -> list[Any]:
        """Pre-decide the per-object type rules of every item of the list.

        Answers are kept by position: the items are decided on a copy of the
        list (iterated once), which becomes `call.result`, so graphql-core
        serves exactly the items decided, in the order decided, whatever
        happens meanwhile to the list the resolver returned. An item still
        to be awaited is left to its fields (graphql-core awaits it first):
        the rule must see the object, never the awaitable.
        """
        items = call.result
        if not isinstance(items, (list, tuple)) or _nested(call.info.return_type):
            # The items of nested lists are decided by their own fields.
            return []
        names = selected_field_names(call.info)
        nodes = tuple(
            dict.fromkeys(
                node
                for name, found in self.objects.items()
                if name in names
                for node in found
            )
        )
        if not nodes:
            return []
        if type(items) is not tuple:  # a list may change; a subclass iterate anew
            items = call.result = list(items)
        if not none_awaited(items):
            items = [None if awaits(item) else item for item in items]
        path = call.info.path
        parent = id(path)
        ids = [(node, id(node)) for node in nodes]
        with collector_paused(len(items)):
            # `object_key_at(path, index, node)`, inlined: this runs per item.
            # A generator: no list of them all is kept while they are decided.
            todo = (
                (node, (parent, index, node_id), item)
                for index, item in enumerate(items)
                if item is not None
                for node, node_id in ids
            )
            return decide_objects(call, path, todo)


ObjectTodo = tuple[PerObject, Any, Any]
"""A per-object rule, the key of its answer, and the object."""


def decide_objects(
    call: FieldCall, keep: object, todo: Iterable[ObjectTodo]
) -> list[Any]:
    """Decide many objects' per-object rules at once; the answers still pending.

    `call` is the field that returned the objects: each object's rule is
    evaluated at its place, with `params.root` the object and no arguments.
    With an event loop, every rule starts now (batch scopes gather their
    values for one call per chunk) and the pending answers are returned to
    be awaited together. Without one, batch scopes are asked in rounds: a
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
        return _decide_async(call, todo)
    # The first round, with each object's call made only if needed.
    results = state.scopes.results
    waiting: list[tuple[PerObject, Any, ObjectCall]] = []
    queued: list[tuple[Any, Queued]] = []
    # The common rule, `{scope: value}` of a `BatchScope`, asked inline
    # (`_batch_value`): the values this round queues (each once) per scope,
    # the objects waiting for a value in two lists.
    fast: _Fast = {}
    asked: set[Any] = set()
    waiting_keys: list[Any] = []
    waiting_values: list[Any] = []
    batches.collecting = True
    try:
        for node, key, root in todo:
            if key in per_object:
                continue
            function = node.function
            item_call: ObjectCall | None = None
            if function is None:
                item_call = _object_call(call, node, key, root)
                item_call.returned = {}
                outcome = node.decide(state, key, None, item_call)
            else:
                try:  # `function.run`, inlined: this runs per object
                    returned = function.fn(AuthParams(site, info, root))
                except (Exception, asyncio.CancelledError) as error:
                    returned = function.run_failed(error)
                found = _batch_value(state, fast, function, returned)
                if found is not None:
                    entries, value, value_key = found
                    known = results.get(value_key)
                    if known is None:  # a value to ask
                        if value_key not in asked:
                            asked.add(value_key)
                            entries.append((value, value_key, None))
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
        for name, entry in fast.items():
            if entry is not None and entry[1]:
                batches.enqueue_sync(name, entry[0], entry[1])
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


def _decide_async(call: FieldCall, todo: Iterable[ObjectTodo]) -> list[Any]:
    """`decide_objects` with an event loop: every rule starts now.

    The common rule, a function returning `{scope: value}` for a
    `BatchScope`, is asked here without a call per object: the value's
    future joins its scope's queue (`Batches.enqueue`), and the object's
    answer is that future until `_remember_all` writes the outcome.
    """
    state = call.state
    site, info = call.site, call.info
    per_object = state.per_object
    results = state.scopes.results
    batches = state.scopes.batches
    pending: list[Any] = []
    # Answers a future will give (a batch value, mostly): kept as the
    # future until all are settled, then written in one pass. A shared
    # wrapper per object would cost a callback per object instead.
    # Two lists, not one of pairs: no tuple per object for the collector.
    waiting: list[Any] = []
    futures: list[asyncio.Future[Any]] = []
    # Per scope name, its `BatchScope` (None: not one, the long way) and the
    # values this pass queues for it.
    fast: _Fast = {}
    create_future = asyncio.get_running_loop().create_future
    try:
        for node, key, root in todo:
            if key in per_object:
                continue
            function = node.function
            if function is None:
                outcome = node.decide(
                    state, key, None, _object_call(call, node, key, root)
                )
                if not decided(outcome):
                    pending.append(outcome)
                continue
            # A rule function alone: called directly, and a `FieldCall`
            # made only if its answer needs one.
            try:  # `function.run`, inlined: this runs per object
                returned = function.fn(AuthParams(site, info, root))
            except (Exception, asyncio.CancelledError) as error:
                returned = function.run_failed(error)
            found = _batch_value(state, fast, function, returned)
            if found is not None:
                entries, value, value_key = found
                known = results.get(value_key)
                if known is None:  # a value to ask
                    known = results[value_key] = create_future()
                    entries.append((value, value_key, known))
                    per_object[key] = known
                    waiting.append(key)
                    futures.append(known)
                    continue
                if known is True or type(known) is Denial:
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
                pending.append(outcome)
    finally:
        # Even when a rule raised past its guard: no future left unasked.
        for name, entry in fast.items():
            if entry is not None and entry[1]:
                batches.enqueue(name, entry[0], entry[1])
    if futures:
        pending.append(Later(_remember_all, per_object, waiting, futures))
    return pending


_UNKNOWN: Any = object()

_Fast: TypeAlias = "dict[str, tuple[BatchScope, list[Any]] | None]"
"""Per scope name, its `BatchScope` and the values a pass queues for it
(None: not one, the long way)."""


def _batch_value(
    state: RequestState, fast: _Fast, function: RuleFunction, returned: object
) -> tuple[list[Any], Any, Hashable] | None:
    """`function.plain` and `Scopes.answer`, inlined for the common rule.

    When a rule function without declared scopes returned `{name: value}`
    for a `BatchScope`: the list its pass queues values on, the value and
    its key (the caller reads `results` once). None: the long way.
    """
    if (
        type(returned) is not dict
        or len(returned) != 1
        or function.compiler.scopes is not None
    ):
        return None
    ((name, value),) = returned.items()
    batch = fast.get(name, _UNKNOWN) if type(name) is str else None
    if batch is _UNKNOWN:
        batch = fast[name] = _batch_scope(state, name)
    if batch is None:
        return None
    try:
        return batch[1], value, scope_key(name, value)
    except Exception:
        return None  # `plain` says why


def _batch_scope(state: RequestState, name: str) -> tuple[BatchScope, list[Any]] | None:
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
    return scope, []


def _object_call(call: FieldCall, node: PerObject, key: Any, root: Any) -> ObjectCall:
    """The check of `root`, an object `call`'s field returned, under `key`.

    `key` is `rules.object_key_at(path, at, node)`; `at` is the object's
    place below the field (an index, or a tuple of them).
    """
    return call.for_object(node.type_grants, root, key[1])


async def _settle_all(pending: list[Any]) -> Outcome:
    for item in pending:
        await settle(item)
    return True


def awaits(value: object) -> bool:
    """Whether graphql-core awaits `value` before completing it (its test)."""
    return hasattr(value, "__await__") or (
        type(value) is GeneratorType and isawaitable(value)
    )


def none_awaited(items: Iterable[object]) -> bool:
    """Whether no item of `items` can be awaited, told by their types.

    Awaiting looks `__await__` up on the type, so the few distinct types of
    a list tell it (a generator may be an old-style coroutine): one pass in
    C instead of a test per item.
    """
    return not any(
        kind is GeneratorType or hasattr(kind, "__await__")
        for kind in set(map(type, items))
    )


async def _remember_all(
    table: dict[Any, Any], keys: list[Any], futures: list[asyncio.Future[Any]]
) -> Outcome:
    """Wait for `futures` and put each outcome in `table` under its key
    (`keys`, in the same order), where the future still stands.

    A batch answers many at once: once one is done, most others are too.
    """
    for key, future in zip(keys, futures, strict=True):
        if not future.done():
            outcome = await settle(future)
        else:
            try:  # what a batch set, mostly: tested only when it raises
                outcome = future.result()
            except (Exception, asyncio.CancelledError):
                outcome = _outcome_of(future)
        if table.get(key) is future:  # else `clear` forgot it meanwhile
            table[key] = outcome
    return True


def _outcome_of(future: asyncio.Future[Any]) -> Outcome:
    """The outcome a done future gives, as `settle` would give it."""
    if future.cancelled():
        return misconfigured("a shared authorization check was cancelled")
    error = future.exception()
    if error is not None:
        return denial_from_exception(error, "an authorization check")
    outcome: Outcome = future.result()
    return outcome


def _nested(field_type: Any) -> bool:
    """Whether `field_type` is a list of lists."""
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    item = getattr(field_type, "of_type", None)
    if isinstance(item, GraphQLNonNull):
        item = item.of_type
    return isinstance(item, GraphQLList)


def selected_field_names(info: ResolveInfo) -> set[str]:
    """Names of the fields selected on the object(s) `info`'s field returns.

    Inline fragments and named fragments included, whatever their type
    condition: a superset is harmless (a rule decided early), a subset not.
    """
    names: set[str] = set()
    fragments = info.fragments
    seen: set[str] = set()

    def collect(selection_set: SelectionSetNode | None) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    collect(fragments[name].selection_set)

    for node in info.field_nodes:
        collect(node.selection_set)
    return names


def returns_list_of(field_type: Any) -> GraphQLObjectType | None:
    """The object type of a field returning a list of objects, else None."""
    saw_list = False
    while isinstance(field_type, (GraphQLNonNull, GraphQLList)):
        if isinstance(field_type, GraphQLList):
            saw_list = True
        field_type = field_type.of_type
    if saw_list and isinstance(field_type, GraphQLObjectType):
        return field_type
    return None
