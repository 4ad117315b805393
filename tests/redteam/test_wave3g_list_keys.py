"""Red team, wave 3g: a flat list keys its objects' answers by ints.

A field returning a flat list of one object type with an object rule keys
each item's answer by an int of a range no other list of the operation
shares (not even after a clear or a subscription's next event). Two lists
of one operation (siblings, aliases of one field, a list per parent) must
each be decided item by item, by their own objects; an answer must never
reach another list's item, whatever the rule returns.
"""

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from authzkit import dump, ruled_type

from strawberry_authz import AuthExtension, AuthParams, BatchScope
from strawberry_authz.audit import AuditLog

MODES = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
DROPS = pytest.mark.parametrize("drop", [False, True], ids=["errors", "dropped"])


def run(
    schema: strawberry.Schema, is_async: bool, query: str, user: str = "alice"
) -> Any:
    context = {"user": user}
    if is_async:
        return asyncio.run(
            asyncio.wait_for(schema.execute(query, context_value=context), 10)
        )
    return schema.execute_sync(query, context_value=context)


def allowed_for(user: str, doc_id: int) -> bool:
    """alice may see the even ids below 100; nobody else anything."""
    return user == "alice" and doc_id % 2 == 0 and doc_id < 100


def build(
    is_async: bool,
    *,
    rule: Any = None,
    drop: bool = False,
    batch: bool = True,
    on_decision: Any = None,
    size: int = 4,
    fallback: Any = None,
    **options: Any,
) -> tuple[strawberry.Schema, Any, list[int]]:
    """`docs(ids)` and `teams { docs }` of `Doc(id, text)` under an object
    rule (`{"can": ["doc", id]}` by default), "can" a `BatchScope` (or a
    plain scope) answering `allowed_for`; every id asked is listed."""
    asked: list[int] = []

    def load(context: Any) -> dict[str, Any]:
        user = context["user"]

        def check(values: list[Any]) -> list[bool]:
            asked.extend(value[1] for value in values)
            return [allowed_for(user, value[1]) for value in values]

        async def check_async(values: list[Any]) -> list[bool]:
            await asyncio.sleep(0)
            return check(values)

        def deny_all(values: list[Any]) -> list[bool]:
            asked.extend(-1 for _ in values)
            return [False for _ in values]

        extra = {
            "edit": BatchScope(deny_all, max_batch_size=size),
            "plain": lambda value: value % 4 == 0,
        }
        if not batch:
            return {"can": lambda value: check([value])[0], **extra}
        return {
            "can": BatchScope(check_async if is_async else check, max_batch_size=size),
            **extra,
        }

    authz = AuthExtension(load, on_decision=on_decision, fallback_rule=fallback)
    if rule is not None and getattr(rule, "wants_authz", False):
        rule = rule(authz)
    doc = ruled_type(
        authz,
        "Doc",
        {"id": int, "text": str},
        rule or (lambda p: {"can": ["doc", p.root.id]}),
        on_object=True,
        drop_denied=drop,
        **options,
    )

    def make(ids: list[int]) -> list[Any]:
        return [None if i is None else doc(id=i, text=f"SECRET<{i}>") for i in ids]

    @strawberry.type
    class Team:
        ids: strawberry.Private[list[int]]

        @strawberry.field
        def docs(self) -> list[doc | None]:  # type: ignore[valid-type]
            return make(self.ids)

    @strawberry.type
    class Query:
        @authz.rule(True)
        @strawberry.field
        def docs(self, ids: list[int]) -> list[doc | None]:  # type: ignore[valid-type]
            return make(ids)

        @strawberry.field
        async def later_docs(self, ids: list[int]) -> list[doc | None]:  # type: ignore[valid-type]
            await asyncio.sleep(0)
            return make(ids)

        @authz.rule(True, grants=["read"])
        @strawberry.field
        def granted_docs(self, ids: list[int]) -> list[doc | None]:  # type: ignore[valid-type]
            return make(ids)

        @strawberry.field
        def teams(self, of: list[list[int]]) -> list[Team]:
            return [Team(ids=ids) for ids in of]

    return strawberry.Schema(query=Query, extensions=[authz]), authz, asked


def ids_of(listed: list[Any] | None) -> list[int | None]:
    assert listed is not None
    return [None if item is None else item["id"] for item in listed]


ALLOWED = [0, 2, 4, 6, 8, 10]
DENIED = [1, 3, 5, 7, 9, 11]


