"""Guards installed on the compiled graphql-core resolvers of a schema.

For every field that any rule applies to, the resolver graphql-core calls is
replaced once per schema by a closure that checks before (and, for post rules,
after) calling the original. A field whose checks are already decided for the
request costs a context-variable read and a dict lookup; nothing on that path
allocates a coroutine or a task.

List fields whose items carry static rules additionally *warm* those rules
once, before returning the list: with async loaders, this turns thousands of
per-item waits into one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from inspect import isawaitable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
    default_field_resolver,
)

from ._compat import ResolveInfo, convert_arguments, entering_stream, make_info
from .decisions import (
    Decision,
    DecisionPhase,
    DecisionSource,
    emit_decision,
    error_code,
    new_decision,
)
from .errors import ForbiddenError, fresh_error
from .evaluation import Denial, Outcome, RequestState, denial_from_exception, settle
from .params import FieldCall
from .rules import Node

if TYPE_CHECKING:
    from strawberry import Schema
    from strawberry.types import Info
    from strawberry.types.field import StrawberryField

    from .policy import ErrorHook, GrantSpec

__all__ = ["NO_FALLBACK", "FieldGuard", "inactive_error"]

logger = logging.getLogger("strawberry_authz")

Resolver = Callable[..., Any]


class _NoFallback:
    """`on_denied` was not given: a denied field reports its error."""

    def __repr__(self) -> str:
        return "<no fallback>"


NO_FALLBACK: Any = _NoFallback()
ErrorResolver = Callable[[Exception, list[str | int]], "Exception | None"]


def inactive_error() -> GraphQLError:
    return GraphQLError(
        "Authorization is not active for this request; access denied.",
        extensions={"code": "FORBIDDEN"},
    )


class Warmer:
    """The static rules of a list field's item type, decided before the items."""

    __slots__ = ("by_field", "nodes")

    def __init__(self, by_field: dict[str, Node]) -> None:
        self.by_field = by_field
        self.nodes = tuple(dict.fromkeys(by_field.values()))

    def warm(self, state: RequestState, info: ResolveInfo) -> Awaitable[Any] | None:
        decisions = state.decisions
        if all(_decided(decisions.get(node)) for node in self.nodes):
            return None
        # Every instance of this list field at this place in the query shares
        # one warm-up: the first starts it, the others wait for the same one.
        key = (self, id(info.field_nodes[0]))
        if key in state.warmed:
            warming = state.warmed[key]
            if warming is None or warming.done():
                return None
            return settle(warming)
        names = _selected_field_names(info)
        pending = []
        for node in dict.fromkeys(
            node for name, node in self.by_field.items() if name in names
        ):
            outcome = state.decide(node)
            if outcome is not True and not isinstance(outcome, Denial):
                pending.append(outcome)
        if not pending:
            state.warmed[key] = None
            return None
        warming = asyncio.ensure_future(_settle_all(pending))
        state.warmed[key] = warming
        return settle(warming)


