"""A list pass hands one `AuthParams` from object to object, unless a rule kept it.

Deciding thousands of objects, the pass reuses the params of the previous
object when nothing but the pass holds them. A rule that keeps its params
(in a list, a closure, a coroutine, a returned value, an error's traceback)
must keep seeing its own object: params it holds are never handed on.
"""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import ids_schema

from strawberry_authz import AuthExtension, AuthParams, BatchScope

ITEMS = 40


def check_many(values: list[Any]) -> list[bool]:
    return [value[1] % 4 != 0 for value in values]


async def check_many_async(values: list[Any]) -> list[bool]:
    await asyncio.sleep(0)
    return check_many(values)


def schema(rule: Any, load_fn: Any = check_many) -> strawberry.Schema:
    authz = AuthExtension(
        lambda _: {"can": BatchScope(load_fn, max_batch_size=8)},
    )
    return ids_schema(authz, rule, range(ITEMS), on_object=True)


def served(result: Any) -> list[int | None]:
    assert result.data is not None, result.errors
    return [None if doc is None else doc["id"] for doc in result.data["docs"]]


EXPECTED = [None if i % 4 == 0 else i for i in range(ITEMS)]


def keeping_rule(kept: list[AuthParams]) -> Any:
    def rule(params: AuthParams) -> Any:
        if params.root.id % 2:  # every other object keeps its params
            kept.append(params)
        return {"can": ["doc", params.root.id, "view"]}

    return rule


def assert_each_kept_params_still_sees_its_object(kept: list[AuthParams]) -> None:
    assert [params.root.id for params in kept] == list(range(1, ITEMS, 2))
    assert len({id(params) for params in kept}) == len(kept)


def test_params_a_sync_rule_kept_still_see_their_object() -> None:
    kept: list[AuthParams] = []
    result = schema(keeping_rule(kept)).execute_sync("{ docs { id } }")
    assert served(result) == EXPECTED
    assert_each_kept_params_still_sees_its_object(kept)


@pytest.mark.asyncio
async def test_params_a_rule_kept_still_see_their_object_while_chunks_are_asked() -> (
    None
):
    kept: list[AuthParams] = []
    result = await schema(keeping_rule(kept), check_many_async).execute(
        "{ docs { id } }"
    )
    assert served(result) == EXPECTED
    assert_each_kept_params_still_sees_its_object(kept)


@pytest.mark.asyncio
async def test_an_async_rule_reads_its_own_object_after_awaiting() -> None:
    # Its coroutine holds the params while the pass decides the next objects.
    async def rule(params: AuthParams) -> Any:
        await asyncio.sleep(0)
        return {"can": ["doc", params.root.id, "view"]}

    result = await schema(rule, check_many_async).execute("{ docs { id } }")
    assert served(result) == EXPECTED


def test_a_rule_returning_a_closure_over_its_params_reads_its_own_object() -> None:
    later: list[Any] = []

    def rule(params: AuthParams) -> Any:
        later.append(lambda: params.root.id)
        return {"can": ["doc", params.root.id, "view"]}

    result = schema(rule).execute_sync("{ docs { id } }")
    assert served(result) == EXPECTED
    assert [read() for read in later] == list(range(ITEMS))


def test_a_rule_that_raised_while_holding_its_params_is_denied_alone() -> None:
    errors: list[BaseException] = []

    def rule(params: AuthParams) -> Any:
        if params.root.id == 5:
            try:
                raise RuntimeError("boom")
            except RuntimeError as error:
                errors.append(error)  # its traceback holds these params
                raise
        return {"can": ["doc", params.root.id, "view"]}

    result = schema(rule).execute_sync("{ docs { id } }")
    assert served(result) == [None if i == 5 else v for i, v in enumerate(EXPECTED)]
    traceback = errors[0].__traceback__
    while traceback is not None and traceback.tb_frame.f_code.co_name != "rule":
        traceback = traceback.tb_next
    assert traceback is not None
    assert traceback.tb_frame.f_locals["params"].root.id == 5
