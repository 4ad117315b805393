"""Third wave (c): a long list asked chunk by chunk while the rest is decided.

Attacked (commit 75aeabd): with an event loop, a list's per-object type rules
(`{scope: value}` of a `BatchScope`) send each full chunk to `load_fn` at
once and decide the rest of the list after yielding, in a task
(`_object_pass._AsyncPass`). What was tried: the viewer changing and
`clear_cache` while the rest is decided; the request cancelled (time-out)
mid-pass, then another request on the same schema; a chunk that fails,
times out, answers the wrong length or reorders its values in the middle
of the list; async rules mixed with batch values; two scopes alternating;
nested lists, unions and `drop_denied=True`; the audit log of every
denial; `execute_sync` (rounds, no task) even inside a running loop.
"""

import asyncio
import gc
import logging
import time
import warnings
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from authzkit import docs_schema, dump

from strawberry_authz import AuthExtension, BatchScope
from strawberry_authz.audit import AuditLog

ITEMS = 31  # ten full chunks of 3, and a last one of 1
CHUNK = 3
MODES = pytest.mark.parametrize(
    "on_object", [False, True], ids=["type_rule", "on_object"]
)


def doc_type(authz: AuthExtension, rule: Any, **options: Any) -> Any:
    @authz.type_rule(rule, **options)
    @strawberry.type
    class Doc:
        id: int
        text: str

    return Doc


def secret_docs(doc: Any, count: int = ITEMS) -> list[Any]:
    return [doc(id=i, text=f"SECRET{i}") for i in range(count)]


def by_id(value: Any) -> bool:
    return value % 3 != 0


def chunked_authz(asked: list[list[Any]] | None = None, wait: float = 0) -> Any:
    """An extension whose `can` scope answers `by_id` in chunks of `CHUNK`,
    each call waiting `wait` seconds and recording its values in `asked`."""

    async def load(values: list[Any]) -> list[bool]:
        if asked is not None:
            asked.append(list(values))
        await asyncio.sleep(wait)
        return [by_id(value) for value in values]

    return AuthExtension(lambda _: {"can": BatchScope(load, max_batch_size=CHUNK)})


def values_of(chunks: list[list[Any]]) -> list[Any]:
    """Every value asked, in order, from the chunks `load_fn` received."""
    return sorted(value for chunk in chunks for value in chunk)


def served(items: list[Any]) -> list[int | None]:
    """The id of each item the client can read, None where denied."""
    return [
        item["id"] if item is not None and item.get("text") is not None else None
        for item in items
    ]


async def run(schema: strawberry.Schema, query: str, **kwargs: Any) -> Any:
    # A value left unasked would hang here: fail, not wait.
    return await asyncio.wait_for(schema.execute(query, **kwargs), timeout=10)


# -- the viewer changes while the rest of the list is decided ----------------


@pytest.mark.parametrize("names", [["can"], ["can", "also"]], ids=["one", "two"])
@MODES
async def test_a_cache_cleared_while_a_list_is_decided_asks_the_rest_afresh(
    on_object, names
):
    """A resolver logs the viewer out and clears the cache while a long list
    is still being decided: the rest of that list must not be asked with the
    loader of the viewer before the clear and cached as fresh, or a field
    resolved afterwards serves the old viewer's objects."""
    asked: list[tuple[str, list[Any]]] = []

    def scopes(context: Any) -> dict[str, Any]:
        user = context["user"]

        async def load(values: list[Any]) -> list[bool]:
            asked.append((user, list(values)))
            await asyncio.sleep(0)
            return [user == "admin" for _ in values]

        return {name: BatchScope(load, max_batch_size=CHUNK) for name in names}

    def rule(params: Any) -> Any:  # two scopes: alternately
        return {names[params.root.id % len(names)]: params.root.id}

    authz = AuthExtension(scopes)
    Doc = doc_type(authz, rule, on_object=on_object)
    docs = secret_docs(Doc)

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:  # type: ignore[valid-type]
            return docs

        @strawberry.field
        async def logout(self, info: strawberry.Info) -> bool:
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            info.context["user"] = "guest"
            authz.clear_cache(info)
            return True

        @strawberry.field
        async def later(self) -> list[Doc | None]:  # type: ignore[valid-type]
            await asyncio.sleep(0.05)
            return docs

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await run(
        schema,
        "{ docs { id } logout later { id text } }",
        context_value={"user": "admin"},
    )
    assert result.data["logout"] is True
    # The clear did land while `docs` was being decided.
    assert asked[0][0] == "admin"
    assert served(result.data["later"]) == [None] * ITEMS
    assert "SECRET" not in dump(result)
    # Every value the guest needed was asked with the guest's loader.
    assert sorted(v for user, chunk in asked if user == "guest" for v in chunk) == (
        list(range(ITEMS))
    )


