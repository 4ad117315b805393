"""Issue 8, item 10 and issue 19, point 5: the policy's shape stays on the server.

`error_reasons` is off by default; `error_reasons=True` (for development)
lists each failed branch of an `$or` / `$race` in the error.
"""

from typing import Any

import pytest
import strawberry
from graphql import GraphQLError

from strawberry_authz import AuthExtension, ForbiddenError, UnauthenticatedError


def load_scopes(context: Any) -> dict[str, Any]:
    def not_member(team: int) -> bool:
        raise ForbiddenError(f"Not a member of team {team}.")

    def anonymous(_: bool) -> bool:
        raise UnauthenticatedError()

    return {"is_admin": False, "member_of": not_member, "logged_in": anonymous}


def schema_for(authz: AuthExtension, rules: Any) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @authz.rule(rules)
        @strawberry.field
        def secret(self, info: strawberry.Info) -> str | None:
            return "secret"

        @strawberry.field
        async def inline(self, info: strawberry.Info) -> str | None:
            await authz.require(info, rules)
            return "inline secret"

    return strawberry.Schema(query=Query, extensions=[authz])


ANY_OF = [
    pytest.param({"$or": [{"is_admin": True}, {"member_of": 7}]}, id="$or"),
    pytest.param({"$race": [{"is_admin": True}, {"member_of": 7}]}, id="$race"),
]


@pytest.mark.parametrize("rules", ANY_OF)
@pytest.mark.parametrize("field", ["secret", "inline"])
async def test_by_default_a_denied_or_tells_the_client_nothing_of_its_branches(
    rules, field
):
    schema = schema_for(AuthExtension(load_scopes), rules)

    result = await schema.execute(f"{{ {field} }}")

    [error] = result.errors or []
    assert error.message == ForbiddenError().message
    assert error.extensions == {"code": "FORBIDDEN"}
    assert "team 7" not in repr(error.formatted)


@pytest.mark.parametrize("rules", ANY_OF)
async def test_error_reasons_true_tells_the_client_each_failed_branch(rules):
    schema = schema_for(AuthExtension(load_scopes, error_reasons=True), rules)

    result = await schema.execute("{ secret }")

    [error] = result.errors or []
    assert error.extensions == {
        "code": "FORBIDDEN",
        "reasons": [
            {"code": "FORBIDDEN", "message": ForbiddenError().message},
            {"code": "FORBIDDEN", "message": "Not a member of team 7."},
        ],
    }


@pytest.mark.parametrize("rules", ANY_OF)
@pytest.mark.parametrize("field", ["secret", "inline"])
async def test_error_reasons_false_omits_the_branches_of_a_denied_or(rules, field):
    schema = schema_for(AuthExtension(load_scopes, error_reasons=False), rules)

    result = await schema.execute(f"{{ {field} }}")

    assert result.data == {field: None}
    [error] = result.errors or []
    assert error.message == ForbiddenError().message
    assert error.extensions == {"code": "FORBIDDEN"}
    assert "team 7" not in repr(error.formatted)


async def test_error_reasons_false_keeps_the_unauthenticated_code_and_message():
    authz = AuthExtension(load_scopes, error_reasons=False)
    schema = schema_for(authz, {"$or": [{"is_admin": True}, {"logged_in": True}]})

    result = await schema.execute("{ secret }")

    [error] = result.errors or []
    assert error.message == UnauthenticatedError().message
    assert error.extensions == {"code": "UNAUTHENTICATED"}


async def test_error_reasons_false_reports_a_loader_own_error_as_raised():
    own = GraphQLError("Closed for maintenance.", extensions={"reasons": ["ops"]})

    def closed(_: Any) -> bool:
        raise own

    authz = AuthExtension(lambda context: {"open": closed}, error_reasons=False)
    # Both branches fail with the very same error: that error is reported.
    schema = schema_for(authz, {"$or": [{"open": 1}, {"open": 2}]})

    result = await schema.execute("{ secret }")

    [error] = result.errors or []
    assert error.message == "Closed for maintenance."
    assert error.extensions == {"reasons": ["ops"]}
