"""`BatchScope`: many values of one scope in one `load_fn` call per chunk."""

import asyncio
import logging
import math
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes, dump, titled, titled_type
from graphql import GraphQLError

from strawberry_authz import AuthExtension, BatchScope

ITEMS = 25


def build(load_fn: Any, *, max_batch_size: int = 10, items: int = ITEMS):
    calls: list[list[Any]] = []

    def counted(values: list[Any]) -> Any:
        calls.append(list(values))
        return load_fn(values)

    authz = AuthExtension(
        lambda _: {"can": BatchScope(counted, max_batch_size=max_batch_size)}
    )

    Doc = titled_type(authz, lambda params: {"can": ["doc", params.root.id]})

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:  # type: ignore[valid-type]
            return titled(Doc, range(items))

        @strawberry.field
        def doc(self, id: int) -> Doc | None:  # type: ignore[valid-type]
            return titled(Doc, [id])[0]  # type: ignore[no-any-return]

    return strawberry.Schema(query=Query, extensions=[authz]), calls


def even_ids(values: list[Any]) -> list[bool]:
    return [value[1] % 2 == 0 for value in values]


async def async_even_ids(values: list[Any]) -> list[bool]:
    await asyncio.sleep(0.001)
    return even_ids(values)


def expected(items: int = ITEMS) -> list[Any]:
    return [
        {"id": i, "title": f"t{i}", "body": f"b{i}"} if i % 2 == 0 else None
        for i in range(items)
    ]


QUERY = "{ docs { id title body } }"


def test_a_sync_load_fn_answers_a_list_in_one_call_per_chunk_under_execute_sync():
    schema, calls = build(even_ids)
    result = schema.execute_sync(QUERY)
    assert result.data == {"docs": expected()}
    assert len(calls) == math.ceil(ITEMS / 10)
    assert sorted(v[1] for chunk in calls for v in chunk) == list(range(ITEMS))
    assert max(len(chunk) for chunk in calls) <= 10


async def test_an_async_load_fn_answers_a_list_in_one_call_per_chunk():
    schema, calls = build(async_even_ids)
    result = await schema.execute(QUERY)
    assert result.data == {"docs": expected()}
    assert len(calls) == math.ceil(ITEMS / 10)


async def test_execute_sync_called_inside_a_running_loop_still_batches():
    schema, calls = build(even_ids)
    result = schema.execute_sync(QUERY)
    assert result.data == {"docs": expected()}
    assert len(calls) == math.ceil(ITEMS / 10)


async def test_answers_are_cached_for_the_request():
    schema, calls = build(async_even_ids)
    result = await asyncio.wait_for(  # a field left waiting fails, not hangs
        schema.execute("{ a: docs { id } b: docs { id } one: doc(id: 4) { id } }"),
        timeout=10,
    )
    assert not any(code != "FORBIDDEN" for code in codes(result))
    assert sum(len(chunk) for chunk in calls) == ITEMS


