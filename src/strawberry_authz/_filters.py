"""`authz.plan`, `authz.filter` and their sync forms (a part of `AuthExtension`).

A plan is built once per operation and type (kept in `RequestState.plans`,
dropped by `authz.clear_cache`); concurrent resolvers asking for the same
plan share one computation. Applying it to a query is the backend's job:
`strawberry_authz.sqlalchemy` for a SQLAlchemy `Select`, chosen from the
query's type, so the core never imports a database library.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import import_module
from typing import Any, TypeVar

from graphql import GraphQLError

from ._errors import ConfigurationError
from ._inline import InlineChecks, raw_info
from ._outcomes import Denial, denial_from_exception
from ._planning import FilterRule, Planner, filter_rule_of
from ._policy import Policy
from ._request import RequestState
from .conditions import Plan

__all__ = ["FilterConfigurationError", "FilterMethods", "apply_plan"]

logger = logging.getLogger("strawberry_authz")

Query = TypeVar("Query")

_BACKENDS = {
    "sqlalchemy": "strawberry_authz.sqlalchemy",
    "django": "strawberry_authz.django",
}


def apply_plan(plan: Plan, query: Query, model: Any = None) -> Query:
    """`query` filtered by `plan`, by the backend of the query's library.

    A SQLAlchemy `Select` goes to `strawberry_authz.sqlalchemy.apply`, a
    Django `QuerySet` to `strawberry_authz.django.apply`.

    Raises:
        TypeError: no backend knows the query's type.
    """
    # The class or one of its bases (an application's own QuerySet class).
    libraries = [k.__module__.partition(".")[0] for k in type(query).__mro__]
    library = next((name for name in libraries if name in _BACKENDS), libraries[0])
    backend = _BACKENDS.get(library)
    if backend is None:
        raise TypeError(
            f"authz.filter: no filter backend for {type(query).__qualname__} "
            f"(known: {', '.join(sorted(_BACKENDS))}); apply authz.plan(...) yourself"
        )
    try:
        module = import_module(backend)
    except ImportError as error:
        raise TypeError(
            f"authz.filter: the {library} filter backend ({backend}) is not "
            f"available: {error}"
        ) from None
    filtered: Query = module.apply(plan, query, model)
    return filtered


class FilterConfigurationError(ConfigurationError, GraphQLError):
    """A rule that cannot become a filter, found while a request plans it.

    A `ConfigurationError` (its `problems` name the type rule and the key,
    and they are logged); to the client it is only "misconfigured", with
    code `FORBIDDEN`: no policy text reaches a response.
    """

    def __init__(self, problems: list[str]) -> None:
        ConfigurationError.__init__(self, problems)
        GraphQLError.__init__(
            self,
            "Authorization is misconfigured on this server; access denied.",
            extensions={"code": "FORBIDDEN"},
        )

    def __str__(self) -> str:
        return "; ".join(self.problems)


def _refused(error: ConfigurationError) -> FilterConfigurationError:
    logger.error(
        "strawberry-authz: this rule cannot become a query filter; refusing "
        "the query (fail closed): %s",
        "; ".join(error.problems),
    )
    if isinstance(error, FilterConfigurationError):
        return error
    return FilterConfigurationError(error.problems)


class FilterMethods:
    """`authz.plan`, `plan_sync`, `filter` and `filter_sync`."""

    _inline: InlineChecks
    _policy: Policy

    async def plan(self, info: object, type_: type) -> Plan:
        """The filter of `type_`'s rule for this request's viewer.

        `info` is the resolver's `Info`. Built once per operation and type;
        `authz.clear_cache` drops it with the scope answers.

        Raises:
            ConfigurationError: the rule cannot become a filter (a rule
                function, a `Column` on a scope without a query half). Its
                `problems` name the type rule and the key and are logged;
                the client sees only "misconfigured" (`FORBIDDEN`).
        """
        try:
            return await self._plan(info, type_)
        except ConfigurationError as error:
            raise _refused(error) from None

    def plan_sync(self, info: object, type_: type) -> Plan:
        """`plan` for sync resolvers; every scope it needs must be sync.

        A scope that would need an event loop counts as failed (logged).
        """
        try:
            return self._plan_sync(info, type_)
        except ConfigurationError as error:
            raise _refused(error) from None

    async def _plan(self, info: object, type_: type) -> Plan:
        raw = raw_info(info)
        state = self._state()
        if state is None:
            return _outside()
        rule = self._filter_rule(type_)
        key = self._key(rule, raw, state)
        known = state.plans.get(key)
        if isinstance(known, Plan):
            return known
        if known is None:
            known = state.plans[key] = asyncio.ensure_future(
                self._compute(rule, raw, state)
            )
        try:
            plan: Plan = await asyncio.shield(known)
        except ConfigurationError:
            if state.plans.get(key) is known:
                del state.plans[key]
            raise
        if state.plans.get(key) is known:
            state.plans[key] = plan
        return plan

    def _plan_sync(self, info: object, type_: type) -> Plan:
        raw = raw_info(info)
        state = self._state()
        if state is None:
            return _outside()
        rule = self._filter_rule(type_)
        key = self._key(rule, raw, state)
        known = state.plans.get(key)
        if isinstance(known, Plan):
            return known
        scopes = state.scopes.loaded()
        if isinstance(scopes, Denial):
            return _failed(rule, scopes)
        if not isinstance(scopes, dict):
            return _failed(rule, None)
        planner = self._planner(rule, raw, state)
        batches = state.scopes.batches
        batches.immediate = True
        try:
            pending = planner.ask(rule.node, scopes) if rule.node is not None else []
        except ConfigurationError:
            raise
        except Exception as error:  # never a raw error text for the client
            return _failed(rule, denial_from_exception(error, "planning the filter"))
        finally:
            batches.immediate = False
        if pending:
            planner.drop(pending)
            logger.error(
                "strawberry-authz: authz.plan_sync(%s) needs an async scope "
                "loader; those parts deny (use `await authz.plan(...)`)",
                rule.type_name,
            )
        plan = planner.plan()
        state.plans[key] = plan
        return plan

    async def filter(
        self,
        info: object,
        type_: type,
        query: Query,
        *,
        model: Any = None,
        recheck: bool = True,
    ) -> Query:
        """`query` narrowed to the rows `type_`'s rule lets this viewer see.

        `query` is a SQLAlchemy `Select` (`model` defaults to its first
        entity) or a Django `QuerySet`. Apply it before LIMIT / OFFSET /
        COUNT so pages are full and counts are right.

        Args:
            recheck: Rows keep their per-object check (`on_object=True`
                type rules) as well (the default: defense in depth, no
                extra query). `False` skips that check for objects of
                `type_` returned beneath this field: only where the filter
                is trusted.
        """
        plan = await self.plan(info, type_)
        if not recheck:
            self._trust(info, plan)
        return _applied(plan, query, model)

    def filter_sync(
        self,
        info: object,
        type_: type,
        query: Query,
        *,
        model: Any = None,
        recheck: bool = True,
    ) -> Query:
        """`filter` for sync resolvers (see `plan_sync`)."""
        plan = self.plan_sync(info, type_)
        if not recheck:
            self._trust(info, plan)
        return _applied(plan, query, model)

    # -- helpers -------------------------------------------------------------

    def _state(self) -> RequestState | None:
        return self._inline.var.get()

    def _filter_rule(self, type_: type) -> FilterRule:
        rules: dict[type, FilterRule] = self.__dict__.setdefault("_filter_rules", {})
        rule = rules.get(type_)
        if rule is None:
            rule = rules[type_] = filter_rule_of(self._policy, type_)
        if rule.problems:
            raise ConfigurationError(rule.problems)
        return rule

    def _planner(self, rule: FilterRule, raw: Any, state: RequestState) -> Planner:
        """The planner of `rule` for the rows the field being resolved returns.

        `$granted` in the rows' rules sees the grants of the field that
        returned them (as their own check will): this field's `grants=`
        names. A `grants=` function sees the result, which is not there yet:
        nothing is granted (fewer rows, never more).
        """
        plan = self._inline.plan_of(raw)
        grants = plan.grants
        given = frozenset() if grants is None or callable(grants) else frozenset(grants)
        return Planner(rule, state, self._inline.call_for(raw, state, plan), given)

    @staticmethod
    def _key(rule: FilterRule, raw: Any, state: RequestState) -> Any:
        if not rule.uses_grants:
            return rule
        # `$granted` is decided where the filter runs: one plan per field.
        state.kept.append(raw.path)
        return (rule, id(raw.path))

    async def _compute(self, rule: FilterRule, raw: Any, state: RequestState) -> Plan:
        try:
            return await self._fold(rule, raw, state)
        except ConfigurationError:
            raise
        except Exception as error:  # never a raw error text for the client
            return _failed(rule, denial_from_exception(error, "planning the filter"))

    async def _fold(self, rule: FilterRule, raw: Any, state: RequestState) -> Plan:
        scopes: Any = state.scopes.loaded()
        if isinstance(scopes, asyncio.Future):
            scopes = await asyncio.shield(scopes)
        if isinstance(scopes, Denial):
            return _failed(rule, scopes)
        planner = self._planner(rule, raw, state)
        if rule.node is not None:
            pending = planner.ask(rule.node, scopes)
            if pending:
                await planner.wait(pending)
        return planner.plan()

    def _trust(self, info: object, plan: Plan) -> None:
        raw = raw_info(info)
        state = self._state()
        if state is None:
            return
        known = state.trusted.get(id(raw.path))
        names = frozenset((plan.type_name,))
        if known is not None:
            names |= known[1]
        state.trusted[id(raw.path)] = (raw.path, names)


def _applied(plan: Plan, query: Query, model: Any) -> Query:
    try:
        return apply_plan(plan, query, model)
    except ConfigurationError as error:
        raise _refused(error) from None


def _outside() -> Plan:
    logger.error(
        "strawberry-authz: authz.plan / filter called outside an operation of a "
        "schema using this AuthExtension; denying every row (fail closed)"
    )
    return Plan("", "deny_all", reason="outside an operation")


def _failed(rule: FilterRule, denial: Denial | None) -> Plan:
    reason = denial.reason if denial is not None else "load_scopes failed"
    logger.error(
        "strawberry-authz: the filter of %s denies every row: %s",
        rule.type_name,
        reason,
    )
    return Plan(rule.type_name, "deny_all", reason=reason)