def expected(ids: list[int], drop: bool) -> list[int | None]:
    kept = [i if allowed_for("alice", i) else None for i in ids]
    return [i for i in kept if i is not None] if drop else kept


# Two flat lists in one operation ------------------------------------------------


@MODES
@DROPS
@pytest.mark.parametrize("batch", [True, False], ids=["batch", "plain"])
@pytest.mark.parametrize("first", ["allowed", "denied"])
def test_two_aliases_of_one_list_field_are_each_decided_by_their_own_items(
    is_async: bool, drop: bool, batch: bool, first: str
) -> None:
    schema, _, _ = build(is_async, drop=drop, batch=batch)
    one, two = (ALLOWED, DENIED) if first == "allowed" else (DENIED, ALLOWED)
    query = f"{{ a: docs(ids: {one}) {{ id text }} b: docs(ids: {two}) {{ id text }} }}"
    result = run(schema, is_async, query)
    assert result.data is not None, result.errors
    assert ids_of(result.data["a"]) == expected(one, drop)
    assert ids_of(result.data["b"]) == expected(two, drop)
    for i in DENIED:
        assert f"SECRET<{i}>" not in dump(result)


@DROPS
@pytest.mark.parametrize("first", ["allowed", "denied"])
def test_sibling_lists_one_resolved_later_are_each_decided_by_their_own_items(
    drop: bool, first: str
) -> None:
    # Two passes of one operation run interleaved: their answers, written
    # once each batch answered, must land under keys of their own.
    schema, _, _ = build(True, drop=drop, size=2)
    one, two = (ALLOWED, DENIED) if first == "allowed" else (DENIED, ALLOWED)
    query = (
        f"{{ a: laterDocs(ids: {one}) {{ id text }} "
        f"b: docs(ids: {two}) {{ id text }} "
        f"c: laterDocs(ids: {two}) {{ id text }} }}"
    )
    result = run(schema, True, query)
    assert result.data is not None, result.errors
    assert ids_of(result.data["a"]) == expected(one, drop)
    assert ids_of(result.data["b"]) == expected(two, drop)
    assert ids_of(result.data["c"]) == expected(two, drop)
    for i in DENIED:
        assert f"SECRET<{i}>" not in dump(result)


@MODES
@DROPS
def test_each_parents_flat_list_is_decided_by_its_own_items(
    is_async: bool, drop: bool
) -> None:
    schema, _, _ = build(is_async, drop=drop)
    teams = [ALLOWED, DENIED, [1, 2, 3], ALLOWED[::-1]]
    query = f"{{ teams(of: {teams}) {{ docs {{ id text }} }} }}"
    result = run(schema, is_async, query)
    assert result.data is not None, result.errors
    served = [ids_of(team["docs"]) for team in result.data["teams"]]
    assert served == [expected(ids, drop) for ids in teams]
    for i in DENIED:
        assert f"SECRET<{i}>" not in dump(result)


def with_authz(make: Any) -> Any:
    """A rule made once the extension exists: `make(authz)`."""
    make.wants_authz = True
    return make


# A clear mid-list, then another list ---------------------------------------------


@MODES
@DROPS
def test_a_list_after_a_clear_made_mid_list_never_gets_that_lists_answers(
    is_async: bool, drop: bool
) -> None:
    # The rule clears the cache while deciding the first list's third item;
    # the first list goes on deciding (and writing answers) after the clear.
    # The second list must not share the keys its answers are written under.
    @with_authz
    def rule(authz: Any) -> Any:
        cleared: list[bool] = []

        def decide(params: AuthParams) -> Any:
            if params.root.id == ALLOWED[2] and not cleared:
                cleared.append(True)
                authz.clear_cache(params.info)
            return {"can": ["doc", params.root.id]}

        return decide

    schema, _, _ = build(is_async, rule=rule, drop=drop, size=2)
    query = (
        f"{{ a: docs(ids: {ALLOWED}) {{ id text }} "
        f"b: docs(ids: {DENIED}) {{ id text }} }}"
    )
    result = run(schema, is_async, query)
    assert result.data is not None, result.errors
    assert ids_of(result.data["b"]) == expected(DENIED, drop)
    for i in DENIED:
        assert f"SECRET<{i}>" not in dump(result)
    # The first list: each item as decided, or denied (fail closed), never
    # another's.
    assert set(ids_of(result.data["a"])) <= {*ALLOWED, None}


# `$granted`: the grant of one list field reaches its own items only --------------


