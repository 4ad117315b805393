"""End to end: the example server as a real process, over HTTP and WebSocket.

The server runs `python -m examples.teamnotes` on a free loopback port with
a fresh SQLite file; every request below goes through uvicorn.
"""

import asyncio
import json
import shlex
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {
    name: f"demo-{name}-token" for name in ("alice", "bob", "carol", "dave", "gus")
}


class Server:
    def __init__(self, port: int, db_path: Path, output: Path) -> None:
        self.port = port
        self.db_path = db_path
        self.output = output
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.ws_url = f"ws://127.0.0.1:{port}/graphql"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "examples.teamnotes",
                    "--port",
                    str(self.port),
                    "--db",
                    str(self.db_path),
                ],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.output.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None

    def query(
        self, query: str, user: str | None = None, **variables: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {TOKENS[user]}"} if user else {}
        response = httpx.post(
            self.url,
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=10,
        )
        result: dict[str, Any] = response.json()
        return result

    def note_body(self, note_id: int) -> str:
        with sqlite3.connect(self.db_path) as db:
            row = db.execute(
                "SELECT body FROM notes WHERE id = ?", (note_id,)
            ).fetchone()
        return str(row[0])

    def count(self, table: str) -> int:
        with sqlite3.connect(self.db_path) as db:
            return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("teamnotes")
    running = Server(free_port(), folder / "notes.db", folder / "server.log")
    running.start()
    yield running
    running.stop()


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


# -- startup -------------------------------------------------------------------


def test_startup_prints_a_curl_line_that_returns_data(server: Server) -> None:
    lines = [
        line.strip()
        for line in server.output.read_text().splitlines()
        if line.strip().startswith("curl") and TOKENS["carol"] in line
    ]
    assert lines, server.output.read_text()
    words = shlex.split(lines[0])
    body = json.loads(words[words.index("-d") + 1])
    headers = dict(
        words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H"
    )
    response = httpx.post(words[2], json=body, headers=headers, timeout=10)
    data = response.json()["data"]
    assert data["me"] == {"name": "carol", "role": "user"}
    assert [team["name"] for team in data["myTeams"]] == ["core"]


def test_restart_keeps_the_data(tmp_path: Path) -> None:
    restarted = Server(free_port(), tmp_path / "notes.db", tmp_path / "log")
    restarted.start()
    try:
        created = restarted.query(
            'mutation { createNote(teamId: 1, title: "Kept", body: "b") { id } }',
            "carol",
        )
        assert "errors" not in created
    finally:
        restarted.stop()
    restarted.start()
    try:
        titles = restarted.query("{ publicNotes { title } }")["data"]["publicNotes"]
        assert {"title": "Kept"} in titles
        assert restarted.count("users") == 5  # seeded once, not twice
    finally:
        restarted.stop()


# -- queries -------------------------------------------------------------------


def test_anonymous_needs_login_except_on_the_public_field(server: Server) -> None:
    public = server.query("{ publicNotes { title } }")
    assert "errors" not in public
    assert {"title": "Roadmap"} in public["data"]["publicNotes"]

    private = server.query("{ me { name } }")
    assert private["data"] == {"me": None}
    assert codes(private) == ["UNAUTHENTICATED"]


def test_each_user_reads_the_notes_of_their_own_teams_only(server: Server) -> None:
    query = "{ myTeams { name notes { title body } } }"
    carol = server.query(query, "carol")["data"]["myTeams"]
    dave = server.query(query, "dave")["data"]["myTeams"]
    assert [team["name"] for team in carol] == ["core"]
    assert {"title": "Roadmap", "body": "Ship the authz layer."} in carol[0]["notes"]
    assert [team["name"] for team in dave] == ["growth"]
    assert all(note["title"] != "Roadmap" for note in dave[0]["notes"])


def test_team_by_id_is_for_members_or_admins(server: Server) -> None:
    query = "query($id: Int!) { team(id: $id) { name notes { title } } }"
    assert server.query(query, "alice", id=2)["data"]["team"]["name"] == "growth"
    denied = server.query(query, "carol", id=2)
    assert denied["data"] == {"team": None}
    assert codes(denied) == ["FORBIDDEN"]


def test_a_fetched_note_is_returned_only_to_owner_team_or_moderator(
    server: Server,
) -> None:
    query = "query($id: Int!) { note(id: $id) { title body } }"
    assert server.query(query, "carol", id=1)["data"]["note"]["title"] == "Roadmap"
    assert server.query(query, "bob", id=1)["data"]["note"]["body"] == (
        "Ship the authz layer."
    )
    denied = server.query(query, "dave", id=1)
    assert denied["data"] == {"note": None}
    assert codes(denied) == ["FORBIDDEN"]
    assert "Roadmap" not in json.dumps(denied)


def test_drafts_fall_back_to_an_empty_list_for_guests(server: Server) -> None:
    query = "{ myDrafts { title body } }"
    guest = server.query(query, "gus")
    assert guest == {"data": {"myDrafts": []}}
    carol = server.query(query, "carol")["data"]["myDrafts"]
    assert carol == [{"title": "Salary bands", "body": "Draft: not for the team yet."}]


def test_photos_are_granted_to_me_but_not_through_team_members(server: Server) -> None:
    own = server.query("{ me { photos { url } } }", "carol")
    assert own["data"]["me"]["photos"] == [{"url": "https://photos.example/carol.jpg"}]
    query = "{ myTeams { members { name photos { url } } } }"
    member = server.query(query, "carol")
    assert "FORBIDDEN" in codes(member)
    assert "alice.jpg" not in json.dumps(member)
    admin = server.query(query, "alice")
    assert "errors" not in admin


def test_user_list_is_for_moderators(server: Server) -> None:
    assert codes(server.query("{ users { name } }", "carol")) == ["FORBIDDEN"]
    names = [
        u["name"] for u in server.query("{ users { name } }", "bob")["data"]["users"]
    ]
    assert names == ["alice", "bob", "carol", "dave", "gus"]


# -- mutations -----------------------------------------------------------------


def test_a_non_owner_cannot_change_a_note(server: Server) -> None:
    before = server.note_body(1)
    denied = server.query(
        'mutation { updateNote(id: 1, body: "hacked") { body } }', "dave"
    )
    assert codes(denied) == ["FORBIDDEN"]
    assert server.note_body(1) == before


def test_the_owner_can_change_their_note(server: Server) -> None:
    changed = server.query(
        'mutation { updateNote(id: 5, body: "Read it twice.") { body } }', "alice"
    )
    assert changed["data"] == {"updateNote": {"body": "Read it twice."}}
    assert server.note_body(5) == "Read it twice."


def test_creating_a_note_in_another_team_is_denied_and_writes_nothing(
    server: Server,
) -> None:
    before = server.count("notes")
    denied = server.query(
        'mutation { createNote(teamId: 2, title: "x", body: "y") { id } }', "carol"
    )
    assert codes(denied) == ["FORBIDDEN"]
    assert server.count("notes") == before


# -- subscriptions -------------------------------------------------------------

SUBSCRIBE = "subscription { noteCreated { title body } }"


async def subscribe(server: Server, user: str | None) -> ClientConnection:
    headers = {"Authorization": f"Bearer {TOKENS[user]}"} if user else {}
    socket_ = await connect(
        server.ws_url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=5,
    )
    await socket_.send(json.dumps({"type": "connection_init", "payload": {}}))
    ack = json.loads(await asyncio.wait_for(socket_.recv(), 5))
    assert ack["type"] == "connection_ack"
    await socket_.send(
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
    )
    return socket_


async def next_message(socket_: ClientConnection, timeout: float) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(
        await asyncio.wait_for(socket_.recv(), timeout)
    )
    return message


async def create(server: Server, user: str, team: int, title: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            server.url,
            json={
                "query": "mutation($t: Int!, $title: String!) "
                "{ createNote(teamId: $t, title: $title, body: $title) { id } }",
                "variables": {"t": team, "title": title},
            },
            headers={"Authorization": f"Bearer {TOKENS[user]}"},
        )
    assert "errors" not in response.json(), response.json()


async def test_subscribers_receive_only_the_notes_they_may_see(server: Server) -> None:
    carol = await subscribe(server, "carol")
    dave = await subscribe(server, "dave")
    try:
        await asyncio.sleep(0.3)  # both subscriptions are registered
        await create(server, "carol", 1, "For core")
        await create(server, "dave", 2, "For growth")

        carols = await next_message(carol, 5)
        assert carols["type"] == "next"
        assert carols["payload"]["data"]["noteCreated"] == {
            "title": "For core",
            "body": "For core",
        }
        daves = await next_message(dave, 5)
        assert daves["payload"]["data"]["noteCreated"]["title"] == "For growth"
        # Neither got the other team's note: their next message never comes.
        for socket_ in (carol, dave):
            with pytest.raises(asyncio.TimeoutError):
                await next_message(socket_, 0.7)
    finally:
        await carol.close()
        await dave.close()


async def test_anonymous_subscription_is_refused(server: Server) -> None:
    anonymous = await subscribe(server, None)
    try:
        message = await next_message(anonymous, 5)
        assert message["type"] == "error" or "errors" in message.get("payload", {})
        assert "UNAUTHENTICATED" in json.dumps(message)
    finally:
        await anonymous.close()
