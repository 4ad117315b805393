"""Expected denials do not fill the log (issue 19, point 8).

A denial is logged once, in one line, on `strawberry_authz` at the level
`denial_log_level` chooses (`INFO` by default, `None`: not at all), never as
a traceback through Strawberry's error logger. An unexpected error keeps its
traceback: a resolver's through Strawberry, a loader's through
`strawberry_authz`.
"""

import logging
from typing import Any

import pytest
import strawberry

from strawberry_authz import AuthExtension, UnauthenticatedError


def load_scopes(context: Any) -> dict[str, Any]:
    def anonymous(_: Any) -> bool:
        raise UnauthenticatedError()

    def broken(_: Any) -> bool:
        raise ConnectionError("ban list unreachable")

    return {"no": False, "anonymous": anonymous, "broken": broken}


def schema_for(**options: Any) -> strawberry.Schema:
    authz = AuthExtension(load_scopes, **options)

    @strawberry.type
    class Query:
        @authz.rule({"no": True})
        @strawberry.field
        def secret(self) -> str | None:
            return "s3cret"

        @authz.rule({"anonymous": True})
        @strawberry.field
        def mine(self) -> str | None:
            return "mine"

        @authz.rule({"broken": True})
        @strawberry.field
        def banned(self) -> str | None:
            return "banned"

        @strawberry.field
        def crash(self) -> str | None:
            raise ValueError("a bug in a resolver")

    return strawberry.Schema(query=Query, extensions=[authz])


def records(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger]


@pytest.mark.parametrize("field", ["secret", "mine"])
async def test_a_denial_is_one_line_at_info_and_nothing_from_strawberry(field, caplog):
    caplog.set_level(logging.DEBUG)
    result = await schema_for().execute(f"{{ {field} }}")
    assert result.data == {field: None}

    assert records(caplog, "strawberry.execution") == []
    [line] = records(caplog, "strawberry_authz")
    assert line.levelno == logging.INFO
    assert line.exc_info is None
    assert "\n" not in line.getMessage()
    assert f"denied Query.{field}" in line.getMessage()


@pytest.mark.parametrize(("level", "expected"), [(logging.WARNING, 1), (None, 0)])
def test_the_level_of_the_denial_line_is_chosen(level, expected, caplog):
    caplog.set_level(logging.DEBUG)
    schema_for(denial_log_level=level).execute_sync("{ secret }")
    lines = records(caplog, "strawberry_authz")
    assert len(lines) == expected
    assert all(line.levelno == level for line in lines)
    assert records(caplog, "strawberry.execution") == []


def test_a_failing_loader_keeps_its_traceback_and_its_denial_is_one_line(caplog):
    caplog.set_level(logging.DEBUG)
    schema_for().execute_sync("{ banned }")
    assert records(caplog, "strawberry.execution") == []
    failure, denial = records(caplog, "strawberry_authz")
    assert failure.levelno == logging.ERROR and failure.exc_info is not None
    assert "ban list unreachable" in failure.getMessage()
    assert denial.levelno == logging.INFO and denial.exc_info is None


def test_an_unexpected_resolver_error_keeps_strawberrys_traceback(caplog):
    caplog.set_level(logging.DEBUG)
    schema_for().execute_sync("{ crash secret }")
    [logged] = records(caplog, "strawberry.execution")
    assert logged.exc_info is not None and logged.exc_info[0] is ValueError
