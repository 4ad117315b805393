"""Issue 11.3 — `RoleRegistry`: the semantics of vielzeug/permit, in Python."""

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from strawberry_authz import ANONYMOUS, WILDCARD, ConfigurationError, RoleRegistry

EDITOR = {"id": "u1", "roles": ["editor"]}
ADMIN = {"id": "u2", "roles": ["admin"]}


@dataclass
class User:
    id: Any = "u9"
    roles: Any = field(default_factory=lambda: ["editor"])


def is_author(user: Any, post: dict[str, Any]) -> bool:
    return post["author_id"] == (user["id"] if isinstance(user, dict) else user.id)


@pytest.fixture
def registry() -> RoleRegistry:
    return RoleRegistry()


def authz_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "strawberry_authz" and record.levelno >= logging.ERROR
    ]


# -- constants and names ---------------------------------------------------------


def test_constants_are_permit_s():
    assert WILDCARD == "*"
    assert ANONYMOUS == "anonymous"


def test_role_resource_and_action_names_are_trimmed_and_lower_cased(registry):
    registry.register("  Editor ", " POSTS", {" Read ": True})
    assert registry.roles == {"editor": {"posts": {"read": True}}}
    assert registry.check({"id": 1, "roles": ["EDITOR "]}, " Posts ", "READ")


def test_has_role_normalises_both_sides(registry):
    assert registry.has_role({"id": 1, "roles": [" Admin"]}, "ADMIN ")
    assert not registry.has_role({"id": 1, "roles": ["admin"]}, "editor")


@pytest.mark.parametrize("role", ["", "   ", None, 3])
def test_an_empty_or_non_string_role_raises(registry, role):
    with pytest.raises(ConfigurationError, match="role"):
        registry.register(role, "posts", {"read": True})
    with pytest.raises(ConfigurationError, match="role"):
        registry.has_role(EDITOR, role)
    assert registry.roles == {}


@pytest.mark.parametrize("resource", ["", "  ", None])
def test_an_empty_resource_raises(registry, resource):
    with pytest.raises(ConfigurationError, match="resource"):
        registry.register("editor", resource, {"read": True})
    with pytest.raises(ConfigurationError, match="resource"):
        registry.check(EDITOR, resource, "read")
    assert registry.roles == {}


def test_an_unknown_action_raises_and_registers_nothing(registry):
    with pytest.raises(ConfigurationError, match=r"'publish'.*read, create"):
        registry.register("editor", "posts", {"read": True, "publish": True})
    with pytest.raises(ConfigurationError, match="publish"):
        registry.check(EDITOR, "posts", "publish")
    with pytest.raises(ConfigurationError, match="publish"):
        registry.unregister("editor", "posts", "publish")
    assert registry.roles == {}


@pytest.mark.parametrize("permission", [None, 1, "yes", {"read": True}])
def test_a_permission_must_be_a_bool_or_a_function(registry, permission):
    with pytest.raises(ConfigurationError, match="True, False or a function"):
        registry.register("editor", "posts", {"read": permission})
    assert registry.roles == {}


def test_actions_must_be_a_mapping(registry):
    with pytest.raises(ConfigurationError, match="map action names"):
        registry.register("editor", "posts", ["read"])  # type: ignore[arg-type]


def test_default_actions_are_read_create_update_delete(registry):
    assert registry.actions == ("read", "create", "update", "delete")


def test_a_custom_action_list_replaces_the_default():
    registry = RoleRegistry(actions=["Read", "publish", "read"])
    assert registry.actions == ("read", "publish")
    registry.register("editor", "posts", {"publish": True})
    assert registry.check(EDITOR, "posts", "publish")
    with pytest.raises(ConfigurationError, match="'delete'"):
        registry.register("editor", "posts", {"delete": True})


@pytest.mark.parametrize("actions", [[], ["read", ""], "read"])
def test_a_bad_custom_action_list_raises(actions):
    with pytest.raises(ConfigurationError):
        RoleRegistry(actions=actions)


# -- register, set, unregister, clear, roles -------------------------------------


def test_register_merges_with_what_is_registered(registry):
    registry.register("editor", "posts", {"read": True, "update": False})
    registry.register("Editor", "Posts", {"update": True, "create": True})
    assert registry.roles == {
        "editor": {"posts": {"read": True, "update": True, "create": True}}
    }


