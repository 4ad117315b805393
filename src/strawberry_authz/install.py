"""Installing guards on a schema: where each rule applies, decided once.

For one field, everything that applies must pass: the default scopes of its
operation type (root fields, unless `skip_defaults`), the type-wide rules of
its type (unless `skip_type_rules`) and its own rule. This module computes
that combination per field, checks the policy against the schema, and puts a
`FieldGuard` in front of each resolver that needs one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
)

from ._compat import (
    graphql_schema,
    object_definition,
    rebuild_resolver,
    serial_mutations,
    strawberry_definition_of,
    strawberry_field_of,
)
from .capabilities import capability_of
from .guards import NO_FALLBACK, FieldGuard, Warmer, returns_list_of
from .policy import FieldPolicy, TypeMarker, TypePolicy, is_marker
from .rules import Granted, Node, all_of

if TYPE_CHECKING:
    from strawberry import Schema

    from .extension import AuthExtension
    from .policy import GrantSpec

__all__ = ["install_guards"]


class _FieldPlan:
    """What applies to one resolver (a field's `resolve` or `subscribe`)."""

    def __init__(
        self,
        gtype: GraphQLObjectType,
        field_name: str,
        gfield: GraphQLField,
        attribute: str,
        **options: Any,
    ) -> None:
        self.gtype = gtype
        self.field_name = field_name
        self.coordinate = f"{gtype.name}.{field_name}"
        self.gfield = gfield
        self.attribute = attribute
        self.options = options

    def marked(self) -> bool:
        field = strawberry_field_of(self.gfield)
        return any(is_marker(ext) for ext in getattr(field, "extensions", ()))

    @property
    def pre(self) -> Node | None:
        pre: Node | None = self.options.get("pre")
        return pre

    @property
    def post(self) -> Node | None:
        post: Node | None = self.options.get("post")
        return post

    @property
    def grants(self) -> GrantSpec | None:
        grants: GrantSpec | None = self.options.get("grants")
        return grants

    def enforces(self) -> bool:
        options = self.options
        return self.marked() or bool(
            options.get("pre")
            or options.get("post")
            or options.get("grants") is not None
            or options.get("type_grants")
            or options.get("event_filter")
            or options.get("new_event")
            # Every subscription stream is bound to its operation's state.
            or options.get("phase") == "subscribe"
            or options.get("on_denied", NO_FALLBACK) is not NO_FALLBACK
        )


def install_guards(authz: AuthExtension, schema: Schema) -> list[str]:
    """Guard every resolver of `schema` that a rule applies to.

    Returns the problems found (nothing is installed when there are any).
    Installing twice replaces the earlier guards, never stacks them.
    """
    gschema: GraphQLSchema = graphql_schema(schema)
    serial_mutations(schema)
    problems: list[str] = []
    operations: dict[str, str] = {}
    root: GraphQLObjectType | None
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
        operation_of_type = operations.get(gtype.name)
        statics: dict[str, Node] = {}
        for field_name, gfield in gtype.fields.items():
            for plan in _plan_field(
                authz, gtype, field_name, gfield, operation_of_type, problems
            ):
                plans.append(plan)
                pre = plan.pre
                if plan.attribute == "resolve" and pre is not None and pre.static:
                    statics[field_name] = pre
        if statics and operation_of_type is None:
            static_by_type[gtype.name] = statics

    _check_input_types(authz, gschema, problems)
    _check_grants_reachable(authz, gschema, plans, problems)
    if problems:
        return problems

    by_resolver = {(id(plan.gfield), plan.attribute): plan for plan in plans}
    for gtype in _object_types(gschema):
        for field_name, gfield in gtype.fields.items():
            item_type = returns_list_of(gfield.type)
            if item_type is None or item_type.name not in static_by_type:
                continue
            warmer = Warmer(static_by_type[item_type.name])
            found = by_resolver.get((id(gfield), "resolve"))
            if found is None:
                found = _FieldPlan(gtype, field_name, gfield, "resolve")
                plans.append(found)
            found.options["warmer"] = warmer

    active = tuple(ext for ext in schema.extensions if isinstance(ext, type(authz)))
    for plan in plans:
        capability = plan.options.get("capability")
        if capability is not None:
            resolver = capability.resolver(
                schema, plan.gtype.name, plan.field_name, plan.gfield
            )
            setattr(plan.gfield, plan.attribute, resolver)
            continue
        original = getattr(plan.gfield, plan.attribute)
        installed = getattr(original, "guard", None)
        if isinstance(installed, FieldGuard) and installed.var is authz._var:
            original = installed.original
        original = _without_markers(schema, plan, original, (authz, *active))
        guard = FieldGuard(
            type_name=plan.gtype.name,
            field_name=plan.field_name,
            original=original,
            field=strawberry_field_of(plan.gfield),
            schema=schema,
            var=authz._var,
            error_resolver=authz._error_resolver,
            on_decision=authz._on_decision,
            debug=authz._debug,
            error_reasons=authz._error_reasons,
            **plan.options,
        )
        setattr(plan.gfield, plan.attribute, guard.build())
    return problems


def _without_markers(
    schema: Schema,
    plan: _FieldPlan,
    original: Any,
    installed: tuple[AuthExtension, ...],
) -> Any:
    """Strawberry's resolver for the field, rebuilt without our markers.

    The markers deny in Strawberry's extension chain (so a schema without the
    extension fails closed); once the guard enforces the policy they must
    go, and with them the chain's per-call cost. Markers of an AuthExtension
    the schema does not use stay, and keep denying.
    """
    field = strawberry_field_of(plan.gfield)
    extensions = getattr(field, "extensions", None)
    if (
        field is None
        or not extensions
        or not any(is_marker(ext) and ext.authz in installed for ext in extensions)
    ):
        return original
    if field.is_subscription and plan.attribute == "resolve":
        return original
    stripped = copy.copy(field)
    stripped.extensions = [
        ext for ext in extensions if not (is_marker(ext) and ext.authz in installed)
    ]
    return rebuild_resolver(schema, stripped)


def _object_types(gschema: GraphQLSchema) -> Iterator[GraphQLObjectType]:
    for name, gtype in gschema.type_map.items():
        if isinstance(gtype, GraphQLObjectType) and not name.startswith("__"):
            yield gtype


def _is_interface(klass: type) -> bool:
    definition = object_definition(klass)
    return bool(getattr(definition, "is_interface", False))


def _type_policies(
    authz: AuthExtension, gtype: GraphQLObjectType, *, skip_interfaces: bool
) -> list[TypePolicy]:
    """The type rules of the type, its Python base classes and its interfaces."""
    definition = strawberry_definition_of(gtype)
    origin = getattr(definition, "origin", None)
    if not isinstance(origin, type):
        return []
    policies: list[TypePolicy] = []
    for klass in origin.__mro__:
        if skip_interfaces and klass is not origin and _is_interface(klass):
            continue
        policies.extend(authz._type_policies.get(klass, ()))
    return policies


def _field_policies(
    authz: AuthExtension, gfield: GraphQLField | None
) -> list[FieldPolicy]:
    strawberry_field = strawberry_field_of(gfield)
    return [
        extension
        for extension in getattr(strawberry_field, "extensions", ())
        if isinstance(extension, FieldPolicy) and extension.authz is authz
    ]


def _plan_field(
    authz: AuthExtension,
    gtype: GraphQLObjectType,
    field_name: str,
    gfield: GraphQLField,
    operation: str | None,
    problems: list[str],
) -> list[_FieldPlan]:
    capability = capability_of(authz, gfield)
    if capability is not None:
        # Its answer is itself an authorization answer (a boolean about the
        # viewer): no default scope, type or interface rule applies to it.
        # `pre` only lets a list of its objects decide a static answer first.
        return [
            _FieldPlan(
                gtype,
                field_name,
                gfield,
                "resolve",
                pre=capability.warm_node,
                capability=capability,
            )
        ]
    coordinate = f"{gtype.name}.{field_name}"
    inherited: list[FieldPolicy] = []
    for interface in gtype.interfaces:
        for policy in _field_policies(authz, interface.fields.get(field_name)):
            if policy not in inherited:
                inherited.append(policy)
    # A field an implementer does not redeclare is a copy of the interface's,
    # carrying the same policy objects: those count once, as inherited.
    policies = [p for p in _field_policies(authz, gfield) if p not in inherited]
    skip_interfaces = any(p.skip_interface_rules for p in policies) or any(
        p.skip_interface_rules for p in _own_type_policies(authz, gtype)
    )
    if skip_interfaces:
        inherited = []
    own_types, interface_types = _split_type_policies(authz, gtype)
    if skip_interfaces:
        interface_types = []
    type_policies = [*own_types, *interface_types]

    pre_policies = [p for p in policies if not p.post]
    post_policies = [p for p in policies if p.post]
    for kind, found in (
        ("authz.rule", pre_policies),
        ("authz.post_rule", post_policies),
    ):
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
    for policy in (*policies, *inherited):
        if policy.node is None:
            problems.append(f"{coordinate}: its rule was never compiled")

    flags_from = policies or inherited
    skip_defaults = any(p.skip_defaults for p in flags_from)
    # Only a rule declared on this type's own field skips this type's own type
    # rules; interface type rules go only with skip_interface_rules.
    skip_type_rules = any(p.skip_type_rules for p in policies)
    applied_types = [*([] if skip_type_rules else own_types), *interface_types]
    type_pre = [p.node for p in applied_types if not p.post and p.node is not None]
    type_post = [p.node for p in applied_types if p.post and p.node is not None]
    type_grants = tuple(p.grants for p in type_policies if p.grants is not None)
    own_and_inherited = [*policies, *inherited]
    options: dict[str, Any] = {
        "grants": granting[0].grants if granting else None,
        "on_error": next(
            (p.on_error for p in own_and_inherited if p.on_error is not None),
            next((p.on_error for p in type_policies if p.on_error), None),
        ),
        "on_denied": next(
            (p.on_denied for p in own_and_inherited if p.on_denied is not NO_FALLBACK),
            NO_FALLBACK,
        ),
        "type_grants": type_grants,
    }
    if options["on_denied"] is None and isinstance(gfield.type, GraphQLNonNull):
        problems.append(
            f"{coordinate}: on_denied=None on a non-null field ({gfield.type}); "
            "return a value of the field's type, or make the field nullable"
        )

    def nodes(found: list[FieldPolicy]) -> list[Node]:
        return [p.node for p in found if p.node is not None]

    field_pre = nodes([p for p in own_and_inherited if not p.post])
    field_post = nodes([p for p in own_and_inherited if p.post])

    if operation == "Subscription" and gfield.subscribe is not None:
        defaults = {} if skip_defaults else authz._defaults
        at_subscribe = [
            p for p in own_and_inherited if not p.post and p.phase == "subscribe"
        ]
        per_event = [
            p for p in own_and_inherited if not p.post and p.phase == "resolve"
        ]
        event_pre = all_of(
            [*_some(defaults.get("Subscription.resolve")), *nodes(per_event)]
        )
        event_post = all_of([*type_post, *field_post])
        drop = any(p.drop_denied for p in own_and_inherited)
        subscribe = _FieldPlan(
            gtype,
            field_name,
            gfield,
            "subscribe",
            pre=all_of(
                [
                    *_some(defaults.get("Subscription.subscribe")),
                    *type_pre,
                    *nodes(at_subscribe),
                ]
            ),
            on_error=options["on_error"],
            phase="subscribe",
            event_filter=(event_pre, event_post) if drop else None,
        )
        resolve = _FieldPlan(
            gtype,
            field_name,
            gfield,
            "resolve",
            **options,
            pre=None if drop else event_pre,
            post=None if drop else event_post,
            phase="event",
            new_event=True,
        )
        return [plan for plan in (subscribe, resolve) if plan.enforces()]

    defaults_node = None
    if operation is not None and not skip_defaults:
        defaults_node = authz._defaults.get(operation)
    plan = _FieldPlan(
        gtype,
        field_name,
        gfield,
        "resolve",
        **options,
        pre=all_of([*_some(defaults_node), *type_pre, *field_pre]),
        post=all_of([*type_post, *field_post]),
    )
    return [plan] if plan.enforces() else []


def _split_type_policies(
    authz: AuthExtension, gtype: GraphQLObjectType
) -> tuple[list[TypePolicy], list[TypePolicy]]:
    """The type rules of the type and its Python bases, and of its interfaces."""
    origin = getattr(strawberry_definition_of(gtype), "origin", None)
    if not isinstance(origin, type):
        return [], []
    own: list[TypePolicy] = []
    interfaces: list[TypePolicy] = []
    for klass in origin.__mro__:
        found = authz._type_policies.get(klass, ())
        if klass is not origin and _is_interface(klass):
            interfaces.extend(found)
        else:
            own.extend(found)
    return own, interfaces


def _own_type_policies(
    authz: AuthExtension, gtype: GraphQLObjectType
) -> list[TypePolicy]:
    origin = getattr(strawberry_definition_of(gtype), "origin", None)
    return authz._type_policies.get(origin, []) if isinstance(origin, type) else []


def _some(node: Node | None) -> list[Node]:
    return [] if node is None else [node]


def _check_grants_reachable(
    authz: AuthExtension,
    gschema: GraphQLSchema,
    plans: list[_FieldPlan],
    problems: list[str],
) -> None:
    """Every `$granted` name must be given by some field returning its type.

    A rule asking for a grant nobody gives can never pass: that is almost
    always a typo or a forgotten `grants=`, so it is reported, not enforced
    silently. Grants computed by a function count as giving anything.
    """
    given: dict[str, set[str] | None] = {}
    for plan in plans:
        spec = plan.grants
        if spec is None:
            continue
        for target in _possible_object_types(gschema, plan.gfield.type):
            names = given.setdefault(target, set())
            if callable(spec):
                given[target] = None
            elif names is not None:
                names.update(spec)
    for gtype in _object_types(gschema):
        policies = _type_policies(authz, gtype, skip_interfaces=False)
        if any(p.grants is not None for p in policies):
            given[gtype.name] = None
    for plan in plans:
        parent_type = plan.gtype.name
        for node in (plan.pre, plan.post):
            for name in _granted_names(node):
                names = given.get(parent_type, set())
                if names is not None and name not in names:
                    problems.append(
                        f"{plan.coordinate}: key '$granted': grant {name!r} is "
                        f"given by no field returning {parent_type} and by no "
                        "type grants of it, so this rule can never pass"
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


def _check_input_types(
    authz: AuthExtension, gschema: GraphQLSchema, problems: list[str]
) -> None:
    """Rules on input fields are reported: nothing ever resolves an input field.

    Left alone they would be silently ignored, so the policy would promise a
    check that never runs.
    """
    for name, gtype in gschema.type_map.items():
        if not isinstance(gtype, GraphQLInputObjectType):
            continue
        for field_name, gfield in gtype.fields.items():
            field = strawberry_field_of(gfield)
            ours = [
                ext
                for ext in getattr(field, "extensions", ())
                if is_marker(ext) and ext.authz is authz
            ]
            if not ours:
                continue
            kind = (
                "a type rule of its type"
                if all(isinstance(ext, TypeMarker) for ext in ours)
                else "authz.rule / post_rule"
            )
            problems.append(
                f"{name}.{field_name}: {kind} on a field of an input type is "
                "never checked (input fields are not resolved); put the rule on "
                "the field that takes the input and read the value from "
                "params.args"
            )
