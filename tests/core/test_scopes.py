"""SPEC §3 — scopes: lazy per-request loading, loaders, caching, fail closed."""

import asyncio
import logging
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes
from graphql import GraphQLError

from strawberry_authz import AuthExtension, ForbiddenError, UnauthenticatedError

# -- helpers -------------------------------------------------------------------


def dump(result: Any) -> str:
    """Everything a client receives, as text (to look for leaks)."""
    return repr((result.data, [error.formatted for error in result.errors or []]))


class Counter:
    """`load_scopes` built from `{name: loader}`, counting its runs."""

    def __init__(self, scopes: dict[str, Any], *, is_async: bool = False) -> None:
        self.scopes = scopes
        self.loads = 0
        self.contexts: list[Any] = []
        self.is_async = is_async

    def __call__(self, context: Any) -> Any:
        self.loads += 1
        self.contexts.append(context)
        if self.is_async:
            return self._later()
        return dict(self.scopes)

    async def _later(self) -> dict[str, Any]:
        await asyncio.sleep(0)
        return dict(self.scopes)


def recording_loader(
    calls: list[Any], answer: Any = True, *, is_async: bool = False, delay: float = 0
):
    """A loader recording every value it is called with."""
    if is_async:

        async def async_loader(value: Any) -> Any:
            calls.append(value)
            await asyncio.sleep(delay)
            return answer(value) if callable(answer) else answer

        return async_loader

    def sync_loader(value: Any) -> Any:
        calls.append(value)
        return answer(value) if callable(answer) else answer

    return sync_loader


def one_field_schema(authz: AuthExtension, rules: Any) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @authz.rule(rules)
        @strawberry.field
        def value(self) -> str | None:
            return "the value"

    return strawberry.Schema(query=Query, extensions=[authz])


# -- load_scopes ---------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True])
async def test_load_scopes_runs_once_per_request_for_many_protected_fields(is_async):
    load = Counter({"a": True, "b": lambda v: True, "c": True}, is_async=is_async)
    authz = AuthExtension(load)

    @strawberry.type
    class Query:
        @authz.rule({"a": True})
        @strawberry.field
        def one(self) -> int:
            return 1

        @authz.rule({"b": "x"})
        @strawberry.field
        async def two(self) -> int:
            return 2

        @authz.rule(lambda params: {"c": True})
        @strawberry.field
        def three(self) -> int:
            return 3

    schema = strawberry.Schema(query=Query, extensions=[authz])
    first = await schema.execute("{ one two three x: three }")
    assert first.errors is None
    assert first.data == {"one": 1, "two": 2, "three": 3, "x": 3}
    assert load.loads == 1
    second = await schema.execute("{ one two }")
    assert second.errors is None
    assert load.loads == 2


def test_load_scopes_is_not_called_when_no_protected_field_is_queried():
    load = Counter({"a": True})
    authz = AuthExtension(load)

    @strawberry.type
    class Item:
        @authz.rule({"a": True})
        @strawberry.field
        def secret(self) -> str:
            return "s"

        public: str = "p"

    @strawberry.type
    class Query:
        @strawberry.field
        def open(self) -> str:
            return "open"

        @strawberry.field
        def items(self) -> list[Item]:
            return [Item(), Item()]

        @authz.rule({"a": True})
        @strawberry.field
        def guarded(self) -> str:
            return "g"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ open items { public } }")
    assert result.errors is None
    assert result.data == {"open": "open", "items": [{"public": "p"}] * 2}
    assert load.loads == 0

    result = schema.execute_sync("{ items { secret } }")
    assert result.errors is None
    assert load.loads == 1


def test_load_scopes_is_not_called_when_the_protected_field_needs_no_scope():
    load = Counter({"a": True})
    authz = AuthExtension(load)
    schema = one_field_schema(authz, lambda params: True)
    result = schema.execute_sync("{ value }")
    assert result.errors is None
    assert result.data == {"value": "the value"}
    assert load.loads == 0


def test_load_scopes_receives_the_request_context():
    load = Counter({"a": True})
    authz = AuthExtension(load)
    schema = one_field_schema(authz, {"a": True})
    context = {"user": "ann"}
    result = schema.execute_sync("{ value }", context_value=context)
    assert result.errors is None
    assert load.contexts == [context]
    assert load.contexts[0] is context