# -- the request cancelled mid-pass; the next request on the same schema -----


def slow_rule(params: Any) -> Any:
    """A rule that takes its time: the request ends while the list is
    still being decided, not only while its chunks are in flight."""
    time.sleep(0.0005)
    return {"can": params.root.id}


def slow_schema(asked: list[list[Any]], *, on_object: bool) -> strawberry.Schema:
    authz = chunked_authz(asked, wait=0.01)
    Doc = doc_type(authz, slow_rule, on_object=on_object)
    docs = secret_docs(Doc)

    return docs_schema(authz, Doc, lambda: docs)


async def settled() -> None:
    """Wait for what a request left running, collecting garbage meanwhile
    (a task only the request held is then destroyed if still pending)."""
    for _ in range(100):
        gc.collect()
        await asyncio.sleep(0.005)
        if len(asyncio.all_tasks()) == 1:
            break
    assert asyncio.all_tasks() == {asyncio.current_task()}


def no_task_leaks(caplog: pytest.LogCaptureFixture) -> None:
    gc.collect()
    leaks = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert leaks == []


@MODES
async def test_a_request_cancelled_mid_list_leaves_nothing_behind(on_object, caplog):
    """The client goes away while chunks are in flight and the rest of the
    list is still being decided: no task or coroutine is left pending or
    unawaited, and the next request on the schema gets its own answers."""
    asked: list[list[Any]] = []
    schema = slow_schema(asked, on_object=on_object)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(schema.execute("{ docs { id text } }"), 0.005)
        # What the cancelled request started settles by itself.
        await settled()
        asked.clear()
        result = await run(schema, "{ docs { id text } }")
        gc.collect()
    assert served(result.data["docs"]) == [
        i if by_id(i) else None for i in range(ITEMS)
    ]
    assert "SECRET0" not in dump(result)
    assert values_of(asked) == list(range(ITEMS))
    assert [len(chunk) for chunk in asked] == [CHUNK] * 10 + [1]
    no_task_leaks(caplog)


@MODES
async def test_a_sibling_failing_mid_list_leaves_nothing_behind(on_object, caplog):
    """A sibling field fails while the list is decided (graphql-core cancels
    what it no longer needs): nothing is left pending or leaked."""
    asked: list[list[Any]] = []

    authz = chunked_authz(asked, wait=0.005)
    Doc = doc_type(authz, slow_rule, on_object=on_object)
    docs = secret_docs(Doc)

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:  # type: ignore[valid-type]
            return docs

        @strawberry.field
        async def boom(self) -> int:
            await asyncio.sleep(0.002)
            raise RuntimeError("sibling failed")

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = await run(schema, "{ boom docs { id text } }")
        await settled()
        gc.collect()
    assert result.data is None
    assert "SECRET0" not in dump(result)
    assert values_of(asked) == list(range(ITEMS))
    no_task_leaks(caplog)


# -- a chunk in the middle of the list goes wrong -----------------------------


