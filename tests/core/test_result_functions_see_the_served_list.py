"""A `grants=` function and a post rule see a list field's result as served.

`fn(params, result)` of a list field gets the list graphql-core then serves,
settled: a generator or a lazy iterable read once, an async iterable read to
its end, awaitable items awaited (under `execute`), every level of a nested
list. Reading it never shortens what is served, and the item rules decide
the same items (`on_object`, `drop_denied`, type rule functions). Under
`execute_sync` a list still to be awaited cannot be settled: the field is
denied and the function never sees it.
"""

from typing import Any

import pytest
import strawberry
from authzkit import codes, dump, owned_type
from shapekit import (
    ASYNC_SHAPES,
    SYNC_SHAPES,
    execute_sync_leaving,
    forget_tracebacks,
    shaped,
    unawaited_coroutines,
)

from strawberry_authz import AuthExtension


def owns(owner: str) -> bool:
    return owner == "me"


authz = AuthExtension(lambda _: {"owns": owns})

GRANTED_AND_OWNED = lambda p: {"$granted": "read", "owns": p.root.owner}  # noqa: E731
Secret = owned_type(authz, "Secret", GRANTED_AND_OWNED, on_object=True)
Dropped = owned_type(
    authz, "Dropped", GRANTED_AND_OWNED, on_object=True, drop_denied=True
)
# A type rule function (not `on_object`): decided per object, per field.
Note = owned_type(authz, "Note", GRANTED_AND_OWNED)
Mine = owned_type(authz, "Mine", lambda p: {"owns": p.root.owner}, on_object=True)


def reads(params: Any, result: Any) -> list[str]:
    """Reads every item it is given, as a grants function may."""
    params.context["seen"].append(result)
    assert all(item is not None for item in result)
    return ["read"]


async def reads_later(params: Any, result: Any) -> list[str]:
    return reads(params, result)


def reads_all(params: Any, result: Any) -> bool:
    """A post rule that reads every item it is given."""
    return reads(params, result) == ["read"]


def rows(kind: type, shape: str) -> Any:
    return shaped(shape, [kind(owner="me", text="mine"), kind(owner="x", text="LEAK")])


@strawberry.type
class Query:
    @authz.rule(True, grants=reads)
    @strawberry.field
    def secrets(self, shape: str) -> list[Secret | None]:
        return rows(Secret, shape)

    @authz.rule(True, grants=reads_later)
    @strawberry.field
    def later(self, shape: str) -> list[Secret | None]:
        return rows(Secret, shape)

    @authz.rule(True, grants=reads)
    @strawberry.field
    def dropped(self, shape: str) -> list[Dropped]:
        return rows(Dropped, shape)

    @authz.rule(True, grants=reads)
    @strawberry.field
    def notes(self, shape: str) -> list[Note | None]:
        return rows(Note, shape)

    @authz.post_rule(reads_all)
    @strawberry.field
    def checked(self, shape: str) -> list[Mine | None]:
        return rows(Mine, shape)

    @authz.rule(True, grants=reads)
    @strawberry.field
    def nested(self, shape: str) -> list[list[Secret | None]]:
        return shaped(shape, [rows(Secret, shape)])


schema = strawberry.Schema(query=Query, extensions=[authz])

MINE_THEN_DENIED = [{"text": "mine"}, None]
CASES = {
    "secrets": (MINE_THEN_DENIED, 1),
    "later": (MINE_THEN_DENIED, 1),
    "dropped": ([{"text": "mine"}], 0),
    "notes": (MINE_THEN_DENIED, 1),
    "checked": (MINE_THEN_DENIED, 1),
}


def seen_texts(seen: list[Any]) -> list[Any]:
    """What each call of the function saw: its type and the items' texts."""
    return [(type(result), [item.text for item in result]) for result in seen]


