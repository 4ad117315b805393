"""Issue 11.3 — `registry.scope(user)` as a scope loader, through a real schema."""

import logging
from typing import Any

import pytest
import strawberry
from authzkit import codes

from strawberry_authz import WILDCARD, AuthExtension, RoleRegistry

EDITOR = {"id": "u1", "roles": ["editor"]}
OTHER_EDITOR = {"id": "u2", "roles": ["editor"]}

POSTS = {"1": {"id": "1", "title": "Hello", "author_id": "u1"}}


def dump(result: Any) -> str:
    """Everything a client receives, as text (to look for leaks)."""
    return repr((result.data, [error.formatted for error in result.errors or []]))


def is_author(user: dict[str, Any], post: dict[str, Any]) -> bool:
    return post["author_id"] == user["id"]


@pytest.fixture
def registry() -> RoleRegistry:
    registry = RoleRegistry()
    registry.register(WILDCARD, "posts", {"read": True})
    registry.register("editor", "posts", {"update": True, "delete": is_author})
    return registry


# -- the loader alone ------------------------------------------------------------


def test_the_loader_takes_resource_colon_action(registry):
    can = registry.scope(EDITOR)
    assert can("posts:update") is True
    assert can("Posts:READ") is True
    assert can("posts:create") is False
    assert registry.scope(None)("posts:update") is False


def test_the_loader_takes_a_list_or_tuple_with_data(registry):
    can = registry.scope(EDITOR)
    assert can(["posts", "delete", POSTS["1"]]) is True
    assert can(("posts", "delete", POSTS["1"])) is True
    assert registry.scope(OTHER_EDITOR)(["posts", "delete", POSTS["1"]]) is False
    assert can(["posts", "update"]) is True
    assert can(["posts", "delete"]) is False  # a function needs data


@pytest.mark.parametrize(
    "value",
    [
        "posts",
        "posts:publish",
        ":update",
        "posts:",
        True,
        None,
        42,
        ["posts"],
        ["posts", "update", {}, "extra"],
        [1, "update"],
        ["posts", None],
        {"posts": "update"},
    ],
)
def test_a_malformed_value_is_false_with_a_server_log(registry, caplog, value):
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        assert registry.scope(EDITOR)(value) is False
    messages = [r.getMessage() for r in caplog.records if r.name == "strawberry_authz"]
    assert any("RoleRegistry scope value" in message for message in messages)


# -- through a schema ------------------------------------------------------------


def build_schema(registry: RoleRegistry) -> strawberry.Schema:
    authz = AuthExtension(lambda context: {"can": registry.scope(context["user"])})

    @strawberry.type
    class Post:
        id: str
        title: str

    @strawberry.type
    class Query:
        @authz.rule({"can": "posts:read"})
        @strawberry.field
        def post(self, id: str) -> Post | None:
            return Post(id=id, title=POSTS[id]["title"])

    @strawberry.type
    class Mutation:
        @authz.rule({"can": "posts:update"})
        @strawberry.mutation
        def rename_post(self, id: str, title: str) -> Post | None:
            POSTS[id]["title"] = title
            return Post(id=id, title=title)

        @authz.rule(
            lambda params: {"can": ["posts", "delete", POSTS[params.args["id"]]]}
        )
        @strawberry.mutation
        def delete_post(self, id: str) -> bool | None:
            return True

        @authz.rule({"can": "posts:publish"})
        @strawberry.mutation
        def publish_post(self, id: str) -> bool | None:
            return True

    return strawberry.Schema(query=Query, mutation=Mutation, extensions=[authz])


@pytest.fixture(autouse=True)
def fresh_posts():
    POSTS["1"]["title"] = "Hello"


def test_an_editor_may_update_a_post(registry):
    schema = build_schema(registry)
    query = 'mutation { renamePost(id: "1", title: "New") { title } }'
    result = schema.execute_sync(query, context_value={"user": EDITOR})
    assert result.errors is None
    assert result.data == {"renamePost": {"title": "New"}}
    assert POSTS["1"]["title"] == "New"


def test_anonymous_may_read_but_not_update(registry):
    schema = build_schema(registry)
    read = schema.execute_sync(
        '{ post(id: "1") { title } }', context_value={"user": None}
    )
    assert read.data == {"post": {"title": "Hello"}}
    query = 'mutation { renamePost(id: "1", title: "Hacked") { title } }'
    result = schema.execute_sync(query, context_value={"user": None})
    assert result.data == {"renamePost": None}
    assert codes(result) == ["FORBIDDEN"]
    assert POSTS["1"]["title"] == "Hello"  # the resolver never ran


def test_a_function_permission_decides_per_object_through_a_rule_function(registry):
    schema = build_schema(registry)
    query = 'mutation { deletePost(id: "1") }'
    own = schema.execute_sync(query, context_value={"user": EDITOR})
    assert own.data == {"deletePost": True}
    other = schema.execute_sync(query, context_value={"user": OTHER_EDITOR})
    assert other.data == {"deletePost": None}
    assert codes(other) == ["FORBIDDEN"]


def test_a_malformed_rule_value_denies_without_leaking_details(registry, caplog):
    schema = build_schema(registry)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = schema.execute_sync(
            'mutation { publishPost(id: "1") }', context_value={"user": EDITOR}
        )
    assert result.data == {"publishPost": None}
    assert codes(result) == ["FORBIDDEN"]
    assert "publish" not in dump(result).replace("publishPost", "")
    assert any("unknown action" in r.getMessage() for r in caplog.records)


async def test_the_loader_works_under_async_execution(registry):
    schema = build_schema(registry)
    query = 'mutation { renamePost(id: "1", title: "Async") { title } }'
    allowed = await schema.execute(query, context_value={"user": EDITOR})
    denied = await schema.execute(query, context_value={"user": {"id": "x"}})
    assert allowed.data == {"renamePost": {"title": "Async"}}
    assert denied.data == {"renamePost": None}
    assert codes(denied) == ["FORBIDDEN"]
