"""A list pass keys its batch values as the scope cache does: equal is not enough.

The pass keys the common value, a list of strings and ints, inline. `1`,
`True` and `1.0` are equal in Python and hash alike, but a loader can tell
them apart: each is asked, and each object gets its own value's answer.
"""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import ids_schema

from strawberry_authz import AuthExtension, BatchScope

MEMBERS: list[Any] = [1, True, 1.0, "1", 1, [1], (1,)]


def build(is_async: bool) -> tuple[strawberry.Schema, list[list[Any]]]:
    asked: list[list[Any]] = []

    def check_many(values: list[Any]) -> list[bool]:
        asked.append(list(values))
        return [type(value[1]) is int and value[1] == 1 for value in values]

    async def check_many_async(values: list[Any]) -> list[bool]:
        await asyncio.sleep(0)
        return check_many(values)

    load_fn = check_many_async if is_async else check_many
    authz = AuthExtension(lambda _: {"can": BatchScope(load_fn)})

    def rule(params: Any) -> Any:
        return {"can": ["doc", MEMBERS[params.root.id], "view"]}

    return ids_schema(authz, rule, range(len(MEMBERS)), on_object=True), asked


EXPECTED = [{"id": 0}, None, None, None, {"id": 4}, None, None]


def test_equal_values_of_other_types_are_asked_apart_without_a_loop() -> None:
    schema, asked = build(is_async=False)
    result = schema.execute_sync("{ docs { id } }")
    assert result.data == {"docs": EXPECTED}
    assert [value[1] for value in asked[0]] == [1, True, 1.0, "1", [1], (1,)]


@pytest.mark.asyncio
async def test_equal_values_of_other_types_are_asked_apart_with_a_loop() -> None:
    schema, asked = build(is_async=True)
    result = await schema.execute("{ docs { id } }")
    assert result.data == {"docs": EXPECTED}
    assert [value[1] for batch in asked for value in batch] == [
        1,
        True,
        1.0,
        "1",
        [1],
        (1,),
    ]
