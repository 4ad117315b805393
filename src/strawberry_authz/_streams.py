"""Subscription streams: bound to their operation, and filtered per event.

The request state travels in a context variable, and a stream runs in the
context of whichever task pulls it: one task alternating between two users'
streams, or a stream continued by another task, would otherwise see the state
of the operation that set it last. `bind_stream` sets the state again before
the source runs and before graphql-core executes each event.

With `drop_denied=True` the per-event rules run here instead of on the
event's resolver: denied events are dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextvars import ContextVar
from time import perf_counter
from typing import Any

from ._compat import entering_stream
from ._outcomes import Denial, Outcome, decided, settle
from ._params import FieldCall
from ._request import RequestState
from ._rules import Node

__all__ = ["bind_stream", "filter_events"]

logger = logging.getLogger("strawberry_authz")

EventLog = Callable[[FieldCall, Node, Outcome, float, bool], None]


def bind_stream(
    source: AsyncIterable[Any],
    var: ContextVar[RequestState | None],
    state: RequestState,
) -> AsyncIterator[Any]:
    """The events of `source`, each handled with `state` as the request state."""
    return entering_stream(source, lambda: var.set(state))


async def filter_events(
    source: AsyncIterable[Any],
    template: FieldCall,
    nodes: tuple[Node | None, Node | None],
    log: EventLog | None,
) -> AsyncIterator[Any]:
    """Yield only the events that pass `nodes`; drop the others.

    `template` is the subscription field's call; each event is checked as a
    call of its own whose `root` and `result` are the event.
    """
    state = template.state
    try:
        async for event in source:
            # Denied events never reach the field's resolver, which starts an
            # event otherwise: start it here so they are bounded too.
            state.start_event()
            started = perf_counter()
            call = FieldCall(template.site, state, event, template.info, template.args)
            call.result = event
            outcome: Outcome = True
            checked: Node | None = None
            waited = False
            for node in nodes:
                if node is None:
                    continue
                checked = node
                step = state.decide(node) if node.static else node.evaluate(state, call)
                if not decided(step):
                    step = await settle(step)  # type: ignore[arg-type]
                    waited = True
                if step is not True:
                    outcome = step  # type: ignore[assignment]
                    break
            if log is not None and checked is not None:
                log(call, checked, outcome, started, waited)
            if outcome is True:
                yield event
            elif isinstance(outcome, Denial):
                logger.debug(
                    "strawberry-authz: dropped an event of %s: %s",
                    template.site.coordinate,
                    outcome.reason,
                )
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()
