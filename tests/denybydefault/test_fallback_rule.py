"""`fallback_rule=`: the rule of every field no other rule applies to."""

from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from authzkit import codes

from strawberry_authz import AuthExtension


def build(fallback: Any, **options: Any):
    authz = AuthExtension(
        lambda ctx: {"member": lambda _: ctx.get("member", False)},
        fallback_rule=fallback,
        **options,
    )

    @authz.type_rule({"member": True})
    @strawberry.type
    class Guarded:
        secret: str = "guarded secret"

    @strawberry.type
    class Open:
        name: str = "new type"

        @authz.rule(True)
        @strawberry.field
        def explicit(self) -> str:
            return "explicitly allowed"

        @authz.rule({"member": True})
        @strawberry.field
        def members(self) -> str:
            return "for members"

    @strawberry.type
    class Query:
        @strawberry.field
        def open(self) -> Open:
            return Open()

        @authz.rule(True)
        @strawberry.field
        def guarded(self) -> Guarded:
            return Guarded()

        @authz.rule(True)
        @strawberry.field
        def public(self) -> Open:
            return Open()

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def touch(self) -> bool:
            return True

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            yield 1

    schema = strawberry.Schema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=[authz]
    )
    return schema


def test_false_denies_every_field_no_rule_applies_to():
    schema = build(False)
    result = schema.execute_sync("{ open { name } }")
    assert result.data is None
    assert codes(result) == ["FORBIDDEN"]
    nested = schema.execute_sync("{ public { name explicit } }")
    assert nested.data is None  # Open.name is non-null: the null reaches the root
    assert codes(nested) == ["FORBIDDEN"]
    mutation = schema.execute_sync("mutation { touch }")
    assert mutation.data is None and codes(mutation) == ["FORBIDDEN"]


def test_any_rule_opts_a_field_out_and_true_is_an_explicit_allow():
    schema = build(False)
    result = schema.execute_sync(
        "{ public { explicit members } guarded { secret } }",
        context_value={"member": True},
    )
    assert not result.errors
    assert result.data == {
        "public": {"explicit": "explicitly allowed", "members": "for members"},
        "guarded": {"secret": "guarded secret"},
    }


def test_the_field_rule_decides_where_one_applies_not_the_fallback():
    schema = build(True)
    result = schema.execute_sync("{ public { members } }", context_value={})
    assert codes(result) == ["FORBIDDEN"]


def test_default_scopes_count_as_a_rule_for_root_fields():
    schema = build(False, default_scopes={"Query": {"member": True}})
    result = schema.execute_sync(
        "{ open { explicit } }", context_value={"member": True}
    )
    assert result.data == {"open": {"explicit": "explicitly allowed"}}


def test_introspection_and_typename_are_never_subject_to_it():
    schema = build(False)
    result = schema.execute_sync("{ __typename __schema { queryType { name } } }")
    assert not result.errors
    assert result.data["__typename"] == "Query"
    typed = schema.execute_sync("{ public { __typename explicit } }")
    assert typed.data == {
        "public": {"__typename": "Open", "explicit": "explicitly allowed"}
    }


async def test_a_subscription_without_rules_is_denied_at_subscribe_time():
    schema = build(False)
    result = await schema.subscribe("subscription { ticks }")
    if not hasattr(result, "errors"):
        result = await result.__anext__()
    assert codes(result) == ["FORBIDDEN"]


def test_a_rule_function_fallback_sees_the_field():
    seen: list[str] = []

    def fallback(params: Any) -> bool:
        seen.append(params.info.field_name)
        return params.info.field_name != "name"

    schema = build(fallback)
    result = schema.execute_sync("{ public { name explicit } }")
    assert codes(result) == ["FORBIDDEN"]
    assert seen == ["name"]


def test_without_fallback_unprotected_fields_stay_open():
    schema = build(None)
    assert schema.execute_sync("{ open { name } }").data == {
        "open": {"name": "new type"}
    }


@pytest.mark.parametrize("bad", [{"$nope": 1}, {}, "yes"])
def test_a_malformed_fallback_is_a_configuration_error(bad):
    from strawberry_authz import ConfigurationError

    with pytest.raises(ConfigurationError, match="fallback_rule"):
        AuthExtension(lambda _: {}, fallback_rule=bad)