class FieldGuard:
    """Everything enforced on one resolver (a field's `resolve` or `subscribe`)."""

    __slots__ = (
        "coordinate",
        "debug",
        "error_reasons",
        "error_resolver",
        "event_filter",
        "field",
        "field_name",
        "grants",
        "new_event",
        "on_decision",
        "on_denied",
        "on_error",
        "original",
        "phase",
        "post",
        "pre",
        "schema",
        "sources",
        "type_grants",
        "type_name",
        "var",
        "warmer",
    )

    def __init__(
        self,
        *,
        type_name: str,
        field_name: str,
        original: Resolver | None,
        field: StrawberryField | None,
        schema: Schema,
        var: ContextVar[RequestState | None],
        pre: Node | None = None,
        post: Node | None = None,
        grants: GrantSpec | None = None,
        type_grants: tuple[Callable[..., Any], ...] = (),
        on_error: ErrorHook | None = None,
        on_denied: Any = NO_FALLBACK,
        error_resolver: ErrorResolver | None = None,
        on_decision: Callable[[Decision], object] | None = None,
        debug: bool = False,
        error_reasons: bool = True,
        phase: DecisionPhase = "before",
        new_event: bool = False,
        event_filter: tuple[Node | None, Node | None] | None = None,
        warmer: Warmer | None = None,
        sources: Mapping[Node, DecisionSource] | None = None,
    ) -> None:
        self.type_name = type_name
        self.field_name = field_name
        self.coordinate = f"{type_name}.{field_name}"
        self.original = original or DEFAULT_RESOLVER
        self.field = field
        self.schema = schema
        self.var = var
        self.pre = pre
        self.post = post
        self.grants = grants
        self.type_grants = type_grants
        self.on_error = on_error
        self.on_denied = on_denied
        self.error_resolver = error_resolver
        self.on_decision = on_decision
        self.debug = debug
        self.error_reasons = error_reasons
        self.phase = phase
        self.new_event = new_event
        self.event_filter = event_filter
        self.warmer = warmer
        # Which part of the policy each checked node is, for the decision
        # log; a post rule (also one filtering events) is "post".
        self.sources = dict(sources or {})
        for checked_after in (post, event_filter[1] if event_filter else None):
            if checked_after is not None:
                self.sources.setdefault(checked_after, "post")

    # -- what AuthParams needs --------------------------------------------------

    def strawberry_info(self, info: ResolveInfo) -> Info:
        return make_info(self.schema, info, self.field)

    def convert_arguments(self, raw: dict[str, Any], info: Info) -> dict[str, Any]:
        if self.field is None:
            return dict(raw)
        return convert_arguments(self.schema, self.field, raw, info)

    # -- building the resolver --------------------------------------------------

    def build(self) -> Resolver:
        """The resolver to install: the fastest closure that enforces this guard."""
        var = self.var
        original = self.original
        pre = self.pre
        guard = self
        plain = (
            self.post is None
            and self.grants is None
            and self.warmer is None
            and self.on_decision is None
            and self.event_filter is None
            and not self.new_event
        )

        if pre is not None and pre.static and plain:

            def resolve_static(root: Any, info: ResolveInfo, **args: Any) -> Any:
                state = var.get()
                if state is not None and state.decisions.get(pre) is True:
                    return original(root, info, **args)
                return guard.resolve(state, root, info, args)

            resolver: Resolver = resolve_static
        else:

            def resolve_guarded(root: Any, info: ResolveInfo, **args: Any) -> Any:
                return guard.resolve(var.get(), root, info, args)

            resolver = resolve_guarded

        resolver.original = original  # type: ignore[attr-defined]
        resolver.guard = self  # type: ignore[attr-defined]
        return resolver

    # -- the request path -------------------------------------------------------

    def resolve(
        self,
        state: RequestState | None,
        root: Any,
        info: ResolveInfo,
        args: dict[str, Any],
    ) -> Any:
        if state is None:
            raise inactive_error()
        if self.new_event:
            state.start_event()
        if self.type_grants:
            # Inline checks (`authz.check`) in this object's fields compute
            # its type grants from the object, which their info cannot give.
            state.objects[id(info.path.prev)] = (info.path.prev, root)
        call: FieldCall | None = None
        pre = self.pre
        if pre is not None:
            started = perf_counter() if self.on_decision is not None else 0.0
            try:
                if pre.static:
                    outcome = state.decide(pre)
                else:
                    call = FieldCall(self, state, root, info, args)
                    outcome = pre.evaluate(state, call)
            except Exception as error:
                outcome = denial_from_exception(error, f"the rule of {self.coordinate}")
            if outcome is True:
                if self.on_decision is not None:
                    self.log(info, self.phase, pre, outcome, started)
            elif isinstance(outcome, Denial):
                if self.on_decision is not None:
                    self.log(info, self.phase, pre, outcome, started)
                return self.deny(outcome, state, call, root, info, args)
            else:
                return self._resolve_after_pre(
                    outcome, started, state, call, root, info, args
                )
        return self._run(state, call, root, info, args)

    async def _resolve_after_pre(
        self,
        pending: Awaitable[Outcome],
        started: float,
        state: RequestState,
        call: FieldCall | None,
        root: Any,
        info: ResolveInfo,
        args: dict[str, Any],
    ) -> Any:
        outcome = await settle(pending)
        if self.on_decision is not None:
            self.log(info, self.phase, self.pre, outcome, started, waited=True)
        if outcome is not True:
            denied = self.deny(outcome, state, call, root, info, args)
            return (await denied) if isawaitable(denied) else denied
        result = self._run(state, call, root, info, args)
        if isawaitable(result):
            result = await result
        return result

    def _run(
        self,
        state: RequestState,
        call: FieldCall | None,
        root: Any,
        info: ResolveInfo,
        args: dict[str, Any],
    ) -> Any:
        result = self.original(root, info, **args)
        if self.phase == "subscribe":
            return self._stream(result, state, info, args)
        if self.post is None and self.grants is None and self.warmer is None:
            return result
        if isawaitable(result):
            return self._after_async(result, state, call, root, info, args)
        return self._after(result, state, call, root, info, args)

    async def _after_async(
        self,
        pending: Awaitable[Any],
        state: RequestState,
        call: FieldCall | None,
        root: Any,
        info: ResolveInfo,
        args: dict[str, Any],
    ) -> Any:
        result = await pending
        after = self._after(result, state, call, root, info, args)
        if isawaitable(after):
            return await after
        return after

    def _after(
        self,
        result: Any,
        state: RequestState,
        call: FieldCall | None,
        root: Any,
        info: ResolveInfo,
        args: dict[str, Any],
    ) -> Any:
        post = self.post
        if post is not None:
            started = perf_counter() if self.on_decision is not None else 0.0
            if call is None:
                call = FieldCall(self, state, root, info, args)
            call.result = result
            try:
                outcome = post.evaluate(state, call)
            except Exception as error:
                outcome = denial_from_exception(
                    error, f"the post rule of {self.coordinate}"
                )
            if outcome is not True:
                if isinstance(outcome, Denial):
                    if self.on_decision is not None:
                        self.log(info, self.post_phase, post, outcome, started)
                    return self.deny(outcome, state, call, root, info, args)
                return self._after_post(
                    outcome, started, result, state, call, root, info, args
                )
            if self.on_decision is not None:
                self.log(info, self.post_phase, post, outcome, started)
        return self._complete(result, state, call, root, info, args)

    async def _after_post(
        self,
        pending: Awaitable[Outcome],
        started: float,
        result: Any,
        state: RequestState,
        call: FieldCall,
        root: Any,
        info: ResolveInfo,
        args: dict[str, Any],
    ) -> Any:
        outcome = await settle(pending)
        if self.on_decision is not None:
            self.log(info, self.post_phase, self.post, outcome, started, waited=True)
        if outcome is not True:
            denied = self.deny(outcome, state, call, root, info, args)
            return (await denied) if isawaitable(denied) else denied
        completed = self._complete(result, state, call, root, info, args)
        if isawaitable(completed):
            return await completed
        return completed

    def _complete(
        self,
        result: Any,
        state: RequestState,
        call: FieldCall | None,
        root: Any,
        info: ResolveInfo,
        args: dict[str, Any],
    ) -> Any:
        """Record grants and warm the items' rules: the field has passed."""
        grants = self.grants
        if grants is not None:
            if callable(grants):
                if call is None:
                    call = FieldCall(self, state, root, info, args)
                try:
                    names = grants(call.params, result)
                except Exception as error:
                    _grant_failed(self.coordinate, error)
                    names = ()
                if isawaitable(names):
                    return self._complete_async_grants(names, result, state, info)
                _record(state, info, names, self.coordinate)
            else:
                state.record_grants(info.path, frozenset(grants))
        return self._warm(result, state, info)

    async def _complete_async_grants(
        self,
        pending: Awaitable[Any],
        result: Any,
        state: RequestState,
        info: ResolveInfo,
    ) -> Any:
        try:
            names = await pending
        except Exception as error:
            _grant_failed(self.coordinate, error)
            names = ()
        _record(state, info, names, self.coordinate)
        warming = self._warm(result, state, info)
        if warming is not result:
            await warming
        return result

    def _warm(self, result: Any, state: RequestState, info: ResolveInfo) -> Any:
        warmer = self.warmer
        if warmer is None or not result:
            return result
        warming = warmer.warm(state, info)
        if warming is None:
            return result
        return _after(warming, result)

    # -- subscriptions ------------------------------------------------------------

    def _stream(
        self, result: Any, state: RequestState, info: ResolveInfo, args: dict[str, Any]
    ) -> Any:
        """The subscription's source stream, bound to this operation's state."""
        if isawaitable(result):
            return self._stream_later(result, state, info, args)
        if not isinstance(result, AsyncIterable):
            return result
        if self.event_filter is not None:
            result = self._filter_events(result, state, info, args)
        return self._bind_events(result, state)

    async def _stream_later(
        self,
        pending: Awaitable[Any],
        state: RequestState,
        info: ResolveInfo,
        args: dict[str, Any],
    ) -> Any:
        return self._stream(await pending, state, info, args)

    def _bind_events(
        self, source: AsyncIterable[Any], state: RequestState
    ) -> AsyncIterator[Any]:
        """Make each event run with this operation's state, whoever iterates.

        The state travels in a context variable, and a stream runs in the
        context of the task that pulls it: one task alternating between two
        users' streams, or a stream continued by another task, would otherwise
        see the state of the operation that set it last. The state is set
        again before the source runs and before graphql-core executes the
        event, each in its own context.
        """
        var = self.var
        return entering_stream(source, lambda: var.set(state))

    async def _filter_events(
        self,
        source: Any,
        state: RequestState,
        info: ResolveInfo,
        args: dict[str, Any],
    ) -> AsyncIterator[Any]:
        """Yield only the events this subscriber may see; drop the others."""
        assert self.event_filter is not None
        try:
            async for event in source:
                # Denied events never reach the field's resolver, which starts
                # an event otherwise: start it here so they are bounded too.
                state.start_event()
                started = perf_counter()
                call = FieldCall(self, state, event, info, args)
                call.result = event
                outcome: Outcome = True
                checked: Node | None = None
                waited = False
                for node in self.event_filter:
                    if node is None:
                        continue
                    checked = node
                    step = (
                        state.decide(node)
                        if node.static
                        else node.evaluate(state, call)
                    )
                    if step is not True and not isinstance(step, Denial):
                        step = await settle(step)
                        waited = True
                    if step is not True:
                        outcome = step
                        break
                if self.on_decision is not None and checked is not None:
                    self.log(info, "event", checked, outcome, started, waited=waited)
                if outcome is True:
                    yield event
                else:
                    logger.debug(
                        "strawberry-authz: dropped an event of %s: %s",
                        self.coordinate,
                        outcome.reason,
                    )
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()

    # -- outcomes -------------------------------------------------------------------

    @property
    def post_phase(self) -> DecisionPhase:
        # A subscription's post rule sees each event: it is an event decision.
        return "event" if self.phase == "event" else "after"

    def log(
        self,
        info: ResolveInfo,
        phase: DecisionPhase,
        node: Node | None,
        outcome: Outcome,
        started: float,
        *,
        waited: bool = False,
    ) -> None:
        assert self.on_decision is not None
        denial = outcome if isinstance(outcome, Denial) else None
        operation = info.operation
        emit_decision(
            self.on_decision,
            new_decision(
                type_name=self.type_name,
                field_name=self.field_name,
                path=info.path.as_list(),
                phase=phase,
                allowed=denial is None,
                rule=node.describe() if node is not None else None,
                reason=None if denial is None else denial.reason,
                duration=perf_counter() - started,
                source=None if node is None else self.sources.get(node),
                code=None if denial is None else error_code(denial.error),
                operation_name=operation.name.value if operation.name else None,
                operation_type=operation.operation.value,
                waited=waited,
                context=info.context,
            ),
        )

    def deny(
        self,
        denial: Denial,
        state: RequestState,
        call: FieldCall | None,
        root: Any,
        info: ResolveInfo,
        args: dict[str, Any],
    ) -> Any:
        """Raise the error the client sees for `denial`, or return the fallback."""
        error = self.client_error(denial, info)
        fallback = self.on_denied
        if fallback is NO_FALLBACK:
            raise error
        if not callable(fallback):
            return fallback
        if call is None:
            call = FieldCall(self, state, root, info, args)
        try:
            return fallback(call.params, error)
        except Exception:
            logger.exception(
                "strawberry-authz: on_denied of %s raised; reporting the denial",
                self.coordinate,
            )
            raise error from None

    def _replaced(self, error: Exception, replacement: object) -> Exception:
        """What an error hook's return value makes of `error`.

        An exception replaces it; a `str` replaces its message and keeps its
        code; anything else keeps it (with a warning).
        """
        if isinstance(replacement, str):
            return _with_message(error, replacement)
        if isinstance(replacement, Exception):
            return replacement
        logger.warning(
            "strawberry-authz: error hook of %s returned %s; expected an "
            "exception, a message or None; keeping the denial's error",
            self.coordinate,
            type(replacement).__name__,
        )
        return error

    def client_error(self, denial: Denial, info: ResolveInfo) -> Exception:
        error = denial.error
        if denial.branches and not self.error_reasons:
            error = _without_reasons(denial)
        path = info.path.as_list()
        for hook in (self.on_error, self.error_resolver):
            if hook is None:
                continue
            try:
                replacement = hook(error, path)
            except Exception:
                logger.exception(
                    "strawberry-authz: error hook of %s raised; keeping the denial",
                    self.coordinate,
                )
                break
            if replacement is None:
                continue
            error = self._replaced(error, replacement)
            break
        logger.debug(
            "strawberry-authz: denied %s at %s: %s",
            self.coordinate,
            path,
            denial.reason,
        )
        error = fresh_error(error)
        if self.debug and isinstance(error, GraphQLError):
            error.extensions = {**(error.extensions or {}), "authz": denial.explain()}
        return error


