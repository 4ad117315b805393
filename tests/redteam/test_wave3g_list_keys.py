"""Red team, wave 3g: a flat list keys its objects' answers by ints.

A field returning a flat list of one object type with an object rule keys
each item's answer by an int of a range no other list of the operation
shares (not even after a clear or a subscription's next event). Two lists
of one operation (siblings, aliases of one field, a list per parent) must
each be decided item by item, by their own objects; an answer must never
reach another list's item, whatever the rule returns.
"""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import dump, ruled_type

from strawberry_authz import AuthExtension, AuthParams, BatchScope

MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
DROPS = pytest.mark.parametrize("drop", [False, True], ids=["errors", "dropped"])


def run(
    schema: strawberry.Schema, is_async: bool, query: str, user: str = "alice"
) -> Any:
    context = {"user": user}
    if is_async:
        return asyncio.run(
            asyncio.wait_for(schema.execute(query, context_value=context), 10)
        )
    return schema.execute_sync(query, context_value=context)


def allowed_for(user: str, doc_id: int) -> bool:
    """alice may see the even ids below 100; nobody else anything."""
    return user == "alice" and doc_id % 2 == 0 and doc_id < 100


def build(
    is_async: bool,
    *,
    rule: Any = None,
    drop: bool = False,
    batch: bool = True,
    on_decision: Any = None,
    size: int = 4,
) -> tuple[strawberry.Schema, Any, list[int]]:
    """`docs(ids)` and `teams { docs }` of `Doc(id, text)` under an object
    rule (`{"can": ["doc", id]}` by default), "can" a `BatchScope` (or a
    plain scope) answering `allowed_for`; every id asked is listed."""
    asked: list[int] = []

    def load(context: Any) -> dict[str, Any]:
        user = context["user"]

        def check(values: list[Any]) -> list[bool]:
            asked.extend(value[1] for value in values)
            return [allowed_for(user, value[1]) for value in values]

        async def check_async(values: list[Any]) -> list[bool]:
            await asyncio.sleep(0)
            return check(values)

        if not batch:
            return {"can": lambda value: check([value])[0]}
        return {
            "can": BatchScope(check_async if is_async else check, max_batch_size=size)
        }

    authz = AuthExtension(load, on_decision=on_decision)
    if rule is not None and getattr(rule, "wants_authz", False):
        rule = rule(authz)
    doc = ruled_type(
        authz,
        "Doc",
        {"id": int, "text": str},
        rule or (lambda p: {"can": ["doc", p.root.id]}),
        on_object=True,
        drop_denied=drop,
    )

    def make(ids: list[int]) -> list[Any]:
        return [None if i is None else doc(id=i, text=f"SECRET<{i}>") for i in ids]

    @strawberry.type
    class Team:
        ids: strawberry.Private[list[int]]

        @strawberry.field
        def docs(self) -> list[doc | None]:  # type: ignore[valid-type]
            return make(self.ids)

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self, ids: list[int]) -> list[doc | None]:  # type: ignore[valid-type]
            return make(ids)

        @strawberry.field
        async def later_docs(self, ids: list[int]) -> list[doc | None]:  # type: ignore[valid-type]
            await asyncio.sleep(0)
            return make(ids)

        @authz.rule(True, grants=["read"])
        @strawberry.field
        def granted_docs(self, ids: list[int]) -> list[doc | None]:  # type: ignore[valid-type]
            return make(ids)

        @strawberry.field
        def teams(self, of: list[list[int]]) -> list[Team]:
            return [Team(ids=ids) for ids in of]

    return strawberry.Schema(query=Query, extensions=[authz]), authz, asked


def ids_of(listed: list[Any] | None) -> list[int | None]:
    assert listed is not None
    return [None if item is None else item["id"] for item in listed]


ALLOWED = [0, 2, 4, 6, 8, 10]
DENIED = [1, 3, 5, 7, 9, 11]


def expected(ids: list[int], drop: bool) -> list[int | None]:
    kept = [i if allowed_for("alice", i) else None for i in ids]
    return [i for i in kept if i is not None] if drop else kept


# Two flat lists in one operation ------------------------------------------------


