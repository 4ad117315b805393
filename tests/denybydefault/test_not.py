"""`$not`: passes when its rules are denied on purpose, never on a failure."""

import asyncio
import logging
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes
from graphql import GraphQLError

from strawberry_authz import AuthExtension, ConfigurationError, UnauthenticatedError


def raise_(error: BaseException):
    def loader(_: Any) -> bool:
        raise error

    return loader


async def async_false(_: Any) -> bool:
    await asyncio.sleep(0)
    return False


SCOPES = {
    "yes": True,
    "no": False,
    "says_no": lambda _: False,
    "async_no": async_false,
    "unauthenticated": raise_(UnauthenticatedError()),
    "graphql_error": raise_(GraphQLError("nope", extensions={"code": "NOPE"})),
    "broken": raise_(RuntimeError("internal detail")),
}


def run(rules: Any, *, on_error: Any = None) -> Any:
    authz = AuthExtension(lambda _: SCOPES)

    @strawberry.type
    class Query:
        @authz.rule(rules, on_error=on_error)
        @strawberry.field
        def field(self) -> str | None:
            return "data"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    return asyncio.run(schema.execute("{ field }"))


@pytest.mark.parametrize(
    "inner",
    ["no", "says_no", "async_no", "unauthenticated", "graphql_error"],
)
def test_not_passes_when_its_rules_are_denied_on_purpose(inner):
    result = run({"$not": {inner: True}})
    assert result.data == {"field": "data"} and not result.errors


def test_not_denies_when_its_rules_pass():
    result = run({"$not": {"yes": True}})
    assert result.data == {"field": None}
    assert codes(result) == ["FORBIDDEN"]


def test_an_unexpected_exception_inside_not_stays_a_denial(caplog):
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = run({"$not": {"broken": True}})
    assert result.data == {"field": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "internal detail" not in str(result.errors)
    assert "broken" in authz_logs(caplog)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_not_denies_when_load_scopes_itself_refuses_the_request(mode):
    # An unauthenticated request is not "not banned": no scope could be known.
    authz = AuthExtension(
        raise_(UnauthenticatedError("Log in first."))
        if mode == "sync"
        else _async_raise(UnauthenticatedError("Log in first."))
    )

    @strawberry.type
    class Query:
        @authz.rule({"$not": {"banned": True}})
        @strawberry.field
        def field(self) -> str | None:
            return "data"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = asyncio.run(schema.execute("{ field }"))
    assert result.data == {"field": None}
    assert codes(result) == ["UNAUTHENTICATED"]
    assert [error.message for error in result.errors] == ["Log in first."]


def _async_raise(error: BaseException):
    async def load_scopes(_: Any) -> Any:
        raise error

    return load_scopes


def test_not_of_an_or_with_a_failing_branch_stays_a_denial():
    result = run({"$not": {"$or": [{"no": True}, {"broken": True}]}})
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]


def test_not_nests_and_takes_a_list_as_an_implicit_and():
    assert run({"$not": {"$not": {"yes": True}}}).data == {"field": "data"}
    assert run({"$not": [{"yes": True}, {"no": True}]}).data == {"field": "data"}
    assert run({"$not": [{"yes": True}, {"yes": True}]}).data == {"field": None}


def test_on_error_works_with_not():
    result = run({"$not": {"yes": True}}, on_error=lambda error, path: "Not for you.")
    assert [e.message for e in result.errors] == ["Not for you."]
    assert codes(result) == ["FORBIDDEN"]


@pytest.mark.parametrize("bad", [{"$not": {}}, {"$not": 3}, {"$not": {"$bogus": 1}}])
def test_a_malformed_not_is_a_configuration_error(bad):
    authz = AuthExtension(lambda _: SCOPES)
    with pytest.raises(ConfigurationError, match=r"\$not"):

        @strawberry.type
        class Query:
            @authz.rule(bad)
            @strawberry.field
            def field(self) -> str:
                return "x"


@pytest.mark.parametrize(("constant", "data"), [(True, "data"), (False, None)])
def test_constant_rules(constant, data):
    assert run(constant).data == {"field": data}
