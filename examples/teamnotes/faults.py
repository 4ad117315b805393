"""A fault switch for the engine, for tests only (`--fault-switch`).

With the switch on, `POST /_faults` with `{"mode": ..., "on": ..., "subject": ...}`
makes the engine's calls (`calls.py`) fail as a real engine does:

- `mode`: `"raise"` (each call raises at once, with the kind of text a
  broken client raises: it must never reach a client), `"hang"` (each call
  blocks its thread until the mode changes, then raises), `"late"` (each
  call is made, but its answer is held until the mode changes: the engine
  did the work and its caller does not know), `"off"`;
- `on`: `"all"` (the default), `"checks"` or `"writes"`;
- `subject`: only the checks made for this subject (`"user:2"`).

The end-to-end tests (`tests/e2e/test_teamnotes_faults.py`) and the load
run with faults (`benchmarks/teamnotes_faults.py`) drive it. The route does
not exist unless the server was started with `--fault-switch`: it lets
anyone who can reach the server break it.
"""

from __future__ import annotations

import threading
from typing import Literal

from starlette.requests import Request
from starlette.responses import JSONResponse

Mode = Literal["off", "raise", "hang", "late"]
MODES: tuple[Mode, ...] = ("off", "raise", "hang", "late")
TARGETS = ("all", "checks", "writes")
# A hung call gives up after this long even if nobody switches it off.
LONGEST_HANG = 60.0


class EngineFault(Exception):
    """What a failing engine raised (text as the issue saw it: never sent)."""


class EngineFaults:
    """The switch: what the engine's calls do now."""

    def __init__(self) -> None:
        self.mode: Mode = "off"
        self.on = "all"
        self.subject: str | None = None
        self._changed = threading.Condition()

    def set(self, mode: Mode, on: str = "all", subject: str | None = None) -> None:
        """Switch; calls hung by the previous mode are released (and raise)."""
        if mode not in MODES or on not in TARGETS:
            raise ValueError(f"mode {mode!r} / on {on!r}: expected {MODES} / {TARGETS}")
        with self._changed:
            self.mode, self.on, self.subject = mode, on, subject
            self._changed.notify_all()

    def strike(self, kind: str, subject: str | None) -> None:
        """Called in the engine call's thread before the call: fail if switched."""
        with self._changed:
            if self.mode == "late" or not self._applies(kind, subject):
                return
            if self.mode == "hang":
                self._changed.wait_for(lambda: self.mode != "hang", LONGEST_HANG)
                raise EngineFault(f"engine hung ({kind})")
        raise EngineFault("argument 1: TypeError: wrong type")

    def answered(self, kind: str, subject: str | None) -> None:
        """Called in the thread after the call: hold its answer if "late"."""
        with self._changed:
            if self.mode == "late" and self._applies(kind, subject):
                self._changed.wait_for(lambda: self.mode != "late", LONGEST_HANG)

    def _applies(self, kind: str, subject: str | None) -> bool:
        if self.mode == "off":
            return False
        if self.on != "all" and self.on != f"{kind}s":
            return False
        return self.subject is None or (kind == "check" and subject == self.subject)

    async def endpoint(self, request: Request) -> JSONResponse:
        """`POST /_faults`: switch, answer the new state."""
        body = await request.json()
        try:
            self.set(
                body.get("mode", "off"), body.get("on", "all"), body.get("subject")
            )
        except ValueError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse({"mode": self.mode, "on": self.on, "subject": self.subject})