def test_set_merges_by_default(registry):
    registry.register("editor", "posts", {"read": True})
    registry.set("editor", "posts", {"delete": True})
    assert registry.roles == {"editor": {"posts": {"read": True, "delete": True}}}


def test_set_with_replace_replaces_the_whole_action_map(registry):
    registry.register("editor", "posts", {"read": True, "update": True})
    registry.register("editor", "comments", {"read": True})
    registry.set("editor", "posts", {"delete": True}, replace=True)
    assert registry.roles == {
        "editor": {"posts": {"delete": True}, "comments": {"read": True}}
    }
    assert not registry.check(EDITOR, "posts", "read")


def test_replacing_with_nothing_removes_the_entry(registry):
    registry.register("editor", "posts", {"read": True})
    registry.set("editor", "posts", {}, replace=True)
    assert registry.roles == {}


def test_registering_no_actions_creates_no_empty_entry(registry):
    registry.register("editor", "posts", {})
    assert registry.roles == {}


def test_unregister_one_action_keeps_the_others(registry):
    registry.register("editor", "posts", {"read": True, "update": True})
    registry.unregister("editor", "posts", "update")
    assert registry.roles == {"editor": {"posts": {"read": True}}}
    assert not registry.check(EDITOR, "posts", "update")


def test_unregister_cleans_up_empty_resources_and_roles(registry):
    registry.register("editor", "posts", {"read": True})
    registry.register("admin", "posts", {"read": True})
    registry.unregister("EDITOR", "posts", "read")
    assert registry.roles == {"admin": {"posts": {"read": True}}}
    registry.unregister("admin", "posts")
    assert registry.roles == {}


def test_unregister_is_safe_on_unknown_entries(registry):
    registry.register("editor", "posts", {"read": True})
    registry.unregister("nobody", "posts")
    registry.unregister("editor", "comments")
    registry.unregister("editor", "posts", "delete")
    registry.unregister("nobody", "posts", "read")
    assert registry.roles == {"editor": {"posts": {"read": True}}}


def test_clear_removes_everything(registry):
    registry.register("editor", "posts", {"read": True})
    registry.clear()
    assert registry.roles == {}
    assert not registry.check(EDITOR, "posts", "read")


def test_roles_is_a_deep_copy(registry):
    registry.register("editor", "posts", {"read": True, "update": is_author})
    copy = registry.roles
    copy["editor"]["posts"]["read"] = False
    copy["editor"]["posts"]["delete"] = True
    copy["editor"]["comments"] = {"read": True}
    copy["admin"] = {"*": {"delete": True}}
    assert registry.roles == {"editor": {"posts": {"read": True, "update": is_author}}}
    assert registry.check(EDITOR, "posts", "read")
    assert not registry.check(EDITOR, "posts", "delete")
    assert not registry.check(ADMIN, "posts", "delete")


def test_registries_are_independent():
    first, second = RoleRegistry(), RoleRegistry()
    first.register("editor", "posts", {"read": True})
    assert second.roles == {}
    assert not second.check(EDITOR, "posts", "read")


# -- check: roles, wildcards, anonymous ------------------------------------------


def test_nothing_registered_is_false(registry):
    assert not registry.check(EDITOR, "posts", "read")
    registry.register("editor", "posts", {"read": True})
    assert not registry.check(EDITOR, "posts", "delete")
    assert not registry.check(EDITOR, "comments", "read")


def test_any_of_the_user_s_roles_allows(registry):
    registry.register("viewer", "posts", {"read": True, "update": False})
    registry.register("editor", "posts", {"update": True})
    both = {"id": "u3", "roles": ["viewer", "editor"]}
    assert registry.check(both, "posts", "update")
    assert registry.check({"id": "u3", "roles": ["editor", "viewer"]}, "posts", "read")
    assert not registry.check({"id": "u3", "roles": ["viewer"]}, "posts", "update")


def test_the_wildcard_role_applies_to_every_caller(registry):
    registry.register(WILDCARD, "posts", {"read": True})
    assert registry.check(EDITOR, "posts", "read")
    assert registry.check({"id": "u4", "roles": []}, "posts", "read")
    assert registry.check(None, "posts", "read")
    assert not registry.check(EDITOR, "posts", "update")


