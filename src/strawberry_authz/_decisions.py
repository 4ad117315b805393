"""The decision log: one record per checked field, for audit trails.

Hooks can neither change a decision nor break the request: their exceptions
are logged, an async hook runs as a background task, and one failing hook
never stops the others.

A hook that only *counts* allowed decisions (metrics) can say so with a
`count_allowed(type_name, field_name, phase)` method (`CountingHook`). When
every hook given has one, an allowed decision answered without waiting is
counted through it instead of being built as a `Decision`: building one
record per field of every list item is the dearest part of the decision
log, and a counter needs none of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from time import perf_counter
from typing import Any, Literal, Protocol

from ._outcomes import Denial, Outcome

__all__ = [
    "AllowedCounter",
    "CountingHook",
    "Decision",
    "DecisionHook",
    "DecisionPhase",
    "DecisionSource",
    "allowed_counter",
    "count_allowed",
    "counts_allowed",
    "decision_hook",
    "emit_decision",
    "error_code",
    "hooks_of",
    "new_decision",
    "record_decision",
]

logger = logging.getLogger("strawberry_authz")

DecisionPhase = Literal["before", "after", "subscribe", "event"]
DecisionSource = Literal["default", "type", "interface", "field", "post", "fallback"]
DecisionHook = Callable[["Decision"], object]
AllowedCounter = Callable[[str, str, DecisionPhase], None]
"""`count(type_name, field_name, phase)`: one allowed decision, counted."""

_background: set[asyncio.Future[Any]] = set()


@dataclass(frozen=True)
class Decision:
    """One authorization decision about one field instance.

    Attributes:
        type_name: The GraphQL type owning the field (`"Query"`).
        field_name: The GraphQL field name (`"userByEmail"`).
        path: The response path, aliases and list indices included.
        phase: `"before"` the resolver, `"after"` it (post rules),
            `"subscribe"` (a subscription starting) or `"event"` (one event).
        allowed: Whether the field passed.
        rule: The rule that was checked, as written.
        reason: Why it was denied (server-side text; may name policy), else None.
        duration: Seconds spent deciding (wall time, loaders included).
        source: Which part of the policy decided: `"default"` (default
            scopes), `"type"`, `"interface"`, `"field"`, `"post"` (a post
            rule) or `"fallback"`; None when the check combined several
            sources and the deciding one is not known.
        code: Why the field was denied, as a code: the `extensions["code"]`
            of the denial's error (`"FORBIDDEN"`, `"UNAUTHENTICATED"`, or a
            loader's own code), else the error's class name; None when allowed.
            Error hooks (`on_error`, `error_resolver`) do not change it.
        operation_name: The operation's name, None for an anonymous one.
        operation_type: `"query"`, `"mutation"` or `"subscription"`.
        waited: Whether the check had to wait (an async loader or rule
            function ran for it); False when it was answered synchronously.
        context: The request's context (as resolvers get it), for hooks that
            need the principal. Left out of `repr` and of comparisons.
    """

    type_name: str
    field_name: str
    path: list[str | int]
    phase: DecisionPhase
    allowed: bool
    rule: object
    reason: str | None
    duration: float
    source: DecisionSource | None = None
    code: str | None = None
    operation_name: str | None = None
    operation_type: str | None = None
    waited: bool = False
    context: Any = field(default=None, repr=False, compare=False)

    @property
    def coordinate(self) -> str:
        """`Type.field`, as the schema names it."""
        return f"{self.type_name}.{self.field_name}"


class CountingHook(Protocol):
    """A decision hook that only counts allowed decisions made without waiting.

    Such a hook gets allowed decisions answered without waiting
    (`allowed=True`, `waited=False`) as `count_allowed(type_name,
    field_name, phase)` calls instead of `Decision` records, but only when
    every hook given as `on_decision` is a `CountingHook` (one that needs
    the records, such as `AuditLog`, gets them all, and then so do the
    others). Every other decision (denials, checks that waited) still comes
    as a `Decision`. The hook must account a count exactly as it would the
    record it stands for: from the outside, both are the same decision.

    `count_allowed` is called once per checked field instance, on the
    request's path: it must be cheap, synchronous and thread-safe. Its
    exceptions are logged and ignored, as a hook's are.
    """

    def __call__(self, decision: Decision) -> object: ...

    def count_allowed(
        self, type_name: str, field_name: str, phase: DecisionPhase
    ) -> None: ...


def new_decision(**fields: Any) -> Decision:
    """`Decision(**fields)`, every field given, at a fraction of the cost.

    A frozen dataclass sets each field through `object.__setattr__`; with one
    record per checked field of every list item, that alone was the largest
    cost of the decision log. The record is the same frozen `Decision`.
    """
    decision = _new(Decision)
    _set_attribute(decision, "__dict__", fields)
    return decision


_new = object.__new__
_set_attribute = object.__setattr__


class Described(Protocol):
    """A compiled rule: `describe()` gives it back as written."""

    def describe(self) -> object: ...


def record_decision(
    hook: DecisionHook,
    info: Any,
    *,
    type_name: str,
    field_name: str,
    phase: DecisionPhase,
    rule: Described | None,
    outcome: Outcome,
    source: DecisionSource | None,
    started: float,
    waited: bool,
    path: list[str | int] | None = None,
) -> None:
    """Hand one decision to `hook` as a `Decision`: a field's, or an object's.

    `info` is graphql-core's for the field checked (or the one that returned
    the object); `path` the object's place when it is not `info.path`. A
    denial's own source (the part of the checks that said no) wins over
    `source`. Callers first try `count_allowed` for an allowed decision made
    without waiting: then no `Decision` is built.
    """
    denial = outcome if isinstance(outcome, Denial) else None
    operation = info.operation
    emit_decision(
        hook,
        new_decision(
            type_name=type_name,
            field_name=field_name,
            path=info.path.as_list() if path is None else path,
            phase=phase,
            allowed=denial is None,
            rule=rule.describe() if rule is not None else None,
            reason=None if denial is None else denial.reason,
            duration=perf_counter() - started,
            source=(denial.source if denial is not None else None) or source,
            code=None if denial is None else error_code(denial.error),
            operation_name=operation.name.value if operation.name else None,
            operation_type=operation.operation.value,
            waited=waited,
            context=info.context,
        ),
    )


def error_code(error: BaseException) -> str:
    """The code a denial with `error` is reported under (see `Decision.code`)."""
    extensions = getattr(error, "extensions", None)
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return code if isinstance(code, str) else type(error).__name__


def decision_hook(
    on_decision: DecisionHook | Sequence[DecisionHook] | None,
) -> DecisionHook | None:
    """One hook standing for `on_decision` (a hook, a list of hooks, or None).

    None and an empty list give None, which keeps the guards' fast paths.
    Raises `TypeError` when something given is not callable.
    """
    if on_decision is None:
        return None
    if callable(on_decision):
        return on_decision
    if isinstance(on_decision, (str, bytes)) or not isinstance(on_decision, Sequence):
        raise TypeError(
            "on_decision must be a callable or a list of callables, "
            f"got {on_decision!r}"
        )
    hooks = tuple(on_decision)
    for hook in hooks:
        if not callable(hook):
            raise TypeError(f"on_decision: {hook!r} is not callable")
    if not hooks:
        return None
    if len(hooks) == 1:
        return hooks[0]
    return _FanOut(hooks)


def counts_allowed(hook: DecisionHook | None) -> bool:
    """Whether `hook` (as `decision_hook` made it) counts allowed decisions.

    True when every hook it stands for is a `CountingHook`: then an allowed
    decision answered without waiting may go to `count_allowed` instead of
    being built as a `Decision`. False for None (nothing to count).
    """
    return callable(getattr(hook, "count_allowed", None))


def allowed_counter(hook: DecisionHook | None) -> AllowedCounter | None:
    """What counts one allowed, unwaited decision for `hook`; None if it can't.

    For a guard to bind once and call per field. A hook that raises is
    logged, and the others (of a list) still count.
    """
    count = getattr(hook, "count_allowed", None)
    if not callable(count):
        return None
    if type(hook) is _FanOut:
        return count  # type: ignore[no-any-return]  # isolates each hook itself
    counted: Callable[[str, str, DecisionPhase], object] = count

    def count_safely(type_name: str, field_name: str, phase: DecisionPhase) -> None:
        _count(counted, type_name, field_name, phase)

    return count_safely


def count_allowed(
    hook: DecisionHook, type_name: str, field_name: str, phase: DecisionPhase
) -> bool:
    """Count one allowed, unwaited decision; False if `hook` needs a `Decision`.

    Each hook's `count_allowed` runs as hooks do: one that raises is logged
    and the others still count.
    """
    count = getattr(hook, "count_allowed", None)
    if not callable(count):
        return False
    if type(hook) is _FanOut:
        count(type_name, field_name, phase)
    else:
        _count(count, type_name, field_name, phase)
    return True


def _count(
    count: Callable[[str, str, DecisionPhase], object],
    type_name: str,
    field_name: str,
    phase: DecisionPhase,
) -> None:
    try:
        count(type_name, field_name, phase)
    except Exception:
        logger.exception("strawberry-authz: on_decision count_allowed raised (ignored)")


def hooks_of(hook: DecisionHook | None) -> tuple[DecisionHook, ...]:
    """The separate hooks that `decision_hook` combined into `hook`.

    For code that looks for a hook with an extra capability, e.g. the
    batching engine finding one offering `batch_span(size, scope=...)`.
    """
    if hook is None:
        return ()
    if type(hook) is _FanOut:
        return hook.hooks
    return (hook,)


class _FanOut:
    """Several hooks called in order; each runs as if it were the only one.

    `count_allowed` is set (making the fan-out a `CountingHook`) only when
    every hook counts; else it is None, and every decision is a record.
    """

    __slots__ = ("count_allowed", "hooks")

    def __init__(self, hooks: tuple[DecisionHook, ...]) -> None:
        self.hooks = hooks
        self.count_allowed: AllowedCounter | None = None
        counters = [getattr(hook, "count_allowed", None) for hook in hooks]
        each = tuple(count for count in counters if callable(count))
        if len(each) == len(hooks):

            def count_each(
                type_name: str, field_name: str, phase: DecisionPhase
            ) -> None:
                for count in each:
                    _count(count, type_name, field_name, phase)

            self.count_allowed = count_each

    def __call__(self, decision: Decision) -> None:
        for hook in self.hooks:
            _run(hook, decision)

    def __repr__(self) -> str:
        return f"<on_decision hooks {list(self.hooks)!r}>"


def emit_decision(callback: DecisionHook, decision: Decision) -> None:
    """Hand `decision` to `callback` (which may be several hooks, fanned out)."""
    if type(callback) is _FanOut:
        callback(decision)
    else:
        _run(callback, decision)


def _run(hook: DecisionHook, decision: Decision) -> None:
    try:
        outcome = hook(decision)
    except Exception:
        logger.exception("strawberry-authz: on_decision callback raised (ignored)")
        return
    if outcome is None or not isawaitable(outcome):
        return
    try:
        task = asyncio.ensure_future(outcome)
    except RuntimeError:
        close = getattr(outcome, "close", None)
        if close is not None:
            close()
        logger.error(
            "strawberry-authz: async on_decision callback without a running event "
            "loop (execute_sync); record dropped"
        )
        return
    _background.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Future[Any]) -> None:
    _background.discard(task)
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        logger.error(
            "strawberry-authz: on_decision callback raised (ignored)",
            exc_info=(type(error), error, error.__traceback__),
        )
