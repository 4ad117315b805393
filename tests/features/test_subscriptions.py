"""Subscriptions through `schema.subscribe` (issue 3, point 1; SPEC §5)."""

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from featurekit import drain, dump, events, frames, subscription_schema

from strawberry_authz import AuthExtension, UnauthenticatedError


def user_scopes(calls: list[tuple[str, Any]] | None = None):
    """`load_scopes` for `{"user": name | None}` contexts, recording loader calls."""
    log = calls if calls is not None else []

    def load_scopes(context: dict[str, Any]) -> dict[str, Any]:
        user = context["user"]

        def is_logged_in(value: bool) -> bool:
            log.append(("is_logged_in", value))
            if user is None:
                raise UnauthenticatedError()
            return True

        def is_admin(value: bool) -> bool:
            log.append(("is_admin", value))
            return user == "admin"

        def in_room(room: str) -> bool:
            log.append(("in_room", room))
            return user is not None and room in {"lobby", user}

        return {"is_logged_in": is_logged_in, "is_admin": is_admin, "in_room": in_room}

    return load_scopes


# -- subscribe phase ------------------------------------------------------------


async def test_denied_subscription_returns_an_error_and_never_starts_the_generator():
    authz = AuthExtension(user_scopes())
    started: list[str] = []

    @strawberry.type
    class Subscription:
        @authz.rule({"is_admin": True})
        @strawberry.subscription
        async def alerts(self) -> AsyncGenerator[int, None]:
            started.append("alerts")
            yield 1

    schema = subscription_schema(authz, Subscription)

    denied = await events(schema, "subscription { alerts }", {"user": "bob"})
    assert frames(denied) == [(None, ["FORBIDDEN"])]
    assert denied[0].errors[0].path == ["alerts"]
    assert started == []

    allowed = await events(schema, "subscription { alerts }", {"user": "admin"})
    assert frames(allowed) == [({"alerts": 1}, [])]
    assert started == ["alerts"]


async def test_unauthenticated_subscriber_gets_unauthenticated_and_no_side_effects():
    authz = AuthExtension(user_scopes())
    started: list[str] = []

    @strawberry.type
    class Subscription:
        @authz.rule({"is_logged_in": True})
        @strawberry.subscription
        async def alerts(self) -> AsyncGenerator[int, None]:
            started.append("alerts")
            yield 1

    schema = subscription_schema(authz, Subscription)
    denied = await events(schema, "subscription { alerts }", {"user": None})
    assert frames(denied) == [(None, ["UNAUTHENTICATED"])]
    assert started == []


async def test_subscribe_phase_rule_is_checked_once_not_per_event():
    calls: list[tuple[str, Any]] = []
    authz = AuthExtension(user_scopes(calls))
    seen_by_rule: list[Any] = []

    def may_subscribe(params):
        seen_by_rule.append(params.root)
        return {"is_logged_in": True}

    @strawberry.type
    class Subscription:
        @authz.rule(may_subscribe)
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            for tick in range(3):
                yield tick

    schema = subscription_schema(authz, Subscription)
    results = await events(schema, "subscription { ticks }", {"user": "bob"})
    assert frames(results) == [({"ticks": n}, []) for n in range(3)]
    assert len(seen_by_rule) == 1
    assert calls == [("is_logged_in", True)]


# -- per-event checks -----------------------------------------------------------


async def test_resolve_phase_rule_checks_every_event_and_the_stream_stays_open():
    authz = AuthExtension(user_scopes())
    events_checked: list[Any] = []

    def even_only(params):
        events_checked.append(params.root)
        return params.root % 2 == 0

    @strawberry.type
    class Subscription:
        @authz.rule(even_only, phase="resolve")
        @strawberry.subscription
        async def numbers(self) -> AsyncGenerator[int | None, None]:
            for number in range(5):
                yield number

    schema = subscription_schema(authz, Subscription)
    results = await events(schema, "subscription { numbers }", {"user": "x"})
    assert frames(results) == [
        ({"numbers": 0}, []),
        ({"numbers": None}, ["FORBIDDEN"]),
        ({"numbers": 2}, []),
        ({"numbers": None}, ["FORBIDDEN"]),
        ({"numbers": 4}, []),
    ]
    assert events_checked == [0, 1, 2, 3, 4]
    assert all(r.errors[0].path == ["numbers"] for r in results if r.errors)


