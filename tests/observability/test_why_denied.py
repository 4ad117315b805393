"""Why was I denied (issue 19, point 11): the failing rule path, no values.

`explain_denials="log"` adds to the denial's log line the parts of the rule
that failed, named by keys and scopes; `"response"` also sends them in the
error. Off by default: nothing of it in the log or the response.
"""

import logging
from typing import Any

import pytest
import strawberry

from strawberry_authz import AuthExtension


def load_scopes(context: Any) -> dict[str, Any]:
    return {
        "has_role": lambda role: role in context["roles"],
        "member_of": lambda team: team in context["teams"],
    }


def owns(params: Any) -> bool:
    return False


def schema_for(**options: Any) -> strawberry.Schema:
    authz = AuthExtension(load_scopes, **options)

    @authz.type_rule({"$or": [{"has_role": "admin-7f3a"}, {"member_of": 4242}]})
    @strawberry.type
    class Team:
        name: str | None = "core"

    @strawberry.type
    class Query:
        @strawberry.field
        def team(self) -> Team | None:
            return Team()

        @authz.rule(owns)
        @strawberry.field
        def note(self) -> str | None:
            return "note"

    return strawberry.Schema(query=Query, extensions=[authz])


CONTEXT = {"roles": set(), "teams": set()}
VALUES = ("admin-7f3a", "4242")


def denial_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "strawberry_authz"]


def test_by_default_no_rule_path_is_logged_or_sent(caplog):
    caplog.set_level(logging.INFO, logger="strawberry_authz")
    result = schema_for().execute_sync("{ team { name } }", context_value=CONTEXT)
    [error] = result.errors
    assert error.extensions == {"code": "FORBIDDEN"}
    [line] = denial_lines(caplog)
    assert "[why:" not in line


def test_log_names_the_failing_branches_without_their_values(caplog):
    caplog.set_level(logging.INFO, logger="strawberry_authz")
    result = schema_for(explain_denials="log").execute_sync(
        "{ team { name } note }", context_value=CONTEXT
    )
    assert all(error.extensions.get("why") is None for error in result.errors)
    note, team = sorted(denial_lines(caplog))
    assert team.endswith(" [why: $or/has_role, $or/member_of]")
    assert note.endswith(" [why: owns()]")


def test_response_carries_the_failing_path_when_asked_and_no_value():
    result = schema_for(explain_denials="response").execute_sync(
        "{ team { name } note }", context_value=CONTEXT
    )
    why = {error.path[0]: error.extensions["why"] for error in result.errors}
    assert why == {
        "team": {"rule": "type", "failed": ["$or/has_role", "$or/member_of"]},
        "note": {"rule": "field", "failed": ["owns()"]},
    }
    assert not any(value in repr(result.errors) for value in VALUES)


def test_an_unknown_setting_is_refused():
    with pytest.raises(TypeError, match="explain_denials"):
        AuthExtension(load_scopes, explain_denials=True)
