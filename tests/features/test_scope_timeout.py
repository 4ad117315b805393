"""Issue 8, item 12: `scope_timeout=` denies what waits too long, nothing else."""

import asyncio
import logging
from typing import Any

import pytest
import strawberry
from featurekit import codes

from strawberry_authz import AuthExtension

SLOW = 5.0  # far beyond the limit: only the time-out can end the wait
LIMIT = 0.05


async def slow_true(_: Any = None) -> bool:
    await asyncio.sleep(SLOW)
    return True


async def fast_true(_: Any = None) -> bool:
    await asyncio.sleep(0)
    return True


def two_field_schema(authz: AuthExtension, slow_rule: Any) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @authz.rule(slow_rule)
        @strawberry.field
        def slow(self) -> str | None:
            return "slow secret"

        @authz.rule({"fast": True})
        @strawberry.field
        def fast(self) -> str | None:
            return "fast"

        @strawberry.field
        def public(self) -> str:
            return "public"

    return strawberry.Schema(query=Query, extensions=[authz])


async def timed(schema: strawberry.Schema, query: str) -> tuple[Any, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await schema.execute(query)
    return result, loop.time() - started


async def test_slow_async_loader_denies_its_field_and_names_the_scope(caplog):
    authz = AuthExtension(
        lambda context: {"slow": slow_true, "fast": fast_true}, scope_timeout=LIMIT
    )
    schema = two_field_schema(authz, {"slow": True})

    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result, took = await timed(schema, "{ slow fast public }")

    assert result.data == {"slow": None, "fast": "fast", "public": "public"}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert result.errors[0].path == ["slow"]
    assert "did not answer" not in repr(result.errors[0].formatted)
    assert "scope 'slow'" in caplog.text
    assert "did not answer within 0.05s" in caplog.text
    assert took < SLOW / 2


async def test_slow_async_load_scopes_denies_the_fields_needing_scopes(caplog):
    async def load_scopes(context: Any) -> dict[str, Any]:
        await asyncio.sleep(SLOW)
        return {"slow": True, "fast": True}

    authz = AuthExtension(load_scopes, scope_timeout=LIMIT)
    schema = two_field_schema(authz, {"slow": True})

    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result, took = await timed(schema, "{ slow fast public }")

    assert result.data == {"slow": None, "fast": None, "public": "public"}
    assert codes(result) == ["INTERNAL_SERVER_ERROR", "INTERNAL_SERVER_ERROR"]
    assert "load_scopes did not answer within 0.05s" in caplog.text
    assert took < SLOW / 2


async def test_slow_async_rule_function_denies_and_names_its_field(caplog):
    async def slow_rule(params: Any) -> bool:
        return await slow_true()

    authz = AuthExtension(lambda context: {"fast": fast_true}, scope_timeout=LIMIT)
    schema = two_field_schema(authz, slow_rule)

    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result, took = await timed(schema, "{ slow fast }")

    assert result.data == {"slow": None, "fast": "fast"}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "Query.slow did not answer within 0.05s" in caplog.text
    assert took < SLOW / 2


async def test_a_time_out_in_one_operation_leaves_the_next_one_alone():
    answers = iter([SLOW, 0.0])

    async def sometimes_slow(_: Any) -> bool:
        await asyncio.sleep(next(answers))
        return True

    authz = AuthExtension(
        lambda context: {"slow": sometimes_slow, "fast": fast_true},
        scope_timeout=LIMIT,
    )
    schema = two_field_schema(authz, {"slow": True})

    first = await schema.execute("{ slow }")
    second = await schema.execute("{ slow }")

    assert first.data == {"slow": None}
    assert second.data == {"slow": "slow secret"}


async def test_loaders_within_the_limit_pass():
    authz = AuthExtension(lambda context: {"slow": fast_true}, scope_timeout=1.0)
    schema = two_field_schema(authz, {"slow": True})

    result = await schema.execute("{ slow }")

    assert result.data == {"slow": "slow secret"}


async def test_without_a_limit_a_slow_loader_is_waited_for():
    async def a_bit_slow(_: Any) -> bool:
        await asyncio.sleep(LIMIT * 2)
        return True

    authz = AuthExtension(lambda context: {"slow": a_bit_slow})
    schema = two_field_schema(authz, {"slow": True})

    result = await schema.execute("{ slow }")

    assert result.data == {"slow": "slow secret"}


@pytest.mark.parametrize("bad", [0, -1, "1", True])
def test_scope_timeout_must_be_a_positive_number(bad):
    with pytest.raises(TypeError, match="scope_timeout"):
        AuthExtension(lambda context: {}, scope_timeout=bad)


def test_sync_loaders_never_meet_the_timer():
    # A check answered synchronously is never timed: it still works under
    # execute_sync, where no event loop could run a timer.
    authz = AuthExtension(
        lambda context: {"slow": True, "fast": True}, scope_timeout=LIMIT
    )
    schema = two_field_schema(authz, {"slow": True})

    result = schema.execute_sync("{ slow fast }")

    assert result.data == {"slow": "slow secret", "fast": "fast"}