async def test_post_rule_sees_each_event_as_its_result_and_denied_events_are_errors():
    authz = AuthExtension(user_scopes())
    seen: list[Any] = []

    def only_mine(params, result):
        seen.append(result)
        return result.owner == params.context["user"]

    @strawberry.type
    class Message:
        owner: str
        text: str

    @strawberry.type
    class Subscription:
        @authz.post_rule(only_mine)
        @strawberry.subscription
        async def messages(self) -> AsyncGenerator[Message | None, None]:
            yield Message(owner="ann", text="hi ann")
            yield Message(owner="bob", text="secret of bob")
            yield Message(owner="ann", text="bye ann")

    schema = subscription_schema(authz, Subscription)
    results = await events(
        schema, "subscription { messages { owner text } }", {"user": "ann"}
    )
    assert frames(results) == [
        ({"messages": {"owner": "ann", "text": "hi ann"}}, []),
        ({"messages": None}, ["FORBIDDEN"]),
        ({"messages": {"owner": "ann", "text": "bye ann"}}, []),
    ]
    assert [event.text for event in seen] == ["hi ann", "secret of bob", "bye ann"]
    assert "secret of bob" not in dump(results)


async def test_event_denied_by_a_raised_error_reports_that_error_for_that_event():
    authz = AuthExtension(user_scopes())

    def needs_login_for_odd(params):
        if params.root % 2:
            raise UnauthenticatedError("log in to see odd numbers")
        return True

    @strawberry.type
    class Subscription:
        @authz.rule(needs_login_for_odd, phase="resolve")
        @strawberry.subscription
        async def numbers(self) -> AsyncGenerator[int | None, None]:
            for number in range(3):
                yield number

    schema = subscription_schema(authz, Subscription)
    results = await events(schema, "subscription { numbers }", {"user": "x"})
    assert frames(results) == [
        ({"numbers": 0}, []),
        ({"numbers": None}, ["UNAUTHENTICATED"]),
        ({"numbers": 2}, []),
    ]
    assert results[1].errors[0].message == "log in to see odd numbers"


async def test_drop_denied_on_post_rule_drops_denied_events_silently():
    authz = AuthExtension(user_scopes())
    produced: list[int] = []

    @strawberry.type
    class Subscription:
        @authz.post_rule(lambda params, result: result % 2 == 0, drop_denied=True)
        @strawberry.subscription
        async def numbers(self) -> AsyncGenerator[int, None]:
            for number in range(6):
                produced.append(number)
                yield number

    schema = subscription_schema(authz, Subscription)
    results = await events(schema, "subscription { numbers }", {"user": "x"})
    assert frames(results) == [({"numbers": n}, []) for n in (0, 2, 4)]
    assert produced == [0, 1, 2, 3, 4, 5]


async def test_drop_denied_on_resolve_phase_rule_drops_denied_events_silently():
    authz = AuthExtension(user_scopes())

    @strawberry.type
    class Subscription:
        @authz.rule(
            lambda params: {"in_room": params.root},
            phase="resolve",
            drop_denied=True,
        )
        @strawberry.subscription
        async def room_events(self) -> AsyncGenerator[str, None]:
            for room in ("lobby", "ann", "bob", "lobby", "bob"):
                yield room

    schema = subscription_schema(authz, Subscription)
    for user, visible in (
        ("ann", ["lobby", "ann", "lobby"]),
        ("bob", ["lobby", "bob", "lobby", "bob"]),
    ):
        results = await events(schema, "subscription { roomEvents }", {"user": user})
        assert frames(results) == [({"roomEvents": room}, []) for room in visible]


# -- default scopes and type rules ----------------------------------------------


async def test_subscribe_default_scopes_deny_before_the_generator_starts():
    authz = AuthExtension(
        user_scopes(),
        default_scopes={"Subscription": {"subscribe": {"is_logged_in": True}}},
    )
    started: list[str] = []

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            started.append("ticks")
            yield 1

    schema = subscription_schema(authz, Subscription)
    denied = await events(schema, "subscription { ticks }", {"user": None})
    assert frames(denied) == [(None, ["UNAUTHENTICATED"])]
    assert started == []

    allowed = await events(schema, "subscription { ticks }", {"user": "ann"})
    assert frames(allowed) == [({"ticks": 1}, [])]


