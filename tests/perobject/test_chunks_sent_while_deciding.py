"""A long list is asked chunk by chunk while the rest is still being decided.

With an event loop, once a scope has a full chunk of values (its
`max_batch_size`) the chunk goes to `load_fn` and the rest of the list is
decided after yielding: the engine works while the library decides. Every
chunk still goes out full, each value is asked once, every object gets its
own answer, and nothing is left waiting whatever a rule or a chunk does.
"""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import dump

from strawberry_authz import AuthExtension, BatchScope

ITEMS = 25
CHUNK = 10


def schema(load_fn: Any, rule: Any, *, on_object: bool = False, lists: int = 1):
    def scopes(_: Any) -> dict[str, Any]:
        return {
            "can": BatchScope(load_fn, max_batch_size=CHUNK),
            "also": BatchScope(load_fn, max_batch_size=CHUNK),
        }

    authz = AuthExtension(scopes)

    @authz.type_rule(rule, on_object=on_object)
    @strawberry.type
    class Doc:
        id: int
        text: str

    docs = [Doc(id=i, text="ok" if i % 3 else f"LEAK{i}") for i in range(ITEMS)]

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return docs

        @strawberry.field
        def again(self) -> list[Doc | None]:
            return docs

    return strawberry.Schema(query=Query, extensions=[authz])


def allowed(value: Any) -> bool:
    return value % 3 != 0


async def run(schema: strawberry.Schema, query: str = "{ docs { id text } }"):
    # A pass that left a value unasked would hang here: fail, not wait.
    return await asyncio.wait_for(schema.execute(query), timeout=10)


def expected_docs() -> list[Any]:
    return [{"id": i, "text": "ok"} if allowed(i) else None for i in range(ITEMS)]


def visible(result: Any, field: str = "docs") -> list[Any]:
    """Each item as the client sees it: the object, or None if denied."""
    items = result.data[field]
    return [
        item if item is not None and item.get("text") is not None else None
        for item in items
    ]


@pytest.mark.parametrize("on_object", [False, True], ids=["type_rule", "on_object"])
async def test_the_first_chunk_is_asked_before_the_last_object_is_decided(
    on_object,
):
    events: list[str] = []

    async def load(values: list[Any]) -> list[bool]:
        events.append(f"load {values[0]}")
        await asyncio.sleep(0)
        return [allowed(value) for value in values]

    def rule(params: Any) -> Any:
        events.append(f"rule {params.root.id}")
        return {"can": params.root.id}

    result = await run(schema(load, rule, on_object=on_object))
    assert "LEAK" not in dump(result)
    assert visible(result) == expected_docs()
    assert events.index("load 0") < events.index(f"rule {ITEMS - 1}")
    assert events.index("load 10") < events.index(f"rule {ITEMS - 1}")


async def test_every_chunk_goes_out_full_and_each_value_once():
    asked: list[list[Any]] = []

    async def load(values: list[Any]) -> list[bool]:
        asked.append(list(values))
        return [allowed(value) for value in values]

    # 25 objects, 12 distinct values: the second chunk holds only the two
    # values the first did not, the rest wait for answers already asked.
    result = await run(schema(load, lambda p: {"can": p.root.id % 12}))
    assert [sorted(chunk) for chunk in asked] == [list(range(10)), [10, 11]]
    assert visible(result) == [
        {"id": i, "text": "ok"} if allowed(i % 12) else None for i in range(ITEMS)
    ]


async def test_chunks_of_a_long_list_are_all_full_but_the_last():
    asked: list[list[Any]] = []

    async def load(values: list[Any]) -> list[bool]:
        asked.append(list(values))
        return [allowed(value) for value in values]

    result = await run(schema(load, lambda p: {"can": p.root.id}))
    assert asked == [list(range(0, 10)), list(range(10, 20)), list(range(20, 25))]
    assert visible(result) == expected_docs()


async def test_a_rule_raising_after_the_first_chunk_denies_only_its_object():
    async def load(values: list[Any]) -> list[bool]:
        return [True for _ in values]

    def rule(params: Any) -> Any:
        if params.root.id == 17:
            raise RuntimeError("secret detail")
        return {"can": params.root.id}

    result = await run(schema(load, rule))
    assert "secret detail" not in dump(result)
    items = visible(result)
    assert items[17] is None
    assert all(items[i] is not None for i in range(ITEMS) if i != 17)


async def test_a_failing_chunk_denies_its_objects_and_no_other():
    async def load(values: list[Any]) -> list[bool]:
        if 10 in values:
            raise RuntimeError("engine down")
        return [True for _ in values]

    result = await run(schema(load, lambda p: {"can": p.root.id}))
    assert "engine down" not in dump(result)
    items = visible(result)
    assert [i for i, item in enumerate(items) if item is None] == list(range(10, 20))


async def test_values_of_two_scopes_are_all_asked():
    """A rule alternating between two scopes: one fills a chunk while the
    other's values wait; those are asked too, none is left waiting."""
    asked: list[list[Any]] = []

    async def load(values: list[Any]) -> list[bool]:
        asked.append(list(values))
        return [allowed(value) for value in values]

    def rule(params: Any) -> Any:
        return {"can" if params.root.id % 2 else "also": params.root.id}

    result = await run(schema(load, rule))
    assert visible(result) == expected_docs()
    assert sorted(value for chunk in asked for value in chunk) == list(range(ITEMS))


async def test_a_second_list_asking_the_same_values_waits_for_the_first():
    asked: list[list[Any]] = []

    async def load(values: list[Any]) -> list[bool]:
        asked.append(list(values))
        await asyncio.sleep(0.01)
        return [allowed(value) for value in values]

    result = await run(
        schema(load, lambda p: {"can": p.root.id}),
        "{ docs { id text } again { id text } }",
    )
    assert "LEAK" not in dump(result)
    assert visible(result) == expected_docs()
    assert visible(result, "again") == expected_docs()
    assert sorted(value for chunk in asked for value in chunk) == list(range(ITEMS))
