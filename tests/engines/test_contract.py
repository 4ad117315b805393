"""The engine contract (issue 20.4): SpiceDB, Cerbos and Cedar, one suite.

Every engine adapter answers the same policy (see `enginekit`) through a
`BatchScope`, and must behave the same way as a user sees it: one engine
call per chunk, a value it cannot take denies only its field, an engine
that is down or too slow denies everything with a plain message, a change
is seen by the next request, equal attribute maps share one answer, and
the audit record names the engine calls.
"""

import logging
import time
from typing import Any

import pytest
from authzkit import authz_logs, codes, dump, messages
from enginekit import SECRET, VISIBLE, Harness, schema_for, visible

from strawberry_authz import AuthorizationFailedError, ForbiddenError
from strawberry_authz.audit import AuditLog

QUERY = "{ documents { id } }"
DENIED = ForbiddenError().message
FAILED = AuthorizationFailedError().message


@pytest.mark.parametrize("user", sorted(VISIBLE))
async def test_each_user_sees_what_the_policy_allows_in_one_engine_call(
    engine: Harness, user: str
) -> None:
    schema = schema_for(engine, engine.adapter())

    result = await schema.execute(QUERY, context_value={"user": user})

    assert visible(result) == VISIBLE[user]
    assert set(codes(result)) == {"FORBIDDEN"}
    assert engine.sent == [5]


def test_a_sync_client_answers_the_same_under_execute_sync(engine: Harness) -> None:
    schema = schema_for(engine, engine.adapter(asynchronous=False))

    result = schema.execute_sync(QUERY, context_value={"user": "bob"})

    assert visible(result) == VISIBLE["bob"]
    assert engine.sent == [5]


async def test_each_chunk_of_max_batch_size_is_one_engine_call(
    engine: Harness,
) -> None:
    schema = schema_for(engine, engine.adapter(max_batch_size=2))

    result = await schema.execute(QUERY, context_value={"user": "carol"})

    assert visible(result) == VISIBLE["carol"]
    assert engine.sent == [2, 2, 1]


async def test_a_value_the_engine_cannot_take_denies_only_its_document(
    engine: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    engine.poisoned = {"2"}
    schema = schema_for(engine, engine.adapter())

    with caplog.at_level(logging.WARNING, logger="strawberry_authz"):
        result = await schema.execute(QUERY, context_value={"user": "alice"})

    assert visible(result) == ["1", "5"]
    # The bad value never reaches the engine, which would refuse the call.
    assert engine.sent == [4]
    assert set(messages(result)) == {DENIED, FAILED}
    assert "!" in authz_logs(caplog)


async def test_an_engine_that_is_down_denies_everything_with_a_plain_message(
    engine: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    schema = schema_for(engine, engine.adapter())
    engine.break_engine()

    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute(QUERY, context_value={"user": "alice"})

    assert result.data == {"documents": [None] * 5}
    assert set(codes(result)) == {"INTERNAL_SERVER_ERROR"}
    assert set(messages(result)) == {FAILED}
    leaked = dump(result)
    assert SECRET not in leaked and "onnect" not in leaked and "Error" not in leaked
    assert "fail closed" in authz_logs(caplog)


async def test_an_engine_slower_than_scope_timeout_denies(
    engine: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    if not engine.times_out:
        pytest.skip(f"{engine.name} decides in process, synchronously: nothing to wait")
    schema = schema_for(engine, engine.slow(2.0), scope_timeout=0.2)

    started = time.perf_counter()
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute(QUERY, context_value={"user": "alice"})

    assert time.perf_counter() - started < 1.5
    assert result.data == {"documents": [None] * 5}
    assert set(messages(result)) == {FAILED}
    assert "scope_timeout" in authz_logs(caplog)


async def test_a_change_is_seen_by_the_next_request(engine: Harness) -> None:
    schema = schema_for(engine, engine.adapter())
    alice = {"user": "alice"}
    assert "4" not in visible(await schema.execute(QUERY, context_value=alice))

    engine.share("4", "alice")

    assert "4" in visible(await schema.execute(QUERY, context_value=alice))


async def test_anonymous_is_denied_without_an_engine_call(
    engine: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    schema = schema_for(engine, engine.adapter())

    with caplog.at_level(logging.WARNING, logger="strawberry_authz"):
        result = await schema.execute(QUERY, context_value={})

    assert result.data == {"documents": [None] * 5}
    assert engine.sent == []
    assert authz_logs(caplog) == ""  # a policy answer, not a failure


async def test_equal_attributes_share_one_answer_and_a_changed_one_is_asked(
    engine: Harness,
) -> None:
    """Document 1 twice as stored (alice's draft), once published."""
    if not engine.attributes:
        pytest.skip(f"{engine.name} values carry no attributes")
    schema = schema_for(engine, engine.adapter())

    result = await schema.execute("{ copies { id } }", context_value={"user": "bob"})

    assert result.data == {"copies": [None, None, {"id": "1"}]}
    # The stored copy once, the changed one once (Cedar holds one entity per
    # uid in a call: it asks the second in a call of its own).
    assert sum(engine.sent) == 2


async def test_the_audit_record_and_the_decision_log_name_the_engine_calls(
    engine: Harness,
) -> None:
    if not engine.call_ids:
        pytest.skip(f"{engine.name} answers carry no call id")
    adapter = engine.adapter()
    records: list[Any] = []
    decisions: list[Any] = []
    audit = AuditLog(records.append, engine_calls=adapter.call_ids)
    schema = schema_for(engine, adapter, on_decision=[audit, decisions.append])
    context = {"user": "bob"}

    await schema.execute(QUERY, context_value=context)

    [call_id] = adapter.call_ids(context)
    assert call_id
    fields = [r for r in records if r["field"] == "Document.id"]
    assert len(fields) == 5
    assert all(r["engine_calls"] == [call_id] for r in fields)
    denied = [d for d in decisions if not d.allowed]
    assert len(denied) == 2
    assert all(call_id in d.reason for d in denied)
