"""Deciding a list's item rules once, before its items resolve.

A list field whose item type carries rules that depend on scopes alone warms
them when it returns: with async loaders, thousands of per-item waits become
one, and every item then finds its answer already decided.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from inspect import isawaitable
from types import GeneratorType
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
from ._object_pass import collector_paused, decide_objects
from ._outcomes import (
    Outcome,
    decided,
    settle,
)
from ._params import FieldCall
from ._per_object import PerObject
from ._request import RequestState
from ._rules import Node

__all__ = [
    "Warmer",
    "awaits",
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
        if _holds_errors(items):
            # Items served as their errors (an object rule denied them, or
            # the resolver returned one): graphql-core reports each, none
            # is an object whose fields resolve, nor one a rule may see.
            items = [None if isinstance(item, Exception) else item for item in items]
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


async def _settle_all(pending: list[Any]) -> Outcome:
    for item in pending:
        await settle(item)
    return True


def awaits(value: object) -> bool:
    """Whether graphql-core awaits `value` before completing it (its test)."""
    return hasattr(value, "__await__") or (
        type(value) is GeneratorType and isawaitable(value)
    )


def _holds_errors(items: Iterable[object]) -> bool:
    """Whether an item of `items` is an exception, told by their types."""
    return any(issubclass(kind, Exception) for kind in set(map(type, items)))


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
