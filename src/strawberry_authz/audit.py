"""Audit records: one JSON-serialisable dict per authorization decision.

    audit = AuditLog(logging.getLogger("myapp.audit"), only_denied=True)
    authz = AuthExtension(load_scopes, on_decision=[audit])

A record looks like this (keys always present, values may be `null`):

    {"timestamp": "2026-01-31T12:00:00.000000+00:00", "operation_name": "Notes",
     "operation_type": "query", "field": "Note.body", "path": ["notes", 0, "body"],
     "phase": "before", "effect": "deny", "source": "type",
     "code": "FORBIDDEN", "duration": 0.000012, "principal": "ann"}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from ._decisions import Decision

__all__ = ["AuditLog", "AuditRecord"]

logger = logging.getLogger("strawberry_authz")

AuditRecord = dict[str, Any]
"""One audit record: a dict of JSON values (see `AuditLog`)."""

Principal = Callable[[Any], "str | None"]
EngineCalls = Callable[[Any], "Sequence[str]"]


class AuditLog:
    """A decision hook (`on_decision=`) that writes one audit record per decision.

    Each record is a dict of JSON values with the keys:

    - `timestamp`: when the decision was made, ISO 8601 in UTC;
    - `operation_name`: the operation's name (`null` for an anonymous one);
    - `operation_type`: `"query"`, `"mutation"` or `"subscription"`;
    - `field`: `"Type.field"`;
    - `path`: the response path, aliases and list indices included;
    - `phase`: `"before"`, `"after"`, `"subscribe"` or `"event"`;
    - `effect`: `"allow"` or `"deny"`;
    - `source`: which part of the policy decided (`"default"`, `"type"`,
      `"interface"`, `"field"`, `"post"`, `"fallback"`), `null` when not known;
    - `code`: the reason code of a denial (`"FORBIDDEN"`,
      `"UNAUTHENTICATED"`, ...), `null` when allowed;
    - `duration`: seconds spent deciding;
    - `principal`: what `principal(context)` returned (only with `principal=`);
    - `engine_calls`: the ids of the policy-engine calls the request made so
      far (only with `engine_calls=`), to find the decision in the engine's
      own log.

    Records carry no denial reason: reasons name policy details and values,
    which belong in the server's debug logs rather than in an audit trail
    kept for a long time.

    Args:
        write: Called with each record, e.g. a JSON-lines writer; or a
            `logging.Logger`, which then gets `json.dumps(record)` at `INFO`.
            If it raises, the error is logged (logger `strawberry_authz`) and
            the request goes on.
        principal: `principal(context) -> str | None` names who asked (a
            user id, a service name). If it raises, the record is written
            with `principal: null` and the error is logged.
        only_denied: Write only denials.
        engine_calls: `engine_calls(context) -> list[str]`, or a list of
            them: an engine adapter's `call_ids` (`Cerbos.call_ids`,
            `Cedar.call_ids`). If one raises, the error is logged and the
            record is written with the ids the others gave.
    """

    def __init__(
        self,
        write: Callable[[AuditRecord], object] | logging.Logger,
        *,
        principal: Principal | None = None,
        only_denied: bool = False,
        engine_calls: EngineCalls | Sequence[EngineCalls] | None = None,
    ) -> None:
        if isinstance(write, logging.Logger):
            write = _LoggerWriter(write)
        elif not callable(write):
            raise TypeError(
                f"AuditLog: write must be callable or a logging.Logger, got {write!r}"
            )
        if principal is not None and not callable(principal):
            raise TypeError(
                f"AuditLog: principal must be callable or None, got {principal!r}"
            )
        if engine_calls is None:
            engine_calls = ()
        elif callable(engine_calls):
            engine_calls = (engine_calls,)
        engine_calls = tuple(engine_calls)
        for source in engine_calls:
            if not callable(source):
                raise TypeError(f"AuditLog: engine_calls {source!r} is not callable")
        self._write = write
        self.engine_calls = engine_calls
        self.principal = principal
        self.only_denied = only_denied

    def __call__(self, decision: Decision) -> None:
        """Write the record of `decision` (nothing for an allow if `only_denied`)."""
        if self.only_denied and decision.allowed:
            return
        record = self.record(decision)
        try:
            self._write(record)
        except Exception:
            logger.exception(
                "strawberry-authz: AuditLog write failed; the record of %s at %s "
                "is lost",
                decision.coordinate,
                decision.path,
            )

    def record(self, decision: Decision) -> AuditRecord:
        """The audit record of `decision`, timestamped now."""
        record: AuditRecord = {
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "operation_name": decision.operation_name,
            "operation_type": decision.operation_type,
            "field": decision.coordinate,
            "path": list(decision.path),
            "phase": decision.phase,
            "effect": "allow" if decision.allowed else "deny",
            "source": decision.source,
            "code": decision.code,
            "duration": decision.duration,
        }
        if self.principal is not None:
            record["principal"] = self._principal_of(decision)
        if self.engine_calls:
            record["engine_calls"] = self._engine_calls_of(decision)
        return record

    def _engine_calls_of(self, decision: Decision) -> list[str]:
        found: list[str] = []
        for source in self.engine_calls:
            try:
                found.extend(str(call) for call in source(decision.context))
            except Exception:
                logger.exception(
                    "strawberry-authz: AuditLog engine_calls function raised; "
                    "recording the other engines' calls"
                )
        return found

    def _principal_of(self, decision: Decision) -> str | None:
        assert self.principal is not None
        try:
            found = self.principal(decision.context)
        except Exception:
            logger.exception(
                "strawberry-authz: AuditLog principal function raised; "
                "recording principal null"
            )
            return None
        if found is None or isinstance(found, str):
            return found
        logger.error(
            "strawberry-authz: AuditLog principal function returned %s, "
            "expected str or None; recording principal null",
            type(found).__name__,
        )
        return None

    def __repr__(self) -> str:
        return f"AuditLog({self._write!r}, only_denied={self.only_denied!r})"


class _LoggerWriter:
    """Writes a record to a logger as one JSON line at INFO."""

    __slots__ = ("logger",)

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def __call__(self, record: AuditRecord) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info(json.dumps(record))

    def __repr__(self) -> str:
        return repr(self.logger)
