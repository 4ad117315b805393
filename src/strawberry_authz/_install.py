"""Installing guards on a schema: a guard in front of each resolver that needs one.

The plans come from `_planner`; each guarded resolver gets a small stand-in
that builds the field's `FieldGuard` on its first call. Installing twice
replaces the earlier guards, never stacks them.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import threading
from typing import Any, NamedTuple

from graphql import GraphQLError, GraphQLObjectType
from strawberry import Schema

from ._compat import read_attribute, rebuild_resolver, serial_mutations
from ._guards import FieldGuard
from ._output_fields import _Planned
from ._params import FieldSite
from ._per_object import PerObject
from ._plan import FieldPlan, GuardSettings
from ._planner import _FieldsPlanned, _plan_fields, _Planner
from ._policy import Policy, is_marker
from ._rules import Node
from ._warmup import Warmer

__all__ = ["install_guards"]


logger = logging.getLogger("strawberry_authz")


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
            if (field := entry.output.field) is not None:
                guard.reads = read_attribute(build.schema, field, original)
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
