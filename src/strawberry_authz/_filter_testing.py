"""`assert_filter_matches_check`: the filter selects exactly what the check allows.

Re-exported by `strawberry_authz.testing`. For each viewer (a context, as
`load_scopes` receives it), the type's plan is built and applied to a base
query; every row of the base query is checked with the type's rule as a
field would check it. The rows the filter selects must be exactly the rows
the check allows: a row only the filter selects is an over-grant, a row only
the check allows a hidden one. Run it over many viewers and rows (the
project's own tests drive it with hypothesis).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, TypeVar

from ._filters import apply_plan
from ._outcomes import Denial, settle
from ._planning import Planner, filter_rule_of
from ._request import RequestState
from .conditions import Plan

if TYPE_CHECKING:
    from ._extension import AuthExtension

__all__ = ["assert_filter_matches_check", "check_row", "plan_for_context"]

Query = TypeVar("Query")
Fetch = Callable[[Any], "Sequence[Any] | Awaitable[Sequence[Any]]"]


async def assert_filter_matches_check(
    authz: AuthExtension,
    type_: type,
    query: Any,
    *,
    viewers: Iterable[object],
    fetch: Fetch,
    model: Any = None,
    key: Callable[[Any], Hashable] | None = None,
) -> None:
    """Assert that, for every viewer, filter and check agree on every row.

    Args:
        authz: The extension whose rules are tested.
        type_: The Strawberry type whose rule makes the filter.
        query: The base query of every row (a SQLAlchemy `Select`, a Django
            `QuerySet`); the filter is applied to it.
        viewers: Contexts, each given to `load_scopes` as one request's.
        fetch: `fetch(query)` runs a query and returns its rows (sync or
            async): `lambda q: session.scalars(q).all()`; for a Django
            `QuerySet`, `sync_to_async(list)` (Django runs no query on the
            event loop).
        model: Passed to the backend (SQLAlchemy: the statement's first
            entity by default).
        key: What identifies a row across two queries (default: its `id`).

    Raises:
        AssertionError: naming the viewer, the plan and the rows on which
            filter and check disagree.

    `$granted` counts as not granted here (there is no field above the rows).
    """
    identify = key or _row_id
    for context in viewers:
        plan, state = await plan_for_context(authz, type_, context)
        everything = await _fetched(fetch, query)
        filtered = apply_plan(plan, query, model)
        selected = {identify(row) for row in await _fetched(fetch, filtered)}
        allowed = [
            identify(row)
            for row in everything
            if await check_row(authz, type_, row, state)
        ]
        known = {identify(row) for row in everything}
        over = sorted(
            (repr(k) for k in selected - set(allowed) | (selected - known)),
        )
        hidden = sorted(repr(k) for k in set(allowed) - selected)
        if over or hidden:
            raise AssertionError(
                f"filter and check disagree for viewer {context!r} on "
                f"{plan.type_name}: the filter selects {over or 'nothing more'} "
                f"that the check denies, and hides {hidden or 'nothing'} that "
                f"the check allows (plan: {plan})"
            )


async def plan_for_context(
    authz: AuthExtension, type_: type, context: object
) -> tuple[Plan, RequestState]:
    """The plan of `type_` for a request with `context`, outside GraphQL."""
    state = RequestState(authz._load_scopes, context, timeout=authz._scope_timeout)
    rule = filter_rule_of(authz._policy, type_)
    scopes: Any = state.scopes.loaded()
    if isawaitable(scopes):
        scopes = await scopes
    if not isinstance(scopes, dict):
        return Plan(rule.type_name, "deny_all", reason="load_scopes failed"), state
    planner = Planner(rule, state, _RowCall(None))  # type: ignore[arg-type]
    if rule.node is not None:
        pending = planner.ask(rule.node, scopes)
        if pending:
            await planner.wait(pending)
    plan = planner.plan()
    # The check must ask the engine itself, not read what the plan listed.
    state.scopes.batches.listed.clear()
    return plan, state


async def check_row(
    authz: AuthExtension, type_: type, row: object, state: RequestState
) -> bool:
    """Whether `type_`'s filter rules allow `row`, checked as for one object."""
    node = filter_rule_of(authz._policy, type_).node
    if node is None:
        return True
    outcome: Any = node.evaluate(state, _RowCall(row))  # type: ignore[arg-type]
    if outcome is not True and not isinstance(outcome, Denial):
        outcome = await settle(outcome)
    return outcome is True


class _RowCall:
    """A field call that knows only its object: no field above grants anything."""

    __slots__ = ("root",)

    def __init__(self, root: object) -> None:
        self.root = root

    def parent_grants(self) -> frozenset[str]:
        return frozenset()

    def object_grants(self) -> frozenset[str]:
        return frozenset()


async def _fetched(fetch: Fetch, query: Any) -> Sequence[Any]:
    rows = fetch(query)
    if isawaitable(rows):
        rows = await rows
    return list(rows)


def _row_id(row: Any) -> Hashable:
    found: Hashable = getattr(row, "id", id(row))
    return found
