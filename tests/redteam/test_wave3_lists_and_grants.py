"""Third wave: async lists, unions, drop_denied and grants= functions meet.

What held is written in docs/security.md ("What the third wave's attack
tried, and what held").
"""

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
import strawberry
from authzkit import codes, docs_schema, dump, ruled_type

from strawberry_authz import AuthExtension


def viewer(context: Any) -> dict[str, Any]:
    return {"user": context["user"] if context else None}


def union_schema(drop: bool, shape: str) -> strawberry.Schema:
    authz = AuthExtension(viewer)

    @authz.type_rule(
        lambda p: p.root.owner == p.context["user"], on_object=True, drop_denied=drop
    )
    @strawberry.type
    class Secret:
        owner: str
        body: str

    @strawberry.type
    class Public:
        text: str

    Item = Annotated[Secret | Public, strawberry.union("Item")]

    def items() -> list[Any]:
        return [
            Secret(owner="alice", body="alice body"),
            Public(text="hello"),
            Secret(owner="bob", body="bob body"),
        ]

    @strawberry.type
    class Query:
        if shape == "async_gen":

            @strawberry.field
            async def items(self) -> list[Item | None]:  # type: ignore[valid-type]
                for item in items():
                    yield item

        elif shape == "gen":

            @strawberry.field
            def items(self) -> list[Item | None]:  # type: ignore[valid-type]
                yield from items()

        else:

            @strawberry.field
            def items(self) -> list[Item | None]:  # type: ignore[valid-type]
                return tuple(items())

    return strawberry.Schema(query=Query, extensions=[authz])


QUERY = "{ items { ... on Secret { owner body } ... on Public { text } } }"


@pytest.mark.parametrize("drop", [False, True])
@pytest.mark.parametrize("shape", ["async_gen", "gen", "tuple"])
async def test_a_union_list_from_any_shape_serves_only_the_viewers_secret(drop, shape):
    schema = union_schema(drop, shape)
    result = await schema.execute(QUERY, context_value={"user": "alice"})
    assert "bob body" not in dump(result)
    items = result.data["items"]
    assert {"owner": "alice", "body": "alice body"} in items
    assert {"text": "hello"} in items
    if drop:
        assert len(items) == 2 and result.errors is None
    else:
        assert items[2] is None and codes(result) == ["FORBIDDEN"]


def granting_schema(shape: str) -> tuple[strawberry.Schema, list[int]]:
    """A `grants=` function that consumes the generator it is given."""
    authz = AuthExtension(viewer)
    consumed: list[int] = []

    def grant_by_looking(_params: Any, result: Any) -> list[str]:
        # An attacker-ish grants function: iterate whatever it receives.
        for item in result:
            consumed.append(item.id)
        return ["read"]

    @authz.type_rule(
        lambda p: {"$granted": "read"} if p.root.owner == p.context["user"] else False,
        on_object=True,
    )
    @strawberry.type
    class Doc:
        id: int
        owner: str
        body: str

    def docs() -> list[Any]:
        return [Doc(id=1, owner="alice", body="a"), Doc(id=2, owner="bob", body="b")]

    @strawberry.type
    class Query:
        if shape == "gen":

            @authz.rule(True, grants=grant_by_looking)
            @strawberry.field
            def docs(self) -> list[Doc | None]:
                yield from docs()

        else:

            @authz.rule(True, grants=grant_by_looking)
            @strawberry.field
            async def docs(self) -> list[Doc | None]:
                for doc in docs():
                    yield doc

    return strawberry.Schema(query=Query, extensions=[authz]), consumed


@pytest.mark.parametrize("shape", ["gen", "async_gen"])
async def test_a_grants_function_that_drains_a_generator_loses_nothing(shape):
    schema, consumed = granting_schema(shape)
    result = await schema.execute(
        "{ docs { id owner body } }", context_value={"user": "alice"}
    )
    text = dump(result)
    # Bob's doc is never served; alice's is, though the function read it first.
    assert '"b"' not in text and "'b'" not in text
    assert result.data == {"docs": [{"id": 1, "owner": "alice", "body": "a"}, None]}
    assert codes(result) == ["FORBIDDEN"]
    assert consumed == [1, 2]


