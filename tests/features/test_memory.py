"""Issue 8, item 13: nothing grows without bound, nothing is kept alive."""

import asyncio
import gc
import weakref
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from featurekit import PlainQuery, drain

from strawberry_authz import AuthExtension


def test_a_dropped_schema_is_collected_though_its_extension_lives_on():
    authz = AuthExtension(lambda context: {"is_member": True})

    @strawberry.type
    class Query:
        @authz.rule({"is_member": True})
        @strawberry.field
        def secret(self) -> str | None:
            return "secret"

    def serve_and_drop() -> weakref.ref[strawberry.Schema]:
        schema = strawberry.Schema(query=Query, extensions=[authz])
        authz.validate(schema)
        assert schema.execute_sync("{ secret }").data == {"secret": "secret"}
        assert asyncio.run(schema.execute("{ secret }")).data == {"secret": "secret"}
        return weakref.ref(schema)

    dropped = serve_and_drop()
    gc.collect()

    assert dropped() is None
    # The extension still serves the schemas that are alive.
    again = strawberry.Schema(query=Query, extensions=[authz])
    assert again.execute_sync("{ secret }").data == {"secret": "secret"}


def state_size(authz: AuthExtension) -> int:
    """Cached scope results and decisions of the running operation."""
    state = authz._var.get()
    assert state is not None
    return len(state.scopes.results) + len(state.decisions)


EVENTS = 300


@pytest.mark.parametrize("drop_denied", [False, True])
async def test_per_event_values_do_not_grow_a_long_subscription(drop_denied):
    calls: list[tuple[str, Any]] = []

    def load_scopes(context: Any) -> dict[str, Any]:
        def is_logged_in(_: bool) -> bool:
            calls.append(("is_logged_in", True))
            return True

        def may_see(number: int) -> bool:
            calls.append(("may_see", number))
            return number % 50 == 0  # long runs of denied events

        return {"is_logged_in": is_logged_in, "may_see": may_see}

    authz = AuthExtension(load_scopes)
    sizes: list[int] = []

    @strawberry.type
    class Subscription:
        @authz.post_rule(
            lambda params, number: {"is_logged_in": True, "may_see": number},
            drop_denied=drop_denied,
        )
        @strawberry.subscription
        async def numbers(self) -> AsyncGenerator[int, None]:
            for number in range(EVENTS):
                sizes.append(state_size(authz))
                yield number

    schema = strawberry.Schema(
        query=PlainQuery, subscription=Subscription, extensions=[authz]
    )
    results = await drain(await schema.subscribe("subscription { numbers }"))

    delivered = [r.data["numbers"] for r in results if r.data is not None]
    assert delivered == list(range(0, EVENTS, 50))
    # A few entries (the first event's, which stay) and at most one event's
    # worth more: not one per event.
    assert max(sizes) <= 6
    # The value every event asks for is still computed once.
    assert calls.count(("is_logged_in", True)) == 1


async def test_a_value_first_asked_by_a_later_event_is_asked_again_when_needed():
    calls: list[int] = []

    def may_see(number: int) -> bool:
        calls.append(number)
        return True

    authz = AuthExtension(lambda context: {"may_see": may_see})

    @strawberry.type
    class Subscription:
        @authz.post_rule(lambda params, number: {"may_see": number})
        @strawberry.subscription
        async def numbers(self) -> AsyncGenerator[int, None]:
            for number in (1, 2, 2, 1, 2):
                yield number

    schema = strawberry.Schema(
        query=PlainQuery, subscription=Subscription, extensions=[authz]
    )
    results = await drain(await schema.subscribe("subscription { numbers }"))

    assert [r.data for r in results] == [{"numbers": n} for n in (1, 2, 2, 1, 2)]
    # 1 was known once the first event was checked: kept for the stream.
    # 2 came later: remembered only for the event that asked for it.
    assert calls == [1, 2, 2, 2]
