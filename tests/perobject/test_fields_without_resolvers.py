"""Fields without a resolver of their own, under a per-object type rule.

Once an object is allowed, its guard reads such a field's attribute itself
instead of calling Strawberry's resolver wrapper (issue 16, point 10). It
serves exactly what Strawberry would: a denied object's value never, a
`StrawberryConfig(default_resolver=...)` and a field class with its own
`get_result` as they are written.
"""

from operator import getitem
from typing import Any

import pytest
import strawberry
from authzkit import codes
from strawberry.schema.config import StrawberryConfig
from strawberry.types.field import StrawberryField

from strawberry_authz import AuthExtension, BatchScope

ITEMS = 12


def visible(value: int) -> bool:
    return value % 3 != 0


async def run(schema: strawberry.Schema, query: str, is_async: bool) -> Any:
    if is_async:
        return await schema.execute(query)
    return schema.execute_sync(query)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("batch", [False, True], ids=["loader", "BatchScope"])
async def test_a_denied_objects_attributes_are_never_served(batch, is_async):
    can: Any = visible
    if batch:
        can = BatchScope(lambda values: [visible(v) for v in values])
    authz = AuthExtension(lambda _: {"can": can})

    @authz.type_rule(lambda p: {"can": p.root.id})
    @strawberry.type
    class Doc:
        id: int | None
        secret: str | None

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:
            return [Doc(id=i, secret=f"s{i}") for i in range(ITEMS)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    for _ in range(2):  # the first request builds the guards
        result = await run(schema, "{ docs { id secret } }", is_async)
        assert result.data == {
            "docs": [
                {"id": i, "secret": f"s{i}"}
                if visible(i)
                else {"id": None, "secret": None}
                for i in range(ITEMS)
            ]
        }
        assert codes(result) == ["FORBIDDEN"] * 2 * (ITEMS // 3)


def test_a_custom_default_resolver_still_reads_the_fields():
    authz = AuthExtension(lambda _: {"can": visible})

    @authz.type_rule(lambda p: {"can": p.root["id"]})
    @strawberry.type
    class Doc:
        id: int | None
        name: str | None

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:
            return [{"id": i, "name": f"n{i}"} for i in range(ITEMS)]  # type: ignore[misc]

    schema = strawberry.Schema(
        query=Query,
        extensions=[authz],
        config=StrawberryConfig(default_resolver=getitem),
    )
    for _ in range(2):
        result = schema.execute_sync("{ docs { id name } }")
        assert [doc["name"] for doc in result.data["docs"]] == [
            f"n{i}" if visible(i) else None for i in range(ITEMS)
        ]


class Shouting(StrawberryField):
    """A field class whose `get_result` changes what the attribute holds."""

    def get_result(self, source: Any, info: Any, args: Any, kwargs: Any) -> Any:
        return super().get_result(source, info, args, kwargs).upper()


def test_a_field_class_with_its_own_get_result_keeps_it():
    authz = AuthExtension(lambda _: {"can": visible})

    @authz.type_rule(lambda p: {"can": p.root.id})
    @strawberry.type
    class Doc:
        id: int | None
        name: str | None = Shouting()

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:
            return [Doc(id=i, name=f"n{i}") for i in range(ITEMS)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    for _ in range(2):
        result = schema.execute_sync("{ docs { name } }")
        assert [doc["name"] for doc in result.data["docs"]] == [
            f"N{i}" if visible(i) else None for i in range(ITEMS)
        ]
