"""The SpiceDB adapter against a real embedded SpiceDB (issue 9.5).

Checked directly through the scope's `load_fn`: answers in request order, one
`CheckBulkPermissions` per chunk, fail closed on every kind of failure.
"""

import asyncio
import logging
from typing import Any

import pytest
import spicedbkit
from spicedbkit import VISIBLE, AsyncUnary, Broken, Counting, stop, write

from strawberry_authz import AuthorizationFailedError, BatchScope
from strawberry_authz.spicedb import SpiceDB, SpiceDBCheckError


def as_user(context: Any) -> str | None:
    return context.get("user")


def adapter(db: Any, **options: Any) -> tuple[SpiceDB, Counting]:
    options.setdefault("consistency", spicedbkit.FRESH)
    spicedb = SpiceDB.from_embedded(db, subject=as_user, **options)
    counting = Counting(spicedb.client)
    spicedb.client = counting
    return spicedb, counting


def check(spicedb: SpiceDB, context: Any, values: list[Any]) -> list[Any]:
    scope = spicedb.scope(context)
    assert isinstance(scope, BatchScope)
    answered = scope.load_fn(values)
    if asyncio.iscoroutine(answered):
        answered = asyncio.run(answered)
    return list(answered)  # type: ignore[arg-type]


def test_answers_one_bool_per_value_in_request_order_with_one_call(db: Any) -> None:
    spicedb, counting = adapter(db)
    values = [f"document:{n}#view" for n in "54321"]

    answers = check(spicedb, {"user": "user:alice"}, values)

    assert answers == [False, False, False, True, True]
    assert counting.calls() == 1


def test_both_value_forms_name_the_same_check(db: Any) -> None:
    spicedb, _ = adapter(db)
    answers = check(
        spicedb,
        {"user": "user:bob"},
        ["document:4#view", ["document", "4", "view"], ("document", 4, "view")],
    )
    assert answers == [True, True, True]


@pytest.mark.parametrize("user", sorted(VISIBLE))
def test_users_teams_and_folders_decide_who_views_what(db: Any, user: str) -> None:
    spicedb, _ = adapter(db)
    values = [["document", n, "view"] for n in "12345"]

    answers = check(spicedb, {"user": f"user:{user}"}, values)

    assert {n for n, yes in zip("12345", answers, strict=True) if yes} == VISIBLE[user]


def test_a_subject_with_a_relation_checks_as_the_team(db: Any) -> None:
    spicedb, _ = adapter(db)
    values = [f"document:{n}#view" for n in "1234"]
    answers = check(spicedb, {"user": "team:eng#member"}, values)
    assert answers == [False, True, False, False]


def test_anonymous_is_denied_without_calling_the_engine(db: Any) -> None:
    spicedb, counting = adapter(db)
    assert check(spicedb, {}, ["document:1#view", "document:2#view"]) == [False] * 2
    assert counting.requests == {}


def test_a_malformed_value_fails_only_itself(db: Any) -> None:
    spicedb, counting = adapter(db)
    values: list[Any] = [
        "document:1#view",
        "document 1 view",
        ["document", "", "view"],
        ["document", "1"],
        "Document:1#view",
        "document:1#View",
        {"type": "document"},
        ["document", True, "view"],
        "document:2#view",
    ]

    answers = check(spicedb, {"user": "user:alice"}, values)

    assert answers[0] is True and answers[-1] is True
    assert all(isinstance(answer, SpiceDBCheckError) for answer in answers[1:-1])
    # The malformed values never reach SpiceDB, which would refuse the request.
    assert counting.calls() == 1
    assert len(counting.requests["CheckBulkPermissions"][0].items) == 2


def test_a_permission_the_schema_lacks_fails_only_that_value(db: Any) -> None:
    spicedb, _ = adapter(db)
    answers = check(
        spicedb,
        {"user": "user:alice"},
        ["document:1#view", "document:1#delete", "folder:plans#view"],
    )
    assert answers[0] is True
    assert isinstance(answers[1], SpiceDBCheckError)
    assert "delete" in str(answers[1])  # for the server log
    assert answers[2] is False


