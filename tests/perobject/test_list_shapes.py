"""Every way a resolver can produce a list is decided item by item.

A list, a tuple, a generator, an async generator, any async iterable, a list
of awaitables and a lazy iterable (one that can only be iterated) all go
through the same object rules (`on_object=True`, `drop_denied=True`, union
members) and type rule functions: the items served are exactly the items
decided. Where an item cannot be decided (an async shape under
`execute_sync`), it is denied, never served.
"""

from pathlib import Path
from typing import Annotated, Any

import pytest
import strawberry
from authzkit import codes, dump, owned_type
from shapekit import ASYNC_SHAPES, SYNC_SHAPES, execute_sync_leaving, shaped

import strawberry_authz
from strawberry_authz import AuthExtension


def owns(owner: str) -> bool:
    return owner == "me"


authz = AuthExtension(lambda _: {"owns": owns})


OWNS = lambda p: {"owns": p.root.owner}  # noqa: E731
Secret = owned_type(authz, "Secret", OWNS, on_object=True)
Dropped = owned_type(authz, "Dropped", OWNS, on_object=True, drop_denied=True)
# A type rule function (not `on_object`): decided per object, per field.
Note = owned_type(authz, "Note", OWNS)


@authz.type_rule(lambda p: not getattr(p.root, "hidden", False))
@strawberry.type
class Flagged:
    """A rule that allows anything without `hidden`: an unawaited item would pass."""

    hidden: strawberry.Private[bool]
    text: str


@strawberry.type
class Public:
    text: str


Mixed = Annotated[Secret | Public, strawberry.union("Mixed")]


def secrets() -> list[Any]:
    return [Secret(owner="me", text="mine"), Secret(owner="other", text="LEAK")]


@strawberry.type
class Query:
    @strawberry.field
    def secrets(self, shape: str) -> list[Secret | None]:
        return shaped(shape, secrets())

    @strawberry.field
    def dropped(self, shape: str) -> list[Dropped]:
        return shaped(
            shape,
            [Dropped(owner="me", text="mine"), Dropped(owner="other", text="LEAK")],
        )

    @strawberry.field
    def mixed(self, shape: str) -> list[Mixed | None]:  # type: ignore[valid-type]
        return shaped(shape, [*secrets(), Public(text="public")])

    @strawberry.field
    def nested(self, shape: str) -> list[list[Secret | None] | None]:
        return shaped(shape, [shaped(shape, secrets())])

    @strawberry.field
    def notes(self, shape: str) -> list[Note | None]:
        return shaped(
            shape, [Note(owner="me", text="mine"), Note(owner="other", text="LEAK")]
        )

    @strawberry.field
    def flagged(self, shape: str) -> list[Flagged | None]:
        return shaped(
            shape,
            [Flagged(hidden=False, text="shown"), Flagged(hidden=True, text="LEAK")],
        )


schema = strawberry.Schema(query=Query, extensions=[authz])

CASES = [
    ('{ secrets(shape: "%s") { text } }', {"secrets": [{"text": "mine"}, None]}, 1),
    ('{ dropped(shape: "%s") { text } }', {"dropped": [{"text": "mine"}]}, 0),
    (
        '{ mixed(shape: "%s") { ... on Secret { text } ... on Public { text } } }',
        {"mixed": [{"text": "mine"}, None, {"text": "public"}]},
        1,
    ),
    ('{ notes(shape: "%s") { text } }', {"notes": [{"text": "mine"}, None]}, 1),
    ('{ flagged(shape: "%s") { text } }', {"flagged": [{"text": "shown"}, None]}, 1),
]


@pytest.mark.parametrize(("query", "data", "denied"), CASES)
@pytest.mark.parametrize("shape", SYNC_SHAPES + ASYNC_SHAPES)
async def test_every_list_shape_is_decided_item_by_item_under_execute(
    shape, query, data, denied
):
    result = await schema.execute(query % shape)
    assert "LEAK" not in dump(result)
    assert result.data == data, result.errors
    assert codes(result) == ["FORBIDDEN"] * denied


@pytest.mark.parametrize(("query", "data", "denied"), CASES)
@pytest.mark.parametrize("shape", SYNC_SHAPES)
def test_every_sync_list_shape_is_decided_item_by_item_under_execute_sync(
    shape, query, data, denied
):
    result = schema.execute_sync(query % shape)
    assert "LEAK" not in dump(result)
    assert result.data == data, result.errors
    assert codes(result) == ["FORBIDDEN"] * denied


@pytest.mark.parametrize("shape", SYNC_SHAPES + ASYNC_SHAPES)
async def test_nested_lists_of_every_shape_are_decided_item_by_item(shape):
    result = await schema.execute(f'{{ nested(shape: "{shape}") {{ text }} }}')
    assert "LEAK" not in dump(result)
    assert result.data == {"nested": [[{"text": "mine"}, None]]}, result.errors
    assert codes(result) == ["FORBIDDEN"]


LIBRARY = str(Path(strawberry_authz.__file__).parent)


@pytest.mark.parametrize(("query", "data", "denied"), CASES)
@pytest.mark.parametrize("shape", ASYNC_SHAPES)
def test_an_async_list_shape_under_execute_sync_serves_nothing_undecided(
    shape, query, data, denied
):
    result, left = execute_sync_leaving(schema, query % shape)
    assert "LEAK" not in dump(result)
    assert "mine" not in dump(result)
    assert result.data is None
    if query.startswith(("{ secrets", "{ dropped", "{ mixed")):
        # Object rules: denied by the library (the others fail in graphql-core).
        # The library cannot decide them here: a failure, not a policy "no".
        assert codes(result) == ["INTERNAL_SERVER_ERROR"]
        # It closes the items it was given to await: none is left to warn.
        assert left == []
    else:
        # Strawberry's execute_sync abandons the async result it cannot
        # finish (see `execute_sync_leaving`); none of it is the library's.
        assert not [code for code in left if code.co_filename.startswith(LIBRARY)]
