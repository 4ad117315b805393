"""A schema that does not use the AuthExtension never serves protected data."""

import logging

import pytest
import strawberry

from strawberry_authz import AuthExtension


def allow_all(context: object) -> dict[str, object]:
    return {"ok": True}


def test_field_rule_denies_when_schema_lacks_the_extension(
    caplog: pytest.LogCaptureFixture,
) -> None:
    authz = AuthExtension(allow_all)

    @strawberry.type
    class Query:
        @authz.rule({"ok": True})
        @strawberry.field
        def secret(self) -> str | None:
            return "secret"

    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = strawberry.Schema(query=Query).execute_sync("{ secret }")
    assert result.data == {"secret": None}
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "FORBIDDEN"}
    assert "Query.secret" in caplog.text
    assert "extensions=[...]" in caplog.text


async def test_type_rule_denies_every_field_when_schema_lacks_the_extension() -> None:
    authz = AuthExtension(allow_all)

    @authz.type_rule({"ok": True})
    @strawberry.type
    class Salary:
        amount: int
        currency: str

    @strawberry.type
    class Query:
        @strawberry.field
        def salary(self) -> Salary | None:
            return Salary(amount=100, currency="EUR")

    result = await strawberry.Schema(query=Query).execute(
        "{ salary { amount currency } }"
    )
    assert result.data == {"salary": None}
    assert "100" not in str(result)


def test_same_types_served_with_the_extension_are_allowed() -> None:
    authz = AuthExtension(allow_all)

    @authz.type_rule({"ok": True})
    @strawberry.type
    class Query:
        @authz.rule({"ok": True})
        @strawberry.field
        def secret(self) -> str:
            return "secret"

        @strawberry.field
        def plain(self) -> str:
            return "plain"

    without = strawberry.Schema(query=Query)
    with_authz = strawberry.Schema(query=Query, extensions=[authz])
    assert with_authz.execute_sync("{ secret plain }").data == {
        "secret": "secret",
        "plain": "plain",
    }
    assert without.execute_sync("{ plain }").data is None


def test_rules_of_an_extension_the_schema_does_not_use_keep_denying() -> None:
    used = AuthExtension(allow_all)
    forgotten = AuthExtension(allow_all)

    @strawberry.type
    class Query:
        @used.rule({"ok": True})
        @strawberry.field
        def public(self) -> str | None:
            return "public"

        @forgotten.rule({"ok": True})
        @strawberry.field
        def other(self) -> str | None:
            return "other"

    schema = strawberry.Schema(query=Query, extensions=[used])
    result = schema.execute_sync("{ public other }")
    assert result.data == {"public": "public", "other": None}


def test_optional_bool_scope_in_a_pydantic_declaration_only_accepts_true() -> None:
    import pydantic

    from strawberry_authz import ConfigurationError

    class Scopes(pydantic.BaseModel):
        is_public: bool | None = None

    authz = AuthExtension(allow_all, scopes=Scopes)
    with pytest.raises(ConfigurationError, match="only accepts True"):

        @strawberry.type
        class Query:
            @authz.rule({"is_public": False})
            @strawberry.field
            def secret(self) -> str:
                return "secret"
