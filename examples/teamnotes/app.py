"""The ASGI application.

- `/graphql`: the API, over HTTP and WebSocket (GraphiQL in a browser);
- `/permissions`: what the viewer's roles allow, as JSON (`authz.dehydrate`);
- `/`: a small page (`page.html`) that shows each note's buttons from what
  the server says the viewer may do;
- `/_faults`: the engine's fault switch, only with `--fault-switch` (tests).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from .auth import user_from_authorization
from .calls import EngineCalls
from .db import Database
from .engine import Engine, open_engine
from .events import NoteEvents
from .faults import EngineFaults
from .logs import drop_query_strings_from_uvicorn_logs
from .roles import VIEWER_CHECKS
from .schema import audit_file, authz, context_for, schema

PAGE = Path(__file__).with_name("page.html")


class NotesGraphQL(GraphQL[dict[str, Any], None]):
    """Strawberry's ASGI view, with the user taken from a bearer token.

    Over HTTP the token is the `Authorization: Bearer <token>` header. Over a
    WebSocket it is the same header on the upgrade request (non-browser
    clients) or, since browsers cannot set headers on a WebSocket, the
    `connection_init` message's payload: `{"Authorization": "Bearer <token>"}`.
    The header wins when both are given. A missing or unknown token means an
    anonymous user, whom the policy then refuses (`UNAUTHENTICATED`).

    A token in the URL (`?token=...`) is not accepted: URLs are written to
    access logs, proxy logs and browser history. The server's log drops
    query strings anyway (`logs.py`), in case a client sends one.
    """

    def __init__(self, db: Database, events: NoteEvents, engine: Engine) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.db = db
        self.events = events
        self.engine = engine

    async def get_context(
        self, request: Request | WebSocket, response: Any
    ) -> dict[str, Any]:
        # One context per HTTP request, or per WebSocket connection (shared by
        # every operation on it, and completed by `on_ws_connect`).
        header = request.headers.get("authorization")
        return context_for(
            self.db,
            self.events,
            self.engine,
            user_from_authorization(self.db, header),
        )

    def decode_json(self, data: str | bytes) -> object:
        """A body or message that is not JSON is the client's error (400).

        Strawberry answers 400 for malformed JSON, but undecodable bytes
        (`UnicodeDecodeError`) and nesting deeper than Python's recursion
        limit (`RecursionError`) would escape as 500s.
        """
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise json.JSONDecodeError("not a JSON document", "", 0) from None

    async def on_ws_connect(
        self, context: dict[str, Any]
    ) -> UnsetType | dict[str, object] | None:
        """Log the connection in with the `connection_init` payload's token.

        Runs once, before the server acknowledges the connection, so every
        operation on it sees the user chosen here.
        """
        params = context.get("connection_params")
        if context["user"] is None and isinstance(params, dict):
            header = params.get("Authorization", params.get("authorization"))
            if isinstance(header, str):
                context["user"] = user_from_authorization(self.db, header)
        return await super().on_ws_connect(context)


def create_app(
    db_path: str, engine: str = "sqlite", *, fault_switch: bool = False
) -> Starlette:
    """The app on a SQLite file (created and seeded on first start).

    `engine` answers the policy's relationship checks: `"sqlite"` (queries on
    the same file), `"spicedb"` (an embedded SpiceDB loaded from it) or
    `"cerbos"` (a Cerbos server with the policies of `cerbos/`); see
    `engine.py`. `fault_switch` adds `POST /_faults`, which makes the
    engine's calls fail (`faults.py`): for tests only.
    """
    drop_query_strings_from_uvicorn_logs()
    audit_file.path = f"{db_path}.audit.jsonl"
    db = Database(db_path)
    db.seed_if_empty()
    faults = EngineFaults() if fault_switch else None
    checks = open_engine(engine, db, EngineCalls(faults=faults))
    graphql = NotesGraphQL(db, NoteEvents(), checks)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            checks.close()

    page = demo_page(db)

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    async def permissions(request: Request) -> JSONResponse:
        """`{"note:update": false, ...}` for the bearer token's user.

        The same answers as `viewer { permissions { name allowed } }`, for a
        page to fetch on load; all false without a (known) token. They only
        shape the page: every operation is still authorized on its own.
        """
        user = user_from_authorization(db, request.headers.get("authorization"))
        context = context_for(db, graphql.events, checks, user)
        return JSONResponse(
            await authz.dehydrate(context, VIEWER_CHECKS),
            headers={"Cache-Control": "no-store", "Vary": "Authorization"},
        )

    routes = [
        Route("/", home),
        Route("/permissions", permissions),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]
    if faults is not None:
        routes.append(Route("/_faults", faults.endpoint, methods=["POST"]))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.db = db
    app.state.engine = checks
    return app


def demo_page(db: Database) -> str:
    """`page.html` with the demo users filled in, for its user picker.

    Demo only: the page hands out the seeded users' bearer tokens (which the
    server also prints at startup) so that one can switch users with a click.
    A real app logs users in instead.
    """
    users = [
        {"name": user.name, "role": user.role, "token": user.token}
        for user in db.users()
    ]
    # Inside <script>, "</" could end the element: JSON allows escaping "<".
    data = json.dumps(users).replace("<", "\\u003c")
    return PAGE.read_text().replace("__DEMO_USERS__", data)