def failing_schema(load: Any, **options: Any) -> strawberry.Schema:
    authz = AuthExtension(
        lambda _: {"can": BatchScope(load, max_batch_size=CHUNK)}, **options
    )
    Doc = doc_type(authz, lambda p: {"can": p.root.id}, on_object=True)
    docs = secret_docs(Doc)

    return docs_schema(authz, Doc, lambda: docs)


async def slow_middle(values: list[Any]) -> list[bool]:
    if 13 in values:
        await asyncio.sleep(5)
    return [True for _ in values]


async def short_middle(values: list[Any]) -> list[bool]:
    return [True for _ in values][: 2 if 13 in values else None]


async def reordered_middle(values: list[Any]) -> list[bool]:
    if 13 in values:
        values.reverse()
    return [True for _ in values]


async def raising_middle(values: list[Any]) -> list[bool]:
    if 13 in values:
        raise RuntimeError("engine password=hunter2")
    return [True for _ in values]


async def leaking_middle(values: list[Any]) -> list[Any]:
    return [
        RuntimeError("engine password=hunter2") if value == 13 else True
        for value in values
    ]


@pytest.mark.parametrize(
    ("load", "denied"),
    [
        (slow_middle, [12, 13, 14]),
        (short_middle, [12, 13, 14]),
        (reordered_middle, [12, 13, 14]),
        (raising_middle, [12, 13, 14]),
        (leaking_middle, [13]),
    ],
    ids=["times_out", "wrong_length", "reordered", "raises", "one_value_fails"],
)
async def test_a_chunk_going_wrong_mid_list_denies_only_its_objects(
    load, denied, caplog
):
    caplog.set_level(logging.ERROR, "strawberry_authz")
    schema = failing_schema(load, scope_timeout=0.1)
    result = await run(schema, "{ docs { id text } }")
    assert served(result.data["docs"]) == [
        None if i in denied else i for i in range(ITEMS)
    ]
    text = dump(result)
    assert "hunter2" not in text
    assert "SECRET13" not in text
    assert "RuntimeError" not in text


# -- every denial is recorded once ---------------------------------------------


@pytest.mark.parametrize(
    ("on_object", "drop"),
    [(False, False), (True, False), (True, True)],
    ids=["type_rule", "on_object", "drop_denied"],
)
async def test_every_denial_of_a_chunked_list_is_recorded_once(on_object, drop):
    records: list[dict[str, Any]] = []

    async def load(values: list[Any]) -> list[bool]:
        await asyncio.sleep(0)
        return [by_id(value) for value in values]

    authz = AuthExtension(
        lambda _: {"can": BatchScope(load, max_batch_size=CHUNK)},
        on_decision=AuditLog(records.append, only_denied=True),
    )
    options: dict[str, Any] = {"on_object": on_object}
    if drop:
        options["drop_denied"] = True
    Doc = doc_type(authz, lambda p: {"can": p.root.id}, **options)
    docs = secret_docs(Doc)

    schema = docs_schema(authz, Doc, lambda: docs)
    result = await run(schema, "{ docs { id text } }")
    assert "SECRET0" not in dump(result)
    denied = [i for i in range(ITEMS) if not by_id(i)]
    if drop:
        assert [item["id"] for item in result.data["docs"]] == [
            i for i in range(ITEMS) if by_id(i)
        ]
    else:
        assert served(result.data["docs"]) == [
            None if i in denied else i for i in range(ITEMS)
        ]
    assert all(record["effect"] == "deny" for record in records)
    at = sorted(record["path"][1] for record in records)
    assert at == denied  # once each, none for an allowed object


# -- async rules, two scopes, nested lists, unions ----------------------------


