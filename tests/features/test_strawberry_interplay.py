"""strawberry-authz next to Strawberry's own permission classes."""

import strawberry
from strawberry.permission import BasePermission

from strawberry_authz import AuthExtension


class ContextSaysOk(BasePermission):
    message = "permission class said no"

    def has_permission(
        self, source: object, info: strawberry.Info, **kwargs: object
    ) -> bool:
        return bool(info.context.get("ok"))


def build() -> strawberry.Schema:
    authz = AuthExtension(lambda context: {"a": bool(context.get("a"))})

    @authz.type_rule({"a": True})
    @strawberry.type
    class Query:
        @strawberry.field(permission_classes=[ContextSaysOk])
        def by_type_rule(self) -> str | None:
            return "type"

        @authz.rule({"a": True})
        @strawberry.field(permission_classes=[ContextSaysOk])
        def by_field_rule(self) -> str | None:
            return "field"

    return strawberry.Schema(query=Query, extensions=[authz])


QUERY = "{ byTypeRule byFieldRule }"


def test_both_pass_serves_the_fields() -> None:
    result = build().execute_sync(QUERY, context_value={"a": True, "ok": True})
    assert result.errors is None
    assert result.data == {"byTypeRule": "type", "byFieldRule": "field"}


def test_permission_classes_still_deny_when_authz_allows() -> None:
    result = build().execute_sync(QUERY, context_value={"a": True})
    assert result.data == {"byTypeRule": None, "byFieldRule": None}
    assert [e.message for e in result.errors or []] == ["permission class said no"] * 2


def test_authz_denies_when_permission_classes_allow() -> None:
    result = build().execute_sync(QUERY, context_value={"ok": True})
    assert result.data == {"byTypeRule": None, "byFieldRule": None}
    assert [e.extensions for e in result.errors or []] == [{"code": "FORBIDDEN"}] * 2
