"""Common mistakes are refused where they are made, with a message saying what works.

A decorator used without its parentheses, an operator written without `$`, a
misspelt key or scope, a rule on a function given as
`strawberry.field(resolver=fn)`: each is a `ConfigurationError` at decoration,
naming the field or type, never a field that silently vanishes or denies at
run time.
"""

from typing import Any, TypedDict

import pytest
import strawberry
from authzkit import authz_logs, codes

from strawberry_authz import AuthExtension, ConfigurationError


def load_scopes(context: Any) -> dict[str, Any]:
    return {"is_logged_in": True, "or": True}


class Scopes(TypedDict, total=False):
    is_logged_in: bool
    has_access: str


# -- decorators used without parentheses ----------------------------------------


@pytest.mark.parametrize("decorator", ["rule", "post_rule"])
def test_a_field_decorator_without_parentheses_names_the_field(decorator):
    authz = AuthExtension(load_scopes)
    with pytest.raises(ConfigurationError) as raised:

        @strawberry.type
        class Query:
            @getattr(authz, decorator)
            @strawberry.field
            def secret(self) -> str:
                return "s3cret"

    message = str(raised.value)
    assert "secret" in message
    assert f"call it: @authz.{decorator}(...)" in message


@pytest.mark.parametrize("decorator", ["type_rule", "type_post_rule"])
def test_a_type_decorator_without_parentheses_names_the_type(decorator):
    authz = AuthExtension(load_scopes)
    with pytest.raises(ConfigurationError) as raised:

        @getattr(authz, decorator)
        @strawberry.type
        class Note:
            body: str

    message = str(raised.value)
    assert "Note" in message
    assert f"call it: @authz.{decorator}(...)" in message


def test_a_type_decorator_without_parentheses_on_a_plain_class_names_it():
    authz = AuthExtension(load_scopes)
    with pytest.raises(ConfigurationError, match="on type Draft: call it"):

        @authz.type_rule
        class Draft:
            body: str


def test_an_unknown_operation_in_default_scopes_suggests_the_close_one():
    with pytest.raises(ConfigurationError, match="'query'; did you mean 'Query'"):
        AuthExtension(load_scopes, default_scopes={"query": {"is_logged_in": True}})


# -- operators without `$`, unknown keys and scopes -----------------------------


@pytest.mark.parametrize("word", ["and", "or", "chain", "race", "not", "granted"])
def test_an_operator_without_dollar_is_refused_with_did_you_mean(word):
    authz = AuthExtension(load_scopes)
    with pytest.raises(ConfigurationError) as raised:

        @strawberry.type
        class Query:
            @authz.rule({word: {"is_logged_in": True}})
            @strawberry.field
            def secret(self) -> str:
                return "s3cret"

    assert f"did you mean '${word}'" in str(raised.value)
    assert "Query.secret" in str(raised.value)


def test_an_operator_word_declared_as_a_scope_is_a_scope():
    authz = AuthExtension(load_scopes, scopes={"or": bool, "is_logged_in": bool})

    @strawberry.type
    class Query:
        @authz.rule({"or": True})
        @strawberry.field
        def secret(self) -> str:
            return "s3cret"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    assert schema.execute_sync("{ secret }").data == {"secret": "s3cret"}


def test_an_operator_without_dollar_returned_by_a_rule_function_denies(caplog):
    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Query:
        @authz.rule(lambda params: {"or": {"is_logged_in": True}})
        @strawberry.field
        def secret(self) -> str:
            return "s3cret"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ secret }")
    assert result.data is None and len(codes(result)) == 1
    assert "did you mean '$or'" in authz_logs(caplog)


def test_an_unknown_dollar_key_suggests_the_close_one():
    authz = AuthExtension(load_scopes)
    with pytest.raises(ConfigurationError, match=r"did you mean '\$chain'"):

        @strawberry.type
        class Query:
            @authz.rule({"$chian": {"is_logged_in": True}})
            @strawberry.field
            def secret(self) -> str:
                return "s3cret"


def test_an_unknown_scope_suggests_the_declared_one():
    authz = AuthExtension(load_scopes, scopes=Scopes)
    with pytest.raises(ConfigurationError, match=r"did you mean 'is_logged_in'"):

        @strawberry.type
        class Query:
            @authz.rule({"is_loggedin": True})
            @strawberry.field
            def secret(self) -> str:
                return "s3cret"


# -- strawberry.field(resolver=fn) -----------------------------------------------


def test_a_rule_on_a_bare_resolver_function_says_what_works():
    authz = AuthExtension(load_scopes)
    with pytest.raises(ConfigurationError) as raised:

        @authz.rule({"is_logged_in": True})
        def get_secret() -> str:
            return "s3cret"

    message = str(raised.value)
    assert "get_secret" in message
    assert "strawberry.field(resolver=get_secret, extensions=[authz.rule(" in message


def test_the_form_the_message_proposes_works():
    authz = AuthExtension(load_scopes)

    def get_secret() -> str:
        return "s3cret"

    @strawberry.type
    class Query:
        secret: str = strawberry.field(
            resolver=get_secret, extensions=[authz.rule(False)]
        )

    schema = strawberry.Schema(query=Query, extensions=[authz])
    assert codes(schema.execute_sync("{ secret }")) == ["FORBIDDEN"]
