"""Decision log (`on_decision`) and debug explanations (issue 3, point 5)."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from featurekit import PlainQuery, codes, drain, frames

from strawberry_authz import AuthExtension, Decision, UnauthenticatedError


def load_scopes(context: dict[str, Any]) -> dict[str, Any]:
    user = context.get("user")

    def is_logged_in(value: bool) -> bool:
        if user is None:
            raise UnauthenticatedError()
        return True

    return {"is_logged_in": is_logged_in, "is_admin": lambda value: user == "admin"}


def build(authz: AuthExtension) -> strawberry.Schema:
    @strawberry.type
    class User:
        name: str

        @authz.rule({"is_admin": True})
        @strawberry.field
        def email(self) -> str | None:
            return f"{self.name}@example.com"

    @strawberry.type
    class Query:
        @authz.rule({"is_logged_in": True})
        @strawberry.field
        def users(self) -> list[User]:
            return [User(name="ann"), User(name="bob")]

        @authz.post_rule(lambda params, user: user.name == params.context["user"])
        @strawberry.field
        def user(self, name: str) -> User | None:
            return User(name=name)

        @strawberry.field
        def public(self) -> str:
            return "public"

    return strawberry.Schema(query=Query, extensions=[authz])


def by_path(records: list[Decision]) -> dict[tuple[Any, ...], Decision]:
    return {tuple(record.path): record for record in records}


async def test_one_record_per_checked_field_with_paths_aliases_and_indices():
    records: list[Decision] = []
    authz = AuthExtension(load_scopes, on_decision=records.append)
    schema = build(authz)
    result = await schema.execute(
        '{ users { name email } me: user(name: "ann") { name } public }',
        context_value={"user": "ann"},
    )
    assert result.data["me"] == {"name": "ann"}
    assert sorted(tuple(r.path) for r in records) == sorted(
        [
            ("users",),
            ("users", 0, "email"),
            ("users", 1, "email"),
            ("me",),
        ]
    )
    found = by_path(records)
    users = found[("users",)]
    assert (users.type_name, users.field_name, users.phase) == (
        "Query",
        "users",
        "before",
    )
    assert users.allowed is True
    assert users.reason is None
    assert users.rule == {"is_logged_in": True}

    email = found[("users", 1, "email")]
    assert (email.type_name, email.field_name, email.phase) == (
        "User",
        "email",
        "before",
    )
    assert email.allowed is False
    assert isinstance(email.reason, str) and email.reason
    assert email.rule == {"is_admin": True}

    me = found[("me",)]
    assert (me.type_name, me.field_name, me.phase) == ("Query", "user", "after")
    assert me.allowed is True
    assert me.rule is not None

    for record in records:
        assert isinstance(record.duration, float)
        assert record.duration >= 0


async def test_denials_are_recorded_with_their_reason():
    records: list[Decision] = []
    authz = AuthExtension(load_scopes, on_decision=records.append)
    schema = build(authz)
    anonymous = await schema.execute("{ users { name } }", context_value={"user": None})
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    other = await schema.execute(
        '{ other: user(name: "bob") { name } }', context_value={"user": "ann"}
    )
    assert other.data == {"other": None}
    found = by_path(records)
    assert found[("users",)].allowed is False
    assert found[("users",)].phase == "before"
    assert found[("other",)].allowed is False
    assert found[("other",)].phase == "after"
    assert all(isinstance(r.reason, str) and r.reason for r in records)


def subscription_schema(authz: AuthExtension) -> strawberry.Schema:
    @strawberry.type
    class Subscription:
        @authz.rule({"is_logged_in": True})
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            for tick in range(2):
                yield tick

        @authz.rule(lambda params: params.root == 0, phase="resolve")
        @strawberry.subscription
        async def checked(self) -> AsyncGenerator[int | None, None]:
            for tick in range(2):
                yield tick

        @authz.post_rule(lambda params, tick: tick == 0)
        @strawberry.subscription
        async def filtered(self) -> AsyncGenerator[int | None, None]:
            for tick in range(2):
                yield tick

        @authz.post_rule(lambda params, tick: tick == 0, drop_denied=True)
        @strawberry.subscription
        async def dropped(self) -> AsyncGenerator[int, None]:
            for tick in range(2):
                yield tick

    return strawberry.Schema(
        query=PlainQuery, subscription=Subscription, extensions=[authz]
    )


async def test_subscribe_time_decisions_have_the_subscribe_phase():
    records: list[Decision] = []
    schema = subscription_schema(AuthExtension(load_scopes, on_decision=records.append))
    results = await drain(
        await schema.subscribe("subscription { ticks }", context_value={"user": "ann"})
    )
    assert frames(results) == [({"ticks": 0}, []), ({"ticks": 1}, [])]
    assert [(r.field_name, r.phase, r.allowed, r.path) for r in records] == [
        ("ticks", "subscribe", True, ["ticks"])
    ]

    records.clear()
    denied = await drain(
        await schema.subscribe("subscription { ticks }", context_value={"user": None})
    )
    assert frames(denied) == [(None, ["UNAUTHENTICATED"])]
    assert [(r.phase, r.allowed) for r in records] == [("subscribe", False)]
    assert records[0].reason


async def test_per_event_rule_decisions_have_the_event_phase():
    records: list[Decision] = []
    schema = subscription_schema(AuthExtension(load_scopes, on_decision=records.append))
    results = await drain(
        await schema.subscribe(
            "subscription { checked }", context_value={"user": "ann"}
        )
    )
    assert frames(results) == [({"checked": 0}, []), ({"checked": None}, ["FORBIDDEN"])]
    assert [(r.field_name, r.phase, r.allowed) for r in records] == [
        ("checked", "event", True),
        ("checked", "event", False),
    ]


async def test_per_event_post_rule_decisions_have_the_event_phase():
    # A post rule on a subscription checks each event: phase "event", the
    # same whether denied events are delivered as errors or dropped.
    records: list[Decision] = []
    schema = subscription_schema(AuthExtension(load_scopes, on_decision=records.append))
    results = await drain(
        await schema.subscribe(
            "subscription { dropped }", context_value={"user": "ann"}
        )
    )
    assert frames(results) == [({"dropped": 0}, [])]
    dropped = [(r.field_name, r.phase, r.allowed) for r in records]
    assert dropped == [("dropped", "event", True), ("dropped", "event", False)]

    records.clear()
    results = await drain(
        await schema.subscribe(
            "subscription { filtered }", context_value={"user": "ann"}
        )
    )
    assert frames(results) == [
        ({"filtered": 0}, []),
        ({"filtered": None}, ["FORBIDDEN"]),
    ]
    assert [(r.field_name, r.phase, r.allowed) for r in records] == [
        ("filtered", "event", True),
        ("filtered", "event", False),
    ]


async def test_async_callback_receives_every_record():
    records: list[Decision] = []

    async def audit(record: Decision) -> None:
        await asyncio.sleep(0)
        records.append(record)

    authz = AuthExtension(load_scopes, on_decision=audit)
    schema = build(authz)
    result = await schema.execute(
        "{ users { email } }", context_value={"user": "admin"}
    )
    assert result.errors is None
    for _ in range(50):
        if len(records) == 3:
            break
        await asyncio.sleep(0.01)
    assert sorted(tuple(r.path) for r in records) == [
        ("users",),
        ("users", 0, "email"),
        ("users", 1, "email"),
    ]
    assert all(r.allowed for r in records)


async def test_raising_callback_changes_nothing_and_is_logged(caplog):
    def broken(record: Decision) -> None:
        raise RuntimeError("audit backend down")

    query = '{ users { name email } me: user(name: "ann") { name } }'
    expected = await build(AuthExtension(load_scopes)).execute(
        query, context_value={"user": "ann"}
    )
    schema = build(AuthExtension(load_scopes, on_decision=broken))
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute(query, context_value={"user": "ann"})
    assert result.data == expected.data
    assert [e.path for e in result.errors] == [e.path for e in expected.errors]
    assert codes(result) == codes(expected)
    logged = [r for r in caplog.records if r.name == "strawberry_authz"]
    assert logged
    assert any("audit backend down" in (r.exc_text or str(r.exc_info)) for r in logged)


async def test_raising_async_callback_changes_nothing_and_is_logged(caplog):
    async def broken(record: Decision) -> None:
        raise RuntimeError("async audit backend down")

    schema = build(AuthExtension(load_scopes, on_decision=broken))
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute(
            "{ users { name } }", context_value={"user": "ann"}
        )
        for _ in range(50):
            if any(r.name == "strawberry_authz" for r in caplog.records):
                break
            await asyncio.sleep(0.01)
    assert result.errors is None
    assert result.data == {"users": [{"name": "ann"}, {"name": "bob"}]}
    assert any(r.name == "strawberry_authz" for r in caplog.records)


async def test_callback_cannot_change_a_decision():
    def meddle(record: Decision) -> bool:
        # Whatever it returns, and even trying to flip the record.
        with contextlib.suppress(Exception):  # a frozen record is fine too
            object.__setattr__(record, "allowed", not record.allowed)
        return not record.allowed

    schema = build(AuthExtension(load_scopes, on_decision=meddle))
    result = await schema.execute(
        "{ users { name email } }", context_value={"user": "ann"}
    )
    assert result.data == {
        "users": [{"name": "ann", "email": None}, {"name": "bob", "email": None}]
    }
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]


def test_sync_callback_works_under_execute_sync():
    records: list[Decision] = []
    schema = build(AuthExtension(load_scopes, on_decision=records.append))
    result = schema.execute_sync("{ users { email } }", context_value={"user": "ann"})
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]
    assert sorted((tuple(r.path), r.allowed) for r in records) == [
        (("users",), True),
        (("users", 0, "email"), False),
        (("users", 1, "email"), False),
    ]


# -- debug explanations ---------------------------------------------------------


def debug_schema(debug: bool) -> strawberry.Schema:
    authz = AuthExtension(load_scopes, debug=debug)

    @strawberry.type
    class Query:
        @authz.rule({"$or": {"is_admin": True, "is_logged_in": True}})
        @strawberry.field
        def either(self) -> str | None:
            return "either"

        @authz.rule({"is_admin": True})
        @strawberry.field
        def admin(self) -> str | None:
            return "admin"

    return strawberry.Schema(query=Query, extensions=[authz])


async def test_debug_adds_the_tree_of_failed_branches_to_the_error():
    schema = debug_schema(debug=True)
    result = await schema.execute("{ either }", context_value={"user": None})
    [error] = result.errors
    assert error.extensions["code"] == "UNAUTHENTICATED"
    tree = error.extensions["authz"]
    assert isinstance(tree, dict)
    assert isinstance(tree["reason"], str) and tree["reason"]
    branches = tree["branches"]
    assert len(branches) == 2
    assert sorted(b["code"] for b in branches) == ["FORBIDDEN", "UNAUTHENTICATED"]
    assert all(isinstance(b["reason"], str) and b["reason"] for b in branches)
    # It is serialisable as part of the response.
    assert result.errors[0].formatted["extensions"]["authz"] == tree


async def test_debug_tree_on_a_single_failed_scope():
    schema = debug_schema(debug=True)
    result = await schema.execute("{ admin }", context_value={"user": "bob"})
    [error] = result.errors
    assert error.extensions["code"] == "FORBIDDEN"
    assert "is_admin" in error.extensions["authz"]["reason"]


async def test_no_explanation_without_debug():
    schema = debug_schema(debug=False)
    for query in ("{ either }", "{ admin }"):
        result = await schema.execute(query, context_value={"user": None})
        [error] = result.errors
        assert "authz" not in (error.extensions or {})
        assert "is_admin" not in repr(error.formatted)


async def test_debug_does_not_touch_allowed_fields():
    schema = debug_schema(debug=True)
    result = await schema.execute("{ either admin }", context_value={"user": "admin"})
    assert result.errors is None
    assert result.data == {"either": "either", "admin": "admin"}