@MODES
async def test_async_rules_mixed_with_batch_values_each_get_their_own_answer(
    on_object,
):
    asked: list[list[Any]] = []

    authz = chunked_authz(asked)

    async def later(value: int) -> Any:
        await asyncio.sleep(0.001 * (value % 4))
        return {"can": value}

    def rule(params: Any) -> Any:
        value = params.root.id
        return later(value) if value % 5 == 0 else {"can": value}

    Doc = doc_type(authz, rule, on_object=on_object)
    docs = secret_docs(Doc)

    schema = docs_schema(authz, Doc, lambda: docs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = await run(schema, "{ docs { id text } }")
        gc.collect()
    assert served(result.data["docs"]) == [
        i if by_id(i) else None for i in range(ITEMS)
    ]
    assert values_of(asked) == list(range(ITEMS))


async def test_two_scopes_with_their_own_chunk_sizes_each_send_full_chunks():
    asked: dict[str, list[list[Any]]] = {"can": [], "also": []}

    def loader(name: str) -> Any:
        async def load(values: list[Any]) -> list[bool]:
            asked[name].append(list(values))
            await asyncio.sleep(0)
            return [by_id(value) for value in values]

        return load

    authz = AuthExtension(
        lambda _: {
            "can": BatchScope(loader("can"), max_batch_size=3),
            "also": BatchScope(loader("also"), max_batch_size=4),
        }
    )
    Doc = doc_type(authz, lambda p: {"can" if p.root.id % 2 else "also": p.root.id})
    docs = secret_docs(Doc, 40)

    schema = docs_schema(authz, Doc, lambda: docs)
    result = await run(schema, "{ docs { id text } }")
    assert served(result.data["docs"]) == [i if by_id(i) else None for i in range(40)]
    assert [len(chunk) for chunk in asked["can"]] == [3] * 6 + [2]
    assert [len(chunk) for chunk in asked["also"]] == [4] * 5
    assert values_of(asked["can"]) == list(range(1, 40, 2))
    assert values_of(asked["also"]) == list(range(0, 40, 2))


async def test_nested_lists_and_unions_get_each_object_its_own_answer():
    asked: list[list[Any]] = []

    async def load(values: list[Any]) -> list[bool]:
        asked.append(list(values))
        await asyncio.sleep(0)
        return [by_id(value[1]) for value in values]

    authz = AuthExtension(lambda _: {"can": BatchScope(load, max_batch_size=CHUNK)})

    @authz.type_rule(lambda p: {"can": ("doc", p.root.id)}, on_object=True)
    @strawberry.type
    class Doc:
        id: int
        text: str

    @authz.type_rule(lambda p: {"can": ("note", p.root.id)}, on_object=True)
    @strawberry.type
    class Note:
        id: int
        body: str

    grid = [
        [Doc(id=r * 6 + c, text=f"SECRET{r * 6 + c}") for c in range(6)]
        for r in range(5)
    ]
    mixed = [
        Doc(id=i, text=f"SECRET{i}") if i % 2 else Note(id=i, body=f"SECRET{i}")
        for i in range(ITEMS)
    ]

    @strawberry.type
    class Query:
        @strawberry.field
        def grid(self) -> list[list[Doc | None]]:  # type: ignore[valid-type]
            return grid

        @strawberry.field
        def mixed(self) -> list[Doc | Note | None]:  # type: ignore[valid-type]
            return mixed

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await run(
        schema,
        "{ grid { id text } mixed { ... on Doc { id text } ... on Note { id body } } }",
    )
    rows = result.data["grid"]
    assert [served(row) for row in rows] == [
        [r * 6 + c if by_id(r * 6 + c) else None for c in range(6)] for r in range(5)
    ]
    mixed_served = [
        item["id"]
        if item is not None and (item.get("text") or item.get("body"))
        else None
        for item in result.data["mixed"]
    ]
    assert mixed_served == [i if by_id(i) else None for i in range(ITEMS)]
    for i in range(ITEMS):
        if not by_id(i):
            assert f"SECRET{i}'" not in dump(result)
    values = [v for chunk in asked for v in chunk]
    assert len(values) == len(set(values))


# -- execute_sync: rounds, no task ---------------------------------------------


@MODES
async def test_execute_sync_inside_a_running_loop_still_decides_in_rounds(on_object):
    """`execute_sync` called where an event loop runs (a sync view under an
    async server): every rule runs before the first batch, chunks are asked
    in rounds, no task is started, and each object gets its own answer."""
    events: list[str] = []

    def load(values: list[Any]) -> list[bool]:
        events.append(f"load {values}")
        return [by_id(value) for value in values]

    def rule(params: Any) -> Any:
        events.append(f"rule {params.root.id}")
        return {"can": params.root.id}

    authz = AuthExtension(lambda _: {"can": BatchScope(load, max_batch_size=CHUNK)})
    Doc = doc_type(authz, rule, on_object=on_object)
    docs = secret_docs(Doc)

    schema = docs_schema(authz, Doc, lambda: docs)
    before = asyncio.all_tasks()
    result = schema.execute_sync("{ docs { id text } }")
    assert asyncio.all_tasks() == before
    assert served(result.data["docs"]) == [
        i if by_id(i) else None for i in range(ITEMS)
    ]
    assert "SECRET0" not in dump(result)
    loads = [i for i, event in enumerate(events) if event.startswith("load")]
    rules = [i for i, event in enumerate(events) if event.startswith("rule")]
    assert len(rules) == ITEMS
    assert max(rules) < min(loads)
    assert len(loads) == 11


# -- subscriptions yielding lists ----------------------------------------------


@MODES
async def test_each_event_of_a_subscription_list_gets_its_own_answers(on_object):
    """Events yield long lists at the same path, one after another: an
    event's objects never take the answers of the event before."""
    asked: list[list[Any]] = []

    async def load(values: list[Any]) -> list[bool]:
        asked.append(list(values))
        await asyncio.sleep(0)
        return [owner == "me" and by_id(i) for owner, i in values]

    authz = AuthExtension(lambda _: {"can": BatchScope(load, max_batch_size=CHUNK)})

    @authz.type_rule(lambda p: {"can": (p.root.owner, p.root.id)}, on_object=on_object)
    @strawberry.type
    class Doc:
        owner: strawberry.Private[str]
        id: int
        text: str

    @strawberry.type
    class Query:
        x: int = 1

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def docs(self) -> AsyncGenerator[list[Doc | None], None]:  # type: ignore[valid-type]
            for owner in ("me", "other", "me"):
                yield [
                    Doc(owner=owner, id=i, text=f"{owner.upper()}{i}")
                    for i in range(ITEMS)
                ]

    schema = strawberry.Schema(
        query=Query, subscription=Subscription, extensions=[authz]
    )
    stream = await schema.subscribe("subscription { docs { id text } }")
    events = [event async for event in stream]
    assert len(events) == 3
    mine = [i if by_id(i) else None for i in range(ITEMS)]
    assert [served(event.data["docs"]) for event in events] == [
        mine,
        [None] * ITEMS,
        mine,
    ]
    assert "OTHER" not in dump(events)
    assert sorted(len(chunk) for chunk in asked) == [1, 1] + [CHUNK] * 20


# -- the resolver's list changes while the rest is decided ----------------------


@MODES
async def test_a_list_changed_while_it_is_decided_serves_what_was_decided(on_object):
    """Another resolver reverses the list and appends to it while the pass
    yields between chunks: what is served is the list as it was returned,
    each object with its own answer, never the answer of the object that
    was at its place."""

    authz = chunked_authz()
    Doc = doc_type(authz, lambda p: {"can": p.root.id}, on_object=on_object)
    docs = secret_docs(Doc)

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:  # type: ignore[valid-type]
            return docs

        @strawberry.field
        async def meddle(self) -> bool:
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            docs.reverse()
            docs.append(Doc(id=ITEMS * 3, text="APPENDED"))
            return True

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await run(schema, "{ docs { id text } meddle }")
    assert docs[-1].text == "APPENDED"  # it meddled meanwhile
    items = result.data["docs"]
    assert served(items) == [i if by_id(i) else None for i in range(ITEMS)]
    for item in items:
        if item is not None and item.get("text") is not None:
            assert item["text"] == f"SECRET{item['id']}"
            assert by_id(item["id"])
    assert "APPENDED" not in dump(result)
