"""The decision log: one record per checked field, for audit trails.

The callback can neither change a decision nor break the request: its
exceptions are logged, an async callback runs as a background task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, Literal

__all__ = ["Decision", "DecisionPhase", "emit_decision"]

logger = logging.getLogger("strawberry_authz")

DecisionPhase = Literal["before", "after", "subscribe", "event"]

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
    """

    type_name: str
    field_name: str
    path: list[str | int]
    phase: DecisionPhase
    allowed: bool
    rule: object
    reason: str | None
    duration: float


def emit_decision(callback: Callable[[Decision], object], decision: Decision) -> None:
    try:
        outcome = callback(decision)
    except Exception:
        logger.exception("strawberry-authz: on_decision callback raised (ignored)")
        return
    if not isawaitable(outcome):
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
