"""Subscriptions over a real WebSocket (`graphql-transport-ws`) served by uvicorn.

The user is taken from the `?user=` query parameter of the WebSocket URL by
the app's `get_context`. Everything is bounded by timeouts; the server only
listens on 127.0.0.1 and is stopped at the end of each test.
"""

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import strawberry
import uvicorn
import websockets
from featurekit import PlainQuery
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL

from strawberry_authz import AuthExtension, UnauthenticatedError

TIMEOUT = 5.0
PROTOCOL = "graphql-transport-ws"

FEED = [("ann", "ann 1"), ("bob", "bob 1"), ("ann", "ann 2"), ("bob", "bob 2")]


def build_schema(started: list[str]) -> strawberry.Schema:
    def load_scopes(context: dict[str, Any]) -> dict[str, Any]:
        user = context["user"]

        def is_logged_in(value: bool) -> bool:
            if user is None:
                raise UnauthenticatedError()
            return True

        return {
            "is_logged_in": is_logged_in,
            "is_admin": lambda value: user == "admin",
        }

    authz = AuthExtension(
        load_scopes,
        default_scopes={"Subscription": {"subscribe": {"is_logged_in": True}}},
    )

    def own_message(params, result) -> bool:
        return result.owner == params.context["user"]

    @strawberry.type
    class Message:
        owner: str
        text: str

    @strawberry.type
    class Subscription:
        @authz.rule({"is_admin": True})
        @strawberry.subscription
        async def alerts(self) -> AsyncGenerator[str, None]:
            started.append("alerts")
            yield "alert"

        @authz.post_rule(own_message)
        @strawberry.subscription
        async def inbox(self) -> AsyncGenerator[Message | None, None]:
            started.append("inbox")
            for owner, text in FEED:
                yield Message(owner=owner, text=text)

        @authz.post_rule(own_message, drop_denied=True)
        @strawberry.subscription
        async def filtered_inbox(self) -> AsyncGenerator[Message, None]:
            started.append("filtered_inbox")
            for owner, text in FEED:
                await asyncio.sleep(0)
                yield Message(owner=owner, text=text)

    return strawberry.Schema(
        query=PlainQuery, subscription=Subscription, extensions=[authz]
    )


class UserFromQueryParam(GraphQL):
    async def get_context(self, request: Any, response: Any = None) -> dict[str, Any]:
        return {"user": request.query_params.get("user") or None, "request": request}


@contextlib.asynccontextmanager
async def serve(schema: strawberry.Schema) -> AsyncIterator[str]:
    """Serve `schema` on a free 127.0.0.1 port; yield the WebSocket URL."""
    graphql_app = UserFromQueryParam(schema)
    app = Starlette(
        routes=[
            Route("/graphql", graphql_app),
            WebSocketRoute("/graphql", graphql_app),
        ]
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(TIMEOUT):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, TIMEOUT)
        finally:
            sock.close()


@contextlib.asynccontextmanager
async def connect(url: str, user: str | None) -> AsyncIterator[Any]:
    target = url if user is None else f"{url}?user={user}"
    async with websockets.connect(
        target, subprotocols=[PROTOCOL], open_timeout=TIMEOUT, close_timeout=1
    ) as ws:
        assert ws.subprotocol == PROTOCOL
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert ack["type"] == "connection_ack"
        yield ws


async def run_subscription(ws: Any, op_id: str, query: str) -> list[dict[str, Any]]:
    """Subscribe and collect this operation's messages until complete / error."""
    await ws.send(
        json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}})
    )
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = json.loads(await ws.recv())
            if message.get("type") in {"ping", "pong"}:
                continue
            assert message.get("id") == op_id, message
            received.append(message)
            if message["type"] in {"complete", "error"}:
                return received


def error_codes(messages: list[dict[str, Any]]) -> list[str]:
    """The codes of every error the client received, whatever the message kind."""
    found: list[str] = []
    for message in messages:
        payload = message.get("payload")
        errors = (
            payload if message["type"] == "error" else (payload or {}).get("errors")
        )
        for error in errors or []:
            found.append((error.get("extensions") or {}).get("code"))
    return found


def data_of(messages: list[dict[str, Any]]) -> list[Any]:
    return [m["payload"].get("data") for m in messages if m["type"] == "next"]


async def test_websocket_denied_subscription_reports_forbidden_and_never_starts():
    started: list[str] = []
    async with serve(build_schema(started)) as url, connect(url, "bob") as ws:
        messages = await run_subscription(ws, "1", "subscription { alerts }")
        assert error_codes(messages) == ["FORBIDDEN"]
        assert "alert" not in json.dumps(data_of(messages))

        # The connection stays usable: the admin-only stream was never started,
        # and another subscription on the same socket works.
        inbox = await run_subscription(ws, "2", "subscription { inbox { text } }")
        assert inbox[-1]["type"] == "complete"
    assert "alerts" not in started


async def test_websocket_anonymous_subscriber_gets_unauthenticated():
    started: list[str] = []
    async with serve(build_schema(started)) as url, connect(url, None) as ws:
        messages = await run_subscription(ws, "1", "subscription { inbox { text } }")
    assert error_codes(messages) == ["UNAUTHENTICATED"]
    assert data_of(messages) in ([], [None])
    assert started == []


async def test_websocket_admin_may_subscribe():
    started: list[str] = []
    async with serve(build_schema(started)) as url, connect(url, "admin") as ws:
        messages = await run_subscription(ws, "1", "subscription { alerts }")
    assert [m["type"] for m in messages] == ["next", "complete"]
    assert data_of(messages) == [{"alerts": "alert"}]
    assert started == ["alerts"]


async def test_websocket_each_user_gets_only_their_events_others_as_errors():
    started: list[str] = []
    query = "subscription { inbox { owner text } }"
    async with (
        serve(build_schema(started)) as url,
        connect(url, "ann") as ann_ws,
        connect(url, "bob") as bob_ws,
    ):
        ann, bob = await asyncio.gather(
            run_subscription(ann_ws, "a", query),
            run_subscription(bob_ws, "b", query),
        )
    for user, messages in (("ann", ann), ("bob", bob)):
        assert [m["type"] for m in messages] == ["next"] * 4 + ["complete"]
        expected = [
            {"inbox": {"owner": owner, "text": text}}
            if owner == user
            else {"inbox": None}
            for owner, text in FEED
        ]
        assert data_of(messages) == expected
        assert error_codes(messages) == ["FORBIDDEN", "FORBIDDEN"]
        other = "bob" if user == "ann" else "ann"
        assert f"{other} 1" not in json.dumps(messages)
        assert f"{other} 2" not in json.dumps(messages)


async def test_websocket_drop_denied_filters_events_per_user_silently():
    started: list[str] = []
    query = "subscription { filteredInbox { text } }"
    async with (
        serve(build_schema(started)) as url,
        connect(url, "ann") as ann_ws,
        connect(url, "bob") as bob_ws,
    ):
        ann, bob = await asyncio.gather(
            run_subscription(ann_ws, "a", query),
            run_subscription(bob_ws, "b", query),
        )
    assert data_of(ann) == [
        {"filteredInbox": {"text": "ann 1"}},
        {"filteredInbox": {"text": "ann 2"}},
    ]
    assert data_of(bob) == [
        {"filteredInbox": {"text": "bob 1"}},
        {"filteredInbox": {"text": "bob 2"}},
    ]
    assert error_codes(ann) == error_codes(bob) == []
    assert ann[-1]["type"] == bob[-1]["type"] == "complete"
