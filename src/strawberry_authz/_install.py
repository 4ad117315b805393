"""Installing guards on a schema: where each rule applies, decided once.

For one field, everything that applies must pass: the default scopes of its
operation type (root fields, unless `skip_defaults`), the type rules of its
type and its Python bases (unless `skip_type_rules`), the rules of its
interfaces (type rules and the same-named interface field's rule, unless
`skip_interface_rules`) and its own rule. The planner computes that
combination once per field, in time linear in the schema (what depends on a
type alone is computed once per type), checks the policy against the schema,
and puts a guard in front of each resolver that needs one: a small stand-in
that builds the field's `FieldGuard` on its first call.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
)
from strawberry import Schema, relay

from ._compat import (
    graphql_schema,
    object_definition,
    rebuild_resolver,
    serial_mutations,
    strawberry_definition_of,
    strawberry_field_of,
)
from ._capabilities import (
    Permission,
    capability_of,
    declares_capabilities,
    is_answer_type,
)
from ._decisions import DecisionSource
from ._guards import FieldGuard
from ._params import FieldSite
from ._plan import (
    NO_FALLBACK,
    ErrorHooks,
    FieldPlan,
    GuardSettings,
    ObjectCheck,
    Part,
)
from ._policy import FieldPolicy, Policy, TypeMarker, TypePolicy, is_marker
from ._rules import Granted, Node, PerObject, SourceTag, all_of
from ._warmup import Warmer

if TYPE_CHECKING:
    from strawberry.types.field import StrawberryField

    from ._capabilities import Capability

__all__ = ["PlannedField", "install_guards", "plan_schema", "possible_object_types"]

logger = logging.getLogger("strawberry_authz")

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


def install_guards(
    policy: Policy,
    settings: GuardSettings,
    schema: Schema,
    active: tuple[Policy, ...],
) -> list[str]:
    """Guard every resolver of `schema` that a rule of `policy` applies to.

    Returns the problems found (nothing is installed when there are any).
    Installing twice replaces the earlier guards, never stacks them.
    `active` are the policies of every AuthExtension the schema uses: their
    markers are removed from the resolvers; others' stay, and deny.
    """
    # Planning allocates many small, long-lived objects; on a large schema the
    # garbage collector would rescan the whole heap again and again meanwhile.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _install_all(policy, settings, schema, active)
    finally:
        if collecting:
            gc.enable()


def _install_all(
    policy: Policy,
    settings: GuardSettings,
    schema: Schema,
    active: tuple[Policy, ...],
) -> list[str]:
    planner, fields, _, problems = _plan_fields(policy, schema)
    if problems:
        return problems
    _add_warmers(planner, fields)
    build = _Build(schema, settings, active)
    for _, found in fields:
        for entry in found:
            _install(build, entry)
    serial_mutations(schema)
    return problems


_FieldsPlanned = list[tuple[_OutputField, list[_Planned]]]


def _plan_fields(
    policy: Policy, schema: Schema
) -> tuple[_Planner, _FieldsPlanned, list[_Planned], list[str]]:
    """Plan every output field and check the policy; the one path to a plan.

    Returns the planner, each field with its plans (none when nothing is
    enforced on it), all plans, and the problems found.
    """
    gschema = graphql_schema(schema)
    planner = _Planner(policy, schema, gschema)
    problems: list[str] = []
    fields: _FieldsPlanned = []
    planned: list[_Planned] = []
    for gtype in _object_types(gschema):
        rules = planner.type_rules(gtype)
        if rules.operation is not None:
            _check_root_type_rules(gtype, rules, problems)
        for field_name, gfield in gtype.fields.items():
            field = _read_field(policy, gtype, field_name, gfield)
            found = planner.plan(field, rules, problems)
            fields.append((field, found))
            planned.extend(found)
    _check_input_types(policy, gschema, problems)
    _check_grants_reachable(planner, gschema, planned, problems)
    return planner, fields, planned, problems


@dataclasses.dataclass(frozen=True)
class PlannedField:
    """One output field as `install_guards` plans it (for the coverage report).

    `plans` are what is enforced on its resolver: none when nothing is, a
    subscription's `subscribe` and `resolve` plans. `object_parts` are the
    `on_object` type rules of its type, checked once per object when a
    field returns the object. A capability field answers for itself.
    `follows` says why the field that returned the object decides for this
    field when nothing else applies (`"relay"`, `"library"`), else None.
    """

    gtype: GraphQLObjectType
    field_name: str
    plans: tuple[FieldPlan, ...]
    capability: bool
    object_parts: tuple[Part, ...]
    follows: str | None = None


def plan_schema(policy: Policy, schema: Schema) -> tuple[list[PlannedField], list[str]]:
    """Every output field of `schema` planned as `install_guards` plans it.

    Nothing is installed. The same planner and the same checks as
    installing, so a report built from it cannot disagree with what is
    enforced. Returns the fields (introspection types excluded) and the
    problems that would stop installing.
    """
    planner, fields, _, problems = _plan_fields(policy, schema)
    objects: dict[str, tuple[Part, ...]] = {}
    result: list[PlannedField] = []
    for field, found in fields:
        gtype = field.gtype
        if gtype.name not in objects:
            objects[gtype.name] = _object_parts(planner.type_rules(gtype))
        result.append(
            PlannedField(
                gtype,
                field.name,
                tuple(entry.field_plan() for entry in found),
                capability_of(policy, field.gfield) is not None
                or is_answer_type(gtype),
                objects[gtype.name],
                field.follows,
            )
        )
    return result, problems


def _object_parts(rules: _TypeRules) -> tuple[Part, ...]:
    if rules.operation is not None:
        return ()  # a root type's object rules are checked on its fields
    own: list[Part] = [("type", p.node) for p in rules.own if p.on_object and p.node]
    return (
        *own,
        *[("interface", p.node) for p in rules.interfaces if p.on_object and p.node],
    )


def _install(build: _Build, entry: _Planned) -> None:
    plan = entry.plan
    settings = build.settings
    capability = entry.capability
    if capability is not None:
        setattr(entry.gfield, plan.attribute, capability.resolver(plan, settings))
        return
    current = _unguarded(getattr(entry.gfield, plan.attribute), settings)
    setattr(entry.gfield, plan.attribute, _Unbuilt(build, entry, current))


def _unguarded(current: Any, settings: GuardSettings) -> Any:
    """What an earlier guard of `settings` guards; anything else as it is.

    Installing again replaces our guard, never stacks it. Another
    AuthExtension's guard stays (and is not built by looking at it).
    """
    if isinstance(current, _Unbuilt):
        return current.original if current.settings.var is settings.var else current
    installed = getattr(current, "guard", None)
    if isinstance(installed, FieldGuard) and installed.settings.var is settings.var:
        return installed.original
    return current


class _Planner:
    """Computes the `FieldPlan`s of one schema for one policy."""

    def __init__(self, policy: Policy, schema: Schema, gschema: GraphQLSchema) -> None:
        self.policy = policy
        self.schema = schema
        self.gschema = gschema
        self.operations = {
            root.name: operation
            for operation, root in zip(
                OPERATIONS,
                (gschema.query_type, gschema.mutation_type, gschema.subscription_type),
                strict=True,
            )
            if root is not None
        }
        self.nodes = _SharedNodes(gschema, self.type_rules)
        self._plain: dict[str, _FieldRules] = {}
        self._templates: dict[tuple[str, bool, int, str | None], FieldPlan] = {}
        self._type_rules: dict[str, _TypeRules] = {}
        self.capabilities = declares_capabilities(policy)
        self._parts: dict[tuple[int, bool, bool], _TypeParts] = {}

    def type_rules(self, gtype: GraphQLObjectType) -> _TypeRules:
        found = self._type_rules.get(gtype.name)
        if found is None:
            found = self._type_rules[gtype.name] = self._type_rules_of(gtype)
        return found

    def _type_rules_of(self, gtype: GraphQLObjectType) -> _TypeRules:
        own: list[TypePolicy] = []
        interfaces: list[TypePolicy] = []
        origin = getattr(strawberry_definition_of(gtype), "origin", None)
        if isinstance(origin, type):
            for klass in origin.__mro__:
                found = self.policy.type_policies.get(klass, ())
                if klass is not origin and _is_interface(klass):
                    interfaces.extend(found)
                else:
                    own.extend(found)
        skip = any(
            p.skip_interface_rules
            for p in self.policy.type_policies.get(origin, ())  # type: ignore[arg-type]
        )
        return _TypeRules(
            self.operations.get(gtype.name), tuple(own), tuple(interfaces), skip
        )

    def plan(
        self, field: _OutputField, rules: _TypeRules, problems: list[str]
    ) -> list[_Planned]:
        gfield = field.gfield
        if is_answer_type(field.gtype):
            return []  # an answer's data: the field returning it was checked
        capability = capability_of(self.policy, gfield) if self.capabilities else None
        if capability is not None:
            # Its answer is itself an authorization answer (a boolean about the
            # viewer): no default scope, type or interface rule applies to it.
            site = FieldSite(field.gtype.name, field.name, self.schema, field.field)
            plan = self._capability_plan(site, capability)
            return [_Planned(field, plan, capability=capability)]
        if rules.operation == "Subscription" and gfield.subscribe is not None:
            found_rules = self._field_rules(field, rules, problems)
            site = self._site(field, found_rules.type_grants)
            return [
                _Planned(field, plan)
                for plan in self._subscription_plans(site, found_rules, field)
                if field.marked or _enforces(plan)
            ]
        planned = self._plain_or_own_plan(field, rules, problems)
        if field.marked or _enforces(planned.plan):
            return [planned]
        return []

    def _site(self, field: _OutputField, type_grants: tuple[Any, ...]) -> FieldSite:
        return FieldSite(
            field.gtype.name, field.name, self.schema, field.field, type_grants
        )

    def _plain_or_own_plan(
        self, field: _OutputField, rules: _TypeRules, problems: list[str]
    ) -> _Planned:
        """The plan of a field; fields without rules of their own share one."""
        plain = field.plain
        object_check = self.nodes.object_check(field.named, field.lists)
        # Object checks are shared, one per returned type and list depth.
        key = (
            field.gtype.name,
            bool(field.gfield.args),
            id(object_check),
            field.follows,
        )
        template = self._templates.get(key) if plain else None
        if template is not None:
            return _Planned(field, template, shared=True)
        found = self._field_rules(field, rules, problems)
        site = self._site(field, found.type_grants)
        plan = self._field_plan(site, found, rules.operation, field, object_check)
        if plain:
            self._templates[key] = plan
        return _Planned(field, plan)

    def _field_plan(
        self,
        site: FieldSite,
        field: _FieldRules,
        operation: str | None,
        output: _OutputField,
        object_check: ObjectCheck | None,
    ) -> FieldPlan:
        defaults = None
        if operation is not None and not field.skip_defaults:
            defaults = self.policy.defaults.get(operation)
        parts = [*_parts("default", defaults), *field.pre_parts]
        if not (parts or field.post_parts or field.object_rules or output.follows):
            parts = _parts("fallback", self.policy.fallback)
        return FieldPlan(
            site=site,
            pre=self.nodes.all_of(parts),
            pre_parts=tuple(parts),
            post=self.nodes.all_of(field.post_parts),
            post_parts=tuple(field.post_parts),
            grants=field.grants,
            on_error=field.on_error,
            on_denied=field.on_denied,
            object_check=object_check,
            has_arguments=bool(output.gfield.args),
        )

    def _subscription_plans(
        self, site: FieldSite, field: _FieldRules, output: _OutputField
    ) -> list[FieldPlan]:
        defaults = {} if field.skip_defaults else self.policy.defaults
        at_start = [
            *_parts("default", defaults.get("Subscription.subscribe")),
            *field.type_pre_parts,
            *field.subscribe_parts,
        ]
        per_event = [
            *_parts("default", defaults.get("Subscription.resolve")),
            *field.event_parts,
        ]
        if not at_start and not per_event and not field.post_parts:
            at_start = _parts("fallback", self.policy.fallback)
        event_pre = self.nodes.all_of(per_event)
        event_post = self.nodes.all_of(field.post_parts)
        drop = field.drop_denied
        subscribe = FieldPlan(
            site=site,
            attribute="subscribe",
            pre=self.nodes.all_of(at_start),
            pre_parts=tuple(at_start),
            on_error=field.on_error,
            phase="subscribe",
            event_filter=(event_pre, event_post) if drop else None,
        )
        resolve = FieldPlan(
            site=site,
            pre=None if drop else event_pre,
            pre_parts=() if drop else tuple(per_event),
            post=None if drop else event_post,
            post_parts=() if drop else tuple(field.post_parts),
            object_check=self.nodes.object_check(output.named, output.lists),
            grants=field.grants,
            on_error=field.on_error,
            on_denied=field.on_denied,
            phase="event",
            new_event=True,
        )
        return [subscribe, resolve]

    def _capability_plan(self, site: FieldSite, capability: Capability) -> FieldPlan:
        # `pre` only lets a list of its objects decide a static answer first.
        return FieldPlan(site=site, pre=capability.warm_node, has_arguments=False)

    def _type_parts(
        self, rules: _TypeRules, skip_types: bool, skip_interfaces: bool
    ) -> _TypeParts:
        key = (id(rules), skip_types, skip_interfaces)  # rules are kept per type
        found = self._parts.get(key)
        if found is None:
            found = self._parts[key] = _TypeParts.of(
                rules, skip_types, skip_interfaces, self.nodes.per_object
            )
        return found

    def _field_rules(
        self, field: _OutputField, rules: _TypeRules, problems: list[str]
    ) -> _FieldRules:
        """The rules of one field; shared by the fields without rules of their own.

        Most fields of a type carry no rule of their own: what applies to
        them depends on the type alone, computed once per type.
        """
        plain = field.plain
        type_name = field.gtype.name
        if plain and type_name in self._plain:
            return self._plain[type_name]
        found = _FieldRules.of(self.policy, field, rules, problems, self._type_parts)
        if plain:
            self._plain[type_name] = found
        return found


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


def _enforces(plan: FieldPlan) -> bool:
    return bool(
        plan.pre is not None
        or plan.post is not None
        or plan.grants is not None
        or plan.site.type_grants
        or plan.event_filter
        or plan.new_event
        # Every subscription stream is bound to its operation's state.
        or plan.attribute == "subscribe"
        or plan.on_denied is not NO_FALLBACK
        or plan.object_check is not None
    )


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


def _add_warmers(planner: _Planner, fields: _FieldsPlanned) -> None:
    """Give each list field whose items have static rules a `Warmer`.

    The plans in `fields` are replaced (or added, for a list field with
    nothing of its own to enforce) in place.
    """
    statics: dict[str, dict[str, Node]] = {}
    objects: dict[str, dict[str, tuple[PerObject, ...]]] = {}
    per_object: dict[int, tuple[PerObject, ...]] = {}  # parts are shared by plans
    operations = planner.operations
    for field, found in fields:
        type_name = field.gtype.name
        if type_name in operations:
            continue
        for entry in found:
            plan = entry.plan
            pre = plan.pre
            if pre is None or plan.attribute != "resolve":
                continue
            if pre.static:
                _add(statics, type_name, field.name, pre)
            parts = per_object.get(id(plan.pre_parts))
            if parts is None:
                parts = per_object[id(plan.pre_parts)] = tuple(
                    part for _, part in plan.pre_parts if isinstance(part, PerObject)
                )
            if parts:
                _add(objects, type_name, field.name, parts)
    warmers = {
        name: Warmer(statics.get(name, {}), objects.get(name, {}))
        for name in {*statics, *objects}
    }
    if not warmers:
        return
    for field, found in fields:
        if not field.lists or not isinstance(field.named, GraphQLObjectType):
            continue
        warmer = warmers.get(field.named.name)
        if warmer is None:
            continue
        index = next(
            (i for i, entry in enumerate(found) if entry.plan.attribute == "resolve"),
            None,
        )
        if index is None:
            site = FieldSite(field.gtype.name, field.name, planner.schema, field.field)
            plan = FieldPlan(
                site=site, warmer=warmer, has_arguments=bool(field.gfield.args)
            )
            found.append(_Planned(field, plan))
        elif (entry := found[index]).capability is None:
            found[index] = entry._replace(
                plan=dataclasses.replace(entry.plan, warmer=warmer)
            )


def _add(to: dict[str, dict[str, Any]], type_name: str, name: str, value: Any) -> None:
    by_name = to.get(type_name)
    if by_name is None:
        by_name = to[type_name] = {}
    by_name[name] = value


class _Build(NamedTuple):
    """What building the guards of one schema needs (shared by its fields)."""

    schema: Schema
    settings: GuardSettings
    active: tuple[Policy, ...]


class _Unbuilt:
    """A field's guard, built when the field is first resolved.

    Most fields of a large schema are never asked for, and building a guard
    (its closure, and Strawberry's resolver without our markers) is most of
    installing one. Until then this stands in the field's resolver: its first
    call, or the first look at its `guard`, builds the guard, puts it in the
    field's place and resolves through it, so that call is guarded too.
    `original` is what the guard will guard.
    """

    __slots__ = ("_build", "_guard", "entry", "original")

    def __init__(self, build: _Build, entry: _Planned, original: Any) -> None:
        self._build = build
        self.entry = entry
        self.original = original
        self._guard: FieldGuard | None = None

    @property
    def settings(self) -> GuardSettings:
        return self._build.settings

    @property
    def guard(self) -> FieldGuard:
        guard = self._guard
        if guard is None:
            guard = self._guard = self._built()
        return guard

    def __call__(self, root: Any, info: Any, **args: Any) -> Any:
        return self.guard.build()(root, info, **args)

    def _built(self) -> FieldGuard:
        build = self._build
        entry = self.entry
        try:
            original = _without_markers(build, entry, self.original)
            guard = FieldGuard(entry.field_plan(), build.settings, original)
            resolver = guard.build()
        except Exception:
            logger.exception(
                "strawberry-authz: building the guard of %s failed; denying it",
                entry.coordinate,
            )
            raise GraphQLError(
                "Authorization is misconfigured on this server; access denied.",
                extensions={"code": "FORBIDDEN"},
            ) from None
        # Another AuthExtension of the schema may have wrapped this one since:
        # its guard must stay in front.
        if getattr(entry.gfield, entry.plan.attribute) is self:
            setattr(entry.gfield, entry.plan.attribute, resolver)
        return guard


def _without_markers(build: _Build, entry: _Planned, original: Any) -> Any:
    """Strawberry's resolver for the field, rebuilt without our markers.

    The markers deny in Strawberry's extension chain (so a schema without the
    extension fails closed); once the guard enforces the policy they must
    go, and with them the chain's per-call cost. Markers of an AuthExtension
    the schema does not use stay, and keep denying. When `original` is the
    guard of another AuthExtension of the schema, it is kept as it is: that
    guard enforces its policy and already left the markers out.
    """
    field = entry.output.field
    if field is None or not entry.output.marked or _is_guard(original):
        return original
    if field.is_subscription and entry.plan.attribute == "resolve":
        return original
    kept = [ext for ext in field.extensions if not _removable(ext, build.active)]
    if len(kept) == len(field.extensions):
        return original
    with _BUILDING:
        return rebuild_resolver(build.schema, field, kept)


def _is_guard(resolver: Any) -> bool:
    return isinstance(resolver, _Unbuilt) or isinstance(
        getattr(resolver, "guard", None), FieldGuard
    )


def _removable(extension: object, active: tuple[Policy, ...]) -> bool:
    return is_marker(extension) and extension.policy in active


# Building a resolver briefly shadows the `apply` of shared field extensions.
_BUILDING = threading.Lock()


def _object_types(gschema: GraphQLSchema) -> Iterator[GraphQLObjectType]:
    for name, gtype in gschema.type_map.items():
        if isinstance(gtype, GraphQLObjectType) and not name.startswith("__"):
            yield gtype


def _is_interface(klass: type) -> bool:
    definition = object_definition(klass)
    return bool(getattr(definition, "is_interface", False))


def _check_root_type_rules(
    gtype: GraphQLObjectType, rules: _TypeRules, problems: list[str]
) -> None:
    """`drop_denied=True` on a root type has nothing to drop: reported.

    Its object rule is checked on each root field (no field returns the
    root object), and a denied root field gets `null` and the error.
    """
    for found in (*rules.own, *rules.interfaces):
        if found.drop_denied:
            problems.append(
                f"{gtype.name}: {found.where} has drop_denied=True, but "
                f"{gtype.name} is the {rules.operation} root type: no list "
                "returns it, so nothing would be dropped (its object rule is "
                "checked on each of its fields); remove drop_denied=True"
            )


def _check_input_types(
    policy: Policy, gschema: GraphQLSchema, problems: list[str]
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
                if is_marker(ext) and ext.policy is policy
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


def _check_grants_reachable(
    planner: _Planner,
    gschema: GraphQLSchema,
    planned: list[_Planned],
    problems: list[str],
) -> None:
    """Every `$granted` name must be given by some field returning its type.

    A rule asking for a grant nobody gives can never pass: that is almost
    always a typo or a forgotten `grants=`, so it is reported, not enforced
    silently. Grants computed by a function count as giving anything.
    """
    given: dict[str, set[str] | None] = {}
    functions: set[str] = set()  # types whose grants a function computes
    for entry in planned:
        plan = entry.plan
        if plan.site.type_grants:
            functions.add(entry.output.gtype.name)
        spec = plan.grants
        if spec is None:
            continue
        for target in possible_object_types(gschema, entry.gfield.type):
            names = given.setdefault(target, set())
            if callable(spec):
                given[target] = None
            elif names is not None:
                names.update(spec)
    given.update(dict.fromkeys(functions))
    needed: dict[int, tuple[str, ...]] = {}  # nodes are shared across fields
    for entry in planned:
        plan = entry.plan
        parent = entry.output.gtype.name
        for node in (plan.pre, plan.post):
            if node is None:
                continue
            names_needed = needed.get(id(node))
            if names_needed is None:
                names_needed = needed[id(node)] = tuple(_granted_names(node))
            for name in names_needed:
                names = given.get(parent, set())
                if names is not None and name not in names:
                    problems.append(
                        f"{entry.coordinate}: key '$granted': grant {name!r} is "
                        f"given by no field returning {parent} and by no "
                        "type grants of it, so this rule can never pass"
                    )


def possible_object_types(gschema: GraphQLSchema, field_type: Any) -> list[str]:
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
    child = getattr(node, "child", None)
    if isinstance(child, Node):
        yield from _granted_names(child)
