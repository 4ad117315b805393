"""Guards: the closures installed in front of graphql-core's resolvers.

For every resolver a rule applies to, `FieldGuard.build` returns the fastest
closure that enforces its `FieldPlan`. A field whose checks are already
decided for the request costs a context-variable read and a dict lookup (no
`**args` repacking when the field has no arguments); nothing on that path
allocates a coroutine or a task. Otherwise the guard creates the field's
`FieldCall` once and passes only that along the request path: check before,
run the resolver, check after, record grants, warm the items of a list.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from inspect import isawaitable
from time import perf_counter
from typing import Any

from graphql import GraphQLError, default_field_resolver

from ._decisions import (
    AllowedCounter,
    DecisionPhase,
    allowed_counter,
    count_allowed,
    counts_allowed,
    record_decision,
)
from ._denials import client_error, deny, inactive_error
from ._grants import GRANTS_FAILED, grant_names
from ._objects import check_objects
from ._outcomes import (
    Denial,
    MaybeOutcome,
    Outcome,
    decided,
    denial_from_exception,
    settle,
)
from ._params import FieldCall
from ._per_object import PerObject
from ._plan import NO_FALLBACK, FieldPlan, GuardSettings
from ._request import RequestState
from ._rules import Node, SourceTag
from ._served import changed, kept, settle_then
from ._streams import bind_stream, filter_events

__all__ = ["FieldGuard", "Resolver"]

Resolver = Callable[..., Any]


class FieldGuard:
    """Everything enforced on one resolver, and the resolver it guards."""

    __slots__ = ("_built", "original", "plan", "reads", "settings")

    def __init__(
        self, plan: FieldPlan, settings: GuardSettings, original: Resolver | None
    ) -> None:
        self.plan = plan
        self.settings = settings
        self.original: Resolver = original or default_field_resolver
        self.reads: str | None = None  # see `_compat.read_attribute`
        self._built: Resolver | None = None

    def build(self) -> Resolver:
        """The resolver to install (made once): the fastest closure enforcing the plan.

        A plan with nothing to enforce on the field itself (a field of a type
        whose only rules are object rules, checked where the object is
        returned) gets the original resolver: its fields cost nothing.
        """
        built = self._built
        if built is None:
            built = self._built = _closure(self)
        return built

    # -- the request path -------------------------------------------------------

    def resolve(
        self, state: RequestState | None, root: Any, info: Any, args: dict[str, Any]
    ) -> Any:
        if state is None:
            raise inactive_error()
        plan = self.plan
        if plan.new_event:
            state.start_event()
        if plan.site.type_grants:
            # Inline checks whose caller cannot be found read the object here.
            state.objects[id(info.path.prev)] = (info.path.prev, root)
        call = FieldCall(plan.site, state, root, info, args)
        pre = plan.pre
        if pre is None:
            return self._run(call)
        started = perf_counter()
        outcome = _evaluate(pre, call, plan, "rule")
        if decided(outcome):
            return self._after_pre(call, outcome, started, waited=False)  # type: ignore[arg-type]
        return self._after_pending_pre(call, outcome, started)  # type: ignore[arg-type]

    async def _after_pending_pre(
        self, call: FieldCall, pending: Awaitable[Outcome], started: float
    ) -> Any:
        outcome = await settle(pending)
        result = self._after_pre(call, outcome, started, waited=True)
        return (await result) if isawaitable(result) else result

    def _after_pre(
        self, call: FieldCall, outcome: Outcome, started: float, *, waited: bool
    ) -> Any:
        plan = self.plan
        _record(self, call, plan.phase, plan.pre, outcome, started, waited)
        if isinstance(outcome, Denial):
            return deny(call, outcome, plan, self.settings)
        return self._run(call)

    def _run(self, call: FieldCall) -> Any:
        plan = self.plan
        result = self.original(call.root, call.info, **call.args)
        if plan.attribute == "subscribe":
            return self._stream(call, result)
        if (
            plan.post is None
            and plan.grants is None
            and plan.warmer is None
            and plan.object_check is None
        ):
            return result
        if isawaitable(result):
            return self._after_pending_result(call, result)
        return self._check_result(call, result)

    async def _after_pending_result(
        self, call: FieldCall, pending: Awaitable[Any]
    ) -> Any:
        after = self._check_result(call, await pending)
        return (await after) if isawaitable(after) else after

    def _check_result(self, call: FieldCall, result: Any, settled: bool = False) -> Any:
        """Run the post rules on `result` (a list settled for them: `_served`)."""
        post = self.plan.post
        call.result = result
        if not settled and (post is not None or callable(self.plan.grants)):
            return settle_then(call, *self._denying, self._check_result)
        if post is None:
            return self._complete(call)
        started = perf_counter()
        outcome = _evaluate(post, call, self.plan, "post rule")
        if decided(outcome):
            return self._after_post(call, outcome, started, waited=False)  # type: ignore[arg-type]
        return self._after_pending_post(call, outcome, started)  # type: ignore[arg-type]

    async def _after_pending_post(
        self, call: FieldCall, pending: Awaitable[Outcome], started: float
    ) -> Any:
        outcome = await settle(pending)
        after = self._after_post(call, outcome, started, waited=True)
        return (await after) if isawaitable(after) else after

    def _after_post(
        self, call: FieldCall, outcome: Outcome, started: float, *, waited: bool
    ) -> Any:
        plan = self.plan
        _record(self, call, plan.post_phase, plan.post, outcome, started, waited)
        if isinstance(outcome, Denial):
            return deny(call, outcome, plan, self.settings)
        return self._complete(kept(call, plan.grants))

    @property
    def _denying(self) -> tuple[FieldPlan, GuardSettings]:
        return self.plan, self.settings

    def _check_objects(self, call: FieldCall) -> Any:
        """Apply the object rules of what the field returned (`on_object`).

        After the field's grants are recorded: its objects' rules see them
        (`$granted`), as their fields' rules do.
        """
        check = self.plan.object_check
        if check is None:
            return self._warm(call)
        try:
            checked = check_objects(call, check, self.plan, self.settings)
        except GraphQLError:
            raise  # the denial of a returned object, as the client sees it
        except Exception as error:
            where = f"the object rules of {self.plan.coordinate}"
            return deny(call, denial_from_exception(error, where), *self._denying)
        if isawaitable(checked):
            return _warm_after(self, call, checked)
        call.result = checked
        return self._warm(call)

    def _complete(self, call: FieldCall) -> Any:
        """Record the grants this field gives, then check its objects.

        A `grants=` function sees the result as it will be served (`_served`).
        """
        grants = self.plan.grants
        if grants is None:
            return self._check_objects(call)
        if not callable(grants):
            call.state.grants.record(call.info.path, frozenset(grants))
            return self._check_objects(call)
        where = f"grants function of {self.plan.coordinate}"
        try:
            made = grants(call.params, call.result)
        except Exception as error:
            denial_from_exception(error, where)
            call.state.grants.record(call.info.path, GRANTS_FAILED)
            return self._check_objects(call)
        if isawaitable(made):
            return self._complete_later(call, made, where)
        call.state.grants.record(call.info.path, grant_names(made, where))
        return _objects_after_grants(self, call)

    async def _complete_later(
        self, call: FieldCall, pending: Awaitable[Any], where: str
    ) -> Any:
        try:
            names = grant_names(await pending, where)
        except Exception as error:
            denial_from_exception(error, where)
            names = GRANTS_FAILED
        call.state.grants.record(call.info.path, names)
        checked = _objects_after_grants(self, call)
        return (await checked) if isawaitable(checked) else checked

    def _warm(self, call: FieldCall) -> Any:
        warmer = self.plan.warmer
        result = call.result
        # Only a plain list's or tuple's length is read: a lazy result (a
        # Django QuerySet) would be evaluated by it, outside fail-closed
        # handling.
        if warmer is None or result is None or (type(result) in _SIZED and not result):
            return result
        try:
            warming = warmer.warm(call)
        except Exception as error:
            where = f"deciding the items of {self.plan.coordinate}"
            return deny(call, denial_from_exception(error, where), *self._denying)
        if warming is None:
            return call.result  # the warmer may have taken a copy of the list
        return _when_done(warming, call.result)

    # -- subscriptions ------------------------------------------------------------

    def _stream(self, call: FieldCall, result: Any) -> Any:
        """The subscription's source stream, bound to this operation's state."""
        if isawaitable(result):
            return self._stream_later(call, result)
        if not isinstance(result, AsyncIterable):
            return result
        event_filter = self.plan.event_filter
        if event_filter is not None:
            log = self._log_event if self.settings.on_decision is not None else None
            result = filter_events(result, call, event_filter, log)
        return bind_stream(result, self.settings.var, call.state)

    async def _stream_later(self, call: FieldCall, pending: Awaitable[Any]) -> Any:
        return self._stream(call, await pending)

    def _log_event(
        self,
        call: FieldCall,
        node: Node,
        outcome: Outcome,
        started: float,
        waited: bool,
    ) -> None:
        _record(self, call, "event", node, outcome, started, waited)


def _closure(guard: FieldGuard) -> Resolver:
    """The fastest closure that enforces `guard`'s plan."""
    if _enforces_nothing(guard.plan):
        return guard.original
    var = guard.settings.var
    original = guard.original
    pre = guard.plan.pre
    hook = guard.settings.on_decision
    count = allowed_counter(hook)
    resolver: Resolver
    if pre is not None and pre.static and _only_checks_before(guard):
        if count is not None:
            resolver = _counting_static_closure(guard, pre, count)
        elif guard.plan.has_arguments:

            def resolve_static(root: Any, info: Any, **args: Any) -> Any:
                state = var.get()
                if state is not None and state.decisions.get(pre) is True:
                    return original(root, info, **args)
                return guard.resolve(state, root, info, args)

            resolver = resolve_static
        else:

            def resolve_static_no_args(root: Any, info: Any) -> Any:
                state = var.get()
                if state is not None and state.decisions.get(pre) is True:
                    return original(root, info)
                return guard.resolve(state, root, info, {})

            resolver = resolve_static_no_args
    elif pre is None and _only_checks_before(guard) and not guard.plan.site.type_grants:
        # Nothing to check on the field itself (the fields of a type whose
        # only rules are object rules, decided where the object is returned):
        # only an operation without our state still fails closed.
        def resolve_unchecked(root: Any, info: Any, **args: Any) -> Any:
            if var.get() is None:
                raise inactive_error()
            return original(root, info, **args)

        resolver = resolve_unchecked
    elif (
        (per_object := _only_per_object(pre)) is not None
        and _only_checks_before(guard)
        and hook is None  # its lookup path records no decision
    ):
        resolver = _per_object_closure(guard, per_object)
    else:
        resolve = guard.resolve

        def resolve_guarded(root: Any, info: Any, **args: Any) -> Any:
            return resolve(var.get(), root, info, args)

        resolver = resolve_guarded
    resolver.guard = guard  # type: ignore[attr-defined]
    return resolver


