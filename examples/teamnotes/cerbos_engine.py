"""The `can` scope answered by a Cerbos server (`--engine cerbos`).

The policies are YAML files beside this module (`cerbos/`, with their own
test suite, run by `cerbos compile` in `scripts/test`); the server is the
Cerbos binary (`CERBOS_BINARY`, fetched by `scripts/cerbos.sh`; `bash
scripts/serve --engine cerbos` does both), started by this engine on free
loopback ports and stopped with it.

Cerbos keeps no data: SQLite stays the one source. Each request's principal
carries the viewer's id (`uid`) and teams (`teams`), read from SQLite; each
note checked is sent with its `owner`, `team` and `draft`, read from its row.
So there is nothing to write: a mutation's engine write is a no-op, and
the next check sees the new row.

The example's `can` values become Cerbos questions here:

- `"team:1#member"`: may the principal `member` team 1;
- `"note:5#view"` (or `["note", 5, "view"]`): the note's row, as a
  `Resource.check`; a note that does not exist is denied without a call;
- `["note", Column("id"), "view"]`, filtering `notes`: `Resource.each`,
  which `PlanResources` answers with a condition on the notes' columns.

Every call (the SQLite reads it needs, `CheckResources`, `PlanResources`)
runs through `EngineCalls` (`calls.py`): on a thread, with a deadline. A
failure or a time-out denies (the adapter logs why); nothing from Cerbos
reaches a client.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cerbos.sdk.grpc.client import CerbosClient

from strawberry_authz import BatchAnswers, BatchScope, Column
from strawberry_authz.cerbos import Cerbos
from strawberry_authz.engines import Resource

from .calls import EngineCalls
from .db import Database, NoteRow
from .engine import EngineName, _parse

POLICIES = Path(__file__).parent / "cerbos"
CONTEXT_PRINCIPAL = "cerbos_principal"
STARTUP_SECONDS = 20.0

NOTES = Resource(
    "note", attributes={"owner": "owner_id", "team": "team_id", "draft": "draft"}
)
TEAMS = Resource("team", attributes={"number": "id"})

log = logging.getLogger("examples.teamnotes.cerbos")


@dataclass(frozen=True)
class _Team:
    id: int


class CerbosEngine:
    """Checks and filters answered by a Cerbos server this engine runs."""

    name: EngineName = "cerbos"

    def __init__(self, db: Database, calls: EngineCalls) -> None:
        self.calls = calls
        self._db = db
        self._server = CerbosProcess()
        self._client = CerbosClient(self._server.address)
        self.cerbos = Cerbos(_CallsOnThreads(self._client, calls), principal=_principal)
        log.info(
            "Cerbos: serving the policies of %s at %s", POLICIES, self._server.address
        )

    def can(self, context: dict[str, Any]) -> object:
        inner = self.cerbos.scope(context)
        calls = self.calls
        db = self._db
        user = context["user"]
        who = None if user is None else f"user:{user.id}"

        async def principal() -> None:
            # The viewer's teams, once per request, from SQLite (on a thread).
            if user is not None and CONTEXT_PRINCIPAL not in context:
                teams = await calls.run("check", lambda: db.teams_of(user.id), who)
                context[CONTEXT_PRINCIPAL] = {
                    "id": str(user.id),
                    "roles": ["user"],
                    "attributes": {"uid": user.id, "teams": [t for t, _ in teams]},
                }

        async def check_many(values: list[object]) -> BatchAnswers:
            answers = BatchAnswers([False] * len(values))
            if user is None:
                return answers
            await principal()
            asked = await calls.run("check", lambda: _questions(db, values), who)
            # Malformed values deny alone; a note without a row is denied
            # without asking; the rest go to Cerbos in one batch.
            where = [i for i, q in enumerate(asked) if _is_question(q)]
            for index, question in enumerate(asked):
                if isinstance(question, Exception):
                    answers[index] = question
            if where:
                answered = inner.load_fn([asked[i] for i in where])
                if not isinstance(answered, list):
                    answered = await answered
                for index, answer in zip(where, answered, strict=True):
                    answers[index] = answer
                # The Cerbos call ids, for the decision log's reasons.
                answers.call_ids = list(getattr(answered, "call_ids", []))
            return answers

        async def passing(value: Any) -> Any:
            if user is None:
                return False
            kind, column, permission = value
            if kind != "note" or type(column) is not Column:
                raise ValueError(f"no such filter: can {value!r}")
            await principal()
            assert inner.passing is not None
            planned = inner.passing(NOTES.each(permission))
            return await planned if hasattr(planned, "__await__") else planned

        return BatchScope(check_many, passing=passing)

    async def note_created(self, context: dict[str, Any], note: NoteRow) -> None:
        """Nothing to write: each check reads the note's row."""

    async def note_published(self, context: dict[str, Any], note: NoteRow) -> None:
        """Nothing to write: each check reads the note's row."""

    async def note_deleted(self, context: dict[str, Any], note_id: int) -> None:
        """Nothing to write: a note without a row is denied."""

    def close(self) -> None:
        self.calls.close()
        self._client.close()
        self._server.stop()