@pytest.mark.parametrize("is_async", [False, True])
async def test_load_scopes_raising_denies_every_field_without_leaking(is_async, caplog):
    loads = []

    def load(context):
        loads.append(1)
        if is_async:

            async def later():
                raise RuntimeError("db password is hunter2")

            return later()
        raise RuntimeError("db password is hunter2")

    authz = AuthExtension(load)

    @strawberry.type
    class Query:
        @authz.rule({"a": True})
        @strawberry.field
        def one(self) -> int | None:
            return 1

        @authz.rule({"b": True})
        @strawberry.field
        def two(self) -> int | None:
            return 2

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ one two again: one }")
    assert result.data == {"one": None, "two": None, "again": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"] * 3
    assert "hunter2" not in dump(result)
    assert loads == [1]


def test_load_scopes_returning_something_else_than_a_mapping_denies(caplog):
    authz = AuthExtension(lambda context: ["a"])
    schema = one_field_schema(authz, {"a": True})
    result = schema.execute_sync("{ value }")
    assert result.data == {"value": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]


# -- loaders -------------------------------------------------------------------


def test_bool_true_scope_passes():
    authz = AuthExtension(lambda context: {"is_public": True})
    result = one_field_schema(authz, {"is_public": True}).execute_sync("{ value }")
    assert result.errors is None
    assert result.data == {"value": "the value"}


def test_bool_false_scope_denies_with_forbidden():
    authz = AuthExtension(lambda context: {"is_public": False})
    result = one_field_schema(authz, {"is_public": True}).execute_sync("{ value }")
    assert result.data == {"value": None}
    assert codes(result) == ["FORBIDDEN"]
    assert isinstance(result.errors[0].original_error, ForbiddenError)


def test_bool_scope_only_accepts_true_in_a_rule():
    # Without a declaration the rule compiles; the scope still never passes
    # for anything but True.
    authz = AuthExtension(lambda context: {"is_public": True})

    @strawberry.type
    class Query:
        @authz.rule({"is_public": False})
        @strawberry.field
        def with_false(self) -> str | None:
            return "leak-false"

        @authz.rule({"is_public": 1})
        @strawberry.field
        def with_one(self) -> str | None:
            return "leak-one"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ withFalse withOne }")
    assert result.data == {"withFalse": None, "withOne": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR", "INTERNAL_SERVER_ERROR"]
    assert "leak" not in dump(result)


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    "value", ["admin", True, 3, None, {"org": 1, "role": "x"}, ["a", "b"]]
)
async def test_loader_is_called_with_the_value_written_in_the_rule(is_async, value):
    calls: list[Any] = []
    loader = recording_loader(calls, is_async=is_async)
    authz = AuthExtension(lambda context: {"scope": loader})
    result = await one_field_schema(authz, {"scope": value}).execute("{ value }")
    assert result.errors is None
    assert calls == [value]
    assert type(calls[0]) is type(value)


@pytest.mark.parametrize("is_async", [False, True])
async def test_loader_returning_true_passes_and_false_denies(is_async):
    calls: list[Any] = []
    loader = recording_loader(calls, lambda level: level == "user", is_async=is_async)
    authz = AuthExtension(lambda context: {"has_access": loader})

    @strawberry.type
    class Query:
        @authz.rule({"has_access": "user"})
        @strawberry.field
        def mine(self) -> str | None:
            return "mine"

        @authz.rule({"has_access": "admin"})
        @strawberry.field
        def admin(self) -> str | None:
            return "admin-only"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ mine admin }")
    assert result.data == {"mine": "mine", "admin": None}
    assert codes(result) == ["FORBIDDEN"]
    assert result.errors[0].path == ["admin"]
    assert sorted(calls) == ["admin", "user"]


@pytest.mark.parametrize("is_async", [False, True])
async def test_loader_raising_unauthenticated_reports_unauthenticated(is_async):
    def deny(value):
        raise UnauthenticatedError()

    async def deny_later(value):
        raise UnauthenticatedError()

    authz = AuthExtension(
        lambda context: {"is_logged_in": deny_later if is_async else deny}
    )
    result = await one_field_schema(authz, {"is_logged_in": True}).execute("{ value }")
    assert result.data == {"value": None}
    assert codes(result) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("is_async", [False, True])