def _counting_static_closure(
    guard: FieldGuard, pre: Node, count: AllowedCounter
) -> Resolver:
    """`resolve_static` for decision hooks that all count (`CountingHook`).

    A decided static check is allowed and did not wait: the hooks' records
    of it would be counted and nothing else, so the count is all it costs.
    """
    var = guard.settings.var
    original = guard.original
    resolve = guard.resolve
    site = guard.plan.site
    type_name = site.type_name
    field_name = site.field_name
    phase = guard.plan.phase

    def resolve_static_counted(root: Any, info: Any, **args: Any) -> Any:
        state = var.get()
        if state is not None and state.decisions.get(pre) is True:
            count(type_name, field_name, phase)
            return original(root, info, **args)
        return resolve(state, root, info, args)

    return resolve_static_counted


def _only_per_object(pre: Node | None) -> PerObject | None:
    """The per-object rule that is a plan's only check (maybe tagged), if so."""
    if isinstance(pre, SourceTag):
        pre = pre.child
    return pre if isinstance(pre, PerObject) else None


def _per_object_closure(guard: FieldGuard, node: PerObject) -> Resolver:
    """A field whose only check is its type's per-object rule.

    Once the object is decided (a list decides all its items first), each
    field is a lookup of the object's answer, as for static rules.
    """
    var = guard.settings.var
    original = guard.original
    resolve = guard.resolve
    node_id = id(node)
    denied = _known_denial(guard)

    reads = guard.reads
    if reads is not None and not guard.plan.has_arguments:
        # The usual object field, an attribute: read here once allowed.
        def resolve_per_object_attribute(root: Any, info: Any) -> Any:
            state = var.get()
            if state is not None:
                at = info.path.prev
                if at is not None:
                    # `rules.object_key(at, node)`, inlined: this runs per field.
                    known = state.per_object.get((id(at.prev), at.key, node_id))
                    if known is True:
                        return getattr(root, reads)
                    if type(known) is Denial and denied is not None:
                        raise denied(known, info)
            return resolve(state, root, info, {})

        return resolve_per_object_attribute

    if not guard.plan.has_arguments:
        # The usual object field: no `**args` dict to pack and unpack.
        def resolve_per_object_no_args(root: Any, info: Any) -> Any:
            state = var.get()
            if state is not None:
                at = info.path.prev
                if at is not None:
                    # `rules.object_key(at, node)`, inlined: this runs per field.
                    known = state.per_object.get((id(at.prev), at.key, node_id))
                    if known is True:
                        return original(root, info)
                    if type(known) is Denial and denied is not None:
                        raise denied(known, info)
            return resolve(state, root, info, {})

        return resolve_per_object_no_args

    def resolve_per_object(root: Any, info: Any, **args: Any) -> Any:
        state = var.get()
        if state is not None:
            at = info.path.prev
            if at is not None:
                # `rules.object_key(at, node)`, inlined: this runs per field.
                known = state.per_object.get((id(at.prev), at.key, node_id))
                if known is True:
                    return original(root, info, **args)
                if type(known) is Denial and denied is not None:
                    raise denied(known, info)
        return resolve(state, root, info, args)

    return resolve_per_object


