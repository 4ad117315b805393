"""What applies to one field: its type's, its interfaces' and its own rules.

`_TypeParts` are the parts every field of a type shares (computed once per
type), `_FieldRules` adds the field's own and inherited rules and checks
them; `_SharedNodes` keeps one node for equal combinations across fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
)

from ._compat import strawberry_definition_of
from ._decisions import DecisionSource
from ._output_fields import _field_policies, _OutputField, _TypeRules
from ._per_object import PerObject
from ._plan import NO_FALLBACK, ErrorHooks, ObjectCheck, Part
from ._policy import FieldPolicy, Policy, TypePolicy
from ._rules import Node, SourceTag, all_of


class _SharedNodes:
    """The nodes the planner builds once and shares across fields.

    Source tags, the AND of a field's parts, per-object wrappers of type rule
    functions, and the object checks of each returned type: sharing them
    keeps one memo per rule in a request (not one per field) and keeps
    planning linear in the schema.
    """

    def __init__(
        self,
        gschema: GraphQLSchema,
        type_rules: Callable[[GraphQLObjectType], _TypeRules],
    ) -> None:
        self.gschema = gschema
        self.type_rules = type_rules
        self._tags: dict[tuple[str, int], Node] = {}
        self._combined: dict[tuple[int, ...], Node | None] = {}
        self._objects: dict[tuple[object, ...], PerObject] = {}
        self._object_checks: dict[tuple[str, int], ObjectCheck | None] = {}

    def object_check(self, named: Any, lists: int) -> ObjectCheck | None:
        """The object rules (`on_object=True`) of what a field returns.

        `named` is the field's type behind its wrappers, `lists` how many
        list levels wrap it.
        """
        key = (getattr(named, "name", ""), lists)
        if key not in self._object_checks:
            self._object_checks[key] = self._object_check_of(named, lists)
        return self._object_checks[key]

    def _object_check_of(self, named: Any, lists: int) -> ObjectCheck | None:
        if isinstance(named, GraphQLObjectType):
            found = self._object_rules(named)
            if found is None:
                return None
            return ObjectCheck(concrete=found[1:], lists=lists, name=named.name)
        if isinstance(named, (GraphQLInterfaceType, GraphQLUnionType)):
            by_type = tuple(
                (possible.name, None if found is None else found[1:])
                for possible in self.gschema.get_possible_types(named)
                for found in (self._object_rules(possible),)
            )
            if all(rules is None for _, rules in by_type):
                return None
            return ObjectCheck(by_type=by_type, abstract=named, lists=lists)
        return None

    def _object_rules(
        self, gtype: GraphQLObjectType
    ) -> tuple[type, PerObject, bool] | None:
        rules = self.type_rules(gtype)
        found = [p for p in (*rules.own, *rules.interfaces) if p.on_object]
        nodes = [p.node for p in found if p.node is not None]
        if not nodes:
            return None
        origin = getattr(strawberry_definition_of(gtype), "origin", object)
        node = all_of(nodes)
        assert node is not None
        interfaces = () if rules.skip_interfaces else rules.interfaces
        grants = tuple(
            p.grants for p in (*rules.own, *interfaces) if p.grants is not None
        )
        source = "type" if any(p in rules.own for p in found) else "interface"
        wrapped = self._wrapped(node, grants, source)
        return origin, wrapped, any(p.drop_denied for p in found)

    def per_object(self, node: Node, type_grants: tuple[Any, ...]) -> Node:
        """`node` as a per-object type rule (unless static) of an object whose
        type rules grant with `type_grants`."""
        return node if node.static else self._wrapped(node, type_grants)

    def _wrapped(
        self, node: Node, type_grants: tuple[Any, ...], source: str = "type"
    ) -> PerObject:
        """One wrapper per node, type grants and source, shared by every field."""
        key = (id(node), source, *map(id, type_grants))
        wrapped = self._objects.get(key)
        if wrapped is None:
            wrapped = self._objects[key] = PerObject(node, type_grants, source)
        return wrapped

    def all_of(self, parts: list[Part] | tuple[Part, ...]) -> Node | None:
        """The AND of `parts`, each tagged with its source; shared across fields."""
        tags = [self.tag(source, node) for source, node in parts]
        key = tuple(id(tag) for tag in tags)
        if key not in self._combined:
            self._combined[key] = all_of(tags)
        return self._combined[key]

    def tag(self, source: str, node: Node) -> Node:
        key = (source, id(node))
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = SourceTag(source, node)
        return tag


@dataclasses.dataclass
class _FieldRules:
    """The rules of one field, sorted by where they come from."""

    type_pre_parts: list[Part]
    pre_parts: list[Part]
    post_parts: list[Part]
    subscribe_parts: list[Part]
    event_parts: list[Part]
    type_grants: tuple[Any, ...]
    grants: Any
    on_error: Any
    on_denied: Any
    skip_defaults: bool
    drop_denied: bool
    object_rules: bool

    @classmethod
    def of(
        cls,
        policy: Policy,
        field: _OutputField,
        rules: _TypeRules,
        problems: list[str],
        type_parts: Callable[[_TypeRules, bool, bool], _TypeParts],
    ) -> _FieldRules:
        gtype, field_name = field.gtype, field.name
        inherited: list[FieldPolicy] = []
        for interface in gtype.interfaces:
            for found in _field_policies(policy, interface.fields.get(field_name)):
                if found not in inherited:
                    inherited.append(found)
        # A field an implementer does not redeclare is a copy of the
        # interface's, carrying the same policy objects: they count once.
        own = [p for p in field.policies if p not in inherited]
        skip_interfaces = rules.skip_interfaces or any(
            p.skip_interface_rules for p in own
        )
        if skip_interfaces:
            inherited = []
        # Only a rule on this type's own field skips this type's type rules;
        # interface type rules go only with skip_interface_rules.
        types = type_parts(rules, any(p.skip_type_rules for p in own), skip_interfaces)
        if not own and not inherited:
            return cls(
                type_pre_parts=types.pre,
                pre_parts=types.pre,
                post_parts=types.post,
                subscribe_parts=[],
                event_parts=[],
                type_grants=types.grants,
                grants=None,
                on_error=types.on_error,
                on_denied=NO_FALLBACK,
                skip_defaults=False,
                drop_denied=False,
                object_rules=types.object_rules,
            )
        coordinate = f"{gtype.name}.{field_name}"
        _check_field(coordinate, own, inherited, field.gfield, problems)
        all_field = [*own, *inherited]
        granting = [p.grants for p in own if p.grants is not None]
        return cls(
            type_pre_parts=types.pre,
            pre_parts=[
                *types.pre,
                *_policy_parts("interface", inherited, post=False),
                *_policy_parts("field", own, post=False),
            ],
            post_parts=[*types.post, *_policy_parts("post", all_field, post=True)],
            subscribe_parts=_policy_parts(
                "field", [p for p in all_field if p.phase == "subscribe"], post=False
            ),
            event_parts=_policy_parts(
                "field", [p for p in all_field if p.phase == "resolve"], post=False
            ),
            type_grants=types.grants,
            grants=granting[0] if granting else None,
            on_error=(
                *_error_hooks(own, "field"),
                *_error_hooks(inherited, "interface"),
                *types.on_error,
            ),
            on_denied=next(
                (p.on_denied for p in all_field if p.on_denied is not NO_FALLBACK),
                NO_FALLBACK,
            ),
            skip_defaults=any(p.skip_defaults for p in (own or inherited)),
            drop_denied=any(p.drop_denied for p in all_field),
            object_rules=types.object_rules,
        )


class _TypeParts(NamedTuple):
    """What the type rules that apply to a field add to its plan.

    The same for every field of a type that skips the same rules: computed
    once per type and skip options. `pre` are checked once per object.
    """

    pre: list[Part]
    post: list[Part]
    grants: tuple[Any, ...]
    on_error: Any
    object_rules: bool

    @classmethod
    def of(
        cls,
        rules: _TypeRules,
        skip_types: bool,
        skip_interfaces: bool,
        per_object: Callable[[Node, tuple[Any, ...]], Node],
    ) -> _TypeParts:
        own_types = () if skip_types else rules.own
        interface_types = () if skip_interfaces else rules.interfaces
        # grants, on_error and object rules of the type's own rules stay even
        # when a field skips them: they are about the object, not the field.
        type_policies = (*rules.own, *interface_types)
        root = rules.operation is not None
        grants = tuple(p.grants for p in type_policies if p.grants is not None)
        return cls(
            pre=[
                (source, per_object(node, grants))
                for source, node in (
                    *_policy_parts("type", _on_fields(own_types, root), post=False),
                    *_policy_parts(
                        "interface", _on_fields(interface_types, root), post=False
                    ),
                )
            ],
            post=_policy_parts("post", (*own_types, *interface_types), post=True),
            grants=grants,
            on_error=(
                *_error_hooks(rules.own, "type"),
                *_error_hooks(interface_types, "interface"),
            ),
            # Only a declaration holding a rule decides anything: one with only
            # grants= or skip_interface_rules leaves the fallback in charge.
            object_rules=not root
            and any(p.on_object and p.node is not None for p in type_policies),
        )


def _check_field(
    coordinate: str,
    own: list[FieldPolicy],
    inherited: list[FieldPolicy],
    gfield: GraphQLField,
    problems: list[str],
) -> None:
    for kind, found in (
        ("authz.rule", [p for p in own if not p.post and p.rules is not None]),
        ("authz.post_rule", [p for p in own if p.post]),
    ):
        if len(found) > 1:
            problems.append(
                f"{coordinate}: {len(found)} {kind}(...) on one field; "
                "combine them into one rule set"
            )
    if len([p for p in own if p.grants is not None]) > 1:
        problems.append(
            f"{coordinate}: grants= given on both its rule and its post rule; "
            "give them on one"
        )
    for rule in (*own, *inherited):
        if not rule.compiled:
            problems.append(f"{coordinate}: its rule was never compiled")
    on_denied = next(
        (p.on_denied for p in (*own, *inherited) if p.on_denied is not NO_FALLBACK),
        NO_FALLBACK,
    )
    if on_denied is None and isinstance(gfield.type, GraphQLNonNull):
        problems.append(
            f"{coordinate}: on_denied=None on a non-null field ({gfield.type}); "
            "return a value of the field's type, or make the field nullable"
        )


def _error_hooks(found: Any, source: DecisionSource) -> ErrorHooks:
    """The `on_error` of each of `found`, with the source of its denials."""
    return tuple(
        ("post" if p.post else source, p.on_error)
        for p in found
        if p.on_error is not None
    )


def _policy_parts(source: DecisionSource, found: Any, *, post: bool) -> list[Part]:
    return [(source, p.node) for p in found if p.post is post and p.node is not None]


def _on_fields(policies: tuple[TypePolicy, ...], root: bool) -> tuple[TypePolicy, ...]:
    """The type rules checked on each field (not `on_object` ones).

    On a root type `on_object` ones too: no field returns the root object,
    so checking each root field before its resolver is where they hold.
    """
    return tuple(p for p in policies if root or not p.on_object)


def _parts(source: DecisionSource, node: Node | None) -> list[Part]:
    return [] if node is None else [(source, node)]
