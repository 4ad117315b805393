"""Reading the schema for planning: its object types and output fields, once.

Each output field is read into an `_OutputField` (its named type, list depth,
Strawberry field, this policy's rules on it); `_TypeRules` holds what applies
to every field of one type; `_Planned` is what is enforced on one resolver.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
)
from strawberry import relay

from ._capabilities import Permission
from ._compat import object_definition, strawberry_field_of
from ._params import FieldSite
from ._plan import FieldPlan
from ._policy import FieldPolicy, Policy, TypePolicy, is_marker

if TYPE_CHECKING:
    from strawberry.types.field import StrawberryField

    from ._capabilities import Capability


OPERATIONS = ("Query", "Mutation", "Subscription")


# Types that hold no data of their own: what their fields show, the field that
# returned them already decided (relay's structure around the nodes of a
# connection; the answers of a capability field). The fallback rule does not
# apply to the fields these classes declare; a field a subclass adds, and the
# objects inside (`Edge.node`'s), keep their own rules.
FOLLOWS_PARENT: dict[type, str] = {
    relay.Connection: "relay",
    relay.ListConnection: "relay",
    relay.Edge: "relay",
    relay.PageInfo: "relay",
    Permission: "library",
}


@dataclasses.dataclass(frozen=True)
class _TypeRules:
    """What applies to every field of one object type (computed once per type)."""

    operation: str | None
    own: tuple[TypePolicy, ...]
    interfaces: tuple[TypePolicy, ...]
    skip_interfaces: bool


class _OutputField(NamedTuple):
    """One output field of the schema, read once for planning.

    `named` is its type behind every list and non-null wrapper, `lists` how
    many list levels wrap it; `field` is the Strawberry field behind it,
    `policies` this policy's rules on it and `marked` whether it carries any
    marker (ours or another AuthExtension's); `follows` why the field that
    returned its object decides for it (`"relay"`, `"library"`, see
    `FOLLOWS_PARENT`), None for a field that holds data.
    """

    gtype: GraphQLObjectType
    name: str
    gfield: GraphQLField
    named: Any
    lists: int
    field: StrawberryField | None
    policies: tuple[FieldPolicy, ...]
    marked: bool
    follows: str | None

    @property
    def plain(self) -> bool:
        """No rule of its own and no interface: its type decides its plan."""
        return not self.policies and not self.gtype.interfaces


class _Planned(NamedTuple):
    """What is enforced on one resolver of `output`.

    `plan` holds the checks. When `shared`, it is the plan of another field
    of the same type with the same checks (most fields of a type have no
    rule of their own); `field_plan()` gives this field's own copy, made
    only when its guard is built.
    """

    output: _OutputField
    plan: FieldPlan
    shared: bool = False
    capability: Capability | None = None

    @property
    def gfield(self) -> GraphQLField:
        return self.output.gfield

    @property
    def coordinate(self) -> str:
        return f"{self.output.gtype.name}.{self.output.name}"

    def field_plan(self) -> FieldPlan:
        """The plan of this field, its own site included."""
        plan = self.plan
        if not self.shared:
            return plan
        output = self.output
        site = FieldSite(
            output.gtype.name,
            output.name,
            plan.site.schema,
            output.field,
            plan.site.type_grants,
        )
        return plan.at(site)


def _read_field(
    policy: Policy, gtype: GraphQLObjectType, name: str, gfield: GraphQLField
) -> _OutputField:
    named = gfield.type
    lists = 0
    while isinstance(named, (GraphQLNonNull, GraphQLList)):
        lists += isinstance(named, GraphQLList)
        named = named.of_type
    field = strawberry_field_of(gfield)
    policies: tuple[FieldPolicy, ...] = ()
    marked = False
    for ext in () if field is None else field.extensions:
        if is_marker(ext):
            marked = True
            if isinstance(ext, FieldPolicy) and ext.policy is policy:
                policies = (*policies, ext)
    follows = FOLLOWS_PARENT.get(getattr(field, "origin", None))  # type: ignore[arg-type]
    return _OutputField(
        gtype, name, gfield, named, lists, field, policies, marked, follows
    )


def _field_policies(policy: Policy, gfield: GraphQLField | None) -> list[FieldPolicy]:
    field = strawberry_field_of(gfield)
    return [
        ext
        for ext in getattr(field, "extensions", ())
        if isinstance(ext, FieldPolicy) and ext.policy is policy
    ]


def _object_types(gschema: GraphQLSchema) -> Iterator[GraphQLObjectType]:
    for name, gtype in gschema.type_map.items():
        if isinstance(gtype, GraphQLObjectType) and not name.startswith("__"):
            yield gtype


def _is_interface(klass: type) -> bool:
    definition = object_definition(klass)
    return bool(getattr(definition, "is_interface", False))


def possible_object_types(gschema: GraphQLSchema, field_type: Any) -> list[str]:
    while isinstance(field_type, (GraphQLNonNull, GraphQLList)):
        field_type = field_type.of_type
    if isinstance(field_type, GraphQLObjectType):
        return [field_type.name]
    if isinstance(field_type, (GraphQLInterfaceType, GraphQLUnionType)):
        return [t.name for t in gschema.get_possible_types(field_type)]
    return []