async def test_resolve_default_scopes_are_checked_at_event_time_not_at_subscribe():
    # The "resolve" default's loader answers True only once the stream has
    # produced an event: checked at subscribe time it would deny.
    state = {"streaming": False}
    calls: list[str] = []

    def load_scopes(context):
        def live(value: bool) -> bool:
            calls.append(f"live while streaming={state['streaming']}")
            return state["streaming"]

        return {"live": live}

    authz = AuthExtension(
        load_scopes, default_scopes={"Subscription": {"resolve": {"live": True}}}
    )

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            state["streaming"] = True
            for tick in range(3):
                yield tick

    schema = subscription_schema(authz, Subscription)
    results = await drain(await schema.subscribe("subscription { ticks }"))
    assert frames(results) == [({"ticks": n}, []) for n in range(3)]
    assert calls == ["live while streaming=True"]


async def test_resolve_default_scopes_deny_each_event_but_keep_the_stream_open():
    authz = AuthExtension(
        user_scopes(),
        default_scopes={
            "Subscription": {
                "subscribe": {"is_logged_in": True},
                "resolve": {"is_admin": True},
            }
        },
    )
    started: list[str] = []

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int | None, None]:
            started.append("ticks")
            for tick in range(3):
                yield tick

    schema = subscription_schema(authz, Subscription)
    results = await events(schema, "subscription { ticks }", {"user": "bob"})
    assert frames(results) == [({"ticks": None}, ["FORBIDDEN"])] * 3
    assert started == ["ticks"]

    admin = await events(schema, "subscription { ticks }", {"user": "admin"})
    assert frames(admin) == [({"ticks": n}, []) for n in range(3)]


async def test_skip_defaults_on_a_subscription_skips_both_default_phases():
    authz = AuthExtension(
        user_scopes(),
        default_scopes={
            "Subscription": {
                "subscribe": {"is_admin": True},
                "resolve": {"is_admin": True},
            }
        },
    )

    @strawberry.type
    class Subscription:
        @authz.rule({"is_logged_in": True}, skip_defaults=True)
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            yield 1

        @strawberry.subscription
        async def guarded(self) -> AsyncGenerator[int, None]:
            yield 1

    schema = subscription_schema(authz, Subscription)
    ok = await events(schema, "subscription { ticks }", {"user": "bob"})
    assert frames(ok) == [({"ticks": 1}, [])]
    denied = await events(schema, "subscription { guarded }", {"user": "bob"})
    assert frames(denied) == [(None, ["FORBIDDEN"])]


async def test_type_rule_on_the_subscription_root_applies_at_subscribe_time():
    calls: list[tuple[str, Any]] = []
    authz = AuthExtension(user_scopes(calls))
    started: list[str] = []

    @authz.type_rule({"is_admin": True})
    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            started.append("ticks")
            for tick in range(3):
                yield tick

    schema = subscription_schema(authz, Subscription)
    denied = await events(schema, "subscription { ticks }", {"user": "bob"})
    assert frames(denied) == [(None, ["FORBIDDEN"])]
    assert started == []

    calls.clear()
    allowed = await events(schema, "subscription { ticks }", {"user": "admin"})
    assert frames(allowed) == [({"ticks": n}, []) for n in range(3)]
    # Checked once, before the stream: not once per event.
    assert calls == [("is_admin", True)]


async def test_type_rule_on_a_renamed_subscription_root_still_applies():
    authz = AuthExtension(user_scopes())

    @authz.type_rule({"is_admin": True})
    @strawberry.type(name="RootSubscription")
    class Subscription:
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            yield 1

    schema = subscription_schema(authz, Subscription)
    denied = await events(schema, "subscription { ticks }", {"user": "bob"})
    assert frames(denied) == [(None, ["FORBIDDEN"])]


# -- caching --------------------------------------------------------------------


async def test_static_rule_loaders_run_once_per_subscription_not_per_event():
    calls: list[tuple[str, Any]] = []
    authz = AuthExtension(
        user_scopes(calls),
        default_scopes={
            "Subscription": {
                "subscribe": {"is_logged_in": True},
                "resolve": {"is_logged_in": True},
            }
        },
    )

    @strawberry.type
    class Subscription:
        @authz.rule({"in_room": "lobby"}, phase="resolve")
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            for tick in range(4):
                yield tick

    schema = subscription_schema(authz, Subscription)
    results = await events(schema, "subscription { ticks }", {"user": "ann"})
    assert frames(results) == [({"ticks": n}, []) for n in range(4)]
    assert sorted(calls) == [("in_room", "lobby"), ("is_logged_in", True)]

    # A second subscription is a new operation: its own cache.
    calls.clear()
    await events(schema, "subscription { ticks }", {"user": "ann"})
    assert sorted(calls) == [("in_room", "lobby"), ("is_logged_in", True)]


