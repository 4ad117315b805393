"""Deciding a list's item rules once, before its items resolve.

A list field whose item type carries rules that depend on scopes alone warms
them when it returns: with async loaders, thousands of per-item waits become
one, and every item then finds its answer already decided.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
)

from ._compat import ResolveInfo
from .batch import Queued
from .outcomes import Outcome, decided, discard, has_running_loop, settle
from .params import FieldCall
from .request import RequestState
from .rules import Node, PerObject, object_key_at

__all__ = [
    "ObjectTodo",
    "Warmer",
    "decide_objects",
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
        """Pre-decide the per-object type rules of every item of the list."""
        items = call.result
        if not isinstance(items, (list, tuple)):
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
        path = call.info.path
        todo = [
            (node, object_key_at(path, index, node), call.for_object(item))
            for index, item in enumerate(items)
            if item is not None
            for node in nodes
        ]
        return decide_objects(call.state, path, todo)


ObjectTodo = tuple[PerObject, Any, FieldCall]
"""A per-object rule, the key of its answer, and the call about the object."""


def decide_objects(
    state: RequestState, keep: object, todo: list[ObjectTodo]
) -> list[Any]:
    """Decide many objects' per-object rules at once; the answers still pending.

    With an event loop, every rule starts now (batch scopes gather their
    values for one call per chunk) and the pending answers are returned to
    be awaited together. Without one, batch scopes are asked in rounds: a
    round queues every value it needs, one batch per scope answers them,
    and the objects still undecided are evaluated again (a rule function is
    not called again: its return value is kept per object). Answers land in
    `state.per_object`; `keep` is kept alive with them.
    """
    if len(todo) < _QUIET_FROM:
        return _decide_objects(state, keep, todo)
    # Thousands of small objects are made here and kept till the end of the
    # request: the collector would rescan the whole heap again and again
    # meanwhile. The pass is bounded; garbage waits for its next round.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _decide_objects(state, keep, todo)
    finally:
        if collecting:
            gc.enable()


_QUIET_FROM = 256


def _decide_objects(
    state: RequestState, keep: object, todo: list[ObjectTodo]
) -> list[Any]:
    batches = state.scopes.batches
    if not state.scopes.sync and has_running_loop():
        return [
            outcome
            for node, key, item_call in todo
            if key not in state.per_object
            for outcome in (node.decide(state, key, keep, item_call),)
            if not decided(outcome)
        ]
    for item_call in {id(c): c for _, _, c in todo}.values():
        item_call.returned = {}
    for _ in range(_MAX_ROUNDS):
        batches.collecting = True
        try:
            waiting = []
            queued: list[tuple[Any, Queued]] = []
            for node, key, item_call in todo:
                if key in state.per_object:
                    continue
                outcome = node.decide(state, key, keep, item_call)
                if type(outcome) is Queued:
                    # The rule is that one batch value: its answer is the
                    # object's, no need to evaluate the rule again.
                    queued.append((key, outcome))
                elif not decided(outcome):
                    discard(outcome)
                    waiting.append((node, key, item_call))
        finally:
            batches.collecting = False
        if not (waiting or queued) or not batches.queued:
            break
        batches.flush()
        results = state.scopes.results
        for key, wait in queued:
            answer = results.get(wait.key)
            if decided(answer):
                state.per_object[key] = (keep, answer)
        todo = [entry for entry in todo if entry[1] not in state.per_object]
    return []


_MAX_ROUNDS = 8
"""Rounds of batches a list decides ahead (a `$chain` of batch scopes needs one
per step); what is still undecided is then decided field by field."""


async def _settle_all(pending: list[Any]) -> Outcome:
    for item in pending:
        await settle(item)
    return True


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