def _known_denial(guard: FieldGuard) -> Callable[[Denial, Any], Exception] | None:
    """The error of a field whose object is already denied; None: the long way.

    What `FieldGuard.resolve` would raise for that denial (the error hooks,
    a fresh copy), without evaluating the rule again. Its source tag is left
    out: only decision records read it, and this closure has no hooks. A
    field with an `on_denied` fallback goes the long way.
    """
    plan, settings = guard.plan, guard.settings
    if plan.on_denied is not NO_FALLBACK:
        return None

    def denied(denial: Denial, info: Any) -> Exception:
        return client_error(denial, plan, settings, info.path.as_list())

    return denied


def _enforces_nothing(plan: FieldPlan) -> bool:
    """No check, nothing to record or warm, nothing an inline check reads.

    Only object rules applied to the field's type: the field that returned
    the object checked them (and denies outside an operation), so the
    object's fields are left as graphql-core would resolve them.
    """
    return (
        plan.pre is None
        and plan.post is None
        and plan.grants is None
        and plan.warmer is None
        and plan.event_filter is None
        and plan.object_check is None
        and not plan.new_event
        and plan.attribute == "resolve"
        and not plan.site.type_grants
        and not plan.on_error
        and plan.on_denied is NO_FALLBACK
    )


def _only_checks_before(guard: FieldGuard) -> bool:
    plan = guard.plan
    return (
        plan.post is None
        and plan.grants is None
        and plan.warmer is None
        and plan.event_filter is None
        and plan.object_check is None
        and not plan.new_event
        and plan.attribute == "resolve"
        and (
            guard.settings.on_decision is None
            or counts_allowed(guard.settings.on_decision)
        )
    )


