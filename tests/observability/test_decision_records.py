"""What a `Decision` says beyond allow/deny, and `on_decision=[...]` lists."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from authzkit import codes
from obskit import NOTES_QUERY, build_schema

from strawberry_authz import Decision


def by_path(records: list[Decision]) -> dict[tuple[Any, ...], Decision]:
    return {tuple(record.path): record for record in records}


async def test_records_name_the_operation_the_reason_code_and_the_context() -> None:
    records: list[Decision] = []
    schema = build_schema(records.append)
    context = {"user": "ann"}
    result = await schema.execute(NOTES_QUERY, context_value=context)
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]

    found = by_path(records)
    notes = found[("notes",)]
    assert (notes.operation_name, notes.operation_type) == ("Notes", "query")
    assert (notes.allowed, notes.code, notes.coordinate) == (True, None, "Query.notes")
    assert notes.context is context
    secret = found[("notes", 1, "secret")]
    assert (secret.allowed, secret.code) == (False, "FORBIDDEN")
    # The context is for hooks, not for logs: repr leaves it out.
    assert "ann" not in repr(secret)

    anonymous: list[Decision] = []
    result = await build_schema(anonymous.append).execute(
        "{ notes { text } }", context_value={}
    )
    assert codes(result) == ["UNAUTHENTICATED"]
    [denied] = anonymous
    assert (denied.operation_name, denied.code) == (None, "UNAUTHENTICATED")


async def test_mutations_are_recorded_as_mutations() -> None:
    records: list[Decision] = []
    result = await build_schema(records.append).execute(
        'mutation Rename { rename(name: "x") }', context_value={"user": "ann"}
    )
    assert result.data == {"rename": "x"}
    [rename] = records
    assert (rename.operation_name, rename.operation_type) == ("Rename", "mutation")


async def test_post_rule_decisions_name_their_source() -> None:
    records: list[Decision] = []
    result = await build_schema(records.append).execute(
        '{ me(name: "ann") other: me(name: "bob") }', context_value={"user": "ann"}
    )
    assert result.data == {"me": "ann", "other": None}
    found = by_path(records)
    assert (found[("me",)].source, found[("me",)].allowed) == ("post", True)
    assert (found[("other",)].source, found[("other",)].code) == ("post", "FORBIDDEN")


async def test_only_checks_that_waited_on_a_loader_say_so() -> None:
    records: list[Decision] = []
    result = await build_schema(records.append).execute(
        "{ team notes { text } }", context_value={"user": "ann"}
    )
    assert result.data == {"team": "blue", "notes": [{"text": "a"}, {"text": "b"}]}
    found = by_path(records)
    assert found[("team",)].waited is True  # async loader
    assert found[("notes",)].waited is False  # sync loader


async def test_every_hook_of_a_list_gets_every_record_even_if_one_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first: list[Decision] = []
    last: list[Decision] = []

    def broken(decision: Decision) -> None:
        raise RuntimeError("hook bug")

    async def async_hook(decision: Decision) -> None:
        last.append(decision)

    schema = build_schema([first.append, broken, async_hook])
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute(NOTES_QUERY, context_value={"user": "ann"})
    assert result.data == {
        "notes": [{"text": "a", "secret": None}, {"text": "b", "secret": None}]
    }
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]
    assert "hook bug" not in repr(result.errors)
    assert len(first) == 3
    await asyncio.sleep(0)  # an async hook runs as a background task
    assert last == first
    failures = [r for r in caplog.records if "on_decision callback raised" in r.message]
    assert len(failures) == 3


def test_a_list_must_hold_only_callables() -> None:
    with pytest.raises(TypeError, match="not callable"):
        build_schema([print, "audit.log"])
    with pytest.raises(TypeError, match="callable or a list"):
        build_schema("audit.log")


def test_no_hook_and_an_empty_list_keep_the_fast_path() -> None:
    for on_decision in (None, []):
        schema = build_schema(on_decision)
        assert schema.execute_sync('{ me(name: "x") }').errors  # installs guards
        notes = schema._schema.query_type.fields["notes"]
        assert notes.resolve.guard.settings.on_decision is None
