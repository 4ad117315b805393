"""The teamnotes example server as a real process, for the end-to-end tests.

`Server` runs `python -m examples.teamnotes` on a free loopback port with a
fresh SQLite file and talks to it over HTTP and WebSocket; `conftest.py`
makes one per test module (per engine). `Server.faults` drives the engine's
fault switch of a server started with `--fault-switch`.
"""

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {
    name: f"demo-{name}-token" for name in ("alice", "bob", "carol", "dave", "gus")
}
ENGINES = ("sqlite", "spicedb", "cerbos")
# The engines that write (Cerbos keeps no data): the fault tests of failing
# writes run on these only.
WRITING_ENGINES = ("sqlite", "spicedb")


def spicedb_missing() -> str | None:
    """Why the server cannot run on embedded SpiceDB here, or None."""
    try:
        import authzed.api.v1  # noqa: F401
        import spicedb_embedded  # noqa: F401
    except ImportError as error:
        return str(error)
    library = os.environ.get("SPICEDB_LIBRARY_PATH")
    if not library or not Path(library).is_file():
        return f"SPICEDB_LIBRARY_PATH={library!r} is not the libspicedb file"
    return None


def cerbos_missing() -> str | None:
    """Why the server cannot run on Cerbos here, or None."""
    try:
        import cerbos.sdk.grpc.client  # noqa: F401
    except ImportError as error:
        return str(error)
    binary = os.environ.get("CERBOS_BINARY")
    if not binary or not Path(binary).is_file():
        return f"CERBOS_BINARY={binary!r} is not the Cerbos binary"
    return None


def require_engine(engine: str) -> None:
    missing = {"spicedb": spicedb_missing, "cerbos": cerbos_missing}.get(engine)
    why = missing() if missing else None
    if why is None:
        return
    required = f"STRAWBERRY_AUTHZ_REQUIRE_{engine.upper()}"
    if os.environ.get(required) or os.environ.get("CI"):
        pytest.fail(f"{engine} is required here but missing: {why}")
    pytest.skip(f"{engine} not installed ({why}); run bash scripts/test")


class Server:
    def __init__(
        self,
        port: int,
        db_path: Path,
        output: Path,
        engine: str = "sqlite",
        args: tuple[str, ...] = (),
    ) -> None:
        self.engine = engine
        self.args = args
        self.port = port
        self.db_path = db_path
        self.output = output
        self.base_url = f"http://127.0.0.1:{port}"
        self.url = f"{self.base_url}/graphql"
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
                    "--engine",
                    self.engine,
                    *self.args,
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
        result: dict[str, Any] = self.post(query, user, **variables).json()
        return result

    def post(
        self, query: str, user: str | None = None, **variables: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKENS[user]}"} if user else {}
        return httpx.post(
            self.url,
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=10,
        )

    def permissions(self, user: str | None = None) -> httpx.Response:
        """`GET /permissions` with `user`'s bearer token (None: no token)."""
        headers = {"Authorization": f"Bearer {TOKENS[user]}"} if user else {}
        return httpx.get(f"{self.base_url}/permissions", headers=headers, timeout=10)

    def faults(
        self, mode: str = "off", *, on: str = "all", subject: str | None = None
    ) -> None:
        """Make the engine's calls `mode` ("off", "raise", "hang").

        `on`: "all", "checks" or "writes"; `subject`: only the checks made
        for this subject (`"user:2"`). Needs a server started with
        `--fault-switch`.
        """
        response = httpx.post(
            f"{self.base_url}/_faults",
            json={"mode": mode, "on": on, "subject": subject},
            timeout=10,
        )
        response.raise_for_status()

    def log_size(self) -> int:
        return self.output.stat().st_size

    def log_since(self, offset: int, *, until: str, timeout: float = 5) -> str:
        """The server's output written after `offset`, once it contains `until`."""
        deadline = time.monotonic() + timeout
        while True:
            with self.output.open("rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
            if until in text or time.monotonic() > deadline:
                return text
            time.sleep(0.05)

    def note_body(self, note_id: int) -> str:
        with sqlite3.connect(self.db_path) as db:
            row = db.execute(
                "SELECT body FROM notes WHERE id = ?", (note_id,)
            ).fetchone()
        return str(row[0])

    def count(self, table: str) -> int:
        with sqlite3.connect(self.db_path) as db:
            return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def note_row(self, note_id: int) -> tuple[object, ...] | None:
        """The note's `(owner_id, team_id, title, body, draft)` in SQLite."""
        with sqlite3.connect(self.db_path) as db:
            row = db.execute(
                "SELECT owner_id, team_id, title, body, draft FROM notes WHERE id = ?",
                (note_id,),
            ).fetchone()
        return tuple(row) if row else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


CREATE = (
    "mutation($team: Int!, $title: String!, $draft: Boolean!) "
    "{ createNote(teamId: $team, title: $title, body: $title, draft: $draft) { id } }"
)


def create_note(
    server: Server, user: str, team: int, title: str, *, draft: bool = False
) -> int:
    """`user` creates a note (its body is its title); its id."""
    created = server.query(CREATE, user, team=team, title=title, draft=draft)
    assert "errors" not in created, created
    note_id: int = created["data"]["createNote"]["id"]
    return note_id


def headers_of(user: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[user]}"} if user else {}


# -- WebSocket (graphql-transport-ws) -------------------------------------------

SUBSCRIBE = "subscription { noteCreated { title body } }"


async def connect_ws(
    url: str, headers: dict[str, str], payload: dict[str, Any]
) -> ClientConnection:
    """A `graphql-transport-ws` connection, initialised with `payload` and acked."""
    socket_ = await connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=5,
    )
    await socket_.send(json.dumps({"type": "connection_init", "payload": payload}))
    ack = json.loads(await asyncio.wait_for(socket_.recv(), 5))
    assert ack["type"] == "connection_ack"
    return socket_


async def send_operation(
    socket_: ClientConnection, id_: str, query: str, **variables: Any
) -> None:
    payload = {"query": query, "variables": variables}
    await socket_.send(json.dumps({"id": id_, "type": "subscribe", "payload": payload}))


async def subscribe(
    server: Server, user: str | None, query: str = SUBSCRIBE
) -> ClientConnection:
    socket_ = await connect_ws(server.ws_url, headers_of(user), {})
    await send_operation(socket_, "1", query)
    return socket_


async def next_message(socket_: ClientConnection, timeout: float) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(
        await asyncio.wait_for(socket_.recv(), timeout)
    )
    return message
