"""fallback_rule=False does not catch the on_object bypasses: fields of an
on_object type are exempt from the fallback (_planner.py _field_plan)."""

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from strawberry_authz import AuthExtension

authz = AuthExtension(
    lambda c: {"owns": lambda o: o == "me", "anyone": True}, fallback_rule=False
)


@authz.type_rule(lambda p: {"owns": p.root.owner}, on_object=True)
@strawberry.type
class Secret:
    owner: strawberry.Private[str]
    text: str


@authz.type_rule({"anyone": True})
@strawberry.type
class Public:
    text: str


@authz.type_rule({"anyone": True})
@strawberry.type
class Query:
    @strawberry.field
    def mixed(self) -> list[Annotated[Secret | Public, strawberry.union("U")]]:
        return iter([Secret(owner="other", text="DENY-BY-DEFAULT-LEAK")])


@authz.type_rule({"anyone": True})
@strawberry.type
class Subscription:
    @strawberry.subscription
    async def secrets(self) -> AsyncGenerator[Secret, None]:
        yield Secret(owner="other", text="DENY-BY-DEFAULT-LEAK")


schema = strawberry.Schema(query=Query, subscription=Subscription, extensions=[authz])


def test_union_items_returned_as_a_generator_are_checked_under_deny_by_default():
    r = schema.execute_sync("{ mixed { ... on Secret { text } } }")
    assert "LEAK" not in repr(r.data), r.data


def test_subscription_events_are_object_checked_under_deny_by_default():
    async def main():
        stream = await schema.subscribe("subscription { secrets { text } }")
        return [x.data async for x in stream]

    assert "LEAK" not in repr(asyncio.run(main()))
