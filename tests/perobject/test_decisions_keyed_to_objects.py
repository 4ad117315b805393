"""Per-object answers belong to the object and the value they were decided for.

A list re-ordered in place while its items are decided, or a `load_fn` that
sorts or pops the values it is given, never moves an answer onto another
object; a `load_fn` answering the wrong number of values denies its chunk,
under `execute` as under `execute_sync`, and nothing waits forever.
"""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes, dump

from strawberry_authz import AuthExtension, BatchScope

HANG = 5.0  # seconds: far more than any of these operations needs


def shared_list_schema(*, on_object: bool):
    """`docs` returns one list object that its sibling `reverse` re-orders.

    The `owns` batch answers after a round trip, so `reverse` runs while the
    items of `docs` are being decided.
    """
    docs: list[Any] = []

    async def owns(values: list[Any]) -> list[bool]:
        await asyncio.sleep(0.02)
        return [value == "me" for value in values]

    authz = AuthExtension(lambda _: {"owns": BatchScope(owns)})

    @authz.type_rule(lambda p: {"owns": p.root.owner}, on_object=on_object)
    @strawberry.type
    class Doc:
        owner: strawberry.Private[str]
        text: str

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            docs[:] = [Doc(owner="me", text="mine"), Doc(owner="other", text="LEAK")]
            return docs

        @strawberry.field
        async def reverse(self) -> bool:
            await asyncio.sleep(0.001)
            docs.reverse()  # the same list object, in place
            return True

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("on_object", [False, True], ids=["type_rule", "on_object"])
async def test_a_list_reordered_in_place_while_decided_serves_the_items_decided(
    on_object,
):
    schema = shared_list_schema(on_object=on_object)
    result = await asyncio.wait_for(
        schema.execute("{ docs { text } reverse }"), timeout=HANG
    )
    assert "LEAK" not in dump(result)
    assert result.data == {"docs": [{"text": "mine"}, None], "reverse": True}
    assert codes(result) == ["FORBIDDEN"]


def batch_schema(load_fn: Any):
    """Docs owned by "b" (allowed) and "a" (denied), asked in one batch."""
    authz = AuthExtension(lambda _: {"owns": BatchScope(load_fn)})

    @authz.type_rule(lambda p: {"owns": p.root.owner})
    @strawberry.type
    class Doc:
        owner: strawberry.Private[str]
        text: str

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return [Doc(owner="b", text="allowed"), Doc(owner="a", text="LEAK")]

    return strawberry.Schema(query=Query, extensions=[authz])


def sorts_its_values(values: list[Any]) -> list[bool]:
    values.sort()  # ["a", "b"]: answered in that order
    return [value == "b" for value in values]


async def sorts_its_values_async(values: list[Any]) -> list[bool]:
    await asyncio.sleep(0)
    return sorts_its_values(values)


def pops_a_value(values: list[Any]) -> list[bool]:
    values.pop()  # one value fewer, and one answer fewer
    return [value == "b" for value in values]


async def pops_a_value_async(values: list[Any]) -> list[bool]:
    await asyncio.sleep(0)
    return pops_a_value(values)


async def run(schema: Any, is_async: bool) -> Any:
    if is_async:
        return await asyncio.wait_for(schema.execute("{ docs { text } }"), HANG)
    return schema.execute_sync("{ docs { text } }")


@pytest.mark.parametrize(
    ("load_fn", "is_async"),
    [
        (sorts_its_values, False),
        (sorts_its_values, True),
        (sorts_its_values_async, True),
    ],
)
async def test_a_load_fn_that_reorders_its_values_moves_no_answer(
    load_fn, is_async, caplog
):
    result = await run(batch_schema(load_fn), is_async)
    assert "LEAK" not in dump(result)
    assert result.data == {"docs": [None, None]}
    assert codes(result) == ["FORBIDDEN"] * 2
    assert "changed the list of values" in authz_logs(caplog)


@pytest.mark.parametrize(
    ("load_fn", "is_async"),
    [(pops_a_value, False), (pops_a_value, True), (pops_a_value_async, True)],
)
async def test_a_load_fn_that_pops_a_value_denies_its_chunk_and_never_hangs(
    load_fn, is_async, caplog
):
    result = await run(batch_schema(load_fn), is_async)
    assert "LEAK" not in dump(result)
    assert result.data == {"docs": [None, None]}
    assert codes(result) == ["FORBIDDEN"] * 2
    assert "answered 1 values for 2 asked" in authz_logs(caplog)
