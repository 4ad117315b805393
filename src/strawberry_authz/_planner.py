"""Planning a schema: the `FieldPlan` of every output field, decided once.

For one field, everything that applies must pass: the default scopes of its
operation type (root fields, unless `skip_defaults`), the type rules of its
type and its Python bases (unless `skip_type_rules`), the rules of its
interfaces (type rules and the same-named interface field's rule, unless
`skip_interface_rules`) and its own rule. The planner computes that
combination once per field, in time linear in the schema (what depends on a
type alone is computed once per type), and checks the policy against the
schema. `plan_schema` gives the same plans to the coverage report.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from graphql import GraphQLObjectType, GraphQLSchema
from strawberry import Schema

from ._capabilities import capability_of, declares_capabilities, is_answer_type
from ._compat import graphql_schema, strawberry_definition_of
from ._field_rules import _FieldRules, _parts, _SharedNodes, _TypeParts
from ._output_fields import (
    OPERATIONS,
    _is_interface,
    _object_types,
    _OutputField,
    _Planned,
    _read_field,
    _TypeRules,
)
from ._params import FieldSite
from ._plan import NO_FALLBACK, FieldPlan, ObjectCheck, Part
from ._policy import Policy, TypePolicy
from ._policy_checks import (
    _check_grants_reachable,
    _check_input_types,
    _check_root_type_rules,
)

if TYPE_CHECKING:
    from ._capabilities import Capability


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
    _check_grants_reachable(gschema, planned, problems)
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
