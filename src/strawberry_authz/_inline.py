"""Checks inside resolvers: `authz.check`, `require` and their sync forms.

An inline check evaluates a rule set for the field being resolved with the
operation's `RequestState`, so a scope already answered is not asked again.
Each distinct rule set is compiled once (not on every call); a rule function
receives the field's real `AuthParams` (its root and converted arguments,
found from the resolver's caller).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any, cast

from ._compat import ResolveInfo, strawberry_field_of, strawberry_schema_of, unwrap_info
from ._denials import client_error
from ._outcomes import (
    Denial,
    MaybeOutcome,
    Outcome,
    decided,
    denial_from_exception,
    discard,
    misconfigured,
    settle,
)
from ._params import FieldCall, FieldSite, resolver_inputs
from ._plan import FieldPlan, GuardSettings
from ._request import RequestState
from ._rule_compiler import CompiledRuleSets, RuleCompiler
from ._rules import Node

__all__ = ["InlineCheckMethods", "InlineChecks", "raw_info"]

logger = logging.getLogger("strawberry_authz")


class InlineChecks:
    """The inline checks of one `AuthExtension`."""

    def __init__(self, compiler: RuleCompiler, settings: GuardSettings) -> None:
        self.compiler = compiler
        self.settings = settings
        self._nodes = CompiledRuleSets(compiler)

    @property
    def var(self) -> ContextVar[RequestState | None]:
        return self.settings.var

    def outcome(self, info: object, rules: object) -> MaybeOutcome:
        """The outcome of `rules` for the field `info` belongs to."""
        raw = raw_info(info)
        state = self.var.get()
        if state is None:
            return misconfigured(
                "authz.check / require called outside an operation of a schema "
                "using this AuthExtension"
            )
        plan = self.plan_of(raw)
        try:
            node = self._node(rules, plan.coordinate)
        except Exception as error:
            return denial_from_exception(error, f"authz.check in {plan.coordinate}")
        if isinstance(node, Denial):
            return node
        if node.static:
            return state.decide(node)
        return node.evaluate(state, self.call_for(raw, state, plan))

    def call_for(
        self, raw: ResolveInfo, state: RequestState, plan: FieldPlan | None = None
    ) -> FieldCall:
        """A `FieldCall` for the field being resolved (its root and arguments)."""
        if plan is None:
            plan = self.plan_of(raw)
        args: dict[str, Any]
        found = resolver_inputs(raw)
        if found is None:
            known = state.objects.get(id(raw.path.prev))
            root, args = (known[1] if known is not None else None), {}
        else:
            root, args = found
        return FieldCall(plan.site, state, root, raw, args)

    def error(self, info: object, denial: Denial) -> Exception:
        """The error `require` raises for `denial` (error hooks applied)."""
        raw = raw_info(info)
        return client_error(
            denial, self.plan_of(raw), self.settings, raw.path.as_list()
        )

    def plan_of(self, raw: ResolveInfo) -> FieldPlan:
        """The plan of the field being resolved (a bare one if it has none)."""
        gfield = raw.parent_type.fields[raw.field_name]
        guard = getattr(gfield.resolve, "guard", None)
        plan = getattr(guard, "plan", None)
        if isinstance(plan, FieldPlan) and guard.settings.var is self.var:  # type: ignore[union-attr]
            return plan
        site = FieldSite(
            raw.parent_type.name,
            raw.field_name,
            strawberry_schema_of(raw.schema),
            strawberry_field_of(gfield),
        )
        return FieldPlan(site=site)

    def _node(self, rules: object, coordinate: str) -> Node | Denial:
        return self._nodes.node(rules, f"authz.check in {coordinate}")


def raw_info(info: object) -> ResolveInfo:
    """graphql-core's info behind a resolver's `info`; `TypeError` otherwise."""
    raw = unwrap_info(info)
    if not hasattr(raw, "parent_type") or not hasattr(raw, "path"):
        raise TypeError(f"expected the resolver's info, got {info!r}")
    return cast("ResolveInfo", raw)


class InlineCheckMethods:
    """`authz.check`, `require` and their sync forms (a part of `AuthExtension`)."""

    _inline: InlineChecks

    async def check(self, info: object, rules: object) -> bool:
        """Evaluate `rules` for the field being resolved; True when they pass.

        `info` is the resolver's `Info`. The request's scope cache is shared:
        a scope already computed for this request is not computed again.
        """
        outcome = self._inline.outcome(info, rules)
        if not decided(outcome):
            outcome = await settle(outcome)  # type: ignore[arg-type]
        return outcome is True

    async def require(self, info: object, rules: object) -> None:
        """Like `check`, but raise the denial's error when `rules` do not pass."""
        outcome = self._inline.outcome(info, rules)
        if not decided(outcome):
            outcome = await settle(outcome)  # type: ignore[arg-type]
        if outcome is not True:
            raise self._inline.error(info, outcome)  # type: ignore[arg-type]

    def check_sync(self, info: object, rules: object) -> bool:
        """`check` for sync resolvers; every scope involved must be sync."""
        return self._settled_sync(info, rules) is True

    def require_sync(self, info: object, rules: object) -> None:
        """`require` for sync resolvers; every scope involved must be sync."""
        outcome = self._settled_sync(info, rules)
        if outcome is not True:
            raise self._inline.error(info, outcome)

    def _settled_sync(self, info: object, rules: object) -> Outcome:
        state = self._inline.var.get()
        batches = None if state is None else state.scopes.batches
        if batches is not None:
            batches.immediate = True
        try:
            outcome = self._inline.outcome(info, rules)
        finally:
            if batches is not None:
                batches.immediate = False
        if decided(outcome):
            return outcome  # type: ignore[return-value]
        discard(outcome)
        return misconfigured(
            "authz.check_sync / require_sync: these rules need an async scope "
            "loader; use `await authz.check(...)` / `await authz.require(...)`"
        )

    def clear_cache(self, info: object, scope: str | None = None) -> None:
        """Forget this operation's cached scope answers, from a resolver.

        Scope results are cached for the whole operation. After a change of
        who the viewer is (a login mutation, leaving a team), call this so the
        fields resolved afterwards see fresh answers: `load_scopes` runs again
        on the next need, and every scope (or, with `scope=`, every value of
        that one scope) is asked again. Mutation fields run one after another,
        so later fields of the same mutation see the change.
        """
        raw_info(info)
        state = self._inline.var.get()
        if state is None:
            logger.warning(
                "strawberry-authz: clear_cache called outside an operation of a "
                "schema using this AuthExtension; nothing to clear"
            )
            return
        state.clear(scope)
