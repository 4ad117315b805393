"""Fail-closed corners pinned after the security page's audit."""

import asyncio
import logging
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes, dump, messages
from graphql import execute_sync, parse

from strawberry_authz import AuthExtension, ForbiddenError
from strawberry_authz._compat import graphql_schema


def test_a_guarded_resolver_outside_an_operation_of_its_extension_denies():
    authz = AuthExtension(lambda _: {"yes": True})

    @strawberry.type
    class Query:
        @authz.rule({"yes": True})
        @strawberry.field
        def secret(self) -> str | None:
            return "secret"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    authz.validate(schema)
    # graphql-core directly: no Strawberry extension opens the operation.
    result = execute_sync(graphql_schema(schema), parse("{ secret }"))
    assert result.data == {"secret": None}
    assert [e.message for e in result.errors] == [
        "Authorization is not active for this request; access denied."
    ]
    assert result.errors[0].extensions == {"code": "FORBIDDEN"}


@pytest.mark.parametrize(
    "grants",
    [lambda params, result: 1 / 0, lambda params, result: 42],
    ids=["raises", "garbage"],
)
def test_a_field_grant_function_that_fails_grants_nothing(grants, caplog):
    authz = AuthExtension(lambda _: {"yes": True})

    @strawberry.type
    class Doc:
        @authz.rule({"$granted": "read"})
        @strawberry.field
        def body(self) -> str | None:
            return "body"

    @strawberry.type
    class Query:
        @authz.rule({"yes": True}, grants=grants)
        @strawberry.field
        def doc(self) -> Doc:
            return Doc()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync("{ doc { body } }")
    assert result.data == {"doc": {"body": None}}
    assert messages(result) == [ForbiddenError.default_message]
    assert "ZeroDivision" not in dump(result) and "42" not in dump(result)
    assert "grants function of Query.doc" in authz_logs(caplog)


def cancelled_loader(is_async: bool) -> Any:
    def sync_loader(_: Any) -> bool:
        raise asyncio.CancelledError()

    async def async_loader(_: Any) -> bool:
        await asyncio.sleep(0)
        raise asyncio.CancelledError()

    return async_loader if is_async else sync_loader


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_cancelled_error_raised_by_a_loader_denies_only_its_field(is_async):
    authz = AuthExtension(lambda _: {"flaky": cancelled_loader(is_async)})

    @strawberry.type
    class Query:
        @authz.rule({"flaky": True})
        @strawberry.field
        def guarded(self) -> str | None:
            return "guarded"

        @strawberry.field
        def public(self) -> str:
            return "public"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ guarded public }")
    assert result.data == {"guarded": None, "public": "public"}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]


async def test_a_real_cancellation_of_the_request_still_propagates():
    started = asyncio.Event()

    async def slow(_: Any) -> bool:
        started.set()
        await asyncio.sleep(10)
        return True

    authz = AuthExtension(lambda _: {"slow": slow})

    @strawberry.type
    class Query:
        @authz.rule({"slow": True})
        @strawberry.field
        def guarded(self) -> str | None:
            return "guarded"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    task = asyncio.ensure_future(schema.execute("{ guarded }"))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_an_error_hook_returning_something_else_keeps_the_error_and_warns(caplog):
    authz = AuthExtension(lambda _: {"no": False}, error_resolver=lambda e, p: 42)

    @strawberry.type
    class Query:
        @authz.rule({"no": True})
        @strawberry.field
        def guarded(self) -> str | None:
            return "guarded"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with caplog.at_level(logging.WARNING, logger="strawberry_authz"):
        result = schema.execute_sync("{ guarded }")
    assert codes(result) == ["FORBIDDEN"]
    assert "returned int" in authz_logs(caplog)
