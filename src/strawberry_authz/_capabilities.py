"""Capability fields: what the viewer may do, answered as booleans.

`authz.can_field(rules)` declares a `Boolean!` field that is `true` when the
rules pass for the object it belongs to; `authz.permissions_field(checks)` a
`[Permission!]!` field answering named, object-independent checks;
`authz.dehydrate(context, checks)` the same answers outside GraphQL.

They ask the same compiled nodes and the same `RequestState` as the guards
(`state.decide(node)`, `node.evaluate(state, call)`), so a capability costs
what a guard with the same rules costs: each `(scope, value)` is computed once
per request, an answer already known is returned synchronously, and whatever
batches loaders for the guards batches them here too.

A capability never errors: a denial of any kind, an unexpected exception or a
misconfigured rule is `false` (the unexpected ones logged on
`strawberry_authz`, as the engine logs them for guards). Its answer is itself
an authorization answer, so the field is exempt from the rules that would
otherwise apply to it: default scopes, type rules and interface rules.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLField

from ._compat import (
    ResolveInfo,
    strawberry_definition_of,
    strawberry_field_of,
    unwrap_info,
)
from ._errors import ConfigurationError
from ._outcomes import Denial, MaybeOutcome, denial_from_exception, settle
from ._params import FieldCall
from ._plan import FieldPlan, GuardSettings
from ._request import RequestState
from ._rule_compiler import RuleCompiler
from ._rules import Node
from ._scopes import LoadScopes

__all__ = [
    "Capability",
    "CapabilityMethods",
    "Permission",
    "can_field",
    "capability_of",
    "declares_capabilities",
    "dehydrate",
    "permissions_field",
]

logger = logging.getLogger("strawberry_authz")

Resolver = Callable[..., Any]
T = TypeVar("T")
Answer = bool | Awaitable[bool]

# The policies that declared a capability field: the installer asks each field
# whether it is one only for these.
_OWNERS: weakref.WeakSet[Any] = weakref.WeakSet()

# Set on the Strawberry resolver of a capability field, so the installer can
# tell the field apart whatever type (or copy of it) it ends up on.
_CAPABILITY_ATTR = "__strawberry_authz_capability__"


@strawberry.type(description="A named check of what the viewer may do.")
class Permission:
    """One answer of `authz.permissions_field`: `name` and whether it passes."""

    name: str
    allowed: bool


class Capability:
    """A capability field's compiled rules, and the resolver put in front of it.

    `checks` maps names to nodes; a `can_field` has the single name `""`.
    """

    __slots__ = ("checks", "kind", "owner")

    def __init__(self, owner: object, kind: str, checks: dict[str, Node]) -> None:
        _OWNERS.add(owner)
        self.owner = owner
        self.kind = kind
        self.checks = checks

    @property
    def warm_node(self) -> Node | None:
        """The node a list of this field's objects may decide ahead of items.

        Only a `can_field` whose rules depend on scopes alone: its answer is
        the same for every object, so deciding it once before the items lets
        each item answer synchronously, as for guards.
        """
        if self.kind != "can_field":
            return None
        node = self.checks[""]
        return node if node.static else None

    def resolver(self, plan: FieldPlan, settings: GuardSettings) -> Resolver:
        """The graphql-core resolver answering this field, as `plan` places it."""
        site = plan.site
        coordinate = site.coordinate
        var = settings.var
        if self.kind == "permissions_field":
            checks = self.checks

            def resolve_permissions(root: Any, info: ResolveInfo, **args: Any) -> Any:
                state = var.get()
                if state is None:
                    return _inactive(
                        coordinate, [Permission(name=n, allowed=False) for n in checks]
                    )
                return _permissions(state, checks, f"permissions of {coordinate}")

            return resolve_permissions

        node = self.checks[""]
        where = f"capability {coordinate}"
        if node.static:

            def resolve_static(root: Any, info: ResolveInfo, **args: Any) -> Answer:
                state = var.get()
                if state is None:
                    return _inactive(coordinate, False)
                if state.decisions.get(node) is True:
                    return True
                return answer(state, node, None, where)

            return resolve_static

        def resolve_per_object(root: Any, info: ResolveInfo, **args: Any) -> Answer:
            state = var.get()
            if state is None:
                return _inactive(coordinate, False)
            return answer(state, node, FieldCall(site, state, root, info), where)

        return resolve_per_object


def declares_capabilities(owner: object) -> bool:
    """Whether any capability field was ever declared for `owner` (a policy)."""
    return owner in _OWNERS


def is_answer_type(gtype: Any) -> bool:
    """Whether `gtype` is `Permission`, the type of `permissions_field`'s answers.

    Its fields are data of an answer the capability field already decided:
    nothing applies to them, the fallback rule included (the field that
    returns them is what is checked).
    """
    return getattr(strawberry_definition_of(gtype), "origin", None) is Permission


def capability_of(owner: object, gfield: GraphQLField) -> Capability | None:
    """The capability of `owner` (a policy) that `gfield` answers, if any."""
    if owner not in _OWNERS:  # no capability field was ever declared for it
        return None
    field = strawberry_field_of(gfield)
    resolver = getattr(getattr(field, "base_resolver", None), "wrapped_func", None)
    capability = getattr(resolver, _CAPABILITY_ATTR, None)
    if isinstance(capability, Capability) and capability.owner is owner:
        return capability
    return None


# -- declaring the fields -------------------------------------------------------


def can_field(
    owner: object,
    compiler: RuleCompiler,
    rules_or_fn: object,
    *,
    description: str | None = None,
) -> Any:
    """A `Boolean!` field: whether `rules_or_fn` passes for this object."""
    where = "authz.can_field"
    if callable(rules_or_fn) and not isinstance(rules_or_fn, (Mapping, list)):
        name = getattr(rules_or_fn, "__qualname__", None) or repr(rules_or_fn)
        where = f"authz.can_field({name})"
    problems: list[str] = []
    node = compiler.compile(rules_or_fn, where=where, problems=problems)
    if problems:
        raise ConfigurationError(problems)
    capability = Capability(owner, "can_field", {"": node})

    def not_installed(info: strawberry.Info) -> bool:
        return _inactive(_coordinate(info), False)

    setattr(not_installed, _CAPABILITY_ATTR, capability)
    return strawberry.field(resolver=not_installed, description=description)


def permissions_field(
    owner: object,
    compiler: RuleCompiler,
    checks: Mapping[str, object],
    *,
    description: str | None = None,
) -> Any:
    """A `[Permission!]!` field answering `checks`, in their order."""
    capability = Capability(
        owner,
        "permissions_field",
        compile_checks(compiler, checks, "permissions_field"),
    )

    def not_installed(info: strawberry.Info) -> list[Permission]:
        names = capability.checks
        return _inactive(
            _coordinate(info), [Permission(name=n, allowed=False) for n in names]
        )

    setattr(not_installed, _CAPABILITY_ATTR, capability)
    return strawberry.field(resolver=not_installed, description=description)


def compile_checks(
    compiler: RuleCompiler, checks: Mapping[str, object], where: str
) -> dict[str, Node]:
    """`checks` compiled, in order; `ConfigurationError` naming each bad check.

    A check must be a rule set that depends on scopes alone: a rule function
    or `$granted` needs a field's object, which a viewer-wide answer has not.
    """
    if not isinstance(checks, Mapping):
        raise ConfigurationError(
            f"authz.{where}: checks must map names to rule sets, got {checks!r}"
        )
    compiled: dict[str, Node] = {}
    problems: list[str] = []
    for name, rules in checks.items():
        at = f"authz.{where} check {name!r}"
        if not isinstance(name, str) or not name:
            problems.append(f"authz.{where}: a check name must be a non-empty string")
            continue
        if callable(rules) and not isinstance(rules, (Mapping, list)):
            problems.append(
                f"{at}: a rule function needs a field's object; give a static "
                "rule set (use authz.can_field for per-object answers)"
            )
            continue
        found: list[str] = []
        node = compiler.compile(rules, where=at, problems=found)
        if not found and not node.static:
            found.append(
                f"{at}: $granted needs a field's object; give a rule set of scopes only"
            )
        problems.extend(found)
        compiled[name] = node
    if problems:
        raise ConfigurationError(problems)
    return compiled


# -- answering --------------------------------------------------------------------


def answer(
    state: RequestState, node: Node, call: FieldCall | None, where: str
) -> Answer:
    """`True` when `node` passes, `False` when it does not; never raises.

    Synchronous whenever the outcome is known; an awaitable of the answer
    only while a loader or rule function is still running.
    """
    outcome: MaybeOutcome
    try:
        outcome = state.decide(node) if node.static else node.evaluate(state, call)
    except Exception as error:
        outcome = denial_from_exception(error, where)
    if outcome is True:
        return True
    if isinstance(outcome, Denial):
        return _false(outcome, where)
    return _answer_later(outcome, where)


async def _answer_later(pending: Awaitable[Any], where: str) -> bool:
    # `settle` turns whatever goes wrong while waiting into a denial.
    outcome = await settle(pending)
    if outcome is True:
        return True
    return _false(outcome, where)


def _false(denial: Denial, where: str) -> bool:
    # Unexpected failures were logged (at ERROR) when the denial was made;
    # an ordinary denial is just the answer.
    logger.debug("strawberry-authz: %s is false: %s", where, denial.reason)
    return False


def _permissions(
    state: RequestState, checks: dict[str, Node], where: str
) -> list[Permission] | Awaitable[list[Permission]]:
    answers = [
        (name, answer(state, node, None, f"{where}: {name!r}"))
        for name, node in checks.items()
    ]
    if all(type(allowed) is bool for _, allowed in answers):
        return [Permission(name=name, allowed=allowed) for name, allowed in answers]  # type: ignore[arg-type]
    return _permissions_later(answers)


async def _permissions_later(answers: list[tuple[str, Answer]]) -> list[Permission]:
    # Pending answers are shared decisions already running: waiting for them
    # one after another costs no more than waiting for all at once.
    permissions = []
    for name, allowed in answers:
        if not isinstance(allowed, bool):
            allowed = await allowed
        permissions.append(Permission(name=name, allowed=allowed))
    return permissions


async def dehydrate(
    compiler: RuleCompiler,
    load_scopes: LoadScopes,
    timeout: float | None,
    context: object,
    checks: Mapping[str, object],
) -> dict[str, bool]:
    """`{name: allowed}` for `checks`, as `permissions_field` answers them.

    A fresh `RequestState` for `context` (the extension's `load_scopes` and
    `scope_timeout`), so each `(scope, value)` is computed once per call.
    Denials and loader failures are `False` (failures logged); malformed
    checks raise `ConfigurationError`, as they would at decoration.
    """
    compiled = compile_checks(compiler, checks, "dehydrate")
    state = RequestState(load_scopes, context, timeout=timeout)
    answers = {
        name: answer(state, node, None, f"authz.dehydrate: {name!r}")
        for name, node in compiled.items()
    }
    allowed: dict[str, bool] = {}
    for name, answered in answers.items():
        allowed[name] = answered if isinstance(answered, bool) else await answered
    return allowed


# -- outside an installed schema ----------------------------------------------------


def _inactive(coordinate: str, value: T) -> T:
    """The answer of a capability field whose extension is not active: no."""
    logger.error(
        "strawberry-authz: capability field %s was resolved outside an operation "
        "of a schema using its AuthExtension (add it to "
        "strawberry.Schema(extensions=[...])); answering false",
        coordinate,
    )
    return value


def _coordinate(info: strawberry.Info) -> str:
    parent = unwrap_info(info)
    type_name = getattr(getattr(parent, "parent_type", None), "name", "?")
    return f"{type_name}.{getattr(info, 'field_name', '?')}"


class CapabilityMethods:
    """`can_field`, `permissions_field` and `dehydrate` of `AuthExtension`."""

    _owner: object
    _compiler: RuleCompiler
    _load_scopes: LoadScopes
    _scope_timeout: float | None

    def can_field(self, rules_or_fn: object, *, description: str | None = None) -> Any:
        """A `Boolean!` field: whether `rules_or_fn` passes for this object.

        `viewer_can_edit: bool = authz.can_field(lambda p: {"owns": p.root.id})`.
        `rules_or_fn` is a rule set (compiled now) or `fn(params)` as for
        `rule`, with `params.root` the object and `params.args` empty. The
        field is `false` when denied for any reason and never an error;
        default scopes and type rules do not apply to it.
        """
        return can_field(
            self._owner, self._compiler, rules_or_fn, description=description
        )

    def permissions_field(
        self, checks: Mapping[str, object], *, description: str | None = None
    ) -> Any:
        """A `[Permission!]!` field: each named check and whether it passes.

        `checks` maps names to static rule sets, compiled now (a bad one
        raises `ConfigurationError` naming it), answered in their order,
        never as an error.
        """
        return permissions_field(
            self._owner, self._compiler, checks, description=description
        )

    async def dehydrate(
        self, context: object, checks: Mapping[str, object]
    ) -> dict[str, bool]:
        """`{name: allowed}` for `checks` outside GraphQL (e.g. a JSON route).

        The answers `permissions_field` gives for the same `context`; a denial
        or a failing loader is `False` (failures logged), never an exception.
        """
        return await dehydrate(
            self._compiler,
            self._load_scopes,
            self._scope_timeout,
            context,
            checks,
        )
