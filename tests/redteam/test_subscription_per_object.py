"""Per-object type rules (not on_object) on subscription events: each event's
object is decided on its own (the key (id(None), 'secrets', node) is the same
for every event)."""

import asyncio
from collections.abc import AsyncGenerator

import strawberry

from strawberry_authz import AuthExtension, BatchScope

authz = AuthExtension(
    lambda c: {"owns": BatchScope(lambda vs: [v == "me" for v in vs])}
)


@authz.type_rule(lambda p: {"owns": p.root.owner})
@strawberry.type
class Secret:
    owner: strawberry.Private[str]
    text: str | None


@strawberry.type
class Query:
    x: int = 1


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def secrets(self) -> AsyncGenerator[Secret, None]:
        yield Secret(owner="me", text="mine")
        yield Secret(owner="other", text="LEAK")

    @authz.rule(True, phase="resolve", drop_denied=True)
    @strawberry.subscription
    async def dropped(self) -> AsyncGenerator[Secret, None]:
        yield Secret(owner="me", text="mine")
        yield Secret(owner="other", text="LEAK")


schema = strawberry.Schema(query=Query, subscription=Subscription, extensions=[authz])


def run(q):
    async def main():
        stream = await schema.subscribe(q)
        return [x.data async for x in stream]

    return asyncio.run(main())


def test_second_event_is_decided_for_its_own_object():
    assert "LEAK" not in repr(run("subscription { secrets { text } }"))


def test_same_with_drop_denied_stream():
    assert "LEAK" not in repr(run("subscription { dropped { text } }"))
