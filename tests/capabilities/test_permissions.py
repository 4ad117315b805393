"""`authz.permissions_field` and `authz.dehydrate`: the viewer's named checks."""

import asyncio
import logging
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs
from capkit import Loads

from strawberry_authz import AuthExtension, ConfigurationError, Permission

CHECKS = {
    "note:create": {"has_role": "writer"},
    "admin:panel": {"has_role": "admin"},
    "note:edit-own": {"$or": {"has_role": "admin", "owns_note": "u1"}},
    "account:view": {"is_logged_in": True},
}

VIEWERS = {
    "anonymous": {},
    "writer": {"user": "u1", "roles": ["writer"]},
    "admin": {"user": "u9", "roles": ["admin", "writer"]},
}


def viewer_schema(authz: AuthExtension, checks: Any = CHECKS) -> strawberry.Schema:
    @strawberry.type
    class Viewer:
        permissions = authz.permissions_field(checks)

    @strawberry.type
    class Query:
        @strawberry.field
        def viewer(self) -> Viewer:
            return Viewer()

    return strawberry.Schema(query=Query, extensions=[authz])


QUERY = "{ viewer { permissions { name allowed } } }"


def as_dict(result: Any) -> dict[str, bool]:
    assert result.errors is None
    permissions = result.data["viewer"]["permissions"]
    return {entry["name"]: entry["allowed"] for entry in permissions}


def test_the_field_lists_every_check_in_order_with_its_answer():
    schema = viewer_schema(AuthExtension(Loads().load_scopes))
    result = schema.execute_sync(QUERY, context_value=VIEWERS["writer"])
    assert result.data == {
        "viewer": {
            "permissions": [
                {"name": "note:create", "allowed": True},
                {"name": "admin:panel", "allowed": False},
                {"name": "note:edit-own", "allowed": True},
                {"name": "account:view", "allowed": True},
            ]
        }
    }


def test_the_schema_has_a_permission_type():
    schema = viewer_schema(AuthExtension(Loads().load_scopes))
    sdl = str(schema)
    assert "permissions: [Permission!]!" in sdl
    assert "type Permission {\n  name: String!\n  allowed: Boolean!\n}" in sdl
    assert Permission(name="x", allowed=True).allowed is True


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_dehydrate_gives_the_answers_of_the_field(viewer):
    loads = Loads(slow=True)
    authz = AuthExtension(loads.load_scopes)
    field = as_dict(
        await viewer_schema(authz).execute(QUERY, context_value=VIEWERS[viewer])
    )
    assert await authz.dehydrate(VIEWERS[viewer], CHECKS) == field
    assert list(field) == list(CHECKS)


async def test_dehydrate_works_with_an_async_load_scopes_and_sync_loaders():
    loads = Loads()
    authz = AuthExtension(loads.load_scopes_async)
    answers = await authz.dehydrate(VIEWERS["admin"], CHECKS)
    assert answers == {
        "note:create": True,
        "admin:panel": True,
        "note:edit-own": True,
        "account:view": True,
    }
    assert loads.count("has_role") == 2  # "admin" once, though asked twice


async def test_dehydrate_asks_each_value_once_per_call():
    loads = Loads(slow=True)
    authz = AuthExtension(loads.load_scopes)
    checks = {"a": {"has_role": "x"}, "b": {"has_role": "x"}, "c": {"has_role": "y"}}
    await authz.dehydrate({}, checks)
    await authz.dehydrate({}, checks)
    assert loads.calls == [("has_role", "x"), ("has_role", "y")] * 2


def failing_scopes(context: Any) -> dict[str, Any]:
    async def broken(value: Any) -> bool:
        await asyncio.sleep(0)
        raise RuntimeError("secret connection string")

    return {"has_role": broken, "is_logged_in": True}


