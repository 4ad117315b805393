"""Issue 8.1 — authorization state belongs to the operation, not to the task."""

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from authzkit import codes

from strawberry_authz import AuthExtension


def load_scopes(context: dict[str, Any]) -> dict[str, Any]:
    return {"is_user": lambda name: context["user"] == name}


authz = AuthExtension(load_scopes)


@strawberry.type
class Secret:
    owner: str

    @authz.rule({"$granted": "read_body"})
    @strawberry.field
    def body(self) -> str:
        return f"body of {self.owner}"


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @authz.rule({"is_user": "alice"}, phase="resolve", grants=["read_body"])
    @strawberry.subscription
    async def alice_secrets(self) -> AsyncGenerator[Secret, None]:
        for _ in range(3):
            yield Secret(owner="alice")

    @authz.rule({"is_user": "bob"}, phase="resolve", grants=["read_body"])
    @strawberry.subscription
    async def bob_secrets(self) -> AsyncGenerator[Secret, None]:
        for _ in range(3):
            yield Secret(owner="bob")


schema = strawberry.Schema(query=Query, subscription=Subscription, extensions=[authz])


async def open_stream(query: str, user: str) -> Any:
    stream = await schema.subscribe(query, context_value={"user": user})
    assert not isinstance(stream, strawberry.types.ExecutionResult), stream
    return stream


async def test_two_users_streams_pulled_alternately_by_one_task_each_see_their_own():
    alice = await open_stream("subscription { aliceSecrets { body } }", "alice")
    bob = await open_stream("subscription { aliceSecrets { body } }", "bob")
    seen = []
    for _ in range(3):
        seen.append(("alice", await alice.__anext__()))
        seen.append(("bob", await bob.__anext__()))
    for who, result in seen:
        if who == "alice":
            assert result.data == {"aliceSecrets": {"body": "body of alice"}}
            assert not result.errors
        else:
            assert result.data is None
            assert codes(result) == ["FORBIDDEN"]
    await alice.aclose()
    await bob.aclose()


async def test_the_stream_started_last_does_not_decide_for_the_first():
    # bob starts last; alice's events must still be judged as alice's.
    alice = await open_stream("subscription { aliceSecrets { body } }", "alice")
    first = await alice.__anext__()
    bob = await open_stream("subscription { bobSecrets { body } }", "bob")
    bob_first = await bob.__anext__()
    second = await alice.__anext__()
    assert first.data == second.data == {"aliceSecrets": {"body": "body of alice"}}
    assert bob_first.data == {"bobSecrets": {"body": "body of bob"}}
    await alice.aclose()
    await bob.aclose()


async def test_a_stream_continued_by_another_task_keeps_its_operation_state():
    alice = await open_stream("subscription { aliceSecrets { body } }", "alice")
    first = await asyncio.create_task(alice.__anext__())
    second = await alice.__anext__()  # the test's own task never opened it
    third = await asyncio.create_task(alice.__anext__())
    for result in (first, second, third):
        assert result.data == {"aliceSecrets": {"body": "body of alice"}}, result
    await alice.aclose()
