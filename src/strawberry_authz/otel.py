"""OpenTelemetry metrics and span events for authorization decisions.

Install the extra (`pip install "strawberry-authz[otel]"`, which brings
`opentelemetry-api` only) and pass the hook as `on_decision=`:

    authz = AuthExtension(load_scopes, on_decision=OpenTelemetryDecisions())

Nothing here creates a span per field: a denial is an event on the span that
is current when the field is checked (e.g. the request's span), and the only
spans this module starts are one per batch call of a `BatchScope`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation

from ._decisions import Decision, DecisionPhase

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider
    from opentelemetry.util.types import AttributeValue

__all__ = [
    "BATCH_SPAN_NAME",
    "CHECK_DURATION_METRIC",
    "DECISIONS_METRIC",
    "DENIED_EVENT",
    "OpenTelemetryDecisions",
    "batch_span",
]

DECISIONS_METRIC = "strawberry_authz.decisions"
CHECK_DURATION_METRIC = "strawberry_authz.check.duration"
DENIED_EVENT = "authz.denied"
BATCH_SPAN_NAME = "strawberry_authz.batch"

_SCOPE_NAME = "strawberry_authz"
try:
    _VERSION = version("strawberry-authz")
except PackageNotFoundError:  # running from a source tree
    _VERSION = ""

# One count and one attribute mapping per distinct (type, field, phase, code);
# the code is None exactly when the field was allowed.
_AttributeKey = tuple[str, str, str, "str | None"]
_Attributes = dict[str, "AttributeValue"]


class OpenTelemetryDecisions:
    """A decision hook recording metrics and span events (`on_decision=`).

    For every decision it records:

    - the counter `strawberry_authz.decisions` (one per checked field
      instance), with attributes `authz.result` (`"allow"` / `"deny"`),
      `authz.field` (`"Type.field"`), `authz.phase`, and on denials
      `error.type` (the reason code: `"FORBIDDEN"`, `"UNAUTHENTICATED"`, ...).
      It is an asynchronous (observable) counter: the hook adds to totals in
      memory, and the totals are reported when the metric reader collects.
      (A synchronous counter's per-call cost in the SDK, paid for every field
      of every list item, would dominate the request.) The hook is a
      `CountingHook`: alone (or next to other counting hooks), it gets an
      allowed decision made without waiting as a `count_allowed` call
      instead of a `Decision`, and adds the same count.
    - the histogram `strawberry_authz.check.duration` (seconds, same
      attributes) for checks that waited on a loader or rule function; checks
      answered synchronously (e.g. from the request's cache) are not timed;
    - per denial, an event `authz.denied` on the current span (when it is
      recording), with `authz.field`, `authz.path`, `authz.phase` and
      `error.type`, plus `authz.reason` only with `record_reasons=True`.

    Args:
        meter_provider: Where metrics go; the global provider by default.
        tracer_provider: Where batch spans go; the global provider by default.
            Span events go to whatever span is current.
        record_reasons: Put the server-side denial reason on `authz.denied`
            events. Off by default: reasons name scopes, values and rule
            structure, which a trace backend may show to more people than the
            server's logs.
    """

    def __init__(
        self,
        *,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
        record_reasons: bool = False,
    ) -> None:
        meter = metrics.get_meter(_SCOPE_NAME, _VERSION, meter_provider=meter_provider)
        self._lock = threading.Lock()
        self._counts: dict[_AttributeKey, int] = {}
        self._attributes: dict[_AttributeKey, _Attributes] = {}
        self._decisions = meter.create_observable_counter(
            DECISIONS_METRIC,
            callbacks=[self._observe],
            unit="{decision}",
            description="Authorization decisions, one per checked field instance",
        )
        self._duration = meter.create_histogram(
            CHECK_DURATION_METRIC,
            unit="s",
            description="Time spent on authorization checks that waited on a loader",
        )
        self._tracer = trace.get_tracer(
            _SCOPE_NAME, _VERSION, tracer_provider=tracer_provider
        )
        self.record_reasons = record_reasons

    def __call__(self, decision: Decision) -> None:
        """Record one decision; never raises for a well-formed `Decision`."""
        code = None if decision.allowed else (decision.code or "FORBIDDEN")
        key = (decision.type_name, decision.field_name, decision.phase, code)
        counts = self._counts
        with self._lock:
            counts[key] = counts.get(key, 0) + 1
        if decision.waited or code is not None:
            attributes = self._attributes_of(key)
            if decision.waited:
                self._duration.record(decision.duration, attributes)
            if code is not None:
                self._add_denied_event(decision, attributes)

    def count_allowed(
        self, type_name: str, field_name: str, phase: DecisionPhase
    ) -> None:
        """Count one allowed decision made without waiting (see `CountingHook`).

        The same count `__call__` adds for such a decision, which has
        nothing else to record (no duration, no span event): the guards
        call this instead of building a `Decision` for every field.
        """
        key = (type_name, field_name, phase, None)
        counts = self._counts
        with self._lock:
            counts[key] = counts.get(key, 0) + 1

    def _attributes_of(self, key: _AttributeKey) -> _Attributes:
        attributes = self._attributes.get(key)
        if attributes is None:
            attributes = self._attributes.setdefault(key, _metric_attributes(*key))
        return attributes

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            totals = list(self._counts.items())
        return [Observation(count, self._attributes_of(key)) for key, count in totals]

    def _add_denied_event(self, decision: Decision, attributes: _Attributes) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        event: _Attributes = {
            "authz.field": attributes["authz.field"],
            "authz.path": _path_text(decision.path),
            "authz.phase": decision.phase,
            "error.type": attributes["error.type"],
        }
        if self.record_reasons and decision.reason is not None:
            event["authz.reason"] = decision.reason
        span.add_event(DENIED_EVENT, event)

    @contextmanager
    def batch_span(self, size: int, *, scope: str | None = None) -> Iterator[Span]:
        """A span around one batch call of a `BatchScope` (see `batch_span`)."""
        with batch_span(size, scope=scope, tracer=self._tracer) as span:
            yield span

    def __repr__(self) -> str:
        return f"OpenTelemetryDecisions(record_reasons={self.record_reasons!r})"


@contextmanager
def batch_span(
    size: int,
    *,
    scope: str | None = None,
    tracer_provider: TracerProvider | None = None,
    tracer: trace.Tracer | None = None,
) -> Iterator[Span]:
    """One span, `strawberry_authz.batch`, around one batch call of a `BatchScope`.

    The span carries `authz.batch.size` (how many values the call checks) and,
    when given, `authz.scope` (the scope's name). An exception leaving the
    block is recorded on the span and re-raised.

    Args:
        size: The number of values in this call.
        scope: The scope's name.
        tracer_provider: Where the span goes; the global provider by default.
        tracer: A tracer to use instead of one from `tracer_provider`.
    """
    if tracer is None:
        tracer = trace.get_tracer(
            _SCOPE_NAME, _VERSION, tracer_provider=tracer_provider
        )
    attributes: _Attributes = {"authz.batch.size": size}
    if scope is not None:
        attributes["authz.scope"] = scope
    with tracer.start_as_current_span(BATCH_SPAN_NAME, attributes=attributes) as span:
        yield span


def _metric_attributes(
    type_name: str, field_name: str, phase: str, code: str | None
) -> _Attributes:
    attributes: _Attributes = {
        "authz.result": "allow" if code is None else "deny",
        "authz.field": f"{type_name}.{field_name}",
        "authz.phase": phase,
    }
    if code is not None:
        attributes["error.type"] = code
    return attributes


def _path_text(path: list[str | int]) -> str:
    """`["notes", 0, "text"]` as `"notes.0.text"` (span attributes are flat)."""
    return ".".join(str(part) for part in path)
