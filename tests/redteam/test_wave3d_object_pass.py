"""Red team, wave 3d: the list pass that reuses params and keys values inline.

A list's per-object rules are decided in one pass that hands one
`AuthParams` from object to object while nothing else holds it (counted
with `sys.getrefcount`), keys the common value `{scope: [str | int, ...]}`
inline, and serves the items by the keys it made once. Each object must
still be decided on its own: its own params, its own value, asked of its
own scope's loader, its own answer.
"""

import asyncio
import sys
from typing import Any

import pytest
import strawberry
from authzkit import dump, ids_schema

from strawberry_authz import AuthExtension, AuthParams, BatchScope, _object_pass

ITEMS = 12


def run(schema: strawberry.Schema, is_async: bool, query: str = "{ docs { id } }"):
    if is_async:
        return asyncio.run(schema.execute(query))
    return schema.execute_sync(query)


def build(
    rule: Any,
    is_async: bool,
    *,
    scopes: tuple[str, ...] = ("can",),
    ids: list[int | None] | None = None,
    drop_denied: bool = False,
    answer: Any = None,
) -> tuple[strawberry.Schema, list[tuple[str, Any]]]:
    """A `docs` list of `Doc(id)` under `rule`; every value asked, with its
    scope. A value `[kind, id, action]` is allowed when `id` is even (or as
    `answer(name, value)` says)."""
    asked: list[tuple[str, Any]] = []

    def loader(name: str) -> Any:
        def check(values: list[Any]) -> list[Any]:
            asked.extend((name, list(value)) for value in values)
            if answer is not None:
                return [answer(name, value) for value in values]
            return [value[1] % 2 == 0 for value in values]

        async def check_async(values: list[Any]) -> list[Any]:
            await asyncio.sleep(0)
            return check(values)

        return check_async if is_async else check

    authz = AuthExtension(
        lambda _: {name: BatchScope(loader(name), max_batch_size=4) for name in scopes},
    )

    listed = range(ITEMS) if ids is None else ids
    schema = ids_schema(authz, rule, listed, on_object=True, drop_denied=drop_denied)
    return schema, asked


def served(result: Any) -> list[int | None]:
    assert result.data is not None, result.errors
    return [None if doc is None else doc["id"] for doc in result.data["docs"]]


EVEN = [i if i % 2 == 0 else None for i in range(ITEMS)]
MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])


class BorrowedCount:
    """`sys.getrefcount` as Python 3.14 counts: a variable passed to it is
    borrowed, not counted again (an object only a variable holds counts 1).
    """

    def __init__(self) -> None:
        self.extra = 0
        probe = object()
        self.extra = self(probe) - 1

    def __call__(self, obj: object) -> int:
        return sys.getrefcount(obj) - self.extra