def test_a_specific_role_s_false_does_not_veto_the_wildcard_role(registry):
    """Permit: allow if ANY role allows; `False` is "no", never "never"."""
    registry.register("editor", "posts", {"delete": False})
    registry.register(WILDCARD, "posts", {"delete": True})
    assert registry.check(EDITOR, "posts", "delete")


def test_a_specific_resource_wins_over_the_wildcard_resource_within_a_role(registry):
    registry.register("editor", WILDCARD, {"read": True, "delete": True})
    registry.register("editor", "secrets", {"read": False})
    assert not registry.check(EDITOR, "secrets", "read")
    assert registry.check(EDITOR, "posts", "read")


def test_the_wildcard_resource_fills_actions_the_specific_resource_omits(registry):
    registry.register("editor", WILDCARD, {"read": True, "delete": True})
    registry.register("editor", "secrets", {"read": False})
    assert registry.check(EDITOR, "secrets", "delete")


def test_a_specific_resource_s_false_does_not_veto_another_role(registry):
    registry.register("editor", "secrets", {"read": False})
    registry.register("auditor", WILDCARD, {"read": True})
    both = {"id": "u5", "roles": ["editor", "auditor"]}
    assert registry.check(both, "secrets", "read")


def test_specific_roles_are_asked_before_the_wildcard_role(registry):
    asked: list[str] = []

    def recording(name: str):
        def decide(user: Any, data: Any) -> bool:
            asked.append(name)
            return name == "wildcard"

        return decide

    registry.register(WILDCARD, "posts", {"update": recording("wildcard")})
    registry.register("editor", "posts", {"update": recording("editor")})
    assert registry.check(EDITOR, "posts", "update", {"author_id": "x"})
    assert asked == ["editor", "wildcard"]


def test_a_user_listing_the_wildcard_role_is_asked_it_once(registry):
    calls: list[Any] = []
    registry.register(WILDCARD, "posts", {"update": lambda u, d: calls.append(d)})
    registry.check({"id": "u6", "roles": ["*", "editor"]}, "posts", "update", 1)
    assert calls == [1]


def test_a_registered_wildcard_resource_answers_a_check_on_the_wildcard(registry):
    registry.register("admin", WILDCARD, {"delete": True})
    assert registry.check(ADMIN, WILDCARD, "delete")
    assert registry.check(ADMIN, "anything", "delete")


def test_anonymous_permissions_apply_to_callers_without_identity(registry):
    registry.register(ANONYMOUS, "posts", {"read": True})
    assert registry.check(None, "posts", "read")
    assert registry.check({}, "posts", "read")
    assert not registry.check(EDITOR, "posts", "read")
    assert not registry.check(None, "posts", "create")


@pytest.mark.parametrize(
    "user",
    [
        None,
        {},
        {"roles": ["editor"]},
        {"id": None, "roles": ["editor"]},
        {"id": "", "roles": ["editor"]},
        {"id": "u1"},
        {"id": "u1", "roles": "editor"},
        {"id": "u1", "roles": {"editor"}},
        {"id": "u1", "roles": ["editor", 7]},
        {"id": "u1", "roles": None},
        User(roles="editor"),
        User(id=None),
        object(),
    ],
    ids=[
        "None",
        "empty dict",
        "dict without id",
        "id None",
        "id empty",
        "dict without roles",
        "roles a string",
        "roles a set",
        "roles with a non-string",
        "roles None",
        "object with roles a string",
        "object without id",
        "object without id or roles",
    ],
)
def test_a_malformed_user_is_anonymous(registry, user):
    registry.register("editor", "posts", {"read": True})
    registry.register(ANONYMOUS, "comments", {"read": True})
    assert not registry.check(user, "posts", "read")
    assert registry.check(user, "comments", "read")
    assert registry.has_role(user, ANONYMOUS)
    assert not registry.has_role(user, "editor")


def test_a_well_formed_user_is_not_anonymous(registry):
    registry.register(ANONYMOUS, "comments", {"read": True})
    assert not registry.has_role(EDITOR, ANONYMOUS)
    assert not registry.check({"id": "u7", "roles": []}, "comments", "read")