async def test_async_loaders_are_cached_per_subscription_too():
    calls: list[str] = []

    async def load_scopes(context):
        async def member(value: str) -> bool:
            calls.append(value)
            return True

        return {"member": member}

    authz = AuthExtension(load_scopes)

    @strawberry.type
    class Subscription:
        @authz.rule({"member": "lobby"}, phase="resolve")
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            for tick in range(4):
                yield tick

    schema = subscription_schema(authz, Subscription)
    results = await drain(await schema.subscribe("subscription { ticks }"))
    assert frames(results) == [({"ticks": n}, []) for n in range(4)]
    assert calls == ["lobby"]


async def test_rules_depending_on_the_event_run_for_every_event():
    calls: list[tuple[str, Any]] = []
    authz = AuthExtension(user_scopes(calls))
    rule_calls: list[str] = []

    def room_of_event(params):
        rule_calls.append(params.root)
        return {"in_room": params.root}

    @strawberry.type
    class Subscription:
        @authz.rule(room_of_event, phase="resolve")
        @strawberry.subscription
        async def room_events(self) -> AsyncGenerator[str | None, None]:
            for room in ("lobby", "bob", "ann", "bob"):
                yield room

    schema = subscription_schema(authz, Subscription)
    results = await events(schema, "subscription { roomEvents }", {"user": "ann"})
    assert frames(results) == [
        ({"roomEvents": "lobby"}, []),
        ({"roomEvents": None}, ["FORBIDDEN"]),
        ({"roomEvents": "ann"}, []),
        ({"roomEvents": None}, ["FORBIDDEN"]),
    ]
    assert rule_calls == ["lobby", "bob", "ann", "bob"]
    # Each (scope, value) the events asked for was computed, none more than once.
    assert sorted(set(calls)) == [
        ("in_room", "ann"),
        ("in_room", "bob"),
        ("in_room", "lobby"),
    ]
    assert len(calls) <= 4


# -- grants ---------------------------------------------------------------------


def message_schema(authz: AuthExtension, subscription_policy) -> strawberry.Schema:
    @strawberry.type
    class Message:
        id: int
        public: bool

        @authz.rule({"$granted": "read_body"})
        @strawberry.field
        def body(self) -> str | None:
            return f"body {self.id}"

    @strawberry.type
    class Subscription:
        @subscription_policy
        @strawberry.subscription
        async def messages(self) -> AsyncGenerator[Message | None, None]:
            for id_, public in ((1, True), (2, False), (3, True)):
                yield Message(id=id_, public=public)

    return subscription_schema(authz, Subscription)


async def message_frames(subscription_policy: Any) -> list[Any]:
    """`frames` of `message_schema`'s three messages, to a logged-in user."""
    authz = AuthExtension(user_scopes())
    schema = message_schema(authz, subscription_policy(authz))
    return frames(
        await events(schema, "subscription { messages { id body } }", {"user": "ann"})
    )


SECOND_BODY_DENIED = [
    ({"messages": {"id": 1, "body": "body 1"}}, []),
    ({"messages": {"id": 2, "body": None}}, ["FORBIDDEN"]),
    ({"messages": {"id": 3, "body": "body 3"}}, []),
]


async def test_grants_of_a_subscription_field_reach_every_event_child_field():
    assert await message_frames(
        lambda authz: authz.rule({"is_logged_in": True}, grants=["read_body"])
    ) == [({"messages": {"id": n, "body": f"body {n}"}}, []) for n in (1, 2, 3)]


async def test_grants_computed_per_event_do_not_leak_to_later_events():
    assert (
        await message_frames(
            lambda authz: authz.post_rule(
                lambda params, result: True,
                grants=lambda params, result: ["read_body"] if result.public else [],
            )
        )
        == SECOND_BODY_DENIED
    )


async def test_grants_of_a_resolve_phase_rule_are_given_per_event():
    assert (
        await message_frames(
            lambda authz: authz.rule(
                lambda params: True,
                phase="resolve",
                grants=lambda params, result: "read_body" if result.id != 2 else None,
            )
        )
        == SECOND_BODY_DENIED
    )


async def test_grants_per_event_also_work_when_denied_events_are_dropped():
    assert await message_frames(
        lambda authz: authz.post_rule(
            lambda params, result: result.id != 2,
            drop_denied=True,
            grants=lambda params, result: ["read_body"] if result.id == 1 else [],
        )
    ) == [
        ({"messages": {"id": 1, "body": "body 1"}}, []),
        ({"messages": {"id": 3, "body": None}}, ["FORBIDDEN"]),
    ]