@MODES
def test_params_a_rule_kept_see_their_object_where_calls_borrow_their_arguments(
    is_async: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From Python 3.14 the interpreter borrows the reference it passes: an
    # object only the pass holds counts one less than before. Params a
    # rule kept must not then look like nobody else holds them.
    count = BorrowedCount()
    probe = object()
    assert count(probe) == 1
    monkeypatch.setattr(_object_pass, "getrefcount", count)
    kept: list[AuthParams] = []

    def rule(params: AuthParams) -> Any:
        kept.append(params)
        return {"can": ["doc", params.root.id, "view"]}

    schema, _ = build(rule, is_async)
    assert served(run(schema, is_async)) == EVEN
    assert [params.root.id for params in kept] == list(range(ITEMS))


@MODES
def test_params_a_rule_kept_see_their_object_where_nothing_counts_references(
    is_async: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PyPy has no `sys.getrefcount`: its stand-in makes params look kept
    # every time, so each object gets params of its own.
    monkeypatch.setattr(
        _object_pass, "getrefcount", _object_pass._counted_higher_each_time
    )
    kept: list[AuthParams] = []

    def rule(params: AuthParams) -> Any:
        if params.root.id % 3 == 0:
            kept.append(params)
        return {"can": ["doc", params.root.id, "view"]}

    schema, _ = build(rule, is_async)
    assert served(run(schema, is_async)) == EVEN
    assert [params.root.id for params in kept] == list(range(0, ITEMS, 3))


@MODES
def test_what_a_rule_wrote_into_params_args_does_not_reach_the_next_object(
    is_async: bool,
) -> None:
    # A per-object check has no arguments; a rule that stores what it
    # computed there must not hand it to the next object's rule.
    def rule(params: AuthParams) -> Any:
        args = params.args
        args.setdefault("id", params.root.id)
        return {"can": ["doc", args["id"], "view"]}

    schema, asked = build(rule, is_async)
    result = run(schema, is_async)
    assert served(result) == EVEN, dump(result)
    assert [value[1] for _, value in asked] == list(range(ITEMS))


@MODES
def test_a_rule_key_that_only_compares_equal_to_the_scope_name_is_refused(
    is_async: bool,
) -> None:
    # Rule keys must be strings: an object that equals "can" (and hashes
    # alike) is refused, whether or not the same rule answered
    # `{"can": [...]}` for the object before.
    class LooksLikeCan:
        def __hash__(self) -> int:
            return hash("can")

        def __eq__(self, other: object) -> bool:
            return True

    def rule(params: AuthParams) -> Any:
        if params.root.id == 0:
            return {"can": ["doc", 0, "view"]}
        return {LooksLikeCan(): ["doc", 2, "view"]}

    schema, asked = build(rule, is_async)
    result = run(schema, is_async)
    assert served(result) == [0] + [None] * (ITEMS - 1)
    assert asked == [("can", ["doc", 0, "view"])]


@MODES
def test_a_rule_answering_two_scopes_in_turn_asks_each_value_of_its_own_loader(
    is_async: bool,
) -> None:
    def rule(params: AuthParams) -> Any:
        name = "edit" if params.root.id % 3 == 0 else "can"
        return {name: ["doc", params.root.id, "view"]}

    def answer(name: str, value: Any) -> bool:
        return name == "edit"  # "can" allows nothing

    schema, asked = build(rule, is_async, scopes=("can", "edit"), answer=answer)
    result = run(schema, is_async)
    expected = [i if i % 3 == 0 else None for i in range(ITEMS)]
    assert served(result) == expected
    assert sorted((value[1], name) for name, value in asked) == [
        (i, "edit" if i % 3 == 0 else "can") for i in range(ITEMS)
    ]


IDS_WITH_GAPS: list[int | None] = [None, 1, 2, None, 2, 1, 4, None, 4, 7, None, 6]


@MODES
@pytest.mark.parametrize("drop_denied", [False, True], ids=["errors", "dropped"])
def test_items_between_nulls_and_repeated_get_their_own_answer_each_asked_once(
    is_async: bool, drop_denied: bool
) -> None:
    schema, asked = build(
        lambda p: {"can": ["doc", p.root.id, "view"]},
        is_async,
        ids=IDS_WITH_GAPS,
        drop_denied=drop_denied,
    )
    result = run(schema, is_async)
    if drop_denied:
        expected = [i for i in IDS_WITH_GAPS if i is None or i % 2 == 0]
    else:
        expected = [None if i is None or i % 2 else i for i in IDS_WITH_GAPS]
    assert served(result) == expected, dump(result)
    assert sorted(value[1] for _, value in asked) == [1, 2, 4, 6, 7]


@MODES
def test_a_batch_answering_errors_among_trues_denies_exactly_the_errored_items(
    is_async: bool,
) -> None:
    def answer(name: str, value: Any) -> Any:
        if value[1] % 3 == 0:
            return RuntimeError("SECRET-engine-detail")
        return value[1] != 4

    schema, _ = build(
        lambda p: {"can": ["doc", p.root.id, "view"]}, is_async, answer=answer
    )
    result = run(schema, is_async)
    assert served(result) == [None if i % 3 == 0 or i == 4 else i for i in range(ITEMS)]
    assert "SECRET" not in dump(result)


@pytest.mark.asyncio
async def test_an_async_rule_reads_its_own_object_where_calls_borrow_their_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its coroutine holds the params while the pass decides the next ones:
    # handed on, they would answer for another object (odd ones served).
    monkeypatch.setattr(_object_pass, "getrefcount", BorrowedCount())

    async def rule(params: AuthParams) -> Any:
        await asyncio.sleep(0)
        return {"can": ["doc", params.root.id, "view"]}

    schema, _ = build(rule, is_async=True)
    result = await schema.execute("{ docs { id } }")
    assert served(result) == EVEN, dump(result)
