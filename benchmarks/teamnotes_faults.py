"""A load run against the teamnotes example while its engine fails.

Run: ``python benchmarks/teamnotes_faults.py [--engine sqlite|spicedb|both]
[--clients 24] [--subscribers 10] [--normal 5] [--raise 10]
[--raise-writes 5] [--late 5] [--hang 10] [--recover 5]`` (SpiceDB needs
``SPICEDB_LIBRARY_PATH``, as ``scripts/test`` sets it; ``bash scripts/serve
--engine spicedb`` installs the engine).

It starts the real server (``python -m examples.teamnotes --fault-switch``,
uvicorn, a fresh SQLite file) and drives it with concurrent HTTP clients and
WebSocket subscribers, as the five demo users: creating, editing,
publishing, deleting and reading notes, racing a delete against a create,
and sending bodies that are not JSON. Meanwhile the engine works, then
raises on every call, then on its writes only, then makes its writes but
answers them too late, then hangs on every call, then works again
(``POST /_faults``). Every answer is checked against a model of what each
user may see, kept from the answers themselves, and SQLite is read after
every mutation. It prints, and exits 1 unless all four are 0:

- wrong answers: data a user may not see, a capability that lies, a change
  accepted that the policy refuses, an id handed out twice, a 5xx, or (with
  the engine working) a refusal of something allowed;
- raw texts: an error whose text is not one of the app's own messages;
- leaked events: a subscription event its subscriber may not see (another
  user's draft, another team's note, a note as it never was for them);
- partial writes: a mutation that failed yet changed SQLite, or succeeded
  and did not, or (in the final sweep) a note whose engine relationships
  disagree with its row (its author denied, its team let in to a draft).

It also prints how long events took to arrive after their `createNote` was
answered (p50, p99; and p99 of the events whose check did not overlap a
fault): an event waits for its subscriber's check, which waits for the
engine (at most 2 s per event), but a hung engine must not hold up the
event loop and everything else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
USERS = {  # name: (id, role, team)
    "alice": (1, "admin", 1),
    "bob": (2, "moderator", 2),
    "carol": (3, "user", 1),
    "dave": (4, "user", 2),
    "gus": (5, "guest", None),
}
TOKEN = {name: f"demo-{name}-token" for name in USERS}
SEEDED = [  # id, team, owner, title, body, draft
    (1, 1, 3, "Roadmap", "Ship the authz layer.", False),
    (2, 1, 3, "Salary bands", "Draft: not for the team yet.", True),
    (3, 2, 4, "Launch plan", "Landing page on Monday.", False),
    (4, 2, 4, "Pricing ideas", "Draft: maybe a free tier.", True),
    (5, 1, 1, "Welcome", "Read the handbook first.", False),
]
MESSAGES = {
    "FORBIDDEN": "You are not allowed to access this field.",
    "NOT_FOUND": "No note with this id is visible to you.",
    "UNAVAILABLE": "The notes service is unavailable; nothing was changed. Try again.",
    "UNAUTHENTICATED": "You must be logged in to access this field.",
    # A check that failed or timed out (not a policy's "no").
    "INTERNAL_SERVER_ERROR": "Authorization could not be checked; please try again.",
}
ENGINE_TIMEOUT = 2.0
NOTE_FIELDS = "id title draft body viewerCanEdit viewerCanDelete"
CREATE = (
    "mutation($team: Int!, $title: String!, $body: String!, $draft: Boolean!) "
    "{ createNote(teamId: $team, title: $title, body: $body, draft: $draft) "
    "{ id draft body } }"
)
UPDATE = (
    "mutation($id: Int!, $b: String!) { updateNote(id: $id, body: $b) { id body } }"
)
PUBLISH = "mutation($id: Int!) { publishNote(id: $id) { id draft body } }"
DELETE = "mutation($id: Int!) { deleteNote(id: $id) }"
NOTE = f"query($id: Int!) {{ note(id: $id) {{ {NOTE_FIELDS} }} }}"
TEAMS = "{ myTeams { id notes { id title draft body } } }"
EVENTS = "subscription { noteCreated { id title draft body } }"


@dataclass(frozen=True)
class State:
    title: str
    body: str
    draft: bool


@dataclass
class NoteModel:
    """A note's states, each valid from `since` (its change's start)."""

    id: int
    team: int
    owner: int
    states: list[tuple[float, float, State | None]]  # (start, end, state)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def current(self) -> State | None:
        return self.states[-1][2]

    def during(self, start: float, end: float) -> list[State | None]:
        """Every state the note may have had at some time in [start, end]."""
        found = []
        for index, (since, _, state) in enumerate(self.states):
            until = self.states[index + 1][1] if index + 1 < len(self.states) else None
            if since <= end and (until is None or until >= start):
                found.append(state)
        return found


def may_see(user: str, note: NoteModel, state: State | None) -> bool:
    user_id, role, team = USERS[user]
    if state is None:
        return False
    if note.owner == user_id:
        return True
    if state.draft:
        return False
    return team == note.team or role in ("moderator", "admin")


def may_see_event(user: str, note: NoteModel, state: State | None) -> bool:
    user_id, role, team = USERS[user]
    if state is None:
        return False
    if note.owner == user_id:
        return True
    return not state.draft and (team == note.team or role == "admin")


def may_edit(user: str, note: NoteModel, state: State) -> bool:
    user_id, role, _ = USERS[user]
    return note.owner == user_id or (role == "admin" and not state.draft)


def may_delete(user: str, note: NoteModel) -> bool:
    user_id, role, _ = USERS[user]
    return note.owner == user_id or role == "admin"


@dataclass
class Tally:
    requests: int = 0
    events: int = 0
    wrong: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    refused_during_faults: int = 0
    changes: int = 0
    delays: list[float] = field(default_factory=list)  # create answered -> event
    calm: list[float] = field(default_factory=list)  # the same, engine working

    def figures(self) -> dict[str, int]:
        delays = sorted(self.delays) or [0.0]
        calm = sorted(self.calm) or [0.0]
        return {
            "event delay p50 ms": round(1000 * delays[len(delays) // 2]),
            "event delay p99 ms": round(1000 * delays[int(len(delays) * 0.99)]),
            "p99 with the engine working ms": round(1000 * calm[int(len(calm) * 0.99)]),
            "requests": self.requests,
            "accepted changes": self.changes,
            "refused during faults": self.refused_during_faults,
            "events delivered": self.events,
            "wrong answers": len(self.wrong),
            "raw texts": len(self.raw),
            "leaked events": len(self.leaked),
            "partial writes": len(self.partial),
        }


class Run:
    def __init__(self, server: Server, options: argparse.Namespace) -> None:
        self.server = server
        self.options = options
        self.tally = Tally()
        self.notes: dict[int, NoteModel] = {}
        self.ids_seen: set[int] = set()
        self.created: dict[int, float] = {}  # when each create was answered
        self.faulty: list[tuple[float, float]] = []  # engine not answering
        self.stop = False
        self.received: list[tuple[str, float, dict[str, Any]]] = []
        self.clock = time.monotonic
        self.began = self.clock()
        for note_id, team, owner, title, body, draft in SEEDED:
            self.notes[note_id] = NoteModel(
                note_id, team, owner, [(0.0, 0.0, State(title, body, draft))]
            )
            self.ids_seen.add(note_id)

    def engine_was_down(self, start: float, end: float) -> bool:
        return any(s <= end and e >= start for s, e in self.faulty)

    # -- requests ------------------------------------------------------------------

    async def post(
        self, client: httpx.AsyncClient, user: str, query: str, **variables: Any
    ) -> tuple[dict[str, Any], float, float]:
        start = self.clock()
        self.tally.requests += 1
        try:
            response = await client.post(
                self.server.url,
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {TOKEN[user]}"},
            )
        except httpx.TransportError as error:
            self.tally.wrong.append(f"no answer to {query[:40]}: {error!r}")
            return {}, start, self.clock()
        end = self.clock()
        if response.status_code >= 500:
            self.tally.wrong.append(f"{response.status_code} for {query[:40]}")
            return {}, start, end
        result: dict[str, Any] = response.json()
        failed = {"INTERNAL_SERVER_ERROR", "UNAVAILABLE"} & set(self.refused(result))
        if failed:
            # As a client should: back off a moment before trying again (and
            # so leave this process's loop to the subscribers it also runs).
            await asyncio.sleep(0.1)
        for problem in result.get("errors", []):
            code = str((problem.get("extensions") or {}).get("code"))
            if MESSAGES.get(code) != problem.get("message"):
                self.tally.raw.append(f"{code}: {problem.get('message')!r}")
        return result, start, end

    def refused(self, result: dict[str, Any]) -> list[str]:
        return [
            (e.get("extensions") or {}).get("code", "?")
            for e in result.get("errors", [])
        ]

    def expect_refusal(
        self, what: str, result: dict[str, Any], allowed: bool, start: float, end: float
    ) -> None:
        """`result` refused the change: wrong unless the engine was down."""
        if not allowed:
            return
        if self.engine_was_down(start - 0.5, end + 0.5):
            self.tally.refused_during_faults += 1
        else:
            since = start - self.began
            self.tally.wrong.append(
                f"{what} refused at {since:.1f}s: {self.refused(result)}"
            )

    # -- the users' actions --------------------------------------------------------

    async def create(
        self, client: httpx.AsyncClient, user: str, draft: bool
    ) -> int | None:
        user_id, _, team = USERS[user]
        target = team or 1
        title = f"n-{random.getrandbits(48):x}"
        result, start, end = await self.post(
            client, user, CREATE, team=target, title=title, body=title, draft=draft
        )
        row = self.server.row_titled(title)
        created = (result.get("data") or {}).get("createNote")
        if created is None:
            self.expect_refusal("createNote", result, team == target, start, end)
            if row is not None:
                self.tally.partial.append(f"createNote refused, row {row} written")
            return None
        if team != target:
            self.tally.wrong.append(f"{user} created in team {target}")
        note_id = created["id"]
        if note_id in self.ids_seen:
            self.tally.wrong.append(f"id {note_id} handed out twice")
        self.ids_seen.add(note_id)
        if row is None or row[0] != note_id:
            self.tally.partial.append(f"createNote {note_id} answered, row {row}")
        self.tally.changes += 1
        self.notes[note_id] = NoteModel(
            note_id, target, user_id, [(start, end, State(title, title, draft))]
        )
        self.created[note_id] = end
        return int(note_id)

    async def update(
        self, client: httpx.AsyncClient, user: str, note: NoteModel
    ) -> None:
        async with note.lock:
            state = note.current()
            if state is None:
                return
            body = f"b-{random.getrandbits(32):x}"
            result, start, end = await self.post(
                client, user, UPDATE, id=note.id, b=body
            )
            allowed = may_edit(user, note, state)
            answer = (result.get("data") or {}).get("updateNote")
            row = self.server.note_row(note.id)
            if answer is None:
                self.expect_refusal("updateNote", result, allowed, start, end)
                if row is None or row[1] != state.body:
                    self.tally.partial.append(
                        f"updateNote {note.id} refused, row {row}"
                    )
                return
            if not allowed:
                self.tally.wrong.append(f"{user} updated note {note.id} ({state})")
            if answer["body"] != body or row is None or row[1] != body:
                self.tally.partial.append(f"updateNote {note.id} answered, row {row}")
            self.tally.changes += 1
            note.states.append((start, end, State(state.title, body, state.draft)))

    async def publish(
        self, client: httpx.AsyncClient, user: str, note: NoteModel
    ) -> None:
        async with note.lock:
            state = note.current()
            if state is None:
                return
            result, start, end = await self.post(client, user, PUBLISH, id=note.id)
            allowed = note.owner == USERS[user][0]
            answer = (result.get("data") or {}).get("publishNote")
            row = self.server.note_row(note.id)
            if answer is None:
                self.expect_refusal("publishNote", result, allowed, start, end)
                if row is None or bool(row[2]) != state.draft:
                    self.tally.partial.append(
                        f"publishNote {note.id} refused, row {row}"
                    )
                return
            if not allowed:
                self.tally.wrong.append(f"{user} published note {note.id}")
            if answer["draft"] or row is None or row[2]:
                self.tally.partial.append(f"publishNote {note.id} answered, row {row}")
            if state.draft:
                self.tally.changes += 1
                note.states.append((start, end, State(state.title, state.body, False)))

    async def delete(
        self, client: httpx.AsyncClient, user: str, note: NoteModel
    ) -> None:
        async with note.lock:
            state = note.current()
            if state is None:
                return
            result, start, end = await self.post(client, user, DELETE, id=note.id)
            allowed = may_delete(user, note)
            answer = (result.get("data") or {}).get("deleteNote")
            row = self.server.note_row(note.id)
            if answer is None:
                self.expect_refusal("deleteNote", result, allowed, start, end)
                if row is None:
                    self.tally.partial.append(f"deleteNote {note.id} refused, row gone")
                return
            if not allowed:
                self.tally.wrong.append(f"{user} deleted note {note.id}")
            if answer is not True or row is not None:
                self.tally.partial.append(f"deleteNote {note.id} answered, row {row}")
            self.tally.changes += 1
            note.states.append((start, end, None))

    async def read(self, client: httpx.AsyncClient, user: str, note: NoteModel) -> None:
        result, start, end = await self.post(client, user, NOTE, id=note.id)
        got = (result.get("data") or {}).get("note")
        states = note.during(start, end)
        if got is None:
            if all(may_see(user, note, s) for s in states):
                self.expect_refusal(f"note({note.id})", result, True, start, end)
            return
        matching = [
            s
            for s in states
            if s is not None
            and may_see(user, note, s)
            and (s.title, s.body, s.draft) == (got["title"], got["body"], got["draft"])
        ]
        if not matching:
            self.tally.wrong.append(f"{user} read note {note.id} as {got}")
            return
        if got["viewerCanEdit"] and not any(may_edit(user, note, s) for s in matching):
            self.tally.wrong.append(f"{user} told they may edit {note.id}")
        if got["viewerCanDelete"] and not may_delete(user, note):
            self.tally.wrong.append(f"{user} told they may delete {note.id}")

    async def read_teams(self, client: httpx.AsyncClient, user: str) -> None:
        result, start, end = await self.post(client, user, TEAMS)
        for team in (result.get("data") or {}).get("myTeams") or []:
            if team["id"] != USERS[user][2]:
                self.tally.wrong.append(f"{user} listed team {team['id']}")
            for got in team["notes"] or []:
                note = self.notes.get(got["id"])
                if note is None:  # created by a request not answered yet
                    continue
                seen = State(got["title"], got["body"], got["draft"])
                if seen not in note.during(start, end) or seen.draft:
                    self.tally.wrong.append(f"{user} listed {got}")

    async def bad_body(self, client: httpx.AsyncClient) -> None:
        body = random.choice(
            [b'{"query": "{ me { name } }"\xff}', b"[" * 100_000 + b"]" * 100_000]
        )
        self.tally.requests += 1
        try:
            response = await client.post(
                self.server.url,
                content=body,
                headers={"Content-Type": "application/json"},
            )
        except httpx.TransportError as error:
            self.tally.wrong.append(f"bad body: {error!r}")
            return
        if response.status_code != 400:
            self.tally.wrong.append(f"bad body answered {response.status_code}")

    async def race(self, client: httpx.AsyncClient) -> None:
        """Carol deletes a fresh draft while dave creates one (the issue's race)."""
        mine = await self.create(client, "carol", draft=True)
        if mine is None:
            return
        await asyncio.gather(
            self.delete(client, "carol", self.notes[mine]),
            self.create(client, "dave", draft=True),
        )

    async def client(self, seed: int) -> None:
        rng = random.Random(seed)
        async with httpx.AsyncClient(timeout=30) as client:
            while not self.stop:
                user = rng.choice(list(USERS))
                live = [n for n in self.notes.values() if n.current() is not None]
                note = rng.choice(live)
                action = rng.random()
                if action < 0.15:
                    await self.create(client, user, draft=rng.random() < 0.5)
                elif action < 0.30:
                    await self.update(client, user, note)
                elif action < 0.40:
                    await self.publish(client, user, note)
                elif action < 0.50 and note.id > 5:
                    await self.delete(client, user, note)
                elif action < 0.80:
                    await self.read(client, user, note)
                elif action < 0.92:
                    await self.read_teams(client, user)
                elif action < 0.97:
                    await self.race(client)
                else:
                    await self.bad_body(client)

    async def subscriber(self, user: str) -> None:
        async with connect(
            self.server.ws_url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Bearer {TOKEN[user]}"},
        ) as socket_:
            await socket_.send(json.dumps({"type": "connection_init", "payload": {}}))
            await socket_.recv()
            await socket_.send(
                json.dumps(
                    {"id": "1", "type": "subscribe", "payload": {"query": EVENTS}}
                )
            )
            while True:
                message = json.loads(await socket_.recv())
                received = self.clock()
                payload = message.get("payload") or {}
                if isinstance(payload, dict):
                    for error in payload.get("errors") or []:
                        self.tally.raw.append(f"event error {error}")
                    event = (payload.get("data") or {}).get("noteCreated")
                    if event is not None:
                        self.received.append((user, received, event))

    def check_events(self) -> None:
        for user, received, event in self.received:
            self.tally.events += 1
            note = self.notes.get(event["id"])
            if note is None:
                self.tally.leaked.append(f"{user} got unknown note {event}")
                continue
            if event["id"] in self.created:
                created = self.created[event["id"]]
                delay = max(0.0, received - created)
                self.tally.delays.append(delay)
                if not self.engine_was_down(created - 1, received):
                    self.tally.calm.append(delay)
            seen = State(event["title"], event["body"], event["draft"])
            if not any(
                s == seen and may_see_event(user, note, s)
                for s in note.during(0.0, received)
            ):
                self.tally.leaked.append(f"{user} got {event} of {note}")

    # -- the final sweep -------------------------------------------------------------

    async def sweep(self) -> None:
        """With the engine working: SQLite's rows and the engine's answers agree."""
        async with httpx.AsyncClient(timeout=30) as client:
            for note in self.notes.values():
                state = note.current()
                row = self.server.note_row(note.id)
                if (state is None) != (row is None) or (
                    state is not None
                    and row is not None
                    and (row[1], bool(row[2])) != (state.body, state.draft)
                ):
                    self.tally.partial.append(
                        f"note {note.id}: row {row}, model {state}"
                    )
                    continue
                if state is None:
                    continue
                owner = next(n for n, u in USERS.items() if u[0] == note.owner)
                result, _, _ = await self.post(client, owner, NOTE, id=note.id)
                got = (result.get("data") or {}).get("note")
                if got is None or not got["viewerCanEdit"]:
                    self.tally.partial.append(f"note {note.id}: author gets {result}")
                for user in USERS:
                    if user != owner:
                        await self.read(client, user, note)
            with sqlite3.connect(self.server.db_path) as db:
                for (note_id,) in db.execute("SELECT id FROM notes"):
                    if note_id not in self.notes:
                        self.tally.partial.append(f"row {note_id} nobody created")

    async def faults(self, mode: str, on: str = "all") -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(
                f"{self.server.base_url}/_faults", json={"mode": mode, "on": on}
            )
            response.raise_for_status()

    async def main(self) -> Tally:
        options = self.options
        users = list(USERS)
        listeners = [
            asyncio.create_task(self.subscriber(users[i % len(users)]))
            for i in range(options.subscribers)
        ]
        await asyncio.sleep(0.5)
        clients = [asyncio.create_task(self.client(i)) for i in range(options.clients)]
        await asyncio.sleep(options.normal)
        began = self.clock()
        self.faulty.append((began, float("inf")))
        await self.faults("raise")
        await asyncio.sleep(options.raise_)
        await self.faults("raise", on="writes")  # checks pass, writes fail
        await asyncio.sleep(options.raise_writes)
        await self.faults("late", on="writes")  # writes made, answers too late
        await asyncio.sleep(options.late)
        await self.faults("hang")
        await asyncio.sleep(options.hang)
        await self.faults("off")
        self.faulty[-1] = (began, self.clock() + ENGINE_TIMEOUT + 1)
        ended = self.clock() - self.began
        print(f"  faults from {began - self.began:.1f}s to {ended:.1f}s")
        await asyncio.sleep(options.recover)
        self.stop = True
        await asyncio.gather(*clients)
        await asyncio.sleep(1)  # the last events arrive
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        self.check_events()
        await self.sweep()
        return self.tally


class Server:
    def __init__(self, engine: str, folder: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.engine = engine
        self.db_path = folder / "notes.db"
        self.log = folder / "server.log"
        self.base_url = f"http://127.0.0.1:{port}"
        self.url = f"{self.base_url}/graphql"
        self.ws_url = f"ws://127.0.0.1:{port}/graphql"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "examples.teamnotes",
                    "--port",
                    str(port),
                    "--db",
                    str(self.db_path),
                    "--engine",
                    engine,
                    "--fault-switch",
                ],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.close()
        raise RuntimeError(f"server did not start:\n{self.log.read_text()}")

    def note_row(self, note_id: int) -> tuple[int, str, int] | None:
        with sqlite3.connect(self.db_path) as db:
            row = db.execute(
                "SELECT id, body, draft FROM notes WHERE id = ?", (note_id,)
            ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def row_titled(self, title: str) -> tuple[int, str, int] | None:
        with sqlite3.connect(self.db_path) as db:
            row = db.execute(
                "SELECT id, body, draft FROM notes WHERE title = ?", (title,)
            ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def run_one(engine: str, options: argparse.Namespace) -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix=f"teamnotes-faults-{engine}-") as folder:
        server = Server(engine, Path(folder))
        try:
            random.seed(options.seed)
            tally = asyncio.run(Run(server, options).main())
        finally:
            server.close()
    for kind in ("wrong", "raw", "leaked", "partial"):
        for line in getattr(tally, kind)[:5]:
            print(f"  {kind}: {line}")
    return tally.figures()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--engine", choices=("sqlite", "spicedb", "both"), default="both"
    )
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--normal", type=float, default=5)
    parser.add_argument("--raise", dest="raise_", type=float, default=10)
    parser.add_argument("--raise-writes", type=float, default=5)
    parser.add_argument("--late", type=float, default=5)
    parser.add_argument("--hang", type=float, default=10)
    parser.add_argument("--recover", type=float, default=5)
    parser.add_argument("--seed", type=int, default=17)
    options = parser.parse_args()
    if options.engine != "sqlite" and not os.environ.get("SPICEDB_LIBRARY_PATH"):
        print("SPICEDB_LIBRARY_PATH is not set (source scripts/spicedb.sh)")
        return 2
    engines = ("sqlite", "spicedb") if options.engine == "both" else (options.engine,)
    failed = False
    for engine in engines:
        started = time.monotonic()
        figures = run_one(engine, options)
        took = time.monotonic() - started
        print(f"{engine}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
        print(
            f"  ({took:.0f} s, {options.clients} clients, "
            f"{options.subscribers} subscribers)"
        )
        failed |= any(
            figures[k]
            for k in ("wrong answers", "raw texts", "leaked events", "partial writes")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