def _with_message(error: Exception, message: str) -> Exception:
    """`error` with a new message, same class, code and extensions."""
    copied = fresh_error(error)
    if isinstance(copied, GraphQLError):
        copied.message = message
        copied.args = (message,)
        return copied
    return ForbiddenError(message)


def _without_reasons(denial: Denial) -> Exception:
    """The error of `denial` without the `reasons` an `$or` / `$race` adds.

    Only the error built by combining the branches loses them: an error a
    loader or rule function raised itself is reported as raised.
    """
    error = denial.error
    extensions = getattr(error, "extensions", None)
    if (
        not isinstance(error, GraphQLError)
        or not extensions
        or "reasons" not in extensions
        or any(error is raised for raised in _raised_errors(denial))
    ):
        return error
    copied = fresh_error(error)
    assert isinstance(copied, GraphQLError)
    copied.extensions = {k: v for k, v in extensions.items() if k != "reasons"}
    return copied


def _raised_errors(denial: Denial) -> list[Exception]:
    if not denial.branches:
        return [denial.error]
    return [error for branch in denial.branches for error in _raised_errors(branch)]


async def _after(warming: Awaitable[Any], result: Any) -> Any:
    await warming
    return result


async def _settle_all(pending: list[Awaitable[Outcome]]) -> Outcome:
    for item in pending:
        await settle(item)
    return True


