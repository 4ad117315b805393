"""The decision log: one record per checked field, for audit trails.

Hooks can neither change a decision nor break the request: their exceptions
are logged, an async hook runs as a background task, and one failing hook
never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any, Literal

__all__ = [
    "Decision",
    "DecisionHook",
    "DecisionPhase",
    "DecisionSource",
    "decision_hook",
    "emit_decision",
    "error_code",
    "hooks_of",
    "new_decision",
]

logger = logging.getLogger("strawberry_authz")

DecisionPhase = Literal["before", "after", "subscribe", "event"]
DecisionSource = Literal["default", "type", "interface", "field", "post", "fallback"]
DecisionHook = Callable[["Decision"], object]

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
    """Several hooks called in order; each runs as if it were the only one."""

    __slots__ = ("hooks",)

    def __init__(self, hooks: tuple[DecisionHook, ...]) -> None:
        self.hooks = hooks

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
