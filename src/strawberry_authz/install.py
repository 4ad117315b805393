"""Installing guards on a schema: where each rule applies, decided once.

For one field, everything that applies must pass: the default scopes of its
operation type (root fields, unless `skip_defaults`), the type-wide rules of
its type (unless `skip_type_rules`) and its own rule. This module computes
that combination per field, checks the policy against the schema, and puts a
`FieldGuard` in front of each resolver that needs one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

from .guards import DEFAULT_RESOLVER, FieldGuard, Warmer, returns_list_of
from .policy import FieldPolicy, TypePolicy
from .rules import Granted, Node, all_of

if TYPE_CHECKING:
    from strawberry import Schema

    from .extension import AuthExtension
    from .policy import ErrorHook, GrantSpec

__all__ = ["install_guards"]

BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF


class _FieldPlan:
    """What applies to one resolver (a field's `resolve` or `subscribe`)."""

    def __init__(
        self,
        *,
        coordinate: str,
        gfield: GraphQLField,
        attribute: str,
        strawberry_field: Any,
        pre: Node | None,
        post: Node | None,
        grants: GrantSpec | None,
        on_error: ErrorHook | None,
    ) -> None:
        self.coordinate = coordinate
        self.gfield = gfield
        self.attribute = attribute
        self.strawberry_field = strawberry_field
        self.pre = pre
        self.post = post
        self.grants = grants
        self.on_error = on_error
        self.warmer: Warmer | None = None


def install_guards(authz: AuthExtension, schema: Schema) -> list[str]:
    """Guard every resolver of `schema` that a rule applies to.

    Returns the problems found (nothing is installed when there are any).
    Installing twice replaces the earlier guards, never stacks them.
    """
    gschema: GraphQLSchema = schema._schema
    problems: list[str] = []
    operations: dict[str, str] = {}
    for operation, root in (
        ("Query", gschema.query_type),
        ("Mutation", gschema.mutation_type),
        ("Subscription", gschema.subscription_type),
    ):
        if root is not None:
            operations[root.name] = operation

    plans: list[_FieldPlan] = []
    static_by_type: dict[str, dict[str, Node]] = {}
    for gtype in _object_types(gschema):
        type_policies = _type_policies(authz, gtype)
        operation = operations.get(gtype.name)
        statics: dict[str, Node] = {}
        for field_name, gfield in gtype.fields.items():
            for plan in _plan_field(
                authz, gtype, field_name, gfield, operation, type_policies, problems
            ):
                plans.append(plan)
                if plan.attribute == "resolve" and plan.pre is not None and plan.pre.static:
                    statics[field_name] = plan.pre
        if statics and operation is None:
            static_by_type[gtype.name] = statics

    _check_grants_reachable(gschema, plans, problems)
    if problems:
        return problems

    guarded = {(id(plan.gfield), plan.attribute) for plan in plans}
    for gtype in _object_types(gschema):
        for field_name, gfield in gtype.fields.items():
            item_type = returns_list_of(gfield.type)
            if item_type is None or item_type.name not in static_by_type:
                continue
            warmer = Warmer(static_by_type[item_type.name])
            if (id(gfield), "resolve") in guarded:
                for plan in plans:
                    if plan.gfield is gfield and plan.attribute == "resolve":
                        plan.warmer = warmer
            else:
                plan = _FieldPlan(
                    coordinate=f"{gtype.name}.{field_name}",
                    gfield=gfield,
                    attribute="resolve",
                    strawberry_field=gfield.extensions.get(BACKREF),
                    pre=None,
                    post=None,
                    grants=None,
                    on_error=None,
                )
                plan.warmer = warmer
                plans.append(plan)

    for plan in plans:
        original = getattr(plan.gfield, plan.attribute) or DEFAULT_RESOLVER
        installed = getattr(original, "guard", None)
        if isinstance(installed, FieldGuard) and installed.var is authz._var:
            original = installed.original
        guard = FieldGuard(
            coordinate=plan.coordinate,
            original=original,
            field=plan.strawberry_field,
            schema=schema,
            var=authz._var,
            pre=plan.pre,
            post=plan.post,
            grants=plan.grants,
            on_error=plan.on_error,
            error_resolver=authz._error_resolver,
            warmer=plan.warmer,
        )
        setattr(plan.gfield, plan.attribute, guard.build())
    return problems


def _object_types(gschema: GraphQLSchema) -> Iterator[GraphQLObjectType]:
    for name, gtype in gschema.type_map.items():
        if isinstance(gtype, GraphQLObjectType) and not name.startswith("__"):
            yield gtype


def _type_policies(authz: AuthExtension, gtype: GraphQLObjectType) -> list[TypePolicy]:
    definition = gtype.extensions.get(BACKREF)
    origin = getattr(definition, "origin", None)
    if not isinstance(origin, type):
        return []
    policies: list[TypePolicy] = []
    for klass in origin.__mro__:
        policies.extend(authz._type_policies.get(klass, ()))
    return policies


def _plan_field(
    authz: AuthExtension,
    gtype: GraphQLObjectType,
    field_name: str,
    gfield: GraphQLField,
    operation: str | None,
    type_policies: list[TypePolicy],
    problems: list[str],
) -> list[_FieldPlan]:
    coordinate = f"{gtype.name}.{field_name}"
    strawberry_field = gfield.extensions.get(BACKREF)
    policies: list[FieldPolicy] = [
        extension
        for extension in getattr(strawberry_field, "extensions", ())
        if isinstance(extension, FieldPolicy) and extension.authz is authz
    ]
    pre_policies = [p for p in policies if not p.post]
    post_policies = [p for p in policies if p.post]
    for kind, found in (("authz.rule", pre_policies), ("authz.post_rule", post_policies)):
        if len(found) > 1:
            problems.append(
                f"{coordinate}: {len(found)} {kind}(...) on one field; "
                "combine them into one rule set"
            )
    granting = [p for p in policies if p.grants is not None]
    if len(granting) > 1:
        problems.append(
            f"{coordinate}: grants= given on both its rule and its post rule; "
            "give them on one"
        )
    for policy in policies:
        if policy.node is None:
            problems.append(f"{coordinate}: its rule was never compiled")

    skip_defaults = any(p.skip_defaults for p in policies)
    skip_type_rules = any(p.skip_type_rules for p in policies)
    type_pre = [] if skip_type_rules else [p for p in type_policies if not p.post]
    type_post = [] if skip_type_rules else [p for p in type_policies if p.post]
    grants = granting[0].grants if granting else None
    on_error = next((p.on_error for p in policies if p.on_error is not None), None)
    if on_error is None:
        on_error = next((p.on_error for p in type_policies if p.on_error), None)

    def nodes(found: list[Any]) -> list[Node]:
        return [p.node for p in found if p.node is not None]

    if operation == "Subscription" and gfield.subscribe is not None:
        defaults = {} if skip_defaults else authz._defaults
        subscribe_pre = [p for p in pre_policies if p.phase == "subscribe"]
        resolve_pre = [p for p in pre_policies if p.phase == "resolve"]
        subscribe_defaults = _some(defaults.get("Subscription.subscribe"))
        resolve_defaults = _some(defaults.get("Subscription.resolve"))
        plans = [
            _FieldPlan(
                coordinate=coordinate,
                gfield=gfield,
                attribute="subscribe",
                strawberry_field=strawberry_field,
                pre=all_of([*subscribe_defaults, *nodes(type_pre), *nodes(subscribe_pre)]),
                post=None,
                grants=None,
                on_error=on_error,
            )
        ]
        resolve_plan = _FieldPlan(
            coordinate=coordinate,
            gfield=gfield,
            attribute="resolve",
            strawberry_field=strawberry_field,
            pre=all_of([*resolve_defaults, *nodes(resolve_pre)]),
            post=all_of([*nodes(type_post), *nodes(post_policies)]),
            grants=grants,
            on_error=on_error,
        )
        if resolve_plan.pre or resolve_plan.post or resolve_plan.grants is not None:
            plans.append(resolve_plan)
        return [plan for plan in plans if plan.pre or plan.post or plan.grants]

    defaults_node = None if skip_defaults or operation is None else authz._defaults.get(operation)
    plan = _FieldPlan(
        coordinate=coordinate,
        gfield=gfield,
        attribute="resolve",
        strawberry_field=strawberry_field,
        pre=all_of([*_some(defaults_node), *nodes(type_pre), *nodes(pre_policies)]),
        post=all_of([*nodes(type_post), *nodes(post_policies)]),
        grants=grants,
        on_error=on_error,
    )
    if plan.pre is None and plan.post is None and plan.grants is None:
        return []
    return [plan]


def _some(node: Node | None) -> list[Node]:
    return [] if node is None else [node]


def _check_grants_reachable(
    gschema: GraphQLSchema, plans: list[_FieldPlan], problems: list[str]
) -> None:
    """Every `$granted` name must be given by some field returning its type.

    A rule asking for a grant nobody gives can never pass: that is almost
    always a typo or a forgotten `grants=`, so it is reported, not enforced
    silently. Grants computed by a function count as giving anything.
    """
    given: dict[str, set[str] | None] = {}
    for gtype in _object_types(gschema):
        for gfield in gtype.fields.values():
            targets = _possible_object_types(gschema, gfield.type)
            plan_grants = [
                plan.grants
                for plan in plans
                if plan.gfield is gfield and plan.grants is not None
            ]
            for target in targets:
                names = given.setdefault(target, set())
                for spec in plan_grants:
                    if callable(spec):
                        given[target] = None
                    elif names is not None:
                        names.update(spec)
    for plan in plans:
        parent_type = plan.coordinate.split(".", 1)[0]
        for node in (plan.pre, plan.post):
            for name in _granted_names(node):
                names = given.get(parent_type, set())
                if names is not None and name not in names:
                    problems.append(
                        f"{plan.coordinate}: key '$granted': grant {name!r} is given "
                        f"by no field returning {parent_type}, so this rule can never pass"
                    )


def _possible_object_types(gschema: GraphQLSchema, field_type: Any) -> list[str]:
    while isinstance(field_type, (GraphQLNonNull, GraphQLList)):
        field_type = field_type.of_type
    if isinstance(field_type, GraphQLObjectType):
        return [field_type.name]
    if isinstance(field_type, (GraphQLInterfaceType, GraphQLUnionType)):
        return [t.name for t in gschema.get_possible_types(field_type)]
    return []


def _granted_names(node: Node | None) -> Iterator[str]:
    if node is None:
        return
    if isinstance(node, Granted):
        yield node.name
    for child in getattr(node, "children", ()):
        yield from _granted_names(child)

