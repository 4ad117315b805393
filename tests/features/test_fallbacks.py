"""Fallback values instead of errors: `on_denied` (issue 3, point 3)."""

from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from featurekit import PlainQuery, codes, drain, dump, frames

from strawberry_authz import AuthExtension, ConfigurationError, UnauthenticatedError


def load_scopes(context: dict[str, Any]) -> dict[str, Any]:
    user = context.get("user")

    def is_logged_in(value: bool) -> bool:
        if user is None:
            raise UnauthenticatedError()
        return True

    return {"is_logged_in": is_logged_in, "is_admin": lambda value: user == "admin"}


async def test_on_denied_function_replaces_the_error_with_its_value():
    authz = AuthExtension(load_scopes)
    received: list[tuple[Any, Any]] = []
    resolved: list[str] = []

    def fallback(params, error):
        received.append((params.args, error))
        return f"hidden #{params.args['number']}"

    @strawberry.type
    class Query:
        @authz.rule({"is_admin": True}, on_denied=fallback)
        @strawberry.field
        def secret(self, number: int) -> str:
            resolved.append("secret")
            return f"secret #{number}"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute(
        "{ secret(number: 7) }", context_value={"user": "bob"}
    )
    assert result.errors is None
    assert result.data == {"secret": "hidden #7"}
    assert resolved == []
    [(args, error)] = received
    assert args == {"number": 7}
    assert error.extensions["code"] == "FORBIDDEN"

    admin = await schema.execute(
        "{ secret(number: 7) }", context_value={"user": "admin"}
    )
    assert admin.errors is None
    assert admin.data == {"secret": "secret #7"}


async def test_constant_empty_list_fallback_makes_a_list_quietly_empty():
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Query:
        @authz.rule({"is_admin": True}, on_denied=[])
        @strawberry.field
        def audit_log(self) -> list[str]:
            return ["bob deleted everything"]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ auditLog }", context_value={"user": "bob"})
    assert result.errors is None
    assert result.data == {"auditLog": []}


async def test_fallback_value_is_not_shared_between_requests_or_fields():
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Query:
        @authz.rule({"is_admin": True}, on_denied=[])
        @strawberry.field
        def a(self) -> list[int]:
            return [1]

        @authz.rule({"is_admin": True}, on_denied=lambda params, error: [])
        @strawberry.field
        def b(self) -> list[int]:
            return [2]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    for user, expected in (("bob", []), ("admin", [1]), ("bob", [])):
        result = await schema.execute("{ a b }", context_value={"user": user})
        assert result.errors is None
        assert result.data["a"] == expected


async def test_fallback_applies_whatever_denied_the_field():
    authz = AuthExtension(load_scopes, default_scopes={"Query": {"is_logged_in": True}})
    errors: list[Any] = []

    def fallback(params, error):
        errors.append(error)
        return "anonymous view"

    @strawberry.type
    class Query:
        @authz.rule({"is_admin": True}, on_denied=fallback)
        @strawberry.field
        def dashboard(self) -> str:
            return "admin view"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    anonymous = await schema.execute("{ dashboard }", context_value={"user": None})
    assert anonymous.errors is None
    assert anonymous.data == {"dashboard": "anonymous view"}
    assert [e.extensions["code"] for e in errors] == ["UNAUTHENTICATED"]


async def test_post_rule_fallback_never_leaks_the_denied_result():
    authz = AuthExtension(load_scopes)
    seen_by_fallback: list[Any] = []

    @strawberry.type
    class Account:
        owner: str
        iban: str

    def redacted(params, error):
        seen_by_fallback.append(params.root)
        return Account(owner="redacted", iban="****")

    @strawberry.type
    class Query:
        @authz.post_rule(
            lambda params, account: account.owner == params.context["user"],
            on_denied=redacted,
        )
        @strawberry.field
        def account(self, owner: str) -> Account:
            return Account(owner=owner, iban=f"DE00 {owner.upper()} 1234")

    schema = strawberry.Schema(query=Query, extensions=[authz])
    query = '{ account(owner: "ann") { owner iban } }'
    other = await schema.execute(query, context_value={"user": "bob"})
    assert other.errors is None
    assert other.data == {"account": {"owner": "redacted", "iban": "****"}}
    assert "ANN" not in dump(other)
    assert "ann" not in dump(other)

    own = await schema.execute(query, context_value={"user": "ann"})
    assert own.data == {"account": {"owner": "ann", "iban": "DE00 ANN 1234"}}


async def test_post_rule_constant_fallback_on_a_list():
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Query:
        @authz.post_rule(
            lambda params, rows: all(not row.startswith("secret") for row in rows),
            on_denied=[],
        )
        @strawberry.field
        def rows(self) -> list[str]:
            return ["public", "secret: 42"]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ rows }", context_value={"user": "bob"})
    assert result.errors is None
    assert result.data == {"rows": []}
    assert "42" not in dump(result)


async def test_on_denied_none_on_a_nullable_field_gives_null_without_error():
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Query:
        @authz.rule({"is_admin": True}, on_denied=None)
        @strawberry.field
        def secret(self) -> str | None:
            return "secret"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    authz.validate(schema)
    result = await schema.execute("{ secret }", context_value={"user": "bob"})
    assert result.errors is None
    assert result.data == {"secret": None}


def test_on_denied_none_on_a_non_null_field_is_a_configuration_error_naming_it():
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Vault:
        @authz.rule({"is_admin": True}, on_denied=None)
        @strawberry.field
        def combination(self) -> str:
            return "1234"

    @strawberry.type
    class Query:
        @strawberry.field
        def vault(self) -> Vault:
            return Vault()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with pytest.raises(ConfigurationError) as raised:
        authz.validate(schema)
    assert "Vault.combination" in str(raised.value)
    assert any("Vault.combination" in problem for problem in raised.value.problems)


def test_on_denied_none_on_a_non_null_post_rule_field_is_a_configuration_error():
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Query:
        @authz.post_rule(lambda params, result: True, on_denied=None)
        @strawberry.field
        def items(self) -> list[str]:
            return []

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with pytest.raises(ConfigurationError, match=r"Query\.items"):
        authz.validate(schema)


async def test_misconfigured_fallback_refuses_requests_instead_of_serving_them():
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Query:
        @authz.rule({"is_admin": True}, on_denied=None)
        @strawberry.field
        def secret(self) -> str:
            return "secret"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ secret }", context_value={"user": "admin"})
    assert result.data is None
    assert "secret" not in repr(result.data)
    assert codes(result) == ["FORBIDDEN"]


async def test_fallback_replaces_a_denied_subscription_event():
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Subscription:
        @authz.rule(
            lambda params: params.root % 2 == 0,
            phase="resolve",
            on_denied=lambda params, error: -1,
        )
        @strawberry.subscription
        async def numbers(self) -> AsyncGenerator[int, None]:
            for number in range(4):
                yield number

    schema = strawberry.Schema(
        query=PlainQuery, subscription=Subscription, extensions=[authz]
    )
    results = await drain(
        await schema.subscribe("subscription { numbers }", context_value={"user": "x"})
    )
    assert frames(results) == [({"numbers": n}, []) for n in (0, -1, 2, -1)]
