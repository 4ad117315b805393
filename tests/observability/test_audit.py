"""`AuditLog`: JSON-serialisable records of decisions, to a callable or a Logger."""

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from authzkit import codes
from obskit import NOTES_QUERY, build_schema

from strawberry_authz.audit import AuditLog


def by_path(records: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(record["path"]): record for record in records}


async def test_every_decision_becomes_a_json_record() -> None:
    records: list[dict[str, Any]] = []
    schema = build_schema(AuditLog(records.append))
    before = datetime.now(timezone.utc)
    result = await schema.execute(NOTES_QUERY, context_value={"user": "ann"})
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]
    anonymous = await schema.execute(NOTES_QUERY, context_value={})
    assert codes(anonymous) == ["UNAUTHENTICATED"]

    assert len(records) == 4
    for record in records:
        assert json.loads(json.dumps(record)) == record
        stamp = datetime.fromisoformat(record["timestamp"])
        assert stamp.utcoffset() == timedelta(0)
        assert before <= stamp <= datetime.now(timezone.utc)
        assert isinstance(record["duration"], float)
        assert record["duration"] >= 0
    stable = [
        {k: v for k, v in record.items() if k not in ("timestamp", "duration")}
        for record in records
    ]
    common = {"operation_name": "Notes", "operation_type": "query", "source": "field"}
    assert stable == [
        {
            **common,
            "field": "Query.notes",
            "path": ["notes"],
            "phase": "before",
            "effect": "allow",
            "code": None,
        },
        *(
            {
                **common,
                "field": "Note.secret",
                "path": ["notes", index, "secret"],
                "phase": "before",
                "effect": "deny",
                "code": "FORBIDDEN",
            }
            for index in (0, 1)
        ),
        {
            **common,
            "field": "Query.notes",
            "path": ["notes"],
            "phase": "before",
            "effect": "deny",
            "code": "UNAUTHENTICATED",
        },
    ]


async def test_post_rules_are_recorded_as_their_source() -> None:
    records: list[dict[str, Any]] = []
    schema = build_schema(AuditLog(records.append))
    await schema.execute(
        'query Me { me(name: "ann") other: me(name: "bob") }',
        context_value={"user": "ann"},
    )
    found = by_path(records)
    assert found[("me",)]["source"] == "post"
    assert found[("me",)]["phase"] == "after"
    assert (found[("other",)]["effect"], found[("other",)]["code"]) == (
        "deny",
        "FORBIDDEN",
    )


async def test_only_denied_writes_only_denials() -> None:
    records: list[dict[str, Any]] = []
    schema = build_schema(AuditLog(records.append, only_denied=True))
    await schema.execute(NOTES_QUERY, context_value={"user": "ann"})
    assert [(r["field"], r["effect"]) for r in records] == [
        ("Note.secret", "deny"),
        ("Note.secret", "deny"),
    ]


async def test_principal_names_who_asked_from_the_context() -> None:
    records: list[dict[str, Any]] = []
    audit = AuditLog(records.append, principal=lambda context: context.get("user"))
    schema = build_schema(audit)
    await schema.execute("{ notes { text } }", context_value={"user": "ann"})
    await schema.execute("{ notes { text } }", context_value={})
    assert [(r["principal"], r["effect"]) for r in records] == [
        ("ann", "allow"),
        (None, "deny"),
    ]


async def test_without_principal_records_have_no_principal_key() -> None:
    records: list[dict[str, Any]] = []
    await build_schema(AuditLog(records.append)).execute(
        "{ notes { text } }", context_value={"user": "ann"}
    )
    assert "principal" not in records[0]


async def test_a_failing_principal_function_records_null_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records: list[dict[str, Any]] = []

    def broken(context: Any) -> str:
        raise KeyError("user")

    def not_a_name(context: Any) -> Any:
        return {"id": 7}

    for principal in (broken, not_a_name):
        schema = build_schema(AuditLog(records.append, principal=principal))
        with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
            result = await schema.execute(
                "{ notes { text } }", context_value={"user": "ann"}
            )
        assert result.errors is None
    assert [r["principal"] for r in records] == [None, None]
    messages = [r.getMessage() for r in caplog.records]
    assert any("principal function raised" in m for m in messages)
    assert any("returned dict, expected str or None" in m for m in messages)


async def test_a_logger_gets_one_json_line_per_record_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    schema = build_schema(AuditLog(logging.getLogger("myapp.audit")))
    with caplog.at_level(logging.INFO, logger="myapp.audit"):
        await schema.execute(NOTES_QUERY, context_value={"user": "ann"})
    lines = [r for r in caplog.records if r.name == "myapp.audit"]
    assert [r.levelno for r in lines] == [logging.INFO] * 3
    written = [json.loads(r.getMessage()) for r in lines]
    assert [(w["field"], w["effect"]) for w in written] == [
        ("Query.notes", "allow"),
        ("Note.secret", "deny"),
        ("Note.secret", "deny"),
    ]


async def test_a_failing_write_is_logged_and_never_breaks_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def full_disk(record: dict[str, Any]) -> None:
        raise OSError("No space left on device")

    schema = build_schema(AuditLog(full_disk))
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute(NOTES_QUERY, context_value={"user": "admin"})
    assert result.errors is None
    assert result.data == {
        "notes": [
            {"text": "a", "secret": "secret of a"},
            {"text": "b", "secret": "secret of b"},
        ]
    }
    failures = [r for r in caplog.records if "AuditLog write failed" in r.message]
    assert len(failures) == 3
    assert "No space left on device" not in repr(result)


def test_write_and_principal_must_be_callable() -> None:
    with pytest.raises(TypeError, match="write must be callable"):
        AuditLog("audit.jsonl")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="principal must be callable"):
        AuditLog(print, principal="user")  # type: ignore[arg-type]
