"""The list a field serves, settled before a function of its result reads it.

A post rule and a `grants=` function get `fn(params, result)`. For a list
field, `result` is the list that graphql-core then completes, not the
resolver's raw value: a generator or a lazy iterable read once into a list,
an async iterable read to its end, awaitable items awaited, at every list
level of the field's type. A function that iterates it can therefore never
shorten what is served, nor make the item rules decide other items than
the ones served. A function may change the list it gets (what it leaves
is served, the item rules decide it), except a `grants=` function after a
post rule allowed the list: the field is then denied (`kept`, `changed`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import Any

from graphql import GraphQLList, GraphQLNonNull

from ._denials import deny
from ._objects import settle_list
from ._outcomes import Denial, denial_from_exception, has_running_loop, misconfigured
from ._params import FieldCall
from ._plan import FieldPlan, GuardSettings
from ._warmup import none_awaited

__all__ = ["changed", "kept", "served_list", "settle_then"]

Then = Callable[[FieldCall, Any, bool], Any]
"""What runs once the result is settled: `then(call, served, True)`."""


def settle_then(
    call: FieldCall, plan: FieldPlan, settings: GuardSettings, then: Then
) -> Any:
    """`then` with `call.result` settled (`served_list`), or the field denied.

    Reading the result may fail (a cursor that breaks, a lazy query): the
    field is denied as a failure, logged, never with the exception's text.
    """
    try:
        served = served_list(call, plan.coordinate)
    except Exception as error:
        return deny(call, denial_from_exception(error, _reading(plan)), plan, settings)
    if isinstance(served, Denial):
        return deny(call, served, plan, settings)
    if isawaitable(served):
        return _settle_later(call, served, plan, settings, then)
    return then(call, served, True)


async def _settle_later(
    call: FieldCall,
    pending: Awaitable[Any],
    plan: FieldPlan,
    settings: GuardSettings,
    then: Then,
) -> Any:
    try:
        served = await pending
    except Exception as error:
        return deny(call, denial_from_exception(error, _reading(plan)), plan, settings)
    after = then(call, served, True)
    return (await after) if isawaitable(after) else after


def _reading(plan: FieldPlan) -> str:
    return f"reading the list {plan.coordinate} returned"


def served_list(call: FieldCall, coordinate: str) -> Any:
    """`call.result` as graphql-core will serve it, an awaitable of it, or a `Denial`.

    A value that is not a list of the field's type (None, a scalar, an
    object) is returned as it is; so is a plain list with nothing to
    settle, the same list object. Under `execute_sync` a list still to be
    awaited cannot be settled: its coroutines are closed and the field is
    denied (a failure). Iterating the result may raise: the caller denies.
    """
    result = call.result
    depth = _list_depth(call.info.return_type)
    if depth == 0 or result is None:
        return result
    if depth == 1 and type(result) is list and none_awaited(result):
        return result
    can_await = not call.state.scopes.sync and has_running_loop()
    return settle_list(
        result,
        depth,
        read_async=can_await,
        can_await=can_await,
        cannot_await="it cannot be settled for its post rule or grants",
        coordinate=coordinate,
    )


def kept(call: FieldCall, grants: Any) -> FieldCall:
    """`call`, its list just allowed by the post rules kept for `changed`.

    Only for a `grants=` function, which runs next; the items are kept by
    identity at every list level; what is not a list is not kept.
    """
    if callable(grants):
        served = call.result
        call.served = _items(served) if type(served) is list else None
    return call


def changed(call: FieldCall, coordinate: str, by: str) -> Denial | None:
    """A denial when the list `kept` is no longer the one in `call.result`.

    The post rules decided that list; a `grants=` function that changed it
    would make the field serve what no post rule allowed.
    """
    before = getattr(call, "served", None)
    if before is None:
        return None
    result = call.result
    if type(result) is list and _same(result, before):
        return None
    return misconfigured(
        f"the {by} of {coordinate} changed the list it was given; the field "
        "is denied (its post rule allowed another list than the one served)"
    )


def _items(items: list[Any]) -> tuple[Any, ...]:
    """`items` with every inner list as a tuple (the items themselves kept)."""
    return tuple(_items(item) if type(item) is list else item for item in items)


def _same(items: list[Any], before: tuple[Any, ...]) -> bool:
    """Whether `items` still holds the very objects of `before`, in order."""
    if len(items) != len(before):
        return False
    for item, was in zip(items, before, strict=True):
        if type(item) is list:
            if type(was) is not tuple or not _same(item, was):
                return False
        elif item is not was:
            return False
    return True


def _list_depth(return_type: Any) -> int:
    """How many list levels wrap a field's GraphQL type."""
    depth = 0
    while True:
        if isinstance(return_type, GraphQLNonNull):
            return_type = return_type.of_type
        if not isinstance(return_type, GraphQLList):
            return depth
        depth += 1
        return_type = return_type.of_type