async def test_error_raised_by_a_loader_is_the_reason_of_the_denial(is_async):
    error = GraphQLError("Your plan has expired.", extensions={"code": "PAYMENT"})

    def deny(value):
        raise error

    async def deny_later(value):
        raise error

    authz = AuthExtension(lambda context: {"paid": deny_later if is_async else deny})
    result = await one_field_schema(authz, {"paid": True}).execute("{ value }")
    assert result.data == {"value": None}
    assert codes(result) == ["PAYMENT"]
    assert result.errors[0].message == "Your plan has expired."


@pytest.mark.parametrize("is_async", [False, True])
async def test_loader_unexpected_exception_denies_without_leaking_its_message(
    is_async, caplog
):
    def boom(value):
        raise RuntimeError("connection to 10.0.0.7 refused, token=abc123")

    async def boom_later(value):
        raise RuntimeError("connection to 10.0.0.7 refused, token=abc123")

    authz = AuthExtension(lambda context: {"s": boom_later if is_async else boom})
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await one_field_schema(authz, {"s": True}).execute("{ value }")
    assert result.data == {"value": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    text = dump(result)
    assert "10.0.0.7" not in text
    assert "abc123" not in text
    assert "RuntimeError" not in text
    # ...but the server side is told what happened.
    assert "RuntimeError" in authz_logs(caplog) or any(
        record.exc_info and record.exc_info[0] is RuntimeError
        for record in caplog.records
    )


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("answer", [None, "yes", 1, "true", [True]])
async def test_loader_returning_a_non_bool_denies(is_async, answer):
    calls: list[Any] = []
    loader = recording_loader(calls, answer, is_async=is_async)
    authz = AuthExtension(lambda context: {"s": loader})
    result = await one_field_schema(authz, {"s": True}).execute("{ value }")
    assert result.data == {"value": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert calls == [True]


def test_scope_missing_from_load_scopes_denies_and_logs(caplog):
    authz = AuthExtension(lambda context: {"is_public": True})
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = one_field_schema(authz, {"is_admin": True}).execute_sync("{ value }")
    assert result.data == {"value": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "is_admin" in authz_logs(caplog)


def test_scope_missing_from_load_scopes_never_passes_inside_an_or():
    # A typo in one branch must not turn into "allowed": the other branch
    # decides.
    authz = AuthExtension(lambda context: {"is_public": False})
    result = one_field_schema(
        authz, {"$or": {"is_publik": True, "is_public": True}}
    ).execute_sync("{ value }")
    assert result.data == {"value": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]


def test_loader_that_is_neither_bool_nor_callable_denies():
    authz = AuthExtension(lambda context: {"s": "yes", "t": 1, "u": None})

    @strawberry.type
    class Query:
        @authz.rule({"s": True})
        @strawberry.field
        def a(self) -> str | None:
            return "a"

        @authz.rule({"t": True})
        @strawberry.field
        def b(self) -> str | None:
            return "b"

        @authz.rule({"u": True})
        @strawberry.field
        def c(self) -> str | None:
            return "c"

    result = strawberry.Schema(query=Query, extensions=[authz]).execute_sync(
        "{ a b c }"
    )
    assert result.data == {"a": None, "b": None, "c": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"] * 3


# -- one computation per (scope, value) per request ----------------------------


@pytest.mark.parametrize("is_async", [False, True])
async def test_loader_called_once_per_scope_value_across_fields(is_async):
    calls: list[Any] = []
    loader = recording_loader(calls, is_async=is_async)
    authz = AuthExtension(lambda context: {"level": loader, "other": True})

    @strawberry.type
    class Query:
        @authz.rule({"level": "a"})
        @strawberry.field
        def one(self) -> int:
            return 1

        @authz.rule({"level": "a", "other": True})
        @strawberry.field
        def two(self) -> int:
            return 2

        @authz.rule({"$or": [{"level": "a"}, {"level": "a"}]})
        @strawberry.field
        def three(self) -> int:
            return 3

        @authz.rule(lambda params: {"level": "a"})
        @strawberry.field
        async def four(self) -> int:
            return 4

        @authz.rule(lambda params: {"level": "b"})
        @strawberry.field
        async def five(self) -> int:
            return 5

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ one two three four five }")
    assert result.errors is None
    assert sorted(calls) == ["a", "b"]


@pytest.mark.parametrize("is_async", [False, True])
async def test_loader_called_once_per_scope_value_across_aliases(is_async):
    calls: list[Any] = []
    loader = recording_loader(calls, is_async=is_async)
    authz = AuthExtension(lambda context: {"level": loader})

    @strawberry.type
    class Query:
        @authz.rule({"level": "a"})
        @strawberry.field
        def static(self) -> int:
            return 1

        @authz.rule(lambda params: {"level": "a"})
        @strawberry.field
        def dynamic(self, n: int = 0) -> int:
            return n

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute(
        "{ s1: static s2: static d1: dynamic(n: 1) d2: dynamic(n: 2) dynamic }"
    )
    assert result.errors is None
    assert result.data == {"s1": 1, "s2": 1, "d1": 1, "d2": 2, "dynamic": 0}
    assert calls == ["a"]


@pytest.mark.parametrize("is_async", [False, True])
async def test_loader_called_once_per_scope_value_across_list_items(is_async):
    calls: list[Any] = []
    loader = recording_loader(calls, is_async=is_async)
    load = Counter({"level": loader})
    authz = AuthExtension(load)

    @authz.type_rule({"level": "item"})
    @strawberry.type
    class Item:
        n: int

        @authz.rule(lambda params: {"level": "detail"})
        @strawberry.field
        def detail(self) -> str:
            return f"d{self.n}"

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return [Item(n=i) for i in range(50)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ items { n detail } again: items { n } }")
    assert result.errors is None
    assert len(result.data["items"]) == 50
    assert result.data["items"][7] == {"n": 7, "detail": "d7"}
    assert sorted(calls) == ["detail", "item"]
    assert load.loads == 1


@pytest.mark.parametrize("async_load_scopes", [False, True])
async def test_concurrent_askers_share_one_in_flight_call(async_load_scopes):
    calls: list[Any] = []
    in_flight = 0
    most_in_flight = 0
    release = asyncio.Event()

    async def slow(value):
        nonlocal in_flight, most_in_flight
        calls.append(value)
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await release.wait()
        in_flight -= 1
        return True

    load = Counter({"slow": slow}, is_async=async_load_scopes)
    authz = AuthExtension(load)
    started: list[str] = []

    def asking(name):
        def rule(params):
            started.append(name)
            if len(started) == 3:
                asyncio.get_running_loop().call_later(0.02, release.set)
            return {"slow": "v"}

        return rule

    @strawberry.type
    class Query:
        @authz.rule(asking("a"))
        @strawberry.field
        async def a(self) -> int:
            return 1

        @authz.rule(asking("b"))
        @strawberry.field
        async def b(self) -> int:
            return 2

        @authz.rule(asking("c"))
        @strawberry.field
        async def c(self) -> int:
            return 3

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await asyncio.wait_for(schema.execute("{ a b c }"), 5)
    assert result.errors is None
    assert result.data == {"a": 1, "b": 2, "c": 3}
    assert sorted(started) == ["a", "b", "c"]
    assert calls == ["v"]
    assert most_in_flight == 1
    assert load.loads == 1


@pytest.mark.parametrize("is_async", [False, True])
async def test_loader_error_is_remembered_like_a_result(is_async):
    calls: list[Any] = []

    def deny(value):
        calls.append(value)
        raise UnauthenticatedError()

    async def deny_later(value):
        calls.append(value)
        await asyncio.sleep(0)
        raise UnauthenticatedError()

    load = Counter({"is_logged_in": deny_later if is_async else deny})
    authz = AuthExtension(load)

    @strawberry.type
    class Item:
        @authz.rule(lambda params: {"is_logged_in": True})
        @strawberry.field
        def secret(self) -> str | None:
            return "secret"

    @strawberry.type
    class Query:
        @authz.rule({"is_logged_in": True})
        @strawberry.field
        def one(self) -> str | None:
            return "one"

        @strawberry.field
        def items(self) -> list[Item]:
            return [Item(), Item(), Item()]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ one other: one items { secret } }")
    assert result.data == {
        "one": None,
        "other": None,
        "items": [{"secret": None}] * 3,
    }
    assert codes(result) == ["UNAUTHENTICATED"] * 5
    assert calls == [True]
    assert load.loads == 1


async def test_unexpected_loader_error_is_remembered_too():
    calls: list[Any] = []

    async def boom(value):
        calls.append(value)
        raise RuntimeError("boom")

    authz = AuthExtension(lambda context: {"s": boom})

    @strawberry.type
    class Query:
        @authz.rule(lambda params: {"s": 1})
        @strawberry.field
        async def value(self, n: int) -> int | None:
            return n

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ a: value(n: 1) b: value(n: 2) c: value(n: 3) }")
    assert result.data == {"a": None, "b": None, "c": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"] * 3
    assert calls == [1]


def test_scope_results_are_not_shared_between_requests():
    calls: list[Any] = []
    answers = iter([False, True])

    def loader(value):
        calls.append(value)
        return next(answers)

    authz = AuthExtension(lambda context: {"s": loader})
    schema = one_field_schema(authz, {"s": "x"})
    first = schema.execute_sync("{ value }")
    second = schema.execute_sync("{ value }")
    assert first.data == {"value": None}
    assert second.data == {"value": "the value"}
    assert calls == ["x", "x"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"x": {"a": 1, "b": [1, 2]}}, {"x": {"b": [1, 2], "a": 1}}),
        ([1, 2, 3], [1, 2, 3]),
        ([{"a": 1, "b": 2}], [{"b": 2, "a": 1}]),
    ],
)
async def test_unhashable_values_with_the_same_content_share_one_call(first, second):
    calls: list[Any] = []
    loader = recording_loader(calls, is_async=True)
    authz = AuthExtension(lambda context: {"s": loader})

    @strawberry.type
    class Query:
        @authz.rule({"s": first})
        @strawberry.field
        def one(self) -> int:
            return 1

        @authz.rule(lambda params: {"s": second})
        @strawberry.field
        def two(self) -> int:
            return 2

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ one two again: two }")
    assert result.errors is None
    assert calls == [first]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (True, 1),
        (False, 0),
        (1, 1.0),
        (1, "1"),
        ({"a": True}, {"a": 1}),
        ({"a": 1}, {"a": 2}),
        ([1, 2], [2, 1]),
        ({"a": 1}, {"a": 1, "b": 2}),
    ],
)
def test_values_a_loader_can_tell_apart_get_separate_calls(first, second):
    calls: list[Any] = []

    def loader(value):
        calls.append(value)
        return repr(value) == repr(first)

    authz = AuthExtension(lambda context: {"s": loader})

    @strawberry.type
    class Query:
        @authz.rule({"s": first})
        @strawberry.field
        def one(self) -> str | None:
            return "one"

        @authz.rule({"s": second})
        @strawberry.field
        def two(self) -> str | None:
            return "two"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ one two }")
    assert result.data == {"one": "one", "two": None}
    assert codes(result) == ["FORBIDDEN"]
    assert len(calls) == 2
    assert [type(v) for v in calls] == [type(first), type(second)]


