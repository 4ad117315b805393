"""Type rule functions run once per object, and lists decide them up front."""

import asyncio
import gc
from typing import Any

import pytest
import strawberry
from authzkit import codes

from strawberry_authz import AuthExtension, BatchScope


def build(*, is_async: bool = False, items: int = 20):
    seen: list[tuple[Any, dict[str, Any]]] = []
    loads: list[Any] = []

    def rule(params: Any) -> Any:
        seen.append((params.root.id, dict(params.args)))
        return {"owner": params.root.owner}

    async def async_rule(params: Any) -> Any:
        await asyncio.sleep(0)
        return rule(params)

    def owner(value: str) -> bool:
        loads.append(value)
        return value == "ann"

    authz = AuthExtension(lambda _: {"owner": owner})

    @authz.type_rule(async_rule if is_async else rule)
    @strawberry.type
    class Note:
        id: int
        owner: str

        @strawberry.field
        def title(self, upper: bool = False) -> str:
            return "TITLE" if upper else "title"

        @strawberry.field
        def body(self) -> str:
            return "body"

    @strawberry.type
    class Query:
        @strawberry.field
        def notes(self) -> list[Note | None]:
            return [Note(id=i, owner="ann" if i % 2 else "bob") for i in range(items)]

        @strawberry.field
        def note(self) -> Note | None:
            return Note(id=99, owner="ann")

    schema = strawberry.Schema(query=Query, extensions=[authz])
    return schema, seen, loads


QUERY = "{ notes { id owner title(upper: true) body again: body } }"


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_type_rule_function_runs_once_per_object_with_empty_args(is_async):
    schema, seen, loads = build(is_async=is_async)
    result = await schema.execute(QUERY)
    assert len(result.data["notes"]) == 20
    assert sorted(root for root, _ in seen) == list(range(20))
    assert all(args == {} for _, args in seen)
    assert sorted(set(loads)) == ["ann", "bob"] and len(loads) == 2
    assert codes(result) == ["FORBIDDEN"] * 10


def test_a_single_object_also_runs_it_once():
    schema, seen, _ = build()
    result = schema.execute_sync("{ note { id title body } }")
    assert result.data == {"note": {"id": 99, "title": "title", "body": "body"}}
    assert seen == [(99, {})]


def test_the_same_object_in_two_places_is_decided_per_place():
    schema, seen, _ = build(items=2)
    result = schema.execute_sync("{ a: notes { id } b: notes { id } }")
    assert result.data["a"] == result.data["b"] == [None, {"id": 1}]
    assert len(seen) == 4


def test_a_rule_set_returned_per_object_is_compiled_once_per_distinct_form():
    authz = AuthExtension(lambda _: {"owner": lambda value: value == "ann"})

    @authz.type_rule(lambda p: {"$or": [{"owner": p.root.owner}, {"owner": "nobody"}]})
    @strawberry.type
    class Note:
        id: int
        owner: str

    @strawberry.type
    class Query:
        @strawberry.field
        def notes(self) -> list[Note | None]:
            return [Note(id=i, owner="ann" if i % 2 else "bob") for i in range(50)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    compiled: list[Any] = []
    original = authz._compiler.compile

    def counting(rules: Any, **kwargs: Any) -> Any:
        compiled.append(rules)
        return original(rules, **kwargs)

    authz._compiler.compile = counting  # type: ignore[method-assign]
    result = schema.execute_sync("{ notes { id owner } }")
    assert len([n for n in result.data["notes"] if n]) == 25
    assert len(compiled) == 2  # one per distinct form: ann's and bob's


def test_a_plain_scope_answer_per_object_needs_no_compiling():
    schema, _, _ = build(items=50)
    authz = schema.extensions[0]
    compiled: list[Any] = []
    original = authz._compiler.compile
    authz._compiler.compile = lambda rules, **kw: (
        compiled.append(rules) or original(rules, **kw)
    )
    result = schema.execute_sync(QUERY)
    assert len([n for n in result.data["notes"] if n]) == 25
    assert compiled == []


async def test_items_resolve_from_the_pre_decision_without_waiting_per_field():
    """A list with a batch scope behind a type rule function: one batch, and
    no field of an item waits on anything of its own."""
    waits = 0
    batches: list[list[Any]] = []

    async def answer(values: list[Any]) -> list[bool]:
        nonlocal waits
        waits += 1
        batches.append(values)
        await asyncio.sleep(0)
        return [value == "ann" for value in values]

    authz = AuthExtension(lambda _: {"owner": BatchScope(answer)})

    @authz.type_rule(lambda p: {"owner": p.root.owner})
    @strawberry.type
    class Note:
        id: int
        owner: str

    @strawberry.type
    class Query:
        @strawberry.field
        async def notes(self) -> list[Note | None]:
            return [
                Note(id=i, owner=f"user{i % 7}" if i % 3 else "ann") for i in range(300)
            ]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ notes { id owner } }")
    allowed = [n for n in result.data["notes"] if n is not None]
    assert {n["owner"] for n in allowed} == {"ann"}
    assert len(batches) == 1
    assert sorted(batches[0]) == sorted(["ann", *(f"user{i}" for i in range(7))])


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_list_of_checked_objects_leaves_nothing_for_the_garbage_collector(
    is_async,
):
    """What each item's rule function got (its params, the call behind them)
    is freed as soon as the item is decided, not kept for the collector: a
    list of 10,000 items would otherwise leave 10,000 reference cycles."""
    from strawberry_authz import AuthParams
    from strawberry_authz._params import FieldCall  # the internal call record

    seen: list[int] = []

    def rule(params: Any) -> Any:
        seen.append(params.root.id)
        return {"can": ["note", params.root.id]}

    async def async_rule(params: Any) -> Any:
        return rule(params)

    authz = AuthExtension(lambda _: {"can": lambda value: True})

    @authz.type_rule(async_rule if is_async else rule)
    @strawberry.type
    class Note:
        id: int
        body: str

    @strawberry.type
    class Query:
        @strawberry.field
        def notes(self) -> list[Note]:
            return [Note(id=i, body="body") for i in range(200)]

    schema = strawberry.Schema(query=Query, extensions=[authz])

    def alive() -> int:
        return sum(type(o) in (AuthParams, FieldCall) for o in gc.get_objects())

    gc.collect()
    before = alive()
    gc.disable()
    try:
        result = await schema.execute("{ notes { id body } }")
        assert len(result.data["notes"]) == 200 and not result.errors
        assert sorted(seen) == list(range(200))
        del result
        left = alive() - before
    finally:
        gc.enable()
    assert left == 0