def _principal(context: dict[str, Any]) -> dict[str, Any] | None:
    principal: dict[str, Any] | None = context.get(CONTEXT_PRINCIPAL)
    return principal


def _is_question(question: object) -> bool:
    return question is not None and not isinstance(question, Exception)


def _questions(db: Database, values: Sequence[object]) -> list[Any]:
    """Each value's Cerbos question; None for a note that does not exist
    (denied without asking), an exception for a malformed value (denied)."""
    questions: list[Any] = []
    for value in values:
        try:
            kind, object_id, permission = _parse(value)
        except ValueError as error:
            questions.append(error)
            continue
        if kind == "team":
            questions.append(TEAMS.check(_Team(object_id), permission))
        elif kind == "note":
            note = db.note(object_id)
            questions.append(None if note is None else NOTES.check(note, permission))
        else:
            questions.append(ValueError(f"no such check: can {value!r}"))
    return questions


class _CallsOnThreads:
    """The client the Cerbos adapter calls: each call on an engine thread."""

    def __init__(self, client: CerbosClient, calls: EngineCalls) -> None:
        self._client = client
        self._calls = calls

    def check_resources(self, **request: Any) -> Any:
        who = f"user:{request['principal'].id}"
        return self._calls.run(
            "check", lambda: self._client.check_resources(**request), who
        )

    def plan_resources(self, *args: Any, **request: Any) -> Any:
        who = f"user:{args[1].id}"
        return self._calls.run(
            "check", lambda: self._client.plan_resources(*args, **request), who
        )


class CerbosProcess:
    """The Cerbos server binary, serving `POLICIES` on free loopback ports."""

    def __init__(self) -> None:
        binary = os.environ.get("CERBOS_BINARY")
        if not binary or not Path(binary).is_file():
            raise RuntimeError(
                f"--engine cerbos needs the Cerbos binary (CERBOS_BINARY={binary!r}); "
                "start the server with `bash scripts/serve --engine cerbos`"
            )
        self.home = Path(tempfile.mkdtemp(prefix="teamnotes-cerbos-"))
        grpc_port, http_port = _free_port(), _free_port()
        self.address = f"127.0.0.1:{grpc_port}"
        config = self.home / "config.yaml"
        config.write_text(
            "server:\n"
            f'  httpListenAddr: "127.0.0.1:{http_port}"\n'
            f'  grpcListenAddr: "127.0.0.1:{grpc_port}"\n'
            "storage:\n  driver: disk\n  disk:\n"
            f'    directory: "{POLICIES}"\n    watchForChanges: false\n'
            "telemetry:\n  disabled: true\n"
        )
        with (self.home / "cerbos.log").open("wb") as output:
            self.process = subprocess.Popen(
                [binary, "server", f"--config={config}", "--log-level=warn"],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", grpc_port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        text = (self.home / "cerbos.log").read_text(errors="replace")
        self.stop()
        raise RuntimeError(f"Cerbos did not start:\n{text}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.home, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