async def run(field: str, shape: str, *, is_async: bool) -> tuple[Any, list[Any]]:
    context: dict[str, Any] = {"seen": []}
    query = f'{{ {field}(shape: "{shape}") {{ text }} }}'
    if is_async:
        result = await schema.execute(query, context_value=context)
    else:
        result = schema.execute_sync(query, context_value=context)
    return result, context["seen"]


RUNS = [
    *((True, shape, field) for shape in SYNC_SHAPES + ASYNC_SHAPES for field in CASES),
    # An async grants function (`later`) needs `execute`.
    *(
        (False, shape, field)
        for shape in SYNC_SHAPES
        for field in CASES
        if field != "later"
    ),
]


@pytest.mark.parametrize(("is_async", "shape", "field"), RUNS)
async def test_the_function_sees_the_settled_list_and_all_of_it_is_served(
    is_async, shape, field
):
    result, seen = await run(field, shape, is_async=is_async)
    data, denied = CASES[field]
    assert "LEAK" not in dump(result)
    assert result.data == {field: data}, result.errors
    assert codes(result) == ["FORBIDDEN"] * denied
    assert seen_texts(seen) == [(list, ["mine", "LEAK"])]


@pytest.mark.parametrize("shape", SYNC_SHAPES + ASYNC_SHAPES)
async def test_every_level_of_a_nested_list_is_settled_before_the_function(shape):
    result, seen = await run("nested", shape, is_async=True)
    assert "LEAK" not in dump(result)
    assert result.data == {"nested": [MINE_THEN_DENIED]}, result.errors
    assert codes(result) == ["FORBIDDEN"]
    assert [type(level) for level in seen] == [list]
    assert seen_texts(seen[0]) == [(list, ["mine", "LEAK"])]


@pytest.mark.parametrize("field", CASES)
@pytest.mark.parametrize("shape", ASYNC_SHAPES)
def test_a_list_to_await_under_execute_sync_is_denied_unseen(shape, field):
    context: dict[str, Any] = {"seen": []}
    query = f'{{ {field}(shape: "{shape}") {{ text }} }}'
    result, left = execute_sync_leaving(schema, query, context_value=context)
    assert "LEAK" not in dump(result) and "mine" not in dump(result)
    assert result.data is None
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert context["seen"] == []
    assert left == []  # the items it was given to await are closed


def test_the_function_gets_the_list_that_is_served():
    served: list[Any] = []

    def keeps(_params: Any, result: Any) -> list[str]:
        served.append(result)
        result.reverse()  # what the function does to the list, the client sees
        return ["read"]

    guarded = AuthExtension(lambda _: {"owns": owns})
    Doc = owned_type(guarded, "Doc", GRANTED_AND_OWNED, on_object=True)

    @strawberry.type
    class Query:
        @guarded.rule(True, grants=keeps)
        @strawberry.field
        def docs(self) -> list[Doc | None]:  # type: ignore[valid-type]
            yield Doc(owner="me", text="first")
            yield Doc(owner="me", text="second")

    result = strawberry.Schema(query=Query, extensions=[guarded]).execute_sync(
        "{ docs { text } }"
    )
    assert result.data == {"docs": [{"text": "second"}, {"text": "first"}]}
    assert [doc.text for doc in served[0]] == ["second", "first"]


async def test_a_post_rule_denying_a_list_of_awaitables_leaves_none_unawaited():
    guarded = AuthExtension(lambda _: {})

    @strawberry.type
    class Query:
        @guarded.post_rule(lambda _params, result: len(result) > 2)
        @strawberry.field
        def docs(self) -> list[str] | None:
            return shaped("awaitables", ["a", "b"])

    schema = strawberry.Schema(query=Query, extensions=[guarded])
    with unawaited_coroutines() as left:
        result = await schema.execute("{ docs }")
        forget_tracebacks(result)
    assert result.data == {"docs": None}
    assert codes(result) == ["FORBIDDEN"]
    assert left == []