@pytest.mark.parametrize("is_async", [False, True])
async def test_an_exception_for_one_value_denies_only_the_fields_that_need_it(
    is_async, caplog
):
    def answer(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            if value[1] == 2:
                out.append(
                    GraphQLError("Doc 2 is archived.", extensions={"code": "GONE"})
                )
            elif value[1] == 4:
                out.append(RuntimeError("engine detail"))
            else:
                out.append(True)
        return out

    async def answer_async(values: list[Any]) -> list[Any]:
        return answer(values)

    schema, _ = build(answer_async if is_async else answer, items=6)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute("{ docs { id } }")
    assert [d and d["id"] for d in result.data["docs"]] == [0, 1, None, 3, None, 5]
    assert sorted(codes(result)) == ["GONE", "INTERNAL_SERVER_ERROR"]
    assert "engine detail" not in dump(result)
    assert "engine detail" in authz_logs(caplog)


BROKEN_ANSWERS = [
    pytest.param(lambda values: [True] * (len(values) - 1), id="wrong-length"),
    pytest.param(lambda values: ["yes"] * len(values), id="non-bool"),
    pytest.param(lambda values: True, id="not-a-list"),
    pytest.param(lambda values: 1 / 0, id="raises"),
]


@pytest.mark.parametrize("load_fn", BROKEN_ANSWERS)
def test_a_broken_load_fn_denies_the_whole_chunk_and_logs(load_fn, caplog):
    schema, _ = build(load_fn, items=4)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync("{ docs { id } }")
    assert result.data == {"docs": [None] * 4}
    assert set(codes(result)) == {"INTERNAL_SERVER_ERROR"}
    assert "BatchScope 'can'" in authz_logs(caplog)
    assert "ZeroDivision" not in dump(result)


def test_only_the_broken_chunk_is_denied():
    def second_chunk_breaks(values: list[Any]) -> Any:
        if values[0][1] >= 10:
            raise RuntimeError("chunk failed")
        return [True] * len(values)

    schema, calls = build(second_chunk_breaks, items=20)
    result = schema.execute_sync("{ docs { id } }")
    ids = [d and d["id"] for d in result.data["docs"]]
    assert ids == list(range(10)) + [None] * 10
    assert len(calls) == 2


def test_an_async_load_fn_under_execute_sync_denies():
    schema, _ = build(async_even_ids, items=3)
    result = schema.execute_sync("{ docs { id } }")
    assert result.data == {"docs": [None] * 3}


async def test_a_slow_load_fn_outliving_scope_timeout_denies_its_chunk():
    async def slow(values: list[Any]) -> list[bool]:
        await asyncio.sleep(1)
        return [True] * len(values)

    authz = AuthExtension(lambda _: {"can": BatchScope(slow)}, scope_timeout=0.05)

    @strawberry.type
    class Query:
        @authz.rule({"can": "x"})
        @strawberry.field
        def field(self) -> str | None:
            return "data"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ field }")
    assert result.data == {"field": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]


