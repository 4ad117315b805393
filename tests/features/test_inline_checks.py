"""Checks inside resolvers: `authz.check` / `require`, sync forms (issue 3, pt 6)."""

import asyncio
from typing import Any

import strawberry
from featurekit import codes

from strawberry_authz import AuthExtension, ForbiddenError, UnauthenticatedError


def counting_scopes(calls: list[tuple[str, Any]], *, slow: bool = False):
    def load_scopes(context: dict[str, Any]) -> dict[str, Any]:
        user = context.get("user")

        def is_logged_in(value: bool) -> bool:
            calls.append(("is_logged_in", value))
            if user is None:
                raise UnauthenticatedError()
            return True

        async def is_admin_async(value: bool) -> bool:
            calls.append(("is_admin", value))
            await asyncio.sleep(0.01)
            return user == "admin"

        def is_admin(value: bool) -> bool:
            calls.append(("is_admin", value))
            return user == "admin"

        return {
            "is_logged_in": is_logged_in,
            "is_admin": is_admin_async if slow else is_admin,
        }

    return load_scopes


def async_schema(authz: AuthExtension) -> strawberry.Schema:
    @strawberry.type
    class Post:
        id: int

        @strawberry.field
        async def body(self, info: strawberry.Info) -> str:
            if await authz.check(info, {"is_admin": True}):
                return f"full body {self.id}"
            return f"teaser {self.id}"

    @strawberry.type
    class Query:
        @authz.rule({"is_logged_in": True})
        @strawberry.field
        async def posts(self, info: strawberry.Info) -> list[Post]:
            await authz.require(info, {"is_logged_in": True})
            return [Post(id=1), Post(id=2), Post(id=3)]

        @strawberry.field
        async def settings(self, info: strawberry.Info) -> str | None:
            await authz.require(info, {"is_admin": True})
            return "admin settings"

        @strawberry.field
        async def profile(self, info: strawberry.Info) -> str | None:
            await authz.require(info, {"is_logged_in": True})
            return "my profile"

        @strawberry.field
        async def can_administer(self, info: strawberry.Info) -> bool:
            return await authz.check(info, {"$or": {"is_admin": True, "nope": True}})

        @strawberry.field
        async def unknown_scope(self, info: strawberry.Info) -> bool:
            return await authz.check(info, {"not_a_scope": True})

    return strawberry.Schema(query=Query, extensions=[authz])


async def test_check_returns_true_or_false_inside_a_resolver():
    for user, body in (("admin", "full body"), ("bob", "teaser")):
        schema = async_schema(AuthExtension(counting_scopes([], slow=True)))
        result = await schema.execute(
            "{ posts { body } canAdminister }", context_value={"user": user}
        )
        assert result.errors is None
        assert result.data == {
            "posts": [{"body": f"{body} {n}"} for n in (1, 2, 3)],
            "canAdminister": user == "admin",
        }


async def test_require_raises_forbidden_into_the_response():
    schema = async_schema(AuthExtension(counting_scopes([])))
    result = await schema.execute("{ settings }", context_value={"user": "bob"})
    assert result.data == {"settings": None}
    assert codes(result) == ["FORBIDDEN"]
    assert result.errors[0].path == ["settings"]
    assert "admin settings" not in repr(result.data)

    admin = await schema.execute("{ settings }", context_value={"user": "admin"})
    assert admin.errors is None
    assert admin.data == {"settings": "admin settings"}


async def test_require_raises_unauthenticated_from_the_loader():
    schema = async_schema(AuthExtension(counting_scopes([])))
    result = await schema.execute("{ profile }", context_value={"user": None})
    assert result.data == {"profile": None}
    assert codes(result) == ["UNAUTHENTICATED"]


async def test_require_raises_the_denial_error_to_the_caller():
    authz = AuthExtension(counting_scopes([]))
    caught: list[Exception] = []

    @strawberry.type
    class Query:
        @strawberry.field
        async def probe(self, info: strawberry.Info) -> str:
            for rules in ({"is_admin": True}, {"is_logged_in": True}):
                try:
                    await authz.require(info, rules)
                except Exception as error:
                    caught.append(error)
            return "done"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ probe }", context_value={"user": None})
    assert result.data == {"probe": "done"}
    assert [type(e) for e in caught] == [ForbiddenError, UnauthenticatedError]


