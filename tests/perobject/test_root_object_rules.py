"""`type_rule(..., on_object=True)` on a root type: no field returns the root
object, so the rule is checked on every field of the root type, before its
resolver runs (queries, mutations, subscriptions), renamed root types too."""

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from authzkit import codes, dump

from strawberry_authz import AuthExtension, ConfigurationError


def build(fallback: Any = None, *, function: bool = False):
    authz = AuthExtension(
        lambda context: {"admin": context.get("admin", False)},
        fallback_rule=fallback,
    )
    ran: list[str] = []
    rule: Any = (lambda params: {"admin": True}) if function else {"admin": True}

    @authz.type_rule(rule, on_object=True)
    @strawberry.type
    class RootQuery:
        @strawberry.field
        def secret(self) -> str:
            ran.append("secret")
            return "ROOT-QUERY-SECRET"

    @authz.type_rule(rule, on_object=True)
    @strawberry.type
    class RootMutation:
        @strawberry.mutation
        def wipe(self) -> bool:
            ran.append("wipe")
            return True

    @authz.type_rule(rule, on_object=True)
    @strawberry.type
    class RootSubscription:
        @strawberry.subscription
        async def secrets(self) -> AsyncGenerator[str, None]:
            ran.append("secrets")
            yield "ROOT-EVENT-SECRET"

    schema = strawberry.Schema(
        query=RootQuery,
        mutation=RootMutation,
        subscription=RootSubscription,
        extensions=[authz],
    )
    return schema, ran, authz


async def events(schema: strawberry.Schema, admin: bool) -> list[Any]:
    stream = await schema.subscribe(
        "subscription { secrets }", context_value={"admin": admin}
    )
    if not hasattr(stream, "__aiter__"):
        return [stream]
    return [event async for event in stream]


@pytest.mark.parametrize("fallback", [None, False])
@pytest.mark.parametrize("function", [False, True])
def test_an_object_rule_on_the_query_type_denies_its_fields(fallback, function):
    schema, ran, _ = build(fallback, function=function)
    anonymous = schema.execute_sync("{ secret }", context_value={})
    assert anonymous.data is None
    assert codes(anonymous) == ["FORBIDDEN"]
    assert "ROOT-QUERY-SECRET" not in dump(anonymous)
    assert ran == []
    admin = schema.execute_sync("{ secret }", context_value={"admin": True})
    assert admin.data == {"secret": "ROOT-QUERY-SECRET"}


@pytest.mark.parametrize("fallback", [None, False])
def test_an_object_rule_on_the_mutation_type_stops_the_resolver(fallback):
    schema, ran, _ = build(fallback)
    anonymous = schema.execute_sync("mutation { wipe }", context_value={})
    assert codes(anonymous) == ["FORBIDDEN"]
    assert ran == []  # checked before the resolver ran
    admin = schema.execute_sync("mutation { wipe }", context_value={"admin": True})
    assert admin.data == {"wipe": True}


@pytest.mark.parametrize("fallback", [None, False])
def test_an_object_rule_on_the_subscription_type_stops_the_stream(fallback):
    schema, ran, _ = build(fallback)
    anonymous = asyncio.run(events(schema, admin=False))
    assert "ROOT-EVENT-SECRET" not in dump(anonymous)
    assert [codes(result) for result in anonymous] == [["FORBIDDEN"]]
    assert ran == []  # the generator never started
    admin = asyncio.run(events(schema, admin=True))
    assert [result.data for result in admin] == [{"secrets": "ROOT-EVENT-SECRET"}]


def test_async_execution_denies_a_root_object_rule_too():
    schema, ran, _ = build(False)
    anonymous = asyncio.run(schema.execute("{ secret }", context_value={}))
    assert codes(anonymous) == ["FORBIDDEN"]
    assert ran == []


def test_validate_accepts_it_and_drop_denied_on_a_root_type_is_refused():
    schema, _, authz = build()
    authz.validate(schema)  # enforced, so nothing to refuse

    dropping = AuthExtension(lambda context: {"admin": False})

    @dropping.type_rule({"admin": True}, on_object=True, drop_denied=True)
    @strawberry.type
    class Query:
        hello: str = "hi"

    with pytest.raises(ConfigurationError) as raised:
        dropping.validate(strawberry.Schema(query=Query, extensions=[dropping]))
    assert "Query" in str(raised.value)
    assert "drop_denied" in str(raised.value)


guarded = AuthExtension(lambda context: {"admin": context.get("admin", False)})


@guarded.type_rule({"admin": True}, on_object=True)
@strawberry.interface
class Audited:
    @strawberry.field
    def audit(self) -> str:
        return "ROOT-INTERFACE-SECRET"


@guarded.type_rule({"admin": True}, on_object=True)
@strawberry.type
class ViewerQuery(Audited):
    @strawberry.field
    def secret(self) -> str:
        return "ROOT-QUERY-SECRET"

    @guarded.rule(True, skip_type_rules=True, skip_interface_rules=True)
    @strawberry.field
    def viewer(self) -> "ViewerQuery | None":
        return ViewerQuery()


viewer_schema = strawberry.Schema(query=ViewerQuery, extensions=[guarded])


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer { secret } }",
        "{ viewer { viewer { audit } } }",
        "{ audit }",
        "{ secret }",
    ],
)
def test_the_root_object_returned_by_a_field_or_through_an_interface_stays_denied(
    query,
):
    anonymous = viewer_schema.execute_sync(query, context_value={})
    assert "SECRET" not in dump(anonymous)
    assert set(codes(anonymous)) == {"FORBIDDEN"}
    admin = viewer_schema.execute_sync(query, context_value={"admin": True})
    assert admin.errors is None
    assert "SECRET" in dump(admin)