def test_a_batch_scope_outside_a_list_is_asked_alone():
    schema, calls = build(even_ids)
    assert schema.execute_sync("{ doc(id: 2) { id } }").data == {"doc": {"id": 2}}
    assert calls == [[["doc", 2]]]


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_max_batch_size_must_be_a_positive_int(size):
    with pytest.raises(TypeError):
        BatchScope(even_ids, max_batch_size=size)


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_chain_of_batch_scopes_per_object_asks_one_batch_per_step(is_async):
    """A type rule function returning `$chain` of two batch scopes: the list
    asks each scope once, and the function still runs once per object."""
    seen: list[int] = []
    asked: dict[str, list[list[Any]]] = {"team": [], "can": []}

    def answering(name: str, answer: Any) -> Any:
        def check(values: list[Any]) -> list[bool]:
            asked[name].append(list(values))
            return [answer(value) for value in values]

        async def check_async(values: list[Any]) -> list[bool]:
            await asyncio.sleep(0)
            return check(values)

        return BatchScope(check_async if is_async else check)

    scopes = {
        "team": answering("team", lambda value: value != 3),
        "can": answering("can", lambda value: value[1] % 2 == 0),
    }
    authz = AuthExtension(lambda _: scopes)

    def rule(params: Any) -> Any:
        seen.append(params.root.id)
        return {
            "$chain": [{"team": params.root.id % 4}, {"can": ["doc", params.root.id]}]
        }

    @authz.type_rule(rule)
    @strawberry.type
    class Doc:
        id: int
        title: str

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return [Doc(id=i, title=f"t{i}") for i in range(12)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    query = "{ docs { id title } }"
    result = await schema.execute(query) if is_async else schema.execute_sync(query)
    allowed = [doc["id"] for doc in result.data["docs"] if doc is not None]
    assert allowed == [0, 2, 4, 6, 8, 10]  # 3 % 4 == 3 never passes `team`
    assert codes(result) == ["FORBIDDEN"] * 6
    assert sorted(seen) == list(range(12))
    assert len(asked["team"]) == 1 and sorted(asked["team"][0]) == [0, 1, 2, 3]
    assert len(asked["can"]) == 1
    assert sorted(v[1] for v in asked["can"][0]) == [0, 1, 2, 4, 5, 6, 8, 9, 10]


# -- the shapes load_fn may answer with (issue 19, point 13) ----------------------


def even_as_set(values: list[Any]) -> set[Any]:
    # A SQL result's natural shape: the allowed values only. A list value is
    # looked up as a tuple.
    return {tuple(value) for value in values if value[1] % 2 == 0}


def even_as_mapping(values: list[Any]) -> dict[Any, bool]:
    return {tuple(value): value[1] % 2 == 0 for value in values}


def only_the_allowed_mapped(values: list[Any]) -> dict[Any, bool]:
    return {tuple(value): True for value in values if value[1] % 2 == 0}


async def async_even_as_set(values: list[Any]) -> frozenset[Any]:
    await asyncio.sleep(0.001)
    return frozenset(even_as_set(values))


SHAPES = [
    pytest.param(even_as_set, id="set"),
    pytest.param(even_as_mapping, id="mapping"),
    pytest.param(only_the_allowed_mapped, id="mapping-without-the-denied"),
]


@pytest.mark.parametrize("load_fn", SHAPES)
def test_load_fn_may_answer_a_set_of_allowed_values_or_a_mapping(load_fn):
    schema, calls = build(load_fn)
    result = schema.execute_sync(QUERY)
    assert result.data == {"docs": expected()}
    assert len(calls) == math.ceil(ITEMS / 10)
    assert set(codes(result)) == {"FORBIDDEN"}  # not answered: denied


async def test_an_async_load_fn_may_answer_a_frozenset():
    schema, calls = build(async_even_as_set)
    result = await schema.execute(QUERY)
    assert result.data == {"docs": expected()}
    assert len(calls) == math.ceil(ITEMS / 10)


@pytest.mark.parametrize("load_fn", SHAPES)
def test_a_single_value_asked_alone_reads_the_same_shapes(load_fn):
    scope = BatchScope(load_fn)
    assert scope(["doc", 2]) is True
    assert scope(["doc", 3]) is False


def test_a_mapping_answering_a_non_bool_denies_the_chunk_and_logs(caplog):
    schema, _ = build(lambda values: {tuple(v): "yes" for v in values})
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync(QUERY)
    assert result.data == {"docs": [None] * ITEMS}
    assert set(codes(result)) == {"INTERNAL_SERVER_ERROR"}
    assert "something else than a bool" in authz_logs(caplog)


def test_a_second_list_of_the_same_values_keeps_the_first_lists_denials():
    """Sync: the second list finds its values answered in the scope cache."""
    calls: list[list[int]] = []

    def can_many(values: list[int]) -> list[bool]:
        calls.append(list(values))
        return [value % 3 != 0 for value in values]

    authz = AuthExtension(lambda _: {"can": BatchScope(can_many)})

    @authz.type_rule(lambda p: {"can": p.root.id})
    @strawberry.type
    class Doc:
        id: int | None
        secret: str | None

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:
            return [Doc(id=i, secret=f"s{i}") for i in range(9)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ a: docs { id secret } b: docs { id secret } }")
    expected = [
        {"id": i, "secret": f"s{i}"} if i % 3 else {"id": None, "secret": None}
        for i in range(9)
    ]
    assert result.data == {"a": expected, "b": expected}
    assert calls == [list(range(9))]


def test_a_declared_scope_still_checks_each_objects_value():
    """`scopes=` declares the value type: a value of another type is denied."""
    authz = AuthExtension(
        lambda _: {"can": BatchScope(lambda values: [True for _ in values])},
        scopes={"can": int},
    )

    @authz.type_rule(lambda p: {"can": p.root.id if p.root.id % 2 else str(p.root.id)})
    @strawberry.type
    class Doc:
        id: int | None

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:
            return [Doc(id=i) for i in range(6)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ docs { id } }")
    assert result.data == {"docs": [{"id": i if i % 2 else None} for i in range(6)]}
