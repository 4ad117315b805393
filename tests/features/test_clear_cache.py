"""Issue 8, item 11: `authz.clear_cache(info, scope=None)` after the viewer changed."""

import asyncio
import logging
from typing import Any

import pytest
import strawberry
from featurekit import codes

from strawberry_authz import AuthExtension


def counting_scopes(calls: list[str], *, is_async: bool) -> Any:
    """Scopes read `context["user"]` when loaded, as most `load_scopes` do."""

    def load(context: dict[str, Any]) -> dict[str, Any]:
        calls.append("load_scopes")
        user = context["user"]

        def member_of(team: str) -> bool:
            calls.append(f"member_of({team})")
            return user is not None and team in user["teams"]

        async def member_of_async(team: str) -> bool:
            await asyncio.sleep(0)
            return member_of(team)

        return {
            "is_logged_in": user is not None,
            "member_of": member_of_async if is_async else member_of,
        }

    async def load_async(context: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return load(context)

    return load_async if is_async else load


def login_schema(
    *, is_async: bool = False, clear: bool = True, scope: str | None = None
) -> tuple[strawberry.Schema, list[str]]:
    calls: list[str] = []
    authz = AuthExtension(counting_scopes(calls, is_async=is_async))

    @strawberry.type
    class Query:
        ok: bool = True

    @strawberry.type
    class Mutation:
        @authz.rule({"is_logged_in": True})
        @strawberry.mutation
        def whoami(self, info: strawberry.Info) -> str | None:
            return info.context["user"]["name"]

        @authz.rule({"member_of": "core"})
        @strawberry.mutation
        def core_secret(self) -> str | None:
            return "core secret"

        @strawberry.mutation
        def login(self, info: strawberry.Info, name: str) -> bool:
            info.context["user"] = {"name": name, "teams": {"core"}}
            if clear:
                authz.clear_cache(info, scope)
            return True

    schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=[authz])
    return schema, calls


LOGIN = """mutation {
  before: whoami
  beforeCore: coreSecret
  login(name: "ada")
  after: whoami
  afterCore: coreSecret
}"""


@pytest.mark.parametrize("is_async", [False, True])
async def test_fields_after_a_login_mutation_see_the_new_viewer(is_async):
    schema, calls = login_schema(is_async=is_async)

    result = await schema.execute(LOGIN, context_value={"user": None})

    assert result.data == {
        "before": None,
        "beforeCore": None,
        "login": True,
        "after": "ada",
        "afterCore": "core secret",
    }
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]
    assert calls == [
        "load_scopes",
        "member_of(core)",
        "load_scopes",
        "member_of(core)",
    ]


async def test_without_clear_cache_answers_last_for_the_whole_operation():
    schema, calls = login_schema(clear=False)

    result = await schema.execute(LOGIN, context_value={"user": None})

    assert result.data is not None
    assert result.data["after"] is None
    assert result.data["afterCore"] is None
    assert calls == ["load_scopes", "member_of(core)"]


async def test_clear_cache_of_one_scope_asks_only_that_scope_again():
    schema, calls = login_schema(scope="member_of")

    result = await schema.execute(LOGIN, context_value={"user": None})

    assert result.data is not None
    # `member_of` is asked again (with the new viewer's scopes) ...
    assert result.data["afterCore"] == "core secret"
    assert calls == [
        "load_scopes",
        "member_of(core)",
        "load_scopes",
        "member_of(core)",
    ]
    # ... while the other scope keeps its answer for this operation.
    assert result.data["after"] is None


def test_clear_cache_outside_an_operation_logs_and_does_nothing(caplog):
    authz = AuthExtension(lambda context: {})

    @strawberry.type
    class Query:
        @strawberry.field
        def reset(self, info: strawberry.Info) -> bool:
            authz.clear_cache(info)
            return True

    plain = strawberry.Schema(query=Query)
    with caplog.at_level(logging.WARNING, logger="strawberry_authz"):
        result = plain.execute_sync("{ reset }")

    assert result.data == {"reset": True}
    assert "clear_cache called outside an operation" in caplog.text