class Countdown:
    """A lazy iterable that may be iterated only once (like a DB cursor)."""

    def __init__(self, items: list[Any]) -> None:
        self._items: Iterator[Any] | None = iter(items)

    def __iter__(self) -> Iterator[Any]:
        items, self._items = self._items, None
        if items is None:
            raise RuntimeError("cursor already consumed: SECRET-CURSOR-TEXT")
        return items


async def aiter_of(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


async def test_a_one_shot_iterable_denies_plainly_when_read_twice():
    authz = AuthExtension(viewer)
    Doc = ruled_type(
        authz,
        "Doc",
        {"owner": str},
        lambda p: p.root.owner == p.context["user"],
        on_object=True,
    )
    schema = docs_schema(
        authz, Doc, lambda: Countdown([Doc(owner="alice"), Doc(owner="bob")])
    )
    result = await schema.execute("{ docs { owner } }", context_value={"user": "alice"})
    assert "SECRET-CURSOR-TEXT" not in dump(result)
    assert "bob" not in repr(result.data)


def failing_grants_schema(how: str, is_async: bool) -> strawberry.Schema:
    authz = AuthExtension(viewer)

    def broken(*_args: Any) -> Any:
        if how == "raise":
            raise RuntimeError("GRANTS-SECRET")
        return 42  # not a name nor a list of names

    async def broken_async(*args: Any) -> Any:
        return broken(*args)

    maker = broken_async if is_async else broken

    @authz.type_rule({"$granted": "read"})
    @strawberry.type
    class Doc:
        body: str = "BODY"

    @authz.type_rule({"$granted": "see"}, grants=maker)
    @strawberry.type
    class Folder:
        name: str = "NAME"

    @strawberry.type
    class Query:
        @authz.rule(True, grants=maker)
        @strawberry.field
        def doc(self) -> Doc | None:
            return Doc()

        @authz.rule(True, grants=maker)
        @strawberry.field
        async def docs(self) -> list[Doc | None]:
            yield Doc()

        @authz.rule(True)
        @strawberry.field
        def folder(self) -> Folder | None:
            return Folder()

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("how", ["raise", "bad_value"])
async def test_a_failing_grants_function_is_a_failure_not_a_policy_denial(
    how, is_async
):
    """Issue 19 point 6: a client can tell "could not check" from "no"."""
    schema = failing_grants_schema(how, is_async)
    result = await schema.execute(
        "{ doc { body } docs { body } folder { name } }", context_value={}
    )
    text = dump(result)
    assert "GRANTS-SECRET" not in text
    assert "BODY" not in text and "NAME" not in text
    assert codes(result) == ["INTERNAL_SERVER_ERROR"] * 3


@pytest.mark.parametrize("drop", [False, True])
async def test_every_denied_union_item_of_an_async_list_is_one_audit_record(drop):
    from strawberry_authz.audit import AuditLog

    records: list[dict[str, Any]] = []
    authz = AuthExtension(
        viewer, on_decision=AuditLog(records.append, only_denied=True)
    )

    @authz.type_rule(
        lambda p: p.root.owner == p.context["user"], on_object=True, drop_denied=drop
    )
    @strawberry.type
    class Secret:
        owner: str

    @strawberry.type
    class Public:
        text: str

    Item = Annotated[Secret | Public, strawberry.union("AuditedItem")]

    @strawberry.type
    class Query:
        @strawberry.field
        async def items(self) -> list[Item | None]:  # type: ignore[valid-type]
            for owner in ("bob", "alice", "carol"):
                yield Secret(owner=owner)
            yield Public(text="hi")

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute(
        "{ items { ... on Secret { owner } ... on Public { text } } }",
        context_value={"user": "alice"},
    )
    assert "bob" not in dump(result) and "carol" not in dump(result)
    assert len(records) == 2
    assert {r["effect"] for r in records} == {"deny"}
