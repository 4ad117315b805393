"""`strawberry_authz.testing`: a policy test is one line (issue 19, point 10).

`run_as` runs one operation as a viewer (its scopes given, `load_scopes`
replaced for that operation only) and records the decisions; `assert_allowed`
/ `assert_denied` check a field by its path and which rule denied it.
"""

import asyncio
from typing import Any

import pytest
import strawberry

from strawberry_authz import AuthExtension, UnauthenticatedError
from strawberry_authz.testing import (
    assert_allowed,
    assert_denied,
    run_as,
    run_as_async,
)

calls: list[str] = []


def production_scopes(context: Any) -> dict[str, Any]:
    calls.append("production")
    return {"is_logged_in": True, "is_admin": False, "member_of": lambda team: False}


seen: list[Any] = []
authz = AuthExtension(
    production_scopes,
    default_scopes={"Query": {"is_logged_in": True}},
    on_decision=seen.append,
)


@authz.type_rule({"member_of": 1})
@strawberry.type
class Note:
    title: str

    @authz.rule({"is_admin": True})
    @strawberry.field
    def body(self) -> str:
        return "body"


@strawberry.type
class Query:
    @strawberry.field
    def notes(self) -> list[Note]:
        return [Note(title="a"), Note(title="b")]

    @authz.post_rule(lambda params, result: result != "secret")
    @strawberry.field
    def motto(self) -> str | None:
        return "secret"


schema = strawberry.Schema(query=Query, extensions=[authz])

MEMBER = {"is_logged_in": True, "is_admin": False, "member_of": lambda t: t == 1}


def anonymous(_: Any) -> bool:
    raise UnauthenticatedError()


def test_a_viewer_s_scopes_replace_load_scopes_for_one_operation():
    calls.clear()
    result = run_as(schema, "{ notes { title body } }", scopes=MEMBER)
    assert result.data is None  # body is non-null: the list goes
    assert_allowed(result, "notes.title")
    assert_allowed(result, "notes.0.title")
    assert_denied(result, "notes.body", by="field", code="FORBIDDEN")
    assert_denied(result, "Note.body", by="field")
    assert calls == []


def test_which_rule_denied_is_named():
    outsider = {**MEMBER, "member_of": lambda team: False}
    result = run_as(schema, "{ notes { title } }", scopes=outsider)
    assert_denied(result, "notes.title", by="type", code="FORBIDDEN")
    result = run_as(schema, "{ motto }", scopes=MEMBER)
    assert_denied(result, "motto", by="post")
    result = run_as(schema, "{ motto }", scopes={"is_logged_in": anonymous})
    assert_denied(result, "motto", by="default", code="UNAUTHENTICATED")


def test_a_wrong_expectation_fails_saying_what_was_decided():
    result = run_as(schema, "{ notes { title } }", scopes=MEMBER)
    with pytest.raises(AssertionError, match=r"expected 'notes\.title' denied, but"):
        assert_denied(result, "notes.title")
    outsider = {**MEMBER, "member_of": lambda team: False}
    result = run_as(schema, "{ notes { title } }", scopes=outsider)
    with pytest.raises(AssertionError, match="denied by 'field', but it was denied"):
        assert_denied(result, "notes.title", by="field")
    with pytest.raises(AssertionError, match="no authorization decision for 'nope'"):
        assert_allowed(result, "nope")


def test_the_schema_s_own_load_scopes_and_hooks_are_untouched_outside():
    calls.clear()
    seen.clear()
    run_as(schema, "{ notes { title } }", scopes=MEMBER)
    assert calls == [] and len(seen) == 3  # the schema's own hook still runs
    result = schema.execute_sync("{ notes { title } }")
    assert calls == ["production"]
    assert result.data is None  # production_scopes: member of no team
    with_own = run_as(schema, "{ notes { title } }")
    assert calls == ["production", "production"]
    assert_denied(with_own, "notes.title", by="type")


def test_an_async_operation_with_an_async_loader():
    async def member_of(team: int) -> bool:
        await asyncio.sleep(0)
        return team == 1

    async def load(context: Any) -> dict[str, Any]:
        return {**MEMBER, "member_of": member_of, "is_admin": context["admin"]}

    async def run() -> Any:
        return await run_as_async(
            schema, "{ notes { body } }", load_scopes=load, context={"admin": True}
        )

    result = asyncio.run(run())
    assert result.data == {"notes": [{"body": "body"}, {"body": "body"}]}
    assert_allowed(result, "notes.body")


def test_the_pytest_plugin_gives_the_run_as_fixture(authz_run_as):
    assert authz_run_as is run_as