@MODES
@DROPS
@pytest.mark.parametrize("batch", [True, False], ids=["batch", "plain"])
@pytest.mark.parametrize("first", ["allowed", "denied"])
def test_two_aliases_of_one_list_field_are_each_decided_by_their_own_items(
    is_async: bool, drop: bool, batch: bool, first: str
) -> None:
    schema, _, _ = build(is_async, drop=drop, batch=batch)
    one, two = (ALLOWED, DENIED) if first == "allowed" else (DENIED, ALLOWED)
    query = f"{{ a: docs(ids: {one}) {{ id text }} b: docs(ids: {two}) {{ id text }} }}"
    result = run(schema, is_async, query)
    assert result.data is not None, result.errors
    assert ids_of(result.data["a"]) == expected(one, drop)
    assert ids_of(result.data["b"]) == expected(two, drop)
    for i in DENIED:
        assert f"SECRET<{i}>" not in dump(result)


@DROPS
@pytest.mark.parametrize("first", ["allowed", "denied"])
def test_sibling_lists_one_resolved_later_are_each_decided_by_their_own_items(
    drop: bool, first: str
) -> None:
    # Two passes of one operation run interleaved: their answers, written
    # once each batch answered, must land under keys of their own.
    schema, _, _ = build(True, drop=drop, size=2)
    one, two = (ALLOWED, DENIED) if first == "allowed" else (DENIED, ALLOWED)
    query = (
        f"{{ a: laterDocs(ids: {one}) {{ id text }} "
        f"b: docs(ids: {two}) {{ id text }} "
        f"c: laterDocs(ids: {two}) {{ id text }} }}"
    )
    result = run(schema, True, query)
    assert result.data is not None, result.errors
    assert ids_of(result.data["a"]) == expected(one, drop)
    assert ids_of(result.data["b"]) == expected(two, drop)
    assert ids_of(result.data["c"]) == expected(two, drop)
    for i in DENIED:
        assert f"SECRET<{i}>" not in dump(result)


@MODES
@DROPS
def test_each_parents_flat_list_is_decided_by_its_own_items(
    is_async: bool, drop: bool
) -> None:
    schema, _, _ = build(is_async, drop=drop)
    teams = [ALLOWED, DENIED, [1, 2, 3], ALLOWED[::-1]]
    query = f"{{ teams(of: {teams}) {{ docs {{ id text }} }} }}"
    result = run(schema, is_async, query)
    assert result.data is not None, result.errors
    served = [ids_of(team["docs"]) for team in result.data["teams"]]
    assert served == [expected(ids, drop) for ids in teams]
    for i in DENIED:
        assert f"SECRET<{i}>" not in dump(result)


def with_authz(make: Any) -> Any:
    """A rule made once the extension exists: `make(authz)`."""
    make.wants_authz = True
    return make


# A clear mid-list, then another list ---------------------------------------------


@MODES
@DROPS
def test_a_list_after_a_clear_made_mid_list_never_gets_that_lists_answers(
    is_async: bool, drop: bool
) -> None:
    # The rule clears the cache while deciding the first list's third item;
    # the first list goes on deciding (and writing answers) after the clear.
    # The second list must not share the keys its answers are written under.
    @with_authz
    def rule(authz: Any) -> Any:
        cleared: list[bool] = []

        def decide(params: AuthParams) -> Any:
            if params.root.id == ALLOWED[2] and not cleared:
                cleared.append(True)
                authz.clear_cache(params.info)
            return {"can": ["doc", params.root.id]}

        return decide

    schema, _, _ = build(is_async, rule=rule, drop=drop, size=2)
    query = f"{{ a: docs(ids: {ALLOWED}) {{ id text }} b: docs(ids: {DENIED}) {{ id text }} }}"
    result = run(schema, is_async, query)
    assert result.data is not None, result.errors
    assert ids_of(result.data["b"]) == expected(DENIED, drop)
    for i in DENIED:
        assert f"SECRET<{i}>" not in dump(result)
    # The first list: each item as decided, or denied (fail closed), never
    # another's.
    assert set(ids_of(result.data["a"])) <= {*ALLOWED, None}


# `$granted`: the grant of one list field reaches its own items only --------------


@MODES
@DROPS
def test_a_list_fields_grant_never_answers_another_lists_items(
    is_async: bool, drop: bool
) -> None:
    schema, _, _ = build(
        is_async,
        rule={"$or": [{"$granted": "read"}, {"can": ["doc", 1000]}]},
        drop=drop,
    )
    query = (
        f"{{ a: grantedDocs(ids: {DENIED}) {{ id text }} "
        f"b: docs(ids: {DENIED}) {{ id text }} }}"
    )
    result = run(schema, is_async, query)
    assert result.data is not None, result.errors
    assert ids_of(result.data["a"]) == DENIED
    assert ids_of(result.data["b"]) == ([] if drop else [None] * len(DENIED))
    assert "SECRET" not in repr(result.data["b"])