async def test_inline_checks_share_the_request_scope_cache():
    calls: list[tuple[str, Any]] = []
    schema = async_schema(AuthExtension(counting_scopes(calls, slow=True)))
    result = await schema.execute(
        "{ posts { body } profile canAdminister again: canAdminister }",
        context_value={"user": "admin"},
    )
    assert result.errors is None
    # `is_logged_in`: the field rule of `posts`, its inline `require` and
    # `profile`'s require. `is_admin`: three posts and two `canAdminister`.
    assert sorted(calls) == [("is_admin", True), ("is_logged_in", True)]

    calls.clear()
    await schema.execute("{ posts { body } }", context_value={"user": "admin"})
    assert sorted(calls) == [("is_admin", True), ("is_logged_in", True)]


async def test_inline_check_with_a_scope_nobody_returns_fails_closed():
    schema = async_schema(AuthExtension(counting_scopes([])))
    result = await schema.execute("{ unknownScope }", context_value={"user": "admin"})
    assert result.errors is None
    assert result.data == {"unknownScope": False}


async def test_inline_check_with_a_malformed_rule_set_fails_closed():
    authz = AuthExtension(counting_scopes([]))

    @strawberry.type
    class Query:
        @strawberry.field
        async def empty(self, info: strawberry.Info) -> bool:
            return await authz.check(info, {})

        @strawberry.field
        async def bad_key(self, info: strawberry.Info) -> bool:
            return await authz.check(info, {"$xor": {"is_admin": True}})

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ empty badKey }", context_value={"user": "admin"})
    assert result.errors is None
    assert result.data == {"empty": False, "badKey": False}


async def test_inline_check_sees_the_grants_of_the_parent_field():
    authz = AuthExtension(counting_scopes([]))

    @strawberry.type
    class Album:
        @strawberry.field
        async def photos(self, info: strawberry.Info) -> list[str]:
            if await authz.check(info, {"$granted": "see_photos"}):
                return ["photo"]
            return []

    @strawberry.type
    class Query:
        @authz.rule({"is_logged_in": True}, grants=["see_photos"])
        @strawberry.field
        def album(self) -> Album:
            return Album()

        @strawberry.field
        def public_album(self) -> Album:
            return Album()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute(
        "{ album { photos } publicAlbum { photos } }", context_value={"user": "ann"}
    )
    assert result.errors is None
    assert result.data == {
        "album": {"photos": ["photo"]},
        "publicAlbum": {"photos": []},
    }


def sync_schema(authz: AuthExtension) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @authz.rule({"is_logged_in": True})
        @strawberry.field
        def dashboard(self, info: strawberry.Info) -> str:
            if authz.check_sync(info, {"is_admin": True}):
                return "admin dashboard"
            return "user dashboard"

        @strawberry.field
        def settings(self, info: strawberry.Info) -> str | None:
            authz.require_sync(info, {"is_admin": True})
            return "admin settings"

        @strawberry.field
        def profile(self, info: strawberry.Info) -> str | None:
            authz.require_sync(info, {"is_logged_in": True})
            return "my profile"

    return strawberry.Schema(query=Query, extensions=[authz])


def test_check_sync_and_require_sync_work_under_execute_sync():
    calls: list[tuple[str, Any]] = []
    schema = sync_schema(AuthExtension(counting_scopes(calls)))
    admin = schema.execute_sync(
        "{ dashboard settings profile }", context_value={"user": "admin"}
    )
    assert admin.errors is None
    assert admin.data == {
        "dashboard": "admin dashboard",
        "settings": "admin settings",
        "profile": "my profile",
    }
    # Shared with the field rule: each (scope, value) computed once.
    assert sorted(calls) == [("is_admin", True), ("is_logged_in", True)]

    bob = schema.execute_sync("{ dashboard settings }", context_value={"user": "bob"})
    assert bob.data == {"dashboard": "user dashboard", "settings": None}
    assert codes(bob) == ["FORBIDDEN"]
    assert bob.errors[0].path == ["settings"]

    anonymous = schema.execute_sync("{ profile }", context_value={"user": None})
    assert anonymous.data == {"profile": None}
    assert codes(anonymous) == ["UNAUTHENTICATED"]


async def test_check_sync_never_passes_on_an_async_scope():
    authz = AuthExtension(counting_scopes([], slow=True))

    @strawberry.type
    class Query:
        @strawberry.field
        def admin_only(self, info: strawberry.Info) -> str | None:
            if authz.check_sync(info, {"is_admin": True}):
                return "secret"
            return "public"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ adminOnly }", context_value={"user": "admin"})
    # Either a clear error or False: never silently True without the loader.
    assert result.data in ({"adminOnly": None}, {"adminOnly": "public"})
    if result.data == {"adminOnly": None}:
        assert "async" in result.errors[0].message
