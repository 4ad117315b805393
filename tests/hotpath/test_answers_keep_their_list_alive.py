"""After a clear or a new subscription event mid-pass, a list's answers
still keep their list alive.

Per-object answers are keyed by the id of their list's path, which the
request keeps alive so no other list can take that id (white box: whether
an id is reused depends on the allocator, so the test reads the state).
A flat list's object rules are keyed by ints instead
(`RequestState.list_keys`), which no list of the operation is ever given
again, a clear or an event notwithstanding.
"""

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry

from strawberry_authz import AuthExtension, BatchScope
from strawberry_authz._request import RequestState


@pytest.mark.parametrize("on_object", [False, True], ids=["type_rule", "on_object"])
async def test_answers_written_after_a_clear_keep_their_list_alive(
    on_object, monkeypatch
):
    """Per-object answers are keyed by the id of their list's path, which
    the request keeps alive so no other list can take that id. A clear
    drops what it keeps; the answers the pass writes after it must keep
    their list alive again, or a later list reusing the id would read them
    (white box: the reuse itself depends on the allocator)."""
    cleared: list[Any] = []
    clear = RequestState.clear

    def recording_clear(self: Any, scope: Any = None) -> None:
        cleared.append(self)
        clear(self, scope)

    monkeypatch.setattr(RequestState, "clear", recording_clear)

    def scopes(context: Any) -> dict[str, Any]:
        async def load(values: list[Any]) -> list[bool]:
            await asyncio.sleep(0)
            return [True for _ in values]

        return {"can": BatchScope(load, max_batch_size=3)}

    authz = AuthExtension(scopes)

    @authz.type_rule(lambda p: {"can": p.root.id}, on_object=on_object)
    @strawberry.type
    class Doc:
        id: int

    docs = [Doc(id=i) for i in range(31)]

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return docs

        @strawberry.field
        async def logout(self, info: strawberry.Info) -> bool:
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            authz.clear_cache(info)
            return True

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await asyncio.wait_for(
        schema.execute("{ docs { id } logout }"), timeout=10
    )
    assert result.data["logout"] is True
    (state,) = cleared
    assert state.per_object, "the pass wrote no answer after the clear"
    assert_keys_unique_or_alive(state)


@pytest.mark.parametrize("on_object", [False, True], ids=["type_rule", "on_object"])
async def test_answers_written_after_the_next_event_began_keep_their_list_alive(
    on_object, monkeypatch
):
    """A subscription event whose sibling field fails abandons its long list
    while the list is still being decided: the pass goes on in its task,
    into the next event, which lets go of what the request kept. The answers
    the pass writes then must keep their list alive again, or a list of a
    later event reusing the id would read them (white box, as above)."""
    events: list[Any] = []
    start_event = RequestState.start_event

    def recording_start_event(self: Any) -> None:
        events.append(self)
        start_event(self)

    monkeypatch.setattr(RequestState, "start_event", recording_start_event)
    items = 60

    async def load(values: list[Any]) -> list[bool]:
        await asyncio.sleep(0)
        return [owner == "me" for owner, _ in values]

    authz = AuthExtension(lambda _: {"can": BatchScope(load, max_batch_size=3)})

    @authz.type_rule(lambda p: {"can": (p.root.owner, p.root.id)}, on_object=on_object)
    @strawberry.type
    class Doc:
        owner: strawberry.Private[str]
        id: int

    @strawberry.type
    class Feed:
        owner: strawberry.Private[str]

        @strawberry.field
        async def boom(self) -> int:
            if self.owner == "me":
                raise RuntimeError("sibling failed")
            return 1

        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return [Doc(owner=self.owner, id=i) for i in range(items)]

    @strawberry.type
    class Query:
        x: int = 1

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def feed(self) -> AsyncGenerator[Feed | None, None]:
            yield Feed(owner="me")
            yield Feed(owner="other")

    schema = strawberry.Schema(
        query=Query, subscription=Subscription, extensions=[authz]
    )

    async def collect() -> list[Any]:
        stream = await schema.subscribe("subscription { feed { boom docs { id } } }")
        return [event async for event in stream]

    results = await asyncio.wait_for(collect(), timeout=10)
    for _ in range(200):  # the first event's pass finishes meanwhile
        if asyncio.all_tasks() == {asyncio.current_task()}:
            break
        await asyncio.sleep(0)
    assert [result.data for result in results] == [
        {"feed": None},
        {"feed": {"boom": 1, "docs": [None] * items}},
    ]
    state = events[-1]
    assert len(events) == 2
    assert len(state.per_object) > items, "no answer written after the next event"
    assert_keys_unique_or_alive(state)


def assert_keys_unique_or_alive(state: RequestState) -> None:
    """Every key of `state.per_object` names one object for the whole
    operation: a tuple holds the id of a path the request keeps alive; an
    int is one of `list_keys`, issued once."""
    alive = {id(kept) for kept in state.kept}
    tuples = [key for key in state.per_object if type(key) is tuple]
    ints = [key for key in state.per_object if type(key) is int]
    assert len(tuples) + len(ints) == len(state.per_object)
    assert {key[0] for key in tuples} <= alive
    issued = state.list_keys(1)  # the next list's: after every one so far
    assert all(key < issued.start for key in ints)


def test_list_keys_are_never_issued_twice_in_an_operation():
    """Ranges of `list_keys` never overlap, before and after a clear or a
    subscription's next event: an answer a pass writes late can only be
    read by its own list."""
    state = RequestState(lambda _: {}, None)
    ranges = [state.list_keys(5), state.list_keys(0), state.list_keys(3)]
    state.clear()
    ranges.append(state.list_keys(5))
    state.start_event()
    ranges.append(state.list_keys(2))
    keys = [key for keys in ranges for key in keys]
    assert len(keys) == len(set(keys)) == 15
    assert all(type(key) is int for key in keys)