@MODES
@DROPS
def test_a_list_fields_grant_never_answers_another_lists_items(
    is_async: bool, drop: bool
) -> None:
    schema, _, _ = build(
        is_async,
        rule={"$or": [{"$granted": "read"}, {"can": ["doc", 1000]}]},
        drop=drop,
    )
    query = (
        f"{{ a: grantedDocs(ids: {DENIED}) {{ id text }} "
        f"b: docs(ids: {DENIED}) {{ id text }} }}"
    )
    result = run(schema, is_async, query)
    assert result.data is not None, result.errors
    assert ids_of(result.data["a"]) == DENIED
    assert ids_of(result.data["b"]) == ([] if drop else [None] * len(DENIED))
    assert "SECRET" not in repr(result.data["b"])


# The slow path inside a flat list ----------------------------------------------


class Refused(Exception):
    pass


def shaped(i: int) -> Any:
    """A different shape of answer per object (by `i % 9`)."""
    kind = i % 9
    if kind in (0, 1):  # the common value, twice: the second is keyed inline
        return {"can": ["doc", i]}
    if kind == 2:
        return {"$or": [{"can": ["doc", i]}, {"can": ["doc", i + 1]}]}
    if kind == 3:
        raise Refused(i)
    if kind == 4:  # a plain (not batch) scope
        return {"plain": i}
    if kind == 5:
        return {"$and": [{"can": ["doc", i - 1]}, {"plain": 0}]}
    if kind == 6:  # another batch scope, a value "can" would allow
        return {"edit": ["doc", i - 2]}
    if kind == 7:  # two keys: both must allow
        return {"can": ["doc", i - 1], "plain": i + 1}
    return True


def shaped_allowed(i: int) -> bool:
    kind = i % 9
    if kind in (0, 1):
        return allowed_for("alice", i)
    if kind == 2:
        return allowed_for("alice", i) or allowed_for("alice", i + 1)
    if kind == 5:
        return allowed_for("alice", i - 1)
    if kind == 7:
        return allowed_for("alice", i - 1) and (i + 1) % 4 == 0
    if kind == 4:
        return i % 4 == 0
    return kind == 8


SHAPED = list(range(1, 37))


@MODES
@DROPS
@pytest.mark.parametrize("size", [1, 4, 100])
def test_a_flat_list_whose_rule_answers_in_every_shape_decides_each_object_alone(
    is_async: bool, drop: bool, size: int
) -> None:
    schema, _, _ = build(
        is_async, rule=lambda p: shaped(p.root.id), drop=drop, size=size
    )
    shifted = [i + 1 for i in SHAPED]  # the same shapes, other objects
    query = (
        f"{{ a: docs(ids: {SHAPED}) {{ id text }} "
        f"b: docs(ids: {shifted}) {{ id text }} }}"
    )
    result = run(schema, is_async, query)
    assert result.data is not None, result.errors
    for alias, ids in (("a", SHAPED), ("b", shifted)):
        kept = [i if shaped_allowed(i) else None for i in ids]
        want = [i for i in kept if i is not None] if drop else kept
        assert ids_of(result.data[alias]) == want, alias
    for i in {*SHAPED, *shifted}:
        if not shaped_allowed(i):
            assert f"SECRET<{i}>" not in dump(result)


class SaysItIsCan(str):
    """A str subclass naming another scope ("edit", which it hashes as) that
    claims to equal "can": a scope table finds "edit" by it."""

    def __eq__(self, other: object) -> bool:
        return other == "can" or str.__eq__(self, other)

    __hash__ = str.__hash__


@MODES
@pytest.mark.parametrize("first", ["common", "same"])
def test_a_str_subclass_rule_key_after_the_common_value_is_not_read_as_it(
    is_async: bool, first: str
) -> None:
    # With `first="common"` the first object's rule keys the common value
    # `{"can": [...]}` inline; the others answer with a key that only claims
    # to equal "can". Looked up, it is "edit" (allowing nothing), read as
    # "can" it would allow their value (an even id). The same either way.
    def rule(params: AuthParams) -> Any:
        i = params.root.id
        if i == 0 and first == "common":
            return {"can": ["doc", 0]}
        return {SaysItIsCan("edit"): ["doc", 2 * i]}

    schema, _, asked = build(is_async, rule=rule)
    ids = list(range(8))
    result = run(schema, is_async, f"{{ docs(ids: {ids}) {{ id text }} }}")
    assert result.data is not None, result.errors
    served = ids_of(result.data["docs"])
    assert served == [0 if first == "common" else None] + [None] * 7
    assert "SECRET<2>" not in dump(result)
    assert [i for i in asked if i > 0] == []