def _decided(outcome: object) -> bool:
    return outcome is True or isinstance(outcome, Denial)


def _record(
    state: RequestState, info: ResolveInfo, names: object, coordinate: str
) -> None:
    if isinstance(names, str):
        state.record_grants(info.path, frozenset((names,)))
    elif names is None:
        return
    else:
        try:
            granted = frozenset(names)  # type: ignore[call-overload]
        except TypeError:
            logger.error(
                "strawberry-authz: grants function of %s returned %r; "
                "expected a name or a list of names; nothing granted",
                coordinate,
                names,
            )
            return
        if granted and all(isinstance(name, str) for name in granted):
            state.record_grants(info.path, granted)
        elif granted:
            logger.error(
                "strawberry-authz: grants function of %s returned non-string names "
                "%r; nothing granted",
                coordinate,
                names,
            )


def _grant_failed(coordinate: str, error: Exception) -> None:
    denial_from_exception(error, f"grants function of {coordinate}")


def _selected_field_names(info: ResolveInfo) -> set[str]:
    names: set[str] = set()
    fragments = info.fragments
    seen: set[str] = set()

    def collect(selection_set: SelectionSetNode | None) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    collect(fragments[name].selection_set)

    for node in info.field_nodes:
        collect(node.selection_set)
    return names


def returns_list_of(field_type: Any) -> GraphQLObjectType | None:
    """The object type of a field returning a list of objects, else None."""
    saw_list = False
    while isinstance(field_type, (GraphQLNonNull, GraphQLList)):
        if isinstance(field_type, GraphQLList):
            saw_list = True
        field_type = field_type.of_type
    if saw_list and isinstance(field_type, GraphQLObjectType):
        return field_type
    return None


DEFAULT_RESOLVER: Resolver = default_field_resolver
