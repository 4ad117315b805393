"""The ASGI application: GraphQL over HTTP and WebSocket at `/graphql`."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from .auth import user_from_authorization
from .db import Database
from .events import NoteEvents
from .schema import context_for, schema


class NotesGraphQL(GraphQL[dict[str, Any], None]):
    """Strawberry's ASGI view, with the user taken from the bearer token.

    Browsers cannot set headers on a WebSocket, so there the token may also
    come as `?token=...` or in the `connection_init` payload's `Authorization`.
    """

    def __init__(self, db: Database, events: NoteEvents) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.db = db
        self.events = events

    async def get_context(
        self, request: Request | WebSocket, response: Any
    ) -> dict[str, Any]:
        header = request.headers.get("authorization")
        if header is None and isinstance(request, WebSocket):
            token = request.query_params.get("token")
            header = f"Bearer {token}" if token else None
        return context_for(
            self.db, self.events, user_from_authorization(self.db, header)
        )


def create_app(db_path: str) -> Starlette:
    db = Database(db_path)
    db.seed_if_empty()
    graphql = NotesGraphQL(db, NoteEvents())

    async def home(request: Request) -> RedirectResponse:
        return RedirectResponse("/graphql")

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ]
    )
    app.state.db = db
    return app
