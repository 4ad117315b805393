"""Type rule functions may return a rule set of any shape, per object (issue 16).

A rule set that depends on scopes alone is decided once per request however
many objects return it; one with a value of its own per object is decided
per object, batch scopes still asked in one call per chunk. The answers are
the same as for the one-scope shape, sync and async, with `on_object` too.
"""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import codes

from strawberry_authz import AuthExtension, BatchScope

ITEMS = 12


def build(rule: Any, *, on_object: bool = False, is_async: bool = False):
    asked: list[list[Any]] = []
    roles: list[str] = []

    def can_many(values: list[Any]) -> list[bool]:
        asked.append(list(values))
        return [value % 3 != 0 for value in values]

    async def can_many_async(values: list[Any]) -> list[bool]:
        await asyncio.sleep(0)
        return can_many(values)

    def role(value: str) -> bool:
        roles.append(value)
        return value == "user"

    can = BatchScope(can_many_async if is_async else can_many)
    authz = AuthExtension(lambda _: {"can": can, "role": role})

    @authz.type_rule(rule, on_object=on_object)
    @strawberry.type
    class Doc:
        id: int
        body: str = "body"

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return [Doc(id=i) for i in range(ITEMS)]

    return strawberry.Schema(query=Query, extensions=[authz]), asked, roles


async def run(schema: strawberry.Schema, is_async: bool) -> Any:
    query = "{ docs { id body } }"
    return await schema.execute(query) if is_async else schema.execute_sync(query)


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("on_object", [False, True])
@pytest.mark.parametrize(
    ("rule", "allowed"),
    [
        (lambda p: {"$or": [{"role": "admin"}, {"role": "user"}]}, True),
        (lambda p: {"$and": [{"role": "admin"}, {"role": "user"}]}, False),
        (lambda p: [{"role": "user"}, {"$not": {"role": "admin"}}], True),
        (lambda p: {"role": "user", "$chain": {"role": "admin"}}, False),
    ],
    ids=["or", "and", "list", "chain"],
)
async def test_a_rule_set_that_only_scopes_decide_is_asked_once_per_request(
    rule, allowed, on_object, is_async
):
    schema, asked, roles = build(rule, on_object=on_object, is_async=is_async)
    result = await run(schema, is_async)
    docs = result.data["docs"]
    if allowed:
        assert result.errors is None
        assert [d["id"] for d in docs] == list(range(ITEMS))
    else:
        assert docs == [None] * ITEMS
        assert set(codes(result)) == {"FORBIDDEN"}
    assert sorted(set(roles)) == sorted(roles)  # each value asked once
    assert asked == []


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("on_object", [False, True])
@pytest.mark.parametrize(
    "rule",
    [
        lambda p: {"$and": [{"role": "user"}, {"can": p.root.id}]},
        lambda p: {"$or": [{"role": "admin"}, {"can": p.root.id}]},
        lambda p: {"role": "user", "can": p.root.id},
    ],
    ids=["and", "or", "two scopes"],
)
async def test_a_rule_set_with_a_value_per_object_batches_and_denies_per_object(
    rule, on_object, is_async
):
    schema, asked, _ = build(rule, on_object=on_object, is_async=is_async)
    result = await run(schema, is_async)
    assert [d and d["id"] for d in result.data["docs"]] == [
        i if i % 3 else None for i in range(ITEMS)
    ]
    denied = ITEMS // 3
    assert codes(result) == ["FORBIDDEN"] * denied
    assert [sorted(values) for values in asked] == [list(range(ITEMS))]
