"""`type_rule(..., on_object=True, drop_denied=...)`: rules on returned objects."""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import codes, dump

from strawberry_authz import AuthExtension, BatchScope, ConfigurationError

ITEMS = 12


def build(*, drop: bool = False, is_async: bool = False, batch: bool = False):
    calls: list[Any] = []

    def can(value: Any) -> bool:
        calls.append(value)
        return value % 3 != 0

    def can_many(values: list[Any]) -> list[bool]:
        calls.append(list(values))
        return [value % 3 != 0 for value in values]

    async def can_async(value: Any) -> bool:
        await asyncio.sleep(0)
        return can(value)

    loader: Any = can_async if is_async else can
    if batch:
        loader = BatchScope(can_many)
    authz = AuthExtension(lambda _: {"can": loader})

    @authz.type_rule(lambda p: {"can": p.root.id}, on_object=True, drop_denied=drop)
    @strawberry.type
    class Doc:
        id: int
        secret: str = "the secret"

    @strawberry.type
    class Folder:
        name: str

        @strawberry.field
        def docs(self) -> list[Doc]:
            return [Doc(id=i) for i in range(ITEMS)]

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return [Doc(id=i) for i in range(ITEMS)]

        @strawberry.field
        def doc(self, id: int) -> Doc | None:
            return Doc(id=id)

        @strawberry.field
        def folder(self) -> Folder:
            return Folder(name="f")

        @strawberry.field
        def count(self) -> int:
            return ITEMS

    schema = strawberry.Schema(query=Query, extensions=[authz])
    return schema, calls


def allowed() -> list[int]:
    return [i for i in range(ITEMS) if i % 3 != 0]


@pytest.mark.parametrize("is_async", [False, True])
async def test_denied_list_items_are_null_with_an_error_each(is_async):
    schema, calls = build(is_async=is_async)
    result = await schema.execute("{ docs { id secret } }")
    docs = result.data["docs"]
    assert [d and d["id"] for d in docs] == [i if i % 3 else None for i in range(ITEMS)]
    assert codes(result) == ["FORBIDDEN"] * (ITEMS - len(allowed()))
    assert [e.path for e in result.errors] == [
        ["docs", i] for i in range(ITEMS) if i % 3 == 0
    ]
    assert len(calls) == ITEMS  # once per object, not per field


@pytest.mark.parametrize("is_async", [False, True])
async def test_drop_denied_removes_denied_items_without_errors(is_async):
    schema, _ = build(drop=True, is_async=is_async)
    result = await schema.execute("{ docs { id } folder { docs { id } } }")
    assert not result.errors
    assert [d["id"] for d in result.data["docs"]] == allowed()
    assert [d["id"] for d in result.data["folder"]["docs"]] == allowed()


@pytest.mark.parametrize("drop", [False, True])
def test_a_single_denied_object_nulls_the_field_that_returned_it(drop):
    schema, _ = build(drop=drop)
    result = schema.execute_sync("{ doc(id: 3) { id secret } }")
    assert result.data == {"doc": None}
    assert codes(result) == ["FORBIDDEN"]
    assert "the secret" not in dump(result)
    allowed_doc = schema.execute_sync("{ doc(id: 4) { id } }")
    assert allowed_doc.data == {"doc": {"id": 4}}


def test_a_non_null_list_item_denied_nulls_the_list_as_graphql_does():
    schema, _ = build()
    result = schema.execute_sync("{ folder { docs { id } } }")
    assert result.data is None  # Doc!, [Doc!]! and Folder! are all non-null
    assert codes(result) == ["FORBIDDEN"]
    assert result.errors[0].path == ["folder", "docs", 0]


def test_a_batch_scope_decides_a_whole_list_in_one_call_under_execute_sync():
    schema, calls = build(batch=True)
    result = schema.execute_sync("{ docs { id secret } }")
    assert len([d for d in result.data["docs"] if d]) == len(allowed())
    assert len(calls) == 1 and len(calls[0]) == ITEMS


def test_object_rules_do_not_run_again_on_every_field():
    schema, calls = build()
    schema.execute_sync("{ docs { id secret again: secret } }")
    assert len(calls) == ITEMS


def test_drop_denied_needs_on_object():
    authz = AuthExtension(lambda _: {})
    with pytest.raises(ConfigurationError, match="on_object"):
        authz.type_rule({"x": True}, drop_denied=True)