# Type grants: each object's own -------------------------------------------------


@MODES
@DROPS
def test_type_grants_are_computed_for_each_object_of_a_flat_list(
    is_async: bool, drop: bool
) -> None:
    made: list[int] = []

    def grants(params: AuthParams) -> list[str]:
        made.append(params.root.id)
        return ["read"] if allowed_for("alice", params.root.id) else []

    schema, _, _ = build(is_async, rule={"$granted": "read"}, drop=drop, grants=grants)
    ids = [0, 1, 2, 3, 4, 5]
    query = (
        f"{{ a: docs(ids: {ids}) {{ id text }} b: docs(ids: {ids[::-1]}) {{ id }} }}"
    )
    result = run(schema, is_async, query)
    assert result.data is not None, result.errors
    assert ids_of(result.data["a"]) == expected(ids, drop)
    assert ids_of(result.data["b"]) == expected(ids[::-1], drop)
    for i in DENIED:
        assert f"SECRET<{i}>" not in dump(result)
    assert sorted(made) == sorted(ids * 2)  # once per object


# The audit log: one record per denied object, at its place --------------------


@MODES
@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "no-fallback"])
def test_the_audit_log_records_each_denied_object_of_each_list_at_its_path(
    is_async: bool, fallback: bool
) -> None:
    records: list[dict[str, Any]] = []
    schema, _, _ = build(
        is_async,
        drop=True,
        on_decision=AuditLog(records.append, only_denied=True),
        fallback=None if fallback else False,
    )
    one, two = [0, 1, 2, 3], [5, 6, 7]
    query = f"{{ a: docs(ids: {one}) {{ id }} b: docs(ids: {two}) {{ id }} }}"
    result = run(schema, is_async, query)
    assert result.data == {"a": [{"id": 0}, {"id": 2}], "b": [{"id": 6}]}
    assert sorted(tuple(r["path"]) for r in records) == [
        ("a", 1),
        ("a", 3),
        ("b", 0),
        ("b", 2),
    ]
    assert {r["effect"] for r in records} == {"deny"}


# A type with an object rule and a per-object field rule -------------------------


@MODES
@pytest.mark.parametrize("field_rule", ["same", "other"])
def test_a_type_whose_fields_are_checked_per_object_too_gets_each_objects_answers(
    is_async: bool, field_rule: str
) -> None:
    # The object rule decides the list's items (int keys); the type's other
    # rule is checked by each field of each object (tuple keys), warmed by
    # the list. Neither list's answers reach the other's objects.
    calls: list[int] = []

    def can(params: AuthParams) -> Any:
        calls.append(params.root.id)
        return {"can": ["doc", params.root.id]}

    def plain(params: AuthParams) -> Any:
        return {"plain": params.root.id}

    per_field = can if field_rule == "same" else plain
    schema, authz, _ = build(is_async, rule=can)
    doc = schema.schema_converter.type_map["Doc"].definition.origin
    authz.type_rule(per_field)(doc)
    schema = strawberry.Schema(query=schema.query, extensions=[authz])
    one, two = list(range(12)), list(range(12))[::-1]
    query = f"{{ a: docs(ids: {one}) {{ id text }} b: docs(ids: {two}) {{ id text }} }}"
    result = run(schema, is_async, query)
    assert result.data is not None, result.errors

    def shown(i: int) -> bool:
        return allowed_for("alice", i) and (field_rule == "same" or i % 4 == 0)

    for alias, ids in (("a", one), ("b", two)):
        assert ids_of(result.data[alias]) == [i if shown(i) else None for i in ids]
    for i in range(12):
        if not shown(i):
            assert f"SECRET<{i}>" not in dump(result)


@MODES
@pytest.mark.parametrize(
    "drop",
    [False, True],
    ids=["errors", "dropped"],
)
def test_a_per_object_field_rule_never_sees_a_denied_items_error_as_its_object(
    is_async: bool, drop: bool
) -> None:
    # A denied item of the list is served as its error: the warm-up of the
    # type's other (per-field) rule must not decide that error as an object.
    seen: list[Any] = []

    def per_field(params: AuthParams) -> Any:
        seen.append(params.root)
        return {"plain": params.root.id}

    schema, authz, _ = build(is_async, drop=drop)
    doc = schema.schema_converter.type_map["Doc"].definition.origin
    authz.type_rule(per_field)(doc)
    schema = strawberry.Schema(query=schema.query, extensions=[authz])
    ids = list(range(8))
    result = run(schema, is_async, f"{{ docs(ids: {ids}) {{ id text }} }}")
    assert result.data is not None, result.errors
    shown = [i if i % 4 == 0 else None for i in ids]
    assert ids_of(result.data["docs"]) == ([0, None, 4, None] if drop else shown)
    assert [type(root).__name__ for root in seen if not isinstance(root, doc)] == []


