"""Grants of a field reach the rules of the objects it returns (issue 16, point 5).

`{"$granted": name}` in a type rule of `Item` passes when the field that
returned the item granted `name`: a single object, every item of a list (of
any depth), for type rules checked on the item's fields and for object rules
(`on_object=True`, `drop_denied`) alike, sync and async. A grant never
reaches a list that did not give it.
"""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes, dump

from strawberry_authz import AuthExtension, BatchScope

ITEMS = 4


def grants_schema(
    type_rule: Any,
    *,
    on_object: bool = False,
    drop: bool = False,
    grants: Any = ("fromParent",),
    loaders: Any = None,
    type_grants: Any = None,
) -> strawberry.Schema:
    """`many`, `nested`, `one` give `fromParent`; `ungranted` gives nothing."""
    authz = AuthExtension(lambda _: loaders or {})
    options: dict[str, Any] = {"grants": type_grants} if type_grants else {}
    if on_object:
        options.update(on_object=True, drop_denied=drop)

    @authz.type_rule(type_rule, **options)
    @strawberry.type
    class Item:
        id: int
        secret: str = "the secret"

    def items() -> list[Item]:
        return [Item(id=i) for i in range(ITEMS)]

    @strawberry.type
    class Query:
        @authz.rule(True, grants=grants)
        @strawberry.field
        def many(self) -> list[Item | None]:
            return items()

        @authz.rule(True, grants=grants)
        @strawberry.field
        async def many_async(self) -> list[Item | None]:
            await asyncio.sleep(0)
            return items()

        @authz.rule(True, grants=grants)
        @strawberry.field
        def nested(self) -> list[list[Item | None] | None]:
            return [items(), items()]

        @authz.rule(True, grants=grants)
        @strawberry.field
        def one(self) -> Item | None:
            return Item(id=1)

        @authz.rule(True)
        @strawberry.field
        def ungranted(self) -> list[Item | None]:
            return items()

    return strawberry.Schema(query=Query, extensions=[authz])


QUERY = """{
  many { id secret }
  manyAsync { id secret }
  nested { id secret }
  one { id secret }
}"""

ALL = [{"id": i, "secret": "the secret"} for i in range(ITEMS)]
SERVED = {"many": ALL, "manyAsync": ALL, "nested": [ALL, ALL], "one": ALL[1]}


async def run(schema: strawberry.Schema, query: str, is_async: bool) -> Any:
    if is_async:
        return await schema.execute(query)
    return schema.execute_sync(query.replace("manyAsync { id secret }", ""))


def served(is_async: bool) -> dict[str, Any]:
    return SERVED if is_async else {k: v for k, v in SERVED.items() if k != "manyAsync"}


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    "rule",
    [
        {"$granted": "fromParent"},
        lambda p: {"$granted": "fromParent"},
        lambda p: {"$or": [{"$granted": "fromParent"}, {"never": True}]},
    ],
    ids=["rule set", "rule function", "function returning $or"],
)
async def test_a_list_fields_grants_reach_its_items_type_rules(rule, is_async):
    schema = grants_schema(rule, loaders={"never": False})
    result = await run(schema, QUERY, is_async)
    assert result.errors is None
    assert result.data == served(is_async)


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("drop", [False, True])
async def test_a_list_fields_grants_reach_its_items_object_rules(drop, is_async):
    schema = grants_schema({"$granted": "fromParent"}, on_object=True, drop=drop)
    result = await run(schema, QUERY, is_async)
    assert result.errors is None
    assert result.data == served(is_async)


@pytest.mark.parametrize("is_async", [False, True])
async def test_grants_given_by_a_function_reach_the_items(is_async):
    schema = grants_schema(
        {"$granted": "fromParent"},
        grants=lambda params, result: "fromParent" if len(result) == ITEMS else None,
    )
    result = await run(schema, "{ many { id } }", is_async)
    assert result.errors is None
    assert result.data == {"many": [{"id": i} for i in range(ITEMS)]}


@pytest.mark.parametrize("is_async", [False, True])
async def test_the_items_own_type_grants_reach_its_type_rule_in_a_list(is_async):
    schema = grants_schema(
        {"$granted": "odd"},
        grants=(),
        type_grants=lambda params: "odd" if params.root.id % 2 else None,
    )
    result = await run(schema, "{ many { id secret } nested { id } }", is_async)
    assert [d and d["id"] for d in result.data["many"]] == [None, 1, None, 3]
    assert [d and d["id"] for d in result.data["nested"][1]] == [None, 1, None, 3]
    assert codes(result) == ["FORBIDDEN"] * 6


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("on_object", [False, True])
async def test_a_list_without_the_grant_serves_none_of_its_items(on_object, is_async):
    schema = grants_schema({"$granted": "fromParent"}, on_object=on_object)
    result = await run(schema, "{ many { id } ungranted { id secret } }", is_async)
    assert result.data["many"] == [{"id": i} for i in range(ITEMS)]
    assert result.data["ungranted"] == [None] * ITEMS
    assert codes(result) == ["FORBIDDEN"] * ITEMS
    assert "the secret" not in dump(result)


@pytest.mark.parametrize("is_async", [False, True])
async def test_drop_denied_keeps_only_the_granted_lists_items(is_async):
    schema = grants_schema({"$granted": "fromParent"}, on_object=True, drop=True)
    result = await run(schema, "{ many { id } ungranted { id secret } }", is_async)
    assert result.errors is None
    assert result.data == {"many": [{"id": i} for i in range(ITEMS)], "ungranted": []}


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_grant_or_a_batch_scope_decides_each_item(is_async):
    asked: list[list[Any]] = []

    def can_many(values: list[Any]) -> list[bool]:
        asked.append(list(values))
        return [value == 2 for value in values]

    schema = grants_schema(
        lambda p: {"$or": [{"$granted": "fromParent"}, {"can": p.root.id}]},
        loaders={"can": BatchScope(can_many)},
    )
    result = await run(schema, "{ many { id } ungranted { id } }", is_async)
    assert result.data["many"] == [{"id": i} for i in range(ITEMS)]
    assert result.data["ungranted"] == [None, None, {"id": 2}, None]
    assert codes(result) == ["FORBIDDEN"] * 3
    assert asked == [[0, 1, 2, 3]]


@pytest.mark.parametrize("is_async", [False, True])
async def test_nested_lists_give_rule_functions_only_objects(is_async, caplog):
    schema = grants_schema(
        lambda p: {"$or": [{"$granted": "fromParent"}, {"can": p.root.id}]},
        loaders={"can": lambda value: value == 2},
        grants=(),
        type_grants=lambda params: "fromParent" if params.root.id == 1 else None,
    )
    result = await run(schema, "{ nested { id } }", is_async)
    assert result.data == {"nested": [[None, {"id": 1}, {"id": 2}, None]] * 2}
    assert codes(result) == ["FORBIDDEN"] * 4
    assert authz_logs(caplog) == ""
