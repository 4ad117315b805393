"""Object rules: `type_rule(..., on_object=True)`, checked when a field returns objects.

The rule is decided once per returned object (a list decides all its items
in one pass, with one batch per batch scope). A denied single object denies
the field that returned it (`null` and the error); a denied list item becomes
that item's error, or, with `drop_denied=True`, is left out of the list.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Iterable, Iterator, Mapping
from inspect import isawaitable
from itertools import repeat
from time import perf_counter
from typing import Any

from ._decisions import DecisionHook, count_allowed, record_decision
from ._denials import client_error, client_errors
from ._object_pass import ObjectTodo, collector_paused, decide_objects
from ._outcomes import (
    Denial,
    Outcome,
    decided,
    has_running_loop,
    misconfigured,
    settle,
)
from ._params import FieldCall
from ._per_object import PerObject, object_key, object_key_at
from ._plan import FieldPlan, GuardSettings, ObjectCheck
from ._warmup import awaits, none_awaited

__all__ = ["check_objects", "settle_list"]


def check_objects(
    call: FieldCall, check: ObjectCheck, plan: FieldPlan, settings: GuardSettings
) -> Any:
    """`call.result` with its denied objects handled; or an awaitable of it.

    Raises the client's error when a single returned object is denied. Lists
    (of any iterable kind, nested to the field's depth) are checked item by
    item; an item whose type cannot be told is denied.
    """
    result = call.result
    if result is None:
        return result
    if call.state.trusted and _trusted(call.state.trusted, call.info.path, check):
        return result
    if check.lists:
        if check.lists == 1 and check.concrete is not None and type(result) in _FLAT:
            # Decided and served from one copy, read once; a list with items
            # to await is settled first, by the general path.
            items = list(result)
            if none_awaited(items):
                return _check_flat(call, check.concrete, plan, settings, items)
            result = items
        return _check_list(call, check, plan, settings, result)
    found = check.rules_for(result, call.info)
    if found is None:
        return result
    node, _ = found
    started = perf_counter()
    if node is None:  # the type of the object cannot be told: fail closed
        return _single(
            call, None, _unknown(plan), plan, settings, started, waited=False
        )
    at = call.info.path
    outcome = node.decide(
        call.state,
        object_key(at, node),
        at.prev,
        call.for_object(node.type_grants, result, None),
    )
    if decided(outcome):
        return _single(call, node, outcome, plan, settings, started, waited=False)  # type: ignore[arg-type]
    return _single_later(call, node, outcome, plan, settings, started)  # type: ignore[arg-type]


def _trusted(
    trusted: dict[int, tuple[object, frozenset[str]]], path: Any, check: ObjectCheck
) -> bool:
    """Whether a field at or above `path` filtered these objects' type in its
    query with `authz.filter(..., recheck=False)` (only a concrete type)."""
    if not check.name:
        return False
    while path is not None:
        entry = trusted.get(id(path))
        if entry is not None and entry[0] is path and check.name in entry[1]:
            return True
        # Beneath an object of the trusted type (`notes { parent }`) the
        # objects come from another resolver's own load, not from the
        # filtered query: they keep their check.
        if getattr(path, "typename", None) == check.name:
            return False
        path = path.prev
    return False


def _single(
    call: FieldCall,
    node: PerObject | None,
    outcome: Outcome,
    plan: FieldPlan,
    settings: GuardSettings,
    started: float,
    *,
    waited: bool,
) -> Any:
    hook = settings.on_decision
    if hook is not None:
        _record(hook, call, plan, node, outcome, None, started, waited)
    if isinstance(outcome, Denial):
        raise client_error(outcome, plan, settings, call.info.path.as_list())
    return call.result


async def _single_later(
    call: FieldCall,
    node: PerObject,
    pending: Awaitable[Outcome],
    plan: FieldPlan,
    settings: GuardSettings,
    started: float,
) -> Any:
    outcome = await settle(pending)
    return _single(call, node, outcome, plan, settings, started, waited=True)


def _record(
    hook: DecisionHook,
    call: FieldCall,
    plan: FieldPlan,
    node: PerObject | None,
    outcome: Outcome,
    position: Position | None,
    started: float,
    waited: bool,
) -> None:
    """One decision about one object `plan`'s field returned, for the hooks.

    Recorded as a decision of that field after its resolver (phase
    `"after"`), at the object's path; `position` is its place in the list.
    """
    site = plan.site
    if (
        outcome is True
        and not waited
        and count_allowed(hook, site.type_name, site.field_name, "after")
    ):
        return
    info = call.info
    record_decision(
        hook,
        info,
        type_name=site.type_name,
        field_name=site.field_name,
        phase="after",
        rule=node,
        outcome=outcome,
        source="type" if node is None else node.source,
        started=started,
        waited=waited,
        path=None if position is None else [*info.path.as_list(), *position],
    )


Position = tuple[int, ...]
"""Where an item is in a (nested) list: one index per level."""

_FLAT = (list, tuple)


def _check_flat(
    call: FieldCall,
    concrete: tuple[PerObject, bool],
    plan: FieldPlan,
    settings: GuardSettings,
    items: list[Any],
) -> Any:
    """`_check_list` of the common case: one list of objects of one type.

    The same decisions, without what nested lists and abstract types need
    (positions, a type per item, a rebuilt tree).
    `items` is the caller's copy of the list, with nothing to await: the
    items are decided and served from it, so a resolver that reorders its
    list meanwhile changes nothing.
    """
    node = concrete[0]
    path = call.info.path
    started = perf_counter()
    # Ints, not `object_key_at` tuples: nothing but this list reads these
    # answers (an object's fields never ask its object rule again: it is
    # checked where the object is returned), so no tuple per object is made,
    # hashed and scanned by the collector.
    keys = call.state.list_keys(len(items))
    with collector_paused(len(items)):
        # Zipped in C, not a generator's frame per item; the pass skips the
        # None items (nothing to decide).
        pending = decide_objects(call, path, zip(repeat(node), keys, items))
    if pending:
        return _serve_flat_later(
            call, concrete, plan, settings, items, keys, pending, started
        )
    return _serve_flat(
        call, concrete, plan, settings, items, keys, started, waited=False
    )


async def _serve_flat_later(
    call: FieldCall,
    concrete: tuple[PerObject, bool],
    plan: FieldPlan,
    settings: GuardSettings,
    items: list[Any],
    keys: range,
    pending: list[Any],
    started: float,
) -> Any:
    for item in pending:
        # A batch answers many items at once: most are done when one is.
        if not (isinstance(item, asyncio.Future) and item.done()):
            await settle(item)
    return _serve_flat(
        call, concrete, plan, settings, items, keys, started, waited=True
    )


def _serve_flat(
    call: FieldCall,
    concrete: tuple[PerObject, bool],
    plan: FieldPlan,
    settings: GuardSettings,
    items: list[Any],
    keys: range,
    started: float,
    *,
    waited: bool,
) -> list[Any]:
    """`items` with each denied one replaced by its error, or left out.

    `keys[index]` is the key of the answer for `items[index]`.
    """
    node, drop = concrete
    per_object = call.state.per_object
    denied: list[tuple[int, Denial]] = []
    for index, item in enumerate(items):
        if item is None:
            continue
        known = per_object.get(keys[index])
        if known is True:
            continue
        if type(known) is not Denial:  # a future, settled or not: the long way
            known = _outcome_under(plan, known, (index,))
            if known is True:
                continue
        denied.append((index, known))
    hook = settings.on_decision
    if hook is not None:
        # What was applied, not read again: a hook may clear the cache.
        applied: dict[int, Outcome] = dict(denied)
        for index, item in enumerate(items):
            if item is not None:
                outcome = applied.get(index, True)
                _record(hook, call, plan, node, outcome, (index,), started, waited)
    if not denied:
        return items
    if drop:
        left_out = {index for index, _ in denied}
        return [item for index, item in enumerate(items) if index not in left_out]
    errors = client_errors(denied, plan, settings, call.info.path.as_list())
    for (index, _), error in zip(denied, errors, strict=True):
        items[index] = error
    return items


def _check_list(
    call: FieldCall,
    check: ObjectCheck,
    plan: FieldPlan,
    settings: GuardSettings,
    result: Any,
) -> Any:
    # Async iterables and awaitables, which graphql-core would complete:
    # settled here first, so the items decided are the items served.
    settled = settle_list(
        result,
        check.lists,
        read_async=has_running_loop(),
        can_await=not call.state.scopes.sync and has_running_loop(),
        cannot_await="its items cannot be decided",
        coordinate=plan.coordinate,
    )
    if isinstance(settled, Denial):
        raise client_error(settled, plan, settings, call.info.path.as_list())
    if isawaitable(settled):
        return _check_tree_later(call, check, plan, settings, settled)
    return _check_tree(call, check, plan, settings, settled)


def settle_list(
    result: Any,
    depth: int,
    *,
    read_async: bool,
    can_await: bool,
    cannot_await: str,
    coordinate: str,
) -> Any:
    """`result` with its `depth` list levels read into lists, all settled.

    The tree (`_as_lists`), an awaitable of it, or a `Denial`. With
    `read_async`, a result that is not a list but async-iterable (a lazy
    query such as a Django `QuerySet`, whose SQL must not run on the event
    loop) is read with `async for`. What is still to be awaited is awaited
    when `can_await`; else its coroutines are closed and the answer is a
    failure denial: `coordinate` returned it under `execute_sync`, and
    `cannot_await`. Iterating `result` may raise: the caller denies.
    """
    if (
        read_async
        and not isinstance(result, list)
        and hasattr(type(result), "__aiter__")
    ):
        return _read_async(result, depth, can_await, cannot_await, coordinate)
    tree = _as_lists(result, depth)
    if not _unsettled(tree, depth):
        return tree
    if not can_await:
        _discard_unsettled(tree, depth)
        return misconfigured(
            f"{coordinate} returned a list (or items) to await under "
            f"execute_sync: {cannot_await}"
        )
    return _settled_lists(tree, depth)


async def _read_async(
    result: Any, depth: int, can_await: bool, cannot_await: str, coordinate: str
) -> Any:
    items = [item async for item in result]
    settled = settle_list(
        items,
        depth,
        read_async=False,
        can_await=can_await,
        cannot_await=cannot_await,
        coordinate=coordinate,
    )
    return (await settled) if isawaitable(settled) else settled


async def _check_tree_later(
    call: FieldCall,
    check: ObjectCheck,
    plan: FieldPlan,
    settings: GuardSettings,
    settling: Awaitable[Any],
) -> Any:
    tree = await settling
    if isinstance(tree, Denial):
        raise client_error(tree, plan, settings, call.info.path.as_list())
    checked = _check_tree(call, check, plan, settings, tree)
    return (await checked) if isawaitable(checked) else checked


def _check_tree(
    call: FieldCall,
    check: ObjectCheck,
    plan: FieldPlan,
    settings: GuardSettings,
    tree: Any,
) -> Any:
    path = call.info.path
    started = perf_counter()
    todo: list[ObjectTodo] = []
    found_at: dict[Position, tuple[Any, bool]] = {}
    with collector_paused(len(tree) if isinstance(tree, list) else 0):
        for position, item in _items(tree, check.lists):
            found = check.rules_for(item, call.info)
            if found is None:
                continue
            node, drop = found
            found_at[position] = (node, drop)
            if node is None:
                continue
            index: Any = position[0] if len(position) == 1 else position
            todo.append((node, object_key_at(path, index, node), item))
        pending = decide_objects(call, path, todo)
    if pending:
        return _filter_later(call, plan, settings, tree, found_at, pending, started)
    return _filter(call, plan, settings, tree, found_at, started, False)


async def _filter_later(
    call: FieldCall,
    plan: FieldPlan,
    settings: GuardSettings,
    tree: list[Any],
    found_at: dict[Position, tuple[Any, bool]],
    pending: list[Any],
    started: float,
) -> Any:
    for item in pending:
        await settle(item)
    return _filter(call, plan, settings, tree, found_at, started, True)


def _filter(
    call: FieldCall,
    plan: FieldPlan,
    settings: GuardSettings,
    tree: list[Any],
    found_at: dict[Position, tuple[Any, bool]],
    started: float,
    waited: bool,
) -> list[Any]:
    per_object = call.state.per_object
    path = call.info.path
    base = path.as_list()
    denied: dict[Position, Exception | None] = {}
    applied: dict[Position, Outcome] = {}  # the denials, for the hooks
    for position, (node, drop) in found_at.items():
        if node is not None:
            index: Any = position[0] if len(position) == 1 else position
            if _settled(per_object.get(object_key_at(path, index, node))) is True:
                continue
        outcome = _outcome_at(call, plan, node, position)
        if outcome is True:
            continue
        applied[position] = outcome
        denied[position] = (
            None if drop else client_error(outcome, plan, settings, [*base, *position])
        )
    hook = settings.on_decision
    if hook is not None:
        # A second pass, only with hooks: without them, recording costs nothing.
        # What was applied, not read again: a hook may clear the cache.
        for position, (node, _) in found_at.items():
            outcome = applied.get(position, True)
            _record(hook, call, plan, node, outcome, position, started, waited)
    if not denied:
        return tree
    return _rebuild(tree, (), denied)


def _outcome_at(
    call: FieldCall, plan: FieldPlan, node: PerObject | None, position: Position
) -> Outcome:
    """The decision about the item at `position`, as `_filter` applied it."""
    if node is None:
        return _unknown(plan)
    index: Any = position[0] if len(position) == 1 else position
    key = object_key_at(call.info.path, index, node)
    return _outcome_under(plan, call.state.per_object.get(key), position)


def _outcome_under(plan: FieldPlan, known: Any, position: Position) -> Outcome:
    """The decision about the item at `position`, whose answer's entry in
    `state.per_object` is `known` (None: none)."""
    outcome = _settled(known)
    if outcome is True or isinstance(outcome, Denial):
        return outcome
    # Still undecided after the pre-decision: fail closed.
    return misconfigured(
        f"the object rule of item {list(position)} of {plan.coordinate} "
        "could not be decided"
    )


def _settled(outcome: Any) -> Any:
    if isinstance(outcome, asyncio.Future) and outcome.done():
        # Settled; its done-callback may not have replaced it yet.
        failed = outcome.cancelled() or outcome.exception() is not None
        return None if failed else outcome.result()
    return outcome


def _unknown(plan: FieldPlan) -> Denial:
    return misconfigured(
        f"an object returned by {plan.coordinate} is of a type that cannot be "
        "told, so its object rules cannot be checked"
    )


def _as_lists(value: Any, depth: int) -> Any:
    """`value` with its `depth` levels of iterables made lists (None kept)."""
    if value is None or depth == 0:
        return value
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        return value  # graphql-core reports it; nothing to serve from it
    return [_as_lists(item, depth - 1) for item in value]


def _unsettled(tree: Any, depth: int) -> bool:
    """Whether anything in `tree` is to be awaited, or iterated asynchronously.

    `tree` is as `_as_lists` made it: a list level that is still not a list
    is an async iterable (or not iterable at all); an item may be awaitable.
    """
    if depth == 0:
        return awaits(tree)
    if not isinstance(tree, list):
        return tree is not None and (awaits(tree) or isinstance(tree, AsyncIterable))
    if depth == 1:
        return not none_awaited(tree) and any(map(awaits, tree))
    return any(_unsettled(item, depth - 1) for item in tree)


async def _settled_lists(value: Any, depth: int) -> Any:
    """`value` as `_as_lists` makes it, with everything to await awaited.

    The awaitable items of a list are awaited together, as graphql-core
    does; one that raises becomes its exception, which graphql-core reports
    at the item.
    """
    if awaits(value):
        value = await value
    if depth == 0 or value is None:
        return value
    if isinstance(value, AsyncIterable) and not isinstance(value, Iterable):
        value = [item async for item in value]
    value = _as_lists(value, depth)
    if not isinstance(value, list):
        return value  # graphql-core reports it; nothing to serve from it
    at = [index for index, item in enumerate(value) if _unsettled(item, depth - 1)]
    settled = await asyncio.gather(
        *(_settled_lists(value[index], depth - 1) for index in at),
        return_exceptions=True,
    )
    for index, item in zip(at, settled, strict=True):
        value[index] = item
    return value


def _discard_unsettled(tree: Any, depth: int) -> None:
    """Close the coroutines of `tree` nobody will await."""
    if isinstance(tree, list) and depth > 0:
        for item in tree:
            _discard_unsettled(item, depth - 1)
    elif asyncio.iscoroutine(tree):
        tree.close()


def _items(tree: Any, depth: int, at: Position = ()) -> Iterator[tuple[Position, Any]]:
    if not isinstance(tree, list):
        return
    for index, item in enumerate(tree):
        if item is None:
            continue
        if depth > 1 and isinstance(item, list):
            yield from _items(item, depth - 1, (*at, index))
        else:
            # An item where a list was due is checked as an object too:
            # nothing goes out unchecked.
            yield (*at, index), item


def _rebuild(
    tree: list[Any], at: Position, denied: dict[Position, Exception | None]
) -> list[Any]:
    """`tree` with denied items replaced by their errors, dropped ones left out."""
    kept: list[Any] = []
    for index, item in enumerate(tree):
        position = (*at, index)
        if position in denied:
            error = denied[position]
            if error is not None:
                kept.append(error)
        elif isinstance(item, list) and any(
            p[: len(position)] == position for p in denied
        ):
            kept.append(_rebuild(item, position, denied))
        else:
            kept.append(item)
    return kept
