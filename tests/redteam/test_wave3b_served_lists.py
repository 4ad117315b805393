"""Third wave (b): a post rule and a `grants=` function see the served list.

A `grants=` function that changes the list it is given (append, remove,
replace, reorder) must never make the field serve an item its rules deny,
nor apply an item's decision to another item. What held is written in
docs/security.md.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes, dump, owned_type

from strawberry_authz import AuthExtension

Mutation = Callable[[list[Any], Any], None]


def viewer(context: Any) -> dict[str, Any]:
    return {"user": context["user"]}


def appended(items: list[Any], doc: Any) -> None:
    items.append(doc(owner="bob", text="APPENDED-SECRET"))


def reordered(items: list[Any], doc: Any) -> None:
    items.reverse()


def removed(items: list[Any], doc: Any) -> None:
    items.pop()


def replaced(items: list[Any], doc: Any) -> None:
    items[0] = doc(owner="bob", text="APPENDED-SECRET")


MUTATIONS = [appended, reordered, removed, replaced]


async def items_of(docs: list[Any]) -> AsyncIterator[Any]:
    for doc in docs:
        yield doc


def mutating_schema(
    mutate: Mutation, *, where: str, shape: str, on_object: bool
) -> strawberry.Schema:
    """`Query.docs` (two of alice's documents) whose `grants=` function
    changes the list. `where`: "after_post", under a post rule that allows a
    list of the viewer's own documents; "grants", under `rule(True)` only.
    With an async generator the grants function is async too."""
    authz = AuthExtension(viewer)
    Doc = owned_type(
        authz,
        "Doc",
        (lambda p: p.root.owner == p.context["user"]) if on_object else True,
        on_object=on_object,
    )

    def all_mine(params: Any, result: Any) -> bool:
        return all(doc.owner == params.context["user"] for doc in result)

    def grants(params: Any, result: Any) -> list[str]:
        mutate(result, Doc)
        return ["read"]

    async def async_grants(params: Any, result: Any) -> list[str]:
        await asyncio.sleep(0)
        return grants(params, result)

    def docs() -> Any:
        rows = [Doc(owner="alice", text="first"), Doc(owner="alice", text="second")]
        if shape == "list":
            return rows
        if shape == "tuple":
            return tuple(rows)
        if shape == "gen":
            return iter(rows)
        return items_of(rows)

    given = async_grants if shape == "async_gen" else grants
    if where == "after_post":
        policy = authz.post_rule(all_mine, grants=given)
    else:
        policy = authz.rule(True, grants=given)

    @strawberry.type
    class Query:
        @policy
        @strawberry.field
        def docs(self) -> list[Doc | None]:  # type: ignore[valid-type]
            return docs()  # type: ignore[no-any-return]

    return strawberry.Schema(query=Query, extensions=[authz])


SHAPES = ["list", "tuple", "gen", "async_gen"]


@pytest.mark.parametrize("on_object", [False, True], ids=["field", "on_object"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mutate", MUTATIONS)
async def test_a_grants_function_changing_a_list_a_post_rule_allowed_denies_the_field(
    mutate: Mutation, shape: str, on_object: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The post rule allowed one list and another would be served: denied,
    as a failure, with the reason in the server log."""
    schema = mutating_schema(
        mutate, where="after_post", shape=shape, on_object=on_object
    )

    result = await schema.execute("{ docs { text } }", context_value={"user": "alice"})

    assert "APPENDED-SECRET" not in dump(result)
    assert result.data is None
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "Query.docs changed the list it was given" in authz_logs(caplog)


EXPECTED = {
    appended: ([{"text": "first"}, {"text": "second"}, None], ["FORBIDDEN"]),
    reordered: ([{"text": "second"}, {"text": "first"}], []),
    removed: ([{"text": "first"}], []),
    replaced: ([None, {"text": "second"}], ["FORBIDDEN"]),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mutate", MUTATIONS)
async def test_without_a_post_rule_object_rules_decide_what_a_grants_function_left(
    mutate: Mutation, shape: str
) -> None:
    """What the function leaves is served, each item decided on itself."""
    schema = mutating_schema(mutate, where="grants", shape=shape, on_object=True)

    result = await schema.execute("{ docs { text } }", context_value={"user": "alice"})

    data, errors = EXPECTED[mutate]
    assert "APPENDED-SECRET" not in dump(result)
    assert result.data == {"docs": data}
    assert codes(result) == errors


def untouched(items: list[Any], doc: Any) -> None:
    """Reads the list (as a grants function may) without changing it."""
    sorted(items, key=lambda item: item.text, reverse=True)


@pytest.mark.parametrize("on_object", [False, True], ids=["field", "on_object"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("where", ["after_post", "grants"])
async def test_a_function_reading_the_list_leaves_it_served(
    where: str, shape: str, on_object: bool
) -> None:
    schema = mutating_schema(untouched, where=where, shape=shape, on_object=on_object)

    result = await schema.execute("{ docs { text } }", context_value={"user": "alice"})

    assert result.data == {"docs": [{"text": "first"}, {"text": "second"}]}
    assert codes(result) == []


def nested_schema(mutate_inner: bool) -> strawberry.Schema:
    """`Query.pages` ([[alice's], [alice's]]) whose grants function adds
    bob's document to an inner list (or only reads the lists)."""
    authz = AuthExtension(viewer)
    Doc = owned_type(authz, "Doc", True)

    def all_mine(params: Any, result: Any) -> bool:
        user = params.context["user"]
        return all(doc.owner == user for page in result for doc in page)

    def grants(params: Any, result: Any) -> list[str]:
        if mutate_inner:
            result[1].append(Doc(owner="bob", text="APPENDED-SECRET"))
        return ["read"]

    @strawberry.type
    class Query:
        @authz.post_rule(all_mine, grants=grants)
        @strawberry.field
        def pages(self) -> list[list[Doc]]:  # type: ignore[valid-type]
            return [
                [Doc(owner="alice", text="first")],
                iter([Doc(owner="alice", text="second")]),
            ]

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("mutate_inner", [True, False], ids=["changed", "read"])
def test_an_inner_list_changed_under_execute_sync_denies_the_field(
    mutate_inner: bool,
) -> None:
    schema = nested_schema(mutate_inner)

    result = schema.execute_sync("{ pages { text } }", context_value={"user": "alice"})

    assert "APPENDED-SECRET" not in dump(result)
    if mutate_inner:
        assert result.data is None
        assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    else:
        assert result.data == {"pages": [[{"text": "first"}], [{"text": "second"}]]}
