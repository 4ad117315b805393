"""Object rules: `type_rule(..., on_object=True)`, checked when a field returns objects.

The rule is decided once per returned object (a list decides all its items
in one pass, with one batch per batch scope). A denied single object denies
the field that returned it (`null` and the error); a denied list item becomes
that item's error, or, with `drop_denied=True`, is left out of the list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from .denials import client_error
from .outcomes import Denial, Outcome, decided, misconfigured, settle
from .params import FieldCall
from .plan import FieldPlan, GuardSettings, ObjectCheck
from .rules import object_key
from .warmup import ObjectTodo, decide_objects, object_key_at

__all__ = ["check_objects"]


def check_objects(
    call: FieldCall, check: ObjectCheck, plan: FieldPlan, settings: GuardSettings
) -> Any:
    """`call.result` with its denied objects handled; or an awaitable of it.

    Raises the client's error when a single returned object is denied.
    """
    result = call.result
    if result is None:
        return result
    if isinstance(result, (list, tuple)):
        return _check_list(call, check, plan, settings, list(result))
    found = check.rules_for(result)
    if found is None:
        return result
    node, _ = found
    at = call.info.path
    outcome = node.decide(
        call.state, object_key(at, node), at.prev, call.for_object(result)
    )
    if decided(outcome):
        return _single(call, outcome, plan, settings)  # type: ignore[arg-type]
    return _single_later(call, outcome, plan, settings)  # type: ignore[arg-type]


def _single(
    call: FieldCall, outcome: Outcome, plan: FieldPlan, settings: GuardSettings
) -> Any:
    if isinstance(outcome, Denial):
        raise client_error(outcome, plan, settings, call.info.path.as_list())
    return call.result


async def _single_later(
    call: FieldCall,
    pending: Awaitable[Outcome],
    plan: FieldPlan,
    settings: GuardSettings,
) -> Any:
    return _single(call, await settle(pending), plan, settings)


def _check_list(
    call: FieldCall,
    check: ObjectCheck,
    plan: FieldPlan,
    settings: GuardSettings,
    items: list[Any],
) -> Any:
    path = call.info.path
    todo: list[ObjectTodo] = []
    drops: dict[int, bool] = {}
    for index, item in enumerate(items):
        found = None if item is None else check.rules_for(item)
        if found is None:
            continue
        node, drops[index] = found
        todo.append((node, object_key_at(path, index, node), call.for_object(item)))
    pending = decide_objects(call.state, path, todo)
    if pending:
        return _filter_later(call, plan, settings, items, todo, drops, pending)
    return _filter(call, plan, settings, items, todo, drops)


async def _filter_later(
    call: FieldCall,
    plan: FieldPlan,
    settings: GuardSettings,
    items: list[Any],
    todo: list[ObjectTodo],
    drops: dict[int, bool],
    pending: list[Any],
) -> Any:
    for item in pending:
        await settle(item)
    return _filter(call, plan, settings, items, todo, drops)


def _filter(
    call: FieldCall,
    plan: FieldPlan,
    settings: GuardSettings,
    items: list[Any],
    todo: list[ObjectTodo],
    drops: dict[int, bool],
) -> list[Any]:
    per_object = call.state.per_object
    path = call.info.path.as_list()
    dropped: set[int] = set()
    for _, key, _ in todo:
        index = key[1]
        outcome = per_object.get(key, (None, None))[1]
        if isinstance(outcome, asyncio.Future) and outcome.done():
            # Settled; its done-callback may not have replaced it yet.
            failed = outcome.cancelled() or outcome.exception() is not None
            outcome = None if failed else outcome.result()
        if outcome is True:
            continue
        if not isinstance(outcome, Denial):
            # Still undecided after the pre-decision: fail closed.
            outcome = misconfigured(
                f"the object rule of item {index} of {plan.coordinate} "
                "could not be decided"
            )
        if drops[index]:
            dropped.add(index)
        else:
            items[index] = client_error(outcome, plan, settings, [*path, index])
    if dropped:
        return [item for index, item in enumerate(items) if index not in dropped]
    return items