def test_load_scopes_is_not_called_for_typename_or_introspection_only():
    load = Counter({"is_logged_in": True})
    authz = AuthExtension(load, default_scopes={"Query": {"is_logged_in": True}})

    @strawberry.type
    class Query:
        @strawberry.field
        def me(self) -> str:
            return "me"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ __typename __schema { queryType { name } } }")
    assert result.errors is None
    assert result.data["__typename"] == "Query"
    assert load.loads == 0
    assert schema.execute_sync("{ me }").data == {"me": "me"}
    assert load.loads == 1


@pytest.mark.parametrize("is_async", [False, True])
async def test_load_scopes_is_not_called_for_an_empty_list_of_protected_items(
    is_async,
):
    load = Counter({"a": True}, is_async=is_async)
    authz = AuthExtension(load)

    @authz.type_rule({"a": True})
    @strawberry.type
    class Item:
        name: str

    @strawberry.type
    class Query:
        @strawberry.field
        def items(self) -> list[Item]:
            return []

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ items { name } }")
    assert result.errors is None
    assert result.data == {"items": []}
    assert load.loads == 0


async def test_load_scopes_and_loaders_may_return_any_awaitable():
    loop = asyncio.get_running_loop()
    calls: list[Any] = []

    def resolved(value: Any) -> asyncio.Future[Any]:
        future = loop.create_future()
        loop.call_soon(future.set_result, value)
        return future

    def loader(value):
        calls.append(value)
        return resolved(value == "ok")

    loads: list[int] = []

    def load(context):
        loads.append(1)
        return resolved({"s": loader})

    authz = AuthExtension(load)

    @strawberry.type
    class Query:
        @authz.rule({"s": "ok"})
        @strawberry.field
        def good(self) -> str | None:
            return "good"

        @authz.rule({"s": "bad"})
        @strawberry.field
        def bad(self) -> str | None:
            return "bad"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ good bad }")
    assert result.data == {"good": "good", "bad": None}
    assert codes(result) == ["FORBIDDEN"]
    assert sorted(calls) == ["bad", "ok"]
    assert loads == [1]
