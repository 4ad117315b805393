"""A failure is not a policy denial: the client can tell them apart.

When `load_scopes`, a loader, a `BatchScope` or a rule function fails, or
time runs out, the field is denied with `INTERNAL_SERVER_ERROR` and a plain
message (nothing of the exception), so a frontend can retry instead of
showing "access denied". It stays a denial everywhere, `$not` included. A
policy saying no keeps `FORBIDDEN` / `UNAUTHENTICATED`.
"""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import codes, dump, messages

from strawberry_authz import (
    AuthExtension,
    AuthorizationFailedError,
    BatchScope,
    UnauthenticatedError,
)

PLAIN = "Authorization could not be checked; please try again."


def raising(_: Any) -> bool:
    raise ConnectionError("db at 10.0.0.7 refused")


async def slow(_: Any) -> bool:
    await asyncio.sleep(5)
    return True


def anonymous(_: Any) -> bool:
    raise UnauthenticatedError()


def batch_down(values: list[Any]) -> list[bool]:
    raise ConnectionError("engine at 10.0.0.7 unreachable")


def load_scopes(context: Any) -> dict[str, Any]:
    if context.get("load_scopes_down"):
        raise ConnectionError("session store at 10.0.0.7 down")
    return {
        "yes": True,
        "no": False,
        "anonymous": anonymous,
        "raising": raising,
        "slow": slow,
        "batch": BatchScope(batch_down),
        "says_failed": lambda _: (_ for _ in ()).throw(AuthorizationFailedError()),
    }


def run(rules: Any, **context: Any) -> Any:
    authz = AuthExtension(load_scopes, scope_timeout=0.05)

    @strawberry.type
    class Query:
        @authz.rule(rules)
        @strawberry.field
        def secret(self) -> str | None:
            return "s3cret"

        @strawberry.field
        def public(self) -> str:
            return "public"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    return asyncio.run(schema.execute("{ secret public }", context_value=context))


FAILURES = [
    pytest.param({"raising": True}, {}, id="loader-raises"),
    pytest.param({"yes": True}, {"load_scopes_down": True}, id="load_scopes-raises"),
    pytest.param({"batch": 1}, {}, id="batch-load_fn-raises"),
    pytest.param({"slow": True}, {}, id="timeout"),
    pytest.param({"missing": True}, {}, id="missing-scope"),
    pytest.param(lambda params: 1 / 0, {}, id="rule-function-raises"),
    pytest.param({"$not": {"raising": True}}, {}, id="$not-of-a-failure"),
    pytest.param({"$not": {"says_failed": True}}, {}, id="$not-of-a-raised-failure"),
    pytest.param({"$or": [{"no": True}, {"raising": True}]}, {}, id="$or-no-or-failed"),
]


@pytest.mark.parametrize(("rules", "context"), FAILURES)
def test_a_failure_denies_with_internal_server_error_and_a_plain_message(
    rules, context
):
    result = run(rules, **context)
    assert result.data == {"secret": None, "public": "public"}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert messages(result) == [PLAIN]
    assert "10.0.0.7" not in dump(result)
    assert "Error" not in messages(result)[0]


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        pytest.param({"no": True}, "FORBIDDEN", id="no"),
        pytest.param({"anonymous": True}, "UNAUTHENTICATED", id="unauthenticated"),
        pytest.param({"$not": {"yes": True}}, "FORBIDDEN", id="$not-of-a-pass"),
        pytest.param(
            {"$or": [{"raising": True}, {"anonymous": True}]},
            "UNAUTHENTICATED",
            id="$or-unauthenticated-wins",
        ),
    ],
)
def test_a_policy_denial_keeps_its_code(rules, code):
    assert codes(run(rules)) == [code]