def test_objects_with_id_and_roles_work_like_dicts(registry):
    registry.register("editor", "posts", {"read": True, "update": is_author})
    user = User(id="u9", roles=("Editor",))
    assert registry.check(user, "posts", "read")
    assert registry.check(user, "posts", "update", {"author_id": "u9"})
    assert registry.has_role(user, "editor")


def test_an_integer_id_is_an_identity(registry):
    registry.register("editor", "posts", {"read": True})
    assert registry.check({"id": 0, "roles": ["editor"]}, "posts", "read")


# -- function permissions --------------------------------------------------------


def test_a_function_permission_decides_with_data(registry):
    registry.register("editor", "posts", {"update": is_author})
    assert registry.check(EDITOR, "posts", "update", {"author_id": "u1"})
    assert not registry.check(EDITOR, "posts", "update", {"author_id": "u2"})


def test_a_function_permission_without_data_is_false_and_not_called(registry):
    calls: list[Any] = []

    def record(user: Any, data: Any) -> bool:
        calls.append(data)
        return True

    registry.register("editor", "posts", {"update": record})
    assert not registry.check(EDITOR, "posts", "update")
    assert calls == []


def test_a_function_permission_never_allows_an_anonymous_caller(registry):
    registry.register(ANONYMOUS, "posts", {"update": lambda user, data: True})
    registry.register(WILDCARD, "posts", {"delete": lambda user, data: True})
    assert not registry.check(None, "posts", "update", {"author_id": None})
    assert not registry.check({"id": None}, "posts", "delete", {"author_id": None})
    assert registry.check(EDITOR, "posts", "delete", {"author_id": None})


def test_a_function_permission_must_return_exactly_true(registry):
    registry.register("editor", "posts", {"update": lambda user, data: 1})
    assert not registry.check(EDITOR, "posts", "update", {"x": 1})


def test_a_raising_function_denies_and_logs(registry, caplog):
    def broken(user: Any, data: Any) -> bool:
        raise KeyError("author_id")

    registry.register("editor", "posts", {"update": broken})
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        assert not registry.check(EDITOR, "posts", "update", {})
    assert any("broken" in message for message in authz_errors(caplog))
    assert caplog.records[-1].exc_info is not None


def test_a_raising_function_does_not_stop_another_role_from_allowing(registry):
    registry.register("editor", "posts", {"update": lambda user, data: 1 / 0 > 0})
    registry.register(WILDCARD, "posts", {"update": True})
    assert registry.check(EDITOR, "posts", "update", {})


def test_registration_after_a_check_is_seen_by_the_next_check(registry):
    assert not registry.check(EDITOR, "posts", "read")
    registry.register("editor", "posts", {"read": True})
    assert registry.check(EDITOR, "posts", "read")


# -- permissions_for -------------------------------------------------------------


def test_permissions_for_lists_every_resource_and_action_sorted(registry):
    registry.register("editor", "posts", {"read": True, "update": is_author})
    registry.register("admin", "users", {"delete": True})
    registry.register(WILDCARD, "comments", {"read": True})
    assert registry.permissions_for(EDITOR) == {
        "*:read": False,
        "*:create": False,
        "*:update": False,
        "*:delete": False,
        "comments:read": True,
        "comments:create": False,
        "comments:update": False,
        "comments:delete": False,
        "posts:read": True,
        "posts:create": False,
        "posts:update": False,  # a function: decided per object, not here
        "posts:delete": False,
        "users:read": False,
        "users:create": False,
        "users:update": False,
        "users:delete": False,
    }
    assert list(registry.permissions_for(EDITOR)) == sorted(
        registry.permissions_for(EDITOR), key=lambda k: k.split(":")[0]
    )


def test_permissions_for_reports_the_wildcard_resource(registry):
    registry.register("admin", WILDCARD, {"read": True, "delete": True})
    permissions = registry.permissions_for(ADMIN)
    assert permissions == {
        "*:read": True,
        "*:create": False,
        "*:update": False,
        "*:delete": True,
    }


def test_permissions_for_uses_the_custom_actions():
    registry = RoleRegistry(actions=["read", "publish"])
    registry.register(ANONYMOUS, "posts", {"read": True})
    assert registry.permissions_for(None) == {
        "*:read": False,
        "*:publish": False,
        "posts:read": True,
        "posts:publish": False,
    }