async def test_a_failing_loader_is_false_and_logged_for_field_and_dehydrate(caplog):
    authz = AuthExtension(failing_scopes)
    checks = {"admin": {"has_role": "admin"}, "member": {"is_logged_in": True}}
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        answers = await authz.dehydrate({}, checks)
        result = await viewer_schema(authz, checks).execute(QUERY)
    assert answers == {"admin": False, "member": True}
    assert as_dict(result) == answers
    assert "RuntimeError" in authz_logs(caplog)
    assert "secret" not in repr(result.data)


async def test_a_failing_load_scopes_is_all_false_never_raised(caplog):
    def load_scopes(context: Any) -> dict[str, Any]:
        raise RuntimeError("no user store")

    authz = AuthExtension(load_scopes)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        answers = await authz.dehydrate({}, {"a": {"is_logged_in": True}})
    assert answers == {"a": False}
    assert "no user store" in authz_logs(caplog)


def test_a_bad_check_is_refused_at_decoration_naming_it():
    authz = AuthExtension(Loads().load_scopes, scopes={"has_role": str})
    with pytest.raises(
        ConfigurationError, match="check 'admin:panel': key 'x': unknown scope"
    ):
        authz.permissions_field({"ok": {"has_role": "x"}, "admin:panel": {"x": 1}})
    with pytest.raises(ConfigurationError, match=r"'broken'.*\$nope"):
        authz.permissions_field({"broken": {"$nope": 1}})


@pytest.mark.parametrize(
    "rules",
    [lambda params: True, {"$granted": "edit"}],
    ids=["rule function", "$granted"],
)
async def test_checks_must_not_need_an_object(rules):
    authz = AuthExtension(Loads().load_scopes)
    with pytest.raises(ConfigurationError, match="'per-object'"):
        authz.permissions_field({"per-object": rules})
    with pytest.raises(ConfigurationError, match="'per-object'"):
        await authz.dehydrate({}, {"per-object": rules})


async def test_dehydrate_refuses_a_malformed_check():
    authz = AuthExtension(Loads().load_scopes)
    with pytest.raises(ConfigurationError, match="'x'"):
        await authz.dehydrate({}, {"x": {}})


def test_without_the_extension_every_permission_is_false(caplog):
    authz = AuthExtension(Loads().load_scopes)

    @strawberry.type
    class Query:
        permissions = authz.permissions_field({"always": {"is_logged_in": True}})

    schema = strawberry.Schema(query=Query)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync(
            "{ permissions { name allowed } }", context_value={"user": "u"}
        )
    assert result.errors is None
    assert result.data == {"permissions": [{"name": "always", "allowed": False}]}
    assert "Query.permissions" in authz_logs(caplog)


def test_a_type_rule_does_not_turn_the_permissions_into_an_error():
    authz = AuthExtension(Loads().load_scopes)

    @authz.type_rule({"has_role": "admin"})
    @strawberry.type
    class Viewer:
        name: str = "v"
        permissions = authz.permissions_field({"write": {"has_role": "writer"}})

    @strawberry.type
    class Query:
        @strawberry.field
        def viewer(self) -> Viewer:
            return Viewer()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync(QUERY, context_value=VIEWERS["writer"])
    assert as_dict(result) == {"write": True}
    assert schema.execute_sync("{ viewer { name } }").errors


def test_deny_by_default_serves_the_answers_and_the_report_counts_them():
    from strawberry_authz.report import build_report

    authz = AuthExtension(Loads().load_scopes, fallback_rule=False)

    @strawberry.type
    class Viewer:
        permissions = authz.permissions_field({"account:view": {"is_logged_in": True}})

    @strawberry.type
    class Query:
        @authz.rule({"is_logged_in": True})
        @strawberry.field
        def viewer(self) -> Viewer:
            return Viewer()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync(
        "{ viewer { permissions { name allowed } } }", context_value=VIEWERS["writer"]
    )
    assert result.data == {
        "viewer": {"permissions": [{"name": "account:view", "allowed": True}]}
    }
    statuses = {row.coordinate: row.status for row in build_report(schema).fields}
    assert statuses["Permission.name"] == statuses["Permission.allowed"] == "capability"
