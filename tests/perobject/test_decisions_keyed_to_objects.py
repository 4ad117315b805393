"""Per-object answers belong to the object and the value they were decided for.

A list re-ordered in place while its items are decided, or a `load_fn` that
sorts or pops the values it is given, never moves an answer onto another
object; a `load_fn` answering the wrong number of values denies its chunk,
under `execute` as under `execute_sync`, and nothing waits forever.
"""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes, dump, owned_type

from strawberry_authz import AuthExtension, BatchScope

HANG = 5.0  # seconds: far more than any of these operations needs


def docs_schema(
    owns: Any,
    docs: Callable[[Any], Any],
    *,
    on_object: bool = False,
    base: type = object,
) -> strawberry.Schema:
    """`docs` returns `docs(Doc)`; `Doc`'s type rule asks `owns` of its owner.

    `owns` is the scope's loader; `base` gives the query more fields.
    """
    authz = AuthExtension(lambda _: {"owns": owns})
    Doc = owned_type(
        authz, "Doc", lambda p: {"owns": p.root.owner}, on_object=on_object
    )

    @strawberry.type
    class Query(base):  # type: ignore[misc,valid-type]
        @strawberry.field
        def docs(self) -> list[Doc | None]:  # type: ignore[valid-type]
            return docs(Doc)  # type: ignore[no-any-return]

    return strawberry.Schema(query=Query, extensions=[authz])


def shared_list_schema(*, on_object: bool):
    """`docs` returns one list object that its sibling `reverse` re-orders.

    The `owns` batch answers after a round trip, so `reverse` runs while the
    items of `docs` are being decided.
    """
    shared: list[Any] = []

    async def owns(values: list[Any]) -> list[bool]:
        await asyncio.sleep(0.02)
        return [value == "me" for value in values]

    def docs(Doc: Any) -> list[Any]:
        shared[:] = [Doc(owner="me", text="mine"), Doc(owner="other", text="LEAK")]
        return shared

    @strawberry.type
    class Reversing:
        @strawberry.field
        async def reverse(self) -> bool:
            await asyncio.sleep(0.001)
            shared.reverse()  # the same list object, in place
            return True

    return docs_schema(BatchScope(owns), docs, on_object=on_object, base=Reversing)


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
    return docs_schema(
        BatchScope(load_fn),
        lambda Doc: [Doc(owner="b", text="allowed"), Doc(owner="a", text="LEAK")],
    )


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
    assert codes(result) == ["INTERNAL_SERVER_ERROR"] * 2
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
    assert codes(result) == ["INTERNAL_SERVER_ERROR"] * 2
    assert "answered 1 values for 2 asked" in authz_logs(caplog)


class Shifting(tuple):
    """A tuple that yields its items in another order every time it is iterated."""

    def __iter__(self):
        self.turns = getattr(self, "turns", 0) + 1
        items = list(super().__iter__())
        return iter(items if self.turns % 2 else items[::-1])


class ShiftingList(list):
    def __iter__(self):
        self.turns = getattr(self, "turns", 0) + 1
        items = [self[index] for index in range(len(self))]
        return iter(items if self.turns % 2 else items[::-1])


@pytest.mark.parametrize("kind", [Shifting, ShiftingList])
@pytest.mark.parametrize("on_object", [False, True], ids=["type_rule", "on_object"])
@pytest.mark.parametrize("is_async", [False, True], ids=["execute_sync", "execute"])
async def test_a_list_iterating_differently_each_time_serves_the_items_decided(
    kind, on_object, is_async
):
    schema = docs_schema(
        lambda owner: owner == "me",
        lambda Doc: kind([Doc(owner="me", text="mine"), Doc(owner="x", text="LEAK")]),
        on_object=on_object,
    )
    query = "{ docs { text } }"
    result = await schema.execute(query) if is_async else schema.execute_sync(query)
    assert "LEAK" not in dump(result)
    assert codes(result) == ["FORBIDDEN"]


class FlippingAnswers(list):
    """Answers that turn to `True` after being read once."""

    def __iter__(self):
        self.reads = getattr(self, "reads", 0) + 1
        return iter(self[:] if self.reads == 1 else [True] * len(self))


def flipping(values: list[Any]) -> list[bool]:
    return FlippingAnswers(value == "b" for value in values)


@pytest.mark.parametrize("is_async", [False, True], ids=["execute_sync", "execute"])
async def test_answers_are_read_once_so_a_second_read_changes_nothing(is_async):
    result = await run(batch_schema(flipping), is_async)
    assert "LEAK" not in dump(result)
    assert result.data == {"docs": [{"text": "allowed"}, None]}