def test_a_conditional_answer_denies(db: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Document 6 is shared with dave under a caveat whose context is missing."""
    spicedb, _ = adapter(db)
    with caplog.at_level(logging.WARNING, logger="strawberry_authz"):
        answers = check(spicedb, {"user": "user:dave"}, ["document:6#view"])
    assert answers == [False]
    assert "conditionally" in caplog.text


def test_each_chunk_of_max_batch_size_is_one_call(db: Any) -> None:
    spicedb, counting = adapter(db, max_batch_size=2)
    values = [f"document:{n}#view" for n in "12345"]

    answers = check(spicedb, {"user": "user:bob"}, values)

    assert answers == [False, True, False, True, False]
    assert [len(r.items) for r in counting.requests["CheckBulkPermissions"]] == [
        2,
        2,
        1,
    ]
    assert spicedb.scope({}).max_batch_size == 2


def test_a_stopped_engine_raises_for_the_whole_chunk(db: Any) -> None:
    spicedb, _ = adapter(db)
    stop(db)
    with pytest.raises(Exception):  # noqa: B017 - whatever the binding raises
        check(spicedb, {"user": "user:alice"}, ["document:1#view"])


async def test_an_async_client_is_awaited(db: Any) -> None:
    client = AsyncUnary(db)
    try:
        spicedb = SpiceDB(client, subject=as_user, consistency=spicedbkit.FRESH)
        answered = spicedb.scope({"user": "user:carol"}).load_fn(
            ["document:3#view", "document:1#view"]
        )
        assert asyncio.iscoroutine(answered)
        assert await answered == [True, False]
    finally:
        await client.channel.close()


# -- consistency ------------------------------------------------------------------


def sent_consistency(counting: Counting) -> Any:
    return counting.requests["CheckBulkPermissions"][-1].consistency


def test_minimize_latency_is_the_default(db: Any) -> None:
    spicedb = SpiceDB.from_embedded(db, subject=as_user)
    counting = Counting(spicedb.client)
    spicedb.client = counting
    check(spicedb, {"user": "user:alice"}, ["document:1#view"])
    assert sent_consistency(counting).minimize_latency is True


def test_fully_consistent_reads_the_newest_snapshot(db: Any) -> None:
    spicedb, counting = adapter(db, consistency="fully_consistent")
    check(spicedb, {"user": "user:alice"}, ["document:1#view"])
    assert sent_consistency(counting).fully_consistent is True


def test_read_after_write_sees_the_write_with_its_token(db: Any) -> None:
    spicedb, counting = adapter(db, consistency=lambda context: context.get("token"))
    alice = {"user": "user:alice"}
    assert check(spicedb, alice, ["document:5#view"]) == [False]

    token = write(spicedb.client, "document:5", "viewer", "user:alice")
    alice["token"] = token

    assert check(spicedb, alice, ["document:5#view"]) == [True]
    assert sent_consistency(counting).at_least_as_fresh == token


def test_a_token_given_as_text_is_accepted(db: Any) -> None:
    spicedb, counting = adapter(db, consistency=lambda context: context["token"])
    token = write(spicedb.client, "document:5", "viewer", "user:carol")
    answers = check(
        spicedb, {"user": "user:carol", "token": token.token}, ["document:5#view"]
    )
    assert answers == [True]
    assert sent_consistency(counting).at_least_as_fresh.token == token.token


def test_no_token_falls_back_to_minimize_latency(db: Any) -> None:
    spicedb, counting = adapter(db, consistency=lambda context: None)
    check(spicedb, {"user": "user:alice"}, ["document:1#view"])
    assert sent_consistency(counting).minimize_latency is True


@pytest.mark.parametrize(
    "options",
    [
        {"consistency": "eventually"},
        {"max_batch_size": 0},
        {"max_batch_size": True},
    ],
)
def test_bad_options_are_refused_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SpiceDB(Broken(), subject=as_user, **options)


def test_a_consistency_function_failing_raises_for_the_chunk(db: Any) -> None:
    def broken(context: Any) -> Any:
        raise KeyError("token")

    spicedb, counting = adapter(db, consistency=broken)
    with pytest.raises(KeyError):
        check(spicedb, {"user": "user:alice"}, ["document:1#view"])
    assert counting.requests == {}


def test_a_malformed_subject_raises_for_the_chunk(db: Any) -> None:
    spicedb, counting = adapter(db)
    with pytest.raises(ValueError):
        check(spicedb, {"user": "alice"}, ["document:1#view"])
    assert counting.requests == {}


# -- lookup_resources -----------------------------------------------------------


@pytest.mark.parametrize("user", sorted(VISIBLE))
async def test_lookup_resources_lists_what_the_subject_may_view(
    db: Any, user: str
) -> None:
    spicedb, counting = adapter(db)
    found = await spicedb.lookup_resources({"user": f"user:{user}"}, "document", "view")
    assert found == VISIBLE[user]
    assert counting.calls("LookupResources") == 1


async def test_lookup_resources_leaves_conditional_results_out(db: Any) -> None:
    spicedb, _ = adapter(db)
    assert (
        await spicedb.lookup_resources({"user": "user:dave"}, "document", "view")
        == set()
    )


async def test_lookup_resources_is_empty_for_anonymous_without_a_call(db: Any) -> None:
    spicedb, counting = adapter(db)
    assert await spicedb.lookup_resources({}, "document", "view") == set()
    assert counting.requests == {}


async def test_lookup_resources_reads_an_async_stream(db: Any) -> None:
    client = AsyncUnary(db)
    try:
        spicedb = SpiceDB(client, subject=as_user, consistency=spicedbkit.FRESH)
        found = await spicedb.lookup_resources({"user": "user:bob"}, "document", "view")
        assert found == {"2", "4"}
    finally:
        await client.channel.close()


@pytest.mark.parametrize("broken", ["stopped engine", "unreachable engine"])
async def test_lookup_resources_failing_is_a_failure_and_logged_not_leaked(
    db: Any, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    if broken == "stopped engine":
        spicedb = SpiceDB.from_embedded(
            db, subject=as_user, consistency=spicedbkit.FRESH
        )
        stop(db)
    else:
        spicedb = SpiceDB(Broken(), subject=as_user)

    with pytest.raises(AuthorizationFailedError) as raised:
        await spicedb.lookup_resources({"user": "user:alice"}, "document", "view")

    assert raised.value.message == AuthorizationFailedError().message
    assert raised.value.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert raised.value.__cause__ is None and raised.value.__context__ is not None
    assert "LookupResources(document#view) failed" in caplog.text


async def test_lookup_resources_refuses_a_malformed_type_without_a_call(
    db: Any,
) -> None:
    spicedb, counting = adapter(db)
    with pytest.raises(AuthorizationFailedError):
        await spicedb.lookup_resources({"user": "user:alice"}, "Document!", "view")
    assert counting.requests == {}


class Reordering:
    """Answers with the real engine's pairs, reversed (a misbehaving proxy)."""

    def __init__(self, db: Any, *, drop: int = 0) -> None:
        self._unary = db.permissions()
        self._drop = drop

    def CheckBulkPermissions(self, request: Any) -> Any:
        response = self._unary.CheckBulkPermissions(request)
        pairs = list(response.pairs)[::-1][self._drop :]
        del response.pairs[:]
        response.pairs.extend(pairs)
        return response


@pytest.mark.parametrize("drop", [0, 1])
def test_a_response_that_does_not_pair_with_the_request_raises(
    db: Any, drop: int
) -> None:
    spicedb = SpiceDB(
        Reordering(db, drop=drop), subject=as_user, consistency=spicedbkit.FRESH
    )
    with pytest.raises(SpiceDBCheckError):
        check(spicedb, {"user": "user:alice"}, ["document:1#view", "document:5#view"])