# Subscriptions: each event's lists -----------------------------------------------


@strawberry.type
class Ok:
    ok: bool = True


def streamed(authz: AuthExtension, events: list[Any], query: str) -> list[Any]:
    """Every result of `query` on a subscription `feed` yielding `events`."""
    event_type = type(events[0])

    @strawberry.type
    class Subscription:
        @authz.rule(True)
        @strawberry.subscription
        async def feed(self) -> AsyncGenerator[event_type | None, None]:  # type: ignore[valid-type]
            for event in events:
                yield event

    schema = strawberry.Schema(query=Ok, subscription=Subscription, extensions=[authz])

    async def read() -> list[Any]:
        stream = await schema.subscribe(query, context_value={"user": "alice"})
        return [result async for result in stream]  # type: ignore[union-attr]

    return asyncio.run(asyncio.wait_for(read(), 10))


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "plain"])
@DROPS
def test_each_events_lists_are_decided_by_their_own_items(
    batch: bool, drop: bool
) -> None:
    events = [(ALLOWED, DENIED), (DENIED, ALLOWED), (ALLOWED, ALLOWED[::-1])]
    schema, authz, _ = build(True, batch=batch, drop=drop, size=2)
    doc = schema.schema_converter.type_map["Doc"].definition.origin

    @strawberry.type
    class Event:
        one: strawberry.Private[list[int]]
        two: strawberry.Private[list[int]]

        @strawberry.field
        def a(self) -> list[doc | None]:  # type: ignore[valid-type]
            return [doc(id=i, text=f"SECRET<{i}>") for i in self.one]

        @strawberry.field
        async def b(self) -> list[doc | None]:  # type: ignore[valid-type]
            await asyncio.sleep(0)
            return [doc(id=i, text=f"SECRET<{i}>") for i in self.two]

    results = streamed(
        authz,
        [Event(one=one, two=two) for one, two in events],
        "subscription { feed { a { id text } b { id text } } }",
    )
    assert len(results) == len(events)
    for result, (one, two) in zip(results, events, strict=True):
        assert result.data is not None, result.errors
        assert ids_of(result.data["feed"]["a"]) == expected(one, drop)
        assert ids_of(result.data["feed"]["b"]) == expected(two, drop)
    for i in DENIED:
        assert f"SECRET<{i}>" not in dump(results)


@DROPS
def test_an_event_that_abandons_its_list_leaves_nothing_for_the_next_events_list(
    drop: bool,
) -> None:
    # The first event's list is long (decided in chunks, in a task) and is
    # abandoned: a non-null sibling fails, so the event is served without
    # it while its pass goes on. The next events' lists are their own.
    many = list(range(0, 40, 2))  # all allowed
    events = [(many, True), (DENIED, False), (ALLOWED + DENIED, False)]
    schema, authz, _ = build(True, drop=drop, size=2)
    doc = schema.schema_converter.type_map["Doc"].definition.origin

    @strawberry.type
    class Event:
        ids: strawberry.Private[list[int]]
        fails: strawberry.Private[bool]

        @strawberry.field
        def docs(self) -> list[doc | None]:  # type: ignore[valid-type]
            return [doc(id=i, text=f"SECRET<{i}>") for i in self.ids]

        @strawberry.field
        def next_ones(self) -> list[doc | None]:  # type: ignore[valid-type]
            return [doc(id=i + 1, text=f"SECRET<{i + 1}>") for i in self.ids]

        @strawberry.field
        async def boom(self) -> str:
            if self.fails:
                raise ValueError("boom")
            await asyncio.sleep(0)
            return "fine"

    results = streamed(
        authz,
        [Event(ids=ids, fails=fails) for ids, fails in events],
        "subscription { feed { boom docs { id text } nextOnes { id text } } }",
    )
    assert results[0].data == {"feed": None}
    for result, (ids, _) in zip(results[1:], events[1:], strict=True):
        assert result.data is not None, result.errors
        assert ids_of(result.data["feed"]["docs"]) == expected(ids, drop)
        next_ones = [i + 1 for i in ids]
        assert ids_of(result.data["feed"]["nextOnes"]) == expected(next_ones, drop)
    for i in DENIED:
        assert f"SECRET<{i}>" not in dump(results)