def _record(
    guard: FieldGuard,
    call: FieldCall,
    phase: DecisionPhase,
    node: Node | None,
    outcome: Outcome,
    started: float,
    waited: bool,
) -> None:
    """Hand one `Decision` about `call` to the extension's decision hooks.

    An allowed decision made without waiting is only counted when every
    hook counts (`CountingHook`): no `Decision` is built for it.
    """
    hook = guard.settings.on_decision
    if hook is None:
        return
    plan = guard.plan
    site = plan.site
    if (
        outcome is True
        and not waited
        and count_allowed(hook, site.type_name, site.field_name, phase)
    ):
        return
    record_decision(
        hook,
        call.info,
        type_name=site.type_name,
        field_name=site.field_name,
        phase=phase,
        rule=node,
        outcome=outcome,
        source=plan.source_of(node),
        started=started,
        waited=waited,
    )


def _evaluate(node: Node, call: FieldCall, plan: FieldPlan, kind: str) -> MaybeOutcome:
    """`node`'s outcome for `call` (memoized if static); a failure denies."""
    try:
        if node.static:
            return call.state.decide(node)
        return node.evaluate(call.state, call)
    except Exception as error:
        return denial_from_exception(error, f"the {kind} of {plan.coordinate}")


_SIZED = (list, tuple)
"""Results whose length is read without running anything of the user's."""


def _objects_after_grants(guard: FieldGuard, call: FieldCall) -> Any:
    """`FieldGuard._check_objects`, unless the grants function changed the
    list a post rule allowed: that list is no longer what would be served."""
    denial = changed(call, guard.plan.coordinate, "grants function")
    if denial is not None:
        return deny(call, denial, *guard._denying)
    return guard._check_objects(call)


async def _warm_after(
    guard: FieldGuard, call: FieldCall, checked: Awaitable[Any]
) -> Any:
    """`FieldGuard._check_objects`'s end, once its pending checks are done."""
    try:
        call.result = await checked
    except GraphQLError:
        raise  # the denial of a returned object, as the client sees it
    except Exception as error:
        where = f"the object rules of {guard.plan.coordinate}"
        return deny(call, denial_from_exception(error, where), *guard._denying)
    warmed = guard._warm(call)
    return (await warmed) if isawaitable(warmed) else warmed


async def _when_done(warming: Awaitable[Any], result: Any) -> Any:
    await warming
    return result
