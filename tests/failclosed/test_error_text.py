"""Issue 8.3 and 8.4 — no Python or user text reaches a client; error hooks."""

import asyncio
import logging
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes, dump, messages
from graphql import GraphQLError

from strawberry_authz import AuthExtension, AuthorizationFailedError, ForbiddenError

# -- 8.3: everything unexpected inside authorization denies one field -----------


def schema_with_rule(rule: Any, **options: Any) -> strawberry.Schema:
    authz = AuthExtension(lambda _: {"yes": True, "no": False}, **options)

    @strawberry.type
    class Query:
        @authz.rule(rule)
        @strawberry.field
        def guarded(self) -> str | None:
            return "guarded data"

        @strawberry.field
        def public(self) -> str:
            return "public"

    return strawberry.Schema(query=Query, extensions=[authz])


def sync_raising(error: BaseException):
    def rule(params: Any) -> Any:
        raise error

    return rule


def async_raising(error: BaseException):
    async def rule(params: Any) -> Any:
        await asyncio.sleep(0)
        raise error

    return rule


PYTHON_FAILURES = [
    pytest.param(lambda p: {"$bogus": {"yes": True}}, id="runtime-rule-unknown-key"),
    pytest.param(lambda p: {}, id="runtime-rule-empty"),
    pytest.param(lambda p: "yes please", id="runtime-rule-wrong-type"),
    pytest.param(sync_raising(RecursionError("deep internals")), id="recursion"),
    pytest.param(sync_raising(KeyError("internals")), id="key-error"),
    pytest.param(sync_raising(asyncio.CancelledError()), id="sync-cancelled"),
    pytest.param(async_raising(asyncio.CancelledError()), id="async-cancelled"),
    pytest.param(async_raising(ValueError("internals")), id="async-value-error"),
]


@pytest.mark.parametrize("rule", PYTHON_FAILURES)
async def test_python_failures_inside_a_rule_deny_only_that_field(rule, caplog):
    schema = schema_with_rule(rule)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute("{ guarded public }")
    assert result.data == {"guarded": None, "public": "public"}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert messages(result) == [AuthorizationFailedError.default_message]
    assert authz_logs(caplog)


def test_a_deeply_nested_rule_set_returned_at_run_time_denies_as_a_failure():
    nested: Any = {"yes": True}
    for _ in range(5000):
        nested = {"$and": nested}
    schema = schema_with_rule(lambda p: nested)
    result = schema.execute_sync("{ guarded public }")
    assert result.data == {"guarded": None, "public": "public"}
    assert messages(result) == [AuthorizationFailedError.default_message]


def test_a_graphql_error_raised_on_purpose_reaches_the_client():
    schema = schema_with_rule(sync_raising(GraphQLError("Ask your admin.")))
    result = schema.execute_sync("{ guarded public }")
    assert messages(result) == ["Ask your admin."]


def test_type_grants_returning_a_wrong_type_deny_without_python_text(caplog):
    authz = AuthExtension(lambda _: {})

    @authz.type_rule(grants=lambda params: 42)
    @strawberry.type
    class Doc:
        @authz.rule({"$granted": "read"})
        @strawberry.field
        def body(self) -> str | None:
            return "body"

        @strawberry.field
        def title(self) -> str:
            return "title"

    @strawberry.type
    class Query:
        @strawberry.field
        def doc(self) -> Doc:
            return Doc()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ doc { body title } }")
    assert result.data == {"doc": {"body": None, "title": "title"}}
    assert messages(result) == [ForbiddenError.default_message]
    assert "42" not in dump(result)
    assert "type grants of Doc" in authz_logs(caplog)


# -- 8.4: error hooks -------------------------------------------------------------


class Custom(GraphQLError):
    pass


HOOK_ANSWERS = [
    pytest.param(lambda e, p: None, "FORBIDDEN", None, id="none-keeps"),
    pytest.param(
        lambda e, p: Custom("custom", extensions={"code": "NOPE"}),
        "NOPE",
        "custom",
        id="exception-replaces",
    ),
    pytest.param(lambda e, p: "Nicer words.", "FORBIDDEN", "Nicer words.", id="str"),
    pytest.param(lambda e, p: 42, "FORBIDDEN", None, id="other-keeps"),
    pytest.param(lambda e, p: [1 / 0], "FORBIDDEN", None, id="raising-keeps"),
]


@pytest.mark.parametrize("hook_place", ["on_error", "error_resolver"])
@pytest.mark.parametrize(("hook", "code", "message"), HOOK_ANSWERS)
def test_error_hooks(hook_place, hook, code, message, caplog):
    authz = AuthExtension(
        lambda _: {"no": False},
        **({"error_resolver": hook} if hook_place == "error_resolver" else {}),
    )
    rule_options = {"on_error": hook} if hook_place == "on_error" else {}

    @strawberry.type
    class Query:
        @authz.rule({"no": True}, **rule_options)
        @strawberry.field
        def guarded(self) -> str | None:
            return "guarded data"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ guarded }")
    assert result.data == {"guarded": None}
    assert codes(result) == [code]
    assert messages(result) == [message or ForbiddenError.default_message]
    assert "BaseException" not in dump(result)
