"""Deciding a list's item rules once, before its items resolve.

A list field whose item type carries rules that depend on scopes alone warms
them when it returns: with async loaders, thousands of per-item waits become
one, and every item then finds its answer already decided.
"""

from __future__ import annotations

import asyncio
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
from .outcomes import Outcome, decided, settle
from .request import RequestState
from .rules import Node

__all__ = ["Warmer", "returns_list_of", "selected_field_names"]


class Warmer:
    """The static rules of a list field's item type, by item field name."""

    __slots__ = ("by_field", "nodes")

    def __init__(self, by_field: dict[str, Node]) -> None:
        self.by_field = by_field
        self.nodes = tuple(dict.fromkeys(by_field.values()))

    def warm(self, state: RequestState, info: ResolveInfo) -> Awaitable[Any] | None:
        """Decide the rules the selected item fields need; None if all known."""
        decisions = state.decisions
        if all(decided(decisions.get(node)) for node in self.nodes):
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
