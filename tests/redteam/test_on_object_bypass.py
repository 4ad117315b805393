"""on_object=True: paths where the returning field's object check is bypassed.

With on_object=True the object's own fields are NOT checked (the rule runs only
where a field returns the object), so any bypass leaks every field.
"""

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from strawberry_authz import AuthExtension


def load_scopes(context):
    return {"owns": lambda owner: owner == "me"}


authz = AuthExtension(load_scopes)


@authz.type_rule(lambda p: {"owns": p.root.owner}, on_object=True)
@strawberry.type
class Secret:
    owner: strawberry.Private[str]
    text: str


@strawberry.type
class Public:
    text: str


MINE = Secret(owner="me", text="mine")
THEIRS = Secret(owner="other", text="THEIRS-LEAK")


@strawberry.type
class Query:
    @strawberry.field
    def mixed(self) -> list[Annotated[Secret | Public, strawberry.union("SP")]]:  # type: ignore
        return (x for x in [MINE, THEIRS])  # a generator, not a list

    @strawberry.field
    def mixed_list(
        self,
    ) -> list[Annotated[Secret | Public, strawberry.union("SP2")]]:  # type: ignore
        return [MINE, THEIRS]

    @strawberry.field
    def nested(self) -> list[list[Secret]]:
        return [[MINE, THEIRS]]

    @strawberry.field
    def nested_union(
        self,
    ) -> list[list[Annotated[Secret | Public, strawberry.union("SP3")]]]:  # type: ignore
        return [[MINE, THEIRS]]

    @strawberry.field
    def gen(self) -> list[Secret]:
        return (x for x in [MINE, THEIRS])


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def secrets(self) -> AsyncGenerator[Secret, None]:
        yield MINE
        yield THEIRS


schema = strawberry.Schema(query=Query, subscription=Subscription, extensions=[authz])


def test_control_union_list_is_checked():
    r = schema.execute_sync("{ mixedList { ... on Secret { text } } }")
    assert "THEIRS-LEAK" not in repr(r.data)


def test_union_list_returned_as_generator_is_not_leaked():
    r = schema.execute_sync("{ mixed { ... on Secret { text } } }")
    assert "THEIRS-LEAK" not in repr(r.data), r.data


def test_nested_list_items_are_checked():
    r = schema.execute_sync("{ nested { text } }")
    assert "THEIRS-LEAK" not in repr(r.data), (r.data, r.errors)


def test_nested_union_list_items_are_checked():
    r = schema.execute_sync("{ nestedUnion { ... on Secret { text } } }")
    assert "THEIRS-LEAK" not in repr(r.data), (r.data, r.errors)


def test_generator_list_of_concrete_type():
    r = schema.execute_sync("{ gen { text } }")
    assert "THEIRS-LEAK" not in repr(r.data), (r.data, r.errors)
    # and the one the viewer owns should not be denied for a python reason
    assert r.data == {"gen": [{"text": "mine"}, None]} or r.data is None, (
        r.data,
        r.errors,
    )


def test_subscription_events_are_object_checked():
    async def main():
        stream = await schema.subscribe("subscription { secrets { text } }")
        return [x async for x in stream]

    results = asyncio.run(main())
    assert "THEIRS-LEAK" not in repr([r.data for r in results]), [
        r.data for r in results
    ]
