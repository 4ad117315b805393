"""SPEC §4 — rule trees: $and / $or / $chain / $race, rule functions, bad rules."""

import asyncio
import gc
import logging
import warnings
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes

from strawberry_authz import (
    AuthExtension,
    ConfigurationError,
    ForbiddenError,
    UnauthenticatedError,
)

# -- helpers -------------------------------------------------------------------


def dump(result: Any) -> str:
    return repr((result.data, [error.formatted for error in result.errors or []]))


class Log:
    """Scopes whose loaders record when they start and finish.

    `scope(name)` passes for values listed in `allow`; `delays` makes a
    scope's loader async, sleeping that long.
    """

    def __init__(
        self,
        allow: dict[str, set[Any]],
        delays: dict[str, float] | None = None,
        raises: dict[str, Exception] | None = None,
    ) -> None:
        self.allow = allow
        self.delays = delays or {}
        self.raises = raises or {}
        self.events: list[str] = []
        self.calls: list[tuple[str, Any]] = []

    @property
    def started(self) -> list[str]:
        return [event[:-6] for event in self.events if event.endswith(":start")]

    def loader(self, name: str) -> Any:
        def decide(value: Any) -> bool:
            self.events.append(f"{name}:end")
            if name in self.raises:
                raise self.raises[name]
            return value in self.allow.get(name, set())

        if name in self.delays:

            async def async_loader(value: Any) -> bool:
                self.calls.append((name, value))
                self.events.append(f"{name}:start")
                await asyncio.sleep(self.delays[name])
                return decide(value)

            return async_loader

        def sync_loader(value: Any) -> bool:
            self.calls.append((name, value))
            self.events.append(f"{name}:start")
            return decide(value)

        return sync_loader

    def load_scopes(self, context: Any) -> dict[str, Any]:
        names = set(self.allow) | set(self.delays) | set(self.raises)
        return {name: self.loader(name) for name in names}


def one_field_schema(authz: AuthExtension, rules: Any) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @authz.rule(rules)
        @strawberry.field
        def value(self) -> str | None:
            return "the value"

    return strawberry.Schema(query=Query, extensions=[authz])


async def run(rules: Any, log: Log) -> Any:
    authz = AuthExtension(log.load_scopes)
    return await asyncio.wait_for(
        one_field_schema(authz, rules).execute("{ value }"), 5
    )


def allowed(result: Any) -> bool:
    if result.errors is None and result.data == {"value": "the value"}:
        return True
    assert result.data == {"value": None}
    assert len(result.errors) == 1
    return False


# -- implicit $and, $and -------------------------------------------------------


@pytest.mark.parametrize(
    ("allow", "expected"),
    [
        ({"a": {1}, "b": {2}}, True),
        ({"a": {1}}, False),
        ({"b": {2}}, False),
        ({}, False),
    ],
)
async def test_top_level_keys_are_an_implicit_and(allow, expected):
    log = Log(allow | {"a": allow.get("a", set()), "b": allow.get("b", set())})
    assert allowed(await run({"a": 1, "b": 2}, log)) is expected


@pytest.mark.parametrize(
    "rules",
    [
        {"$and": {"a": 1, "b": 2}},
        {"$and": [{"a": 1}, {"b": 2}]},
        {"$and": [{"a": 1, "b": 2}]},
    ],
    ids=["dict", "list", "list-of-one"],
)
@pytest.mark.parametrize(
    ("allow", "expected"),
    [({"a": {1}, "b": {2}}, True), ({"a": {1}, "b": set()}, False)],
)
async def test_and_requires_every_entry(rules, allow, expected):
    assert allowed(await run(rules, Log(allow))) is expected


def test_and_stops_at_first_failure_with_sync_loaders():
    log = Log({"a": set(), "b": {1}})
    authz = AuthExtension(log.load_scopes)
    result = one_field_schema(authz, {"$and": [{"a": 1}, {"b": 1}]}).execute_sync(
        "{ value }"
    )
    assert codes(result) == ["FORBIDDEN"]
    assert log.calls == [("a", 1)]


async def test_and_does_not_wait_for_a_slow_entry_after_a_failure():
    release = asyncio.Event()
    slow_calls: list[Any] = []

    async def slow(value):
        slow_calls.append(value)
        await release.wait()
        return True

    async def fast_no(value):
        await asyncio.sleep(0)
        return False

    authz = AuthExtension(lambda context: {"slow": slow, "no": fast_no})
    schema = one_field_schema(authz, {"$and": {"slow": 1, "no": 1}})
    try:
        result = await asyncio.wait_for(schema.execute("{ value }"), 2)
    finally:
        release.set()
        await asyncio.sleep(0.01)
    assert result.data == {"value": None}
    assert codes(result) == ["FORBIDDEN"]


# -- $or -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules",
    [
        {"$or": {"a": 1, "b": 2}},
        {"$or": [{"a": 1}, {"b": 2}]},
    ],
    ids=["dict", "list"],
)
@pytest.mark.parametrize(
    ("allow", "expected"),
    [
        ({"a": {1}, "b": {2}}, True),
        ({"a": {1}, "b": set()}, True),
        ({"a": set(), "b": {2}}, True),
        ({"a": set(), "b": set()}, False),
    ],
)
async def test_or_needs_one_entry_to_pass(rules, allow, expected):
    assert allowed(await run(rules, Log(allow))) is expected


@pytest.mark.parametrize(
    ("level", "expected"),
    [("admin", True), ("moderator", True), ("user", False)],
)
async def test_or_list_form_lets_one_scope_appear_with_several_values(level, expected):
    log = Log({"has_access": {level}})
    rules = {"$or": [{"has_access": "admin"}, {"has_access": "moderator"}]}
    assert allowed(await run(rules, log)) is expected
    assert {value for _, value in log.calls} <= {"admin", "moderator"}


async def test_or_list_entry_is_an_implicit_and():
    rules = {"$or": [{"a": 1, "b": 1}, {"c": 1}]}
    assert allowed(await run(rules, Log({"a": {1}, "b": set(), "c": set()}))) is False
    assert allowed(await run(rules, Log({"a": {1}, "b": {1}, "c": set()}))) is True
    assert allowed(await run(rules, Log({"a": set(), "b": set(), "c": {1}}))) is True


def test_or_stops_at_first_success_with_sync_loaders():
    log = Log({"a": {1}, "b": {1}})
    authz = AuthExtension(log.load_scopes)
    result = one_field_schema(authz, {"$or": [{"a": 1}, {"b": 1}]}).execute_sync(
        "{ value }"
    )
    assert result.errors is None
    assert log.calls == [("a", 1)]


async def test_or_does_not_wait_for_a_slow_entry_after_a_success():
    release = asyncio.Event()

    async def slow(value):
        await release.wait()
        return False

    async def fast_yes(value):
        await asyncio.sleep(0)
        return True

    authz = AuthExtension(lambda context: {"slow": slow, "yes": fast_yes})
    schema = one_field_schema(authz, {"$or": {"slow": 1, "yes": 1}})
    try:
        result = await asyncio.wait_for(schema.execute("{ value }"), 2)
    finally:
        release.set()
        await asyncio.sleep(0.01)
    assert result.errors is None
    assert result.data == {"value": "the value"}


# -- $chain --------------------------------------------------------------------


async def test_chain_runs_entries_strictly_in_written_order():
    log = Log({"slow": {1}, "fast": {1}, "last": {1}}, delays={"slow": 0.05, "fast": 0})
    result = await run({"$chain": [{"slow": 1}, {"fast": 1}, {"last": 1}]}, log)
    assert allowed(result) is True
    assert log.events == [
        "slow:start",
        "slow:end",
        "fast:start",
        "fast:end",
        "last:start",
        "last:end",
    ]


async def test_chain_dict_form_runs_in_written_order():
    log = Log({"slow": {1}, "fast": {1}}, delays={"slow": 0.05, "fast": 0})
    result = await run({"$chain": {"slow": 1, "fast": 1}}, log)
    assert allowed(result) is True
    assert log.events == ["slow:start", "slow:end", "fast:start", "fast:end"]


@pytest.mark.parametrize(
    "delays",
    [{}, {"first": 0.02}, {"first": 0.02, "second": 0}, {"second": 0}],
    ids=["sync", "async-first", "all-async", "async-second"],
)
async def test_chain_stops_at_first_failure(delays):
    log = Log({"first": set(), "second": {1}, "third": {1}}, delays=delays)
    result = await run({"$chain": [{"first": 1}, {"second": 1}, {"third": 1}]}, log)
    assert allowed(result) is False
    assert codes(result) == ["FORBIDDEN"]
    assert log.started == ["first"]


async def test_chain_stops_at_a_failure_in_the_middle():
    log = Log(
        {"first": {1}, "second": set(), "third": {1}},
        delays={"first": 0.01, "second": 0.01, "third": 0},
    )
    result = await run({"$chain": [{"first": 1}, {"second": 1}, {"third": 1}]}, log)
    assert allowed(result) is False
    assert log.started == ["first", "second"]


async def test_chain_stops_when_an_entry_raises():
    log = Log(
        {"first": {1}, "second": {1}},
        delays={"first": 0.01},
        raises={"first": UnauthenticatedError()},
    )
    result = await run({"$chain": [{"first": 1}, {"second": 1}]}, log)
    assert allowed(result) is False
    assert codes(result) == ["UNAUTHENTICATED"]
    assert log.started == ["first"]


# -- $race ---------------------------------------------------------------------


async def test_race_tries_entries_strictly_in_written_order_until_one_passes():
    log = Log(
        {"slow_no": set(), "fast_yes": {1}, "never": {1}},
        delays={"slow_no": 0.05, "fast_yes": 0, "never": 0},
    )
    result = await run({"$race": [{"slow_no": 1}, {"fast_yes": 1}, {"never": 1}]}, log)
    assert allowed(result) is True
    assert log.events == [
        "slow_no:start",
        "slow_no:end",
        "fast_yes:start",
        "fast_yes:end",
    ]


@pytest.mark.parametrize(
    "delays",
    [{}, {"first": 0.02}, {"first": 0.02, "second": 0}, {"second": 0}],
    ids=["sync", "async-first", "all-async", "async-second"],
)
async def test_race_never_runs_a_later_entry_after_a_success(delays):
    log = Log({"first": {1}, "second": {1}}, delays=delays)
    result = await run({"$race": [{"first": 1}, {"second": 1}]}, log)
    assert allowed(result) is True
    assert log.started == ["first"]


async def test_race_dict_form_tries_in_written_order():
    log = Log({"slow": set(), "fast": {1}}, delays={"slow": 0.05, "fast": 0})
    result = await run({"$race": {"slow": 1, "fast": 1}}, log)
    assert allowed(result) is True
    assert log.started == ["slow", "fast"]
    assert log.events.index("slow:end") < log.events.index("fast:start")


async def test_race_denies_when_every_entry_fails():
    log = Log({"a": set(), "b": set()}, delays={"a": 0.01})
    result = await run({"$race": [{"a": 1}, {"b": 1}]}, log)
    assert allowed(result) is False
    assert codes(result) == ["FORBIDDEN"]
    assert log.started == ["a", "b"]


async def test_race_moves_on_after_an_entry_raises():
    log = Log(
        {"a": {1}, "b": {1}},
        delays={"a": 0.01},
        raises={"a": RuntimeError("broken")},
    )
    result = await run({"$race": [{"a": 1}, {"b": 1}]}, log)
    assert allowed(result) is True
    assert log.started == ["a", "b"]


# -- nesting -------------------------------------------------------------------


NESTED = {
    "$and": {
        "$or": [{"role": "admin"}, {"$chain": [{"logged_in": True}, {"owner": 7}]}],
        "$race": {"plan": "pro", "$and": [{"trial": True}]},
    }
}


@pytest.mark.parametrize(
    ("allow", "expected"),
    [
        ({"role": {"admin"}, "plan": {"pro"}}, True),
        ({"logged_in": {True}, "owner": {7}, "trial": {True}}, True),
        ({"logged_in": {True}, "owner": {8}, "trial": {True}}, False),
        ({"owner": {7}, "plan": {"pro"}}, False),
        ({"role": {"admin"}}, False),
        ({"role": {"admin"}, "trial": {True}}, True),
    ],
)
@pytest.mark.parametrize("is_async", [False, True])
async def test_nested_logic_keys_combine(allow, expected, is_async):
    names = ["role", "logged_in", "owner", "plan", "trial"]
    allow = {name: allow.get(name, set()) for name in names}
    delays = {name: 0.001 for name in names} if is_async else {}
    assert allowed(await run(NESTED, Log(allow, delays))) is expected


@pytest.mark.parametrize("passing", [True, False])
@pytest.mark.parametrize("is_async", [False, True])
async def test_logic_keys_nest_to_any_depth(passing, is_async):
    rules: dict[str, Any] = {"leaf": 1}
    for depth in range(30):
        key = ["$and", "$or", "$chain", "$race"][depth % 4]
        rules = {key: [rules]} if depth % 2 else {key: rules}
    log = Log({"leaf": {1} if passing else set()}, {"leaf": 0} if is_async else {})
    assert allowed(await run(rules, log)) is passing
    assert log.calls == [("leaf", 1)]


# -- rule functions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("decided", "expected"),
    [
        (True, True),
        (False, False),
        ({"a": 1}, True),
        ({"b": 1}, False),
        ({"$or": [{"b": 1}, {"a": 1}]}, True),
    ],
)
@pytest.mark.parametrize("is_async", [False, True])
async def test_rule_function_returns_a_decision_or_a_rule_set(
    decided, expected, is_async
):
    log = Log({"a": {1}, "b": set()})

    def rule(params):
        return decided

    async def async_rule(params):
        await asyncio.sleep(0)
        return decided

    result = await run(async_rule if is_async else rule, log)
    assert allowed(result) is expected
    if expected is False:
        assert codes(result) == ["FORBIDDEN"]


async def test_rule_function_may_return_any_awaitable():
    loop = asyncio.get_running_loop()

    def rule(params):
        future = loop.create_future()
        loop.call_soon(future.set_result, {"a": 1})
        return future

    log = Log({"a": {1}})
    assert allowed(await run(rule, log)) is True
    assert log.calls == [("a", 1)]


async def test_rule_function_gets_params_and_its_rule_set_uses_the_scope_cache():
    log = Log({"owner": {1, 2}})
    seen: list[tuple[Any, Any]] = []

    def rule(params):
        seen.append((params.args, params.context))
        return {"owner": params.args["user_id"]}

    authz = AuthExtension(log.load_scopes)

    @strawberry.type
    class Query:
        @authz.rule(rule)
        @strawberry.field
        def profile(self, user_id: int) -> str | None:
            return f"profile {user_id}"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    context = {"user": "ann"}
    result = await schema.execute(
        "{ a: profile(userId: 1) b: profile(userId: 3) c: profile(userId: 1) }",
        context_value=context,
    )
    assert result.data == {"a": "profile 1", "b": None, "c": "profile 1"}
    assert codes(result) == ["FORBIDDEN"]
    assert sorted(log.calls) == [("owner", 1), ("owner", 3)]
    assert [args for args, _ in seen] == [
        {"user_id": 1},
        {"user_id": 3},
        {"user_id": 1},
    ]
    assert all(ctx is context for _, ctx in seen)


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UnauthenticatedError(), "UNAUTHENTICATED"),
        (ForbiddenError("Not your team."), "FORBIDDEN"),
    ],
)
async def test_rule_function_raising_a_denial_reports_it(is_async, error, code):
    def rule(params):
        raise error

    async def async_rule(params):
        raise error

    result = await run(async_rule if is_async else rule, Log({}))
    assert allowed(result) is False
    assert codes(result) == [code]
    assert result.errors[0].message == error.message


@pytest.mark.parametrize("is_async", [False, True])
async def test_rule_function_raising_unexpectedly_denies_without_leaking(
    is_async, caplog
):
    def rule(params):
        raise KeyError("internal-table-users")

    async def async_rule(params):
        raise KeyError("internal-table-users")

    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await run(async_rule if is_async else rule, Log({}))
    assert allowed(result) is False
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "internal-table-users" not in dump(result)
    assert "KeyError" not in dump(result)


@pytest.mark.parametrize("decided", [None, "yes", 1, 0, object()])
@pytest.mark.parametrize("is_async", [False, True])
async def test_rule_function_returning_something_else_denies(decided, is_async):
    def rule(params):
        return decided

    async def async_rule(params):
        return decided

    result = await run(async_rule if is_async else rule, Log({}))
    assert allowed(result) is False
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]


@pytest.mark.parametrize(
    ("returned", "mentioned"),
    [
        ({}, "empty"),
        ({"$nope": {"a": 1}}, "$nope"),
        ({"$granted": None}, "$granted"),
        ({"$granted": ""}, "$granted"),
        ({"$or": []}, "$or"),
        ({"$and": "a"}, "$and"),
        ({"a": 1, "$chain": [{"$bogus": 1}]}, "$bogus"),
    ],
)
@pytest.mark.parametrize("is_async", [False, True])
async def test_rule_function_returning_a_malformed_rule_set_denies_and_logs(
    returned, mentioned, is_async, caplog
):
    def rule(params):
        return returned

    async def async_rule(params):
        return returned

    log = Log({"a": {1}})
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await run(async_rule if is_async else rule, log)
    assert allowed(result) is False
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert mentioned in authz_logs(caplog)
    assert mentioned not in dump(result)


# -- $granted ------------------------------------------------------------------


def test_granted_passes_only_when_the_parent_field_granted_the_name():
    authz = AuthExtension(lambda context: {})

    @strawberry.type
    class Account:
        @authz.rule({"$granted": "read_balance"})
        @strawberry.field
        def balance(self) -> int | None:
            return 100

    @strawberry.type
    class Query:
        @authz.rule(lambda params: True, grants=["read_balance"])
        @strawberry.field
        def mine(self) -> Account:
            return Account()

        @strawberry.field
        def other(self) -> Account:
            return Account()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ mine { balance } other { balance } }")
    assert result.data == {"mine": {"balance": 100}, "other": {"balance": None}}
    assert codes(result) == ["FORBIDDEN"]
    assert result.errors[0].path == ["other", "balance"]


# -- malformed static rules: configuration errors at decoration time -----------


MALFORMED = [
    ({}, None),
    ({"$nope": {"a": 1}}, "$nope"),
    ({"$granted": None}, "$granted"),
    ({"$granted": ""}, "$granted"),
    ({"$or": []}, "$or"),
    ({"$or": {}}, "$or"),
    ({"$and": "a"}, "$and"),
    ({"$race": [{}]}, "$race"),
    ({"a": 1, "$chain": [{"b": 1}, {"$bogus": 1}]}, "$bogus"),
    ({"$or": {"$and": {"$Granted": "x"}}}, "$Granted"),
]


@pytest.mark.parametrize(("rules", "key"), MALFORMED)
def test_malformed_field_rule_raises_at_decoration_naming_field_and_key(rules, key):
    authz = AuthExtension(lambda context: {})
    with pytest.raises(ConfigurationError) as raised:

        class Query:
            @authz.rule(rules)
            @strawberry.field
            def my_guarded_field(self) -> str:
                return "x"

    message = str(raised.value)
    assert "my_guarded_field" in message
    if key is not None:
        assert key in message


@pytest.mark.parametrize(("rules", "key"), MALFORMED)
def test_malformed_type_rule_raises_at_decoration_naming_type_and_key(rules, key):
    authz = AuthExtension(lambda context: {})

    @strawberry.type
    class MyGuardedType:
        x: str

    with pytest.raises(ConfigurationError) as raised:
        authz.type_rule(rules)(MyGuardedType)
    message = str(raised.value)
    assert "MyGuardedType" in message
    if key is not None:
        assert key in message


@pytest.mark.parametrize(("rules", "key"), MALFORMED)
def test_malformed_default_scopes_raise_when_the_extension_is_made(rules, key):
    with pytest.raises(ConfigurationError) as raised:
        AuthExtension(lambda context: {}, default_scopes={"Query": rules})
    message = str(raised.value)
    assert "Query" in message
    if key is not None:
        assert key in message


@pytest.mark.parametrize(("rules", "key"), [MALFORMED[1], MALFORMED[8]])
def test_malformed_rule_in_field_extensions_form_is_a_configuration_error(rules, key):
    """`strawberry.field(extensions=[authz.rule(...)])` is checked no later than
    schema build, with the same `ConfigurationError` naming field and key."""
    authz = AuthExtension(lambda context: {})
    with pytest.raises(ConfigurationError) as raised:

        @strawberry.type
        class Query:
            my_plain_field: str = strawberry.field(
                default="x", extensions=[authz.rule(rules)]
            )

        strawberry.Schema(query=Query, extensions=[authz])
    message = str(raised.value)
    assert "my_plain_field" in message
    if key is not None:
        assert key in message


def test_post_rule_must_be_a_function():
    authz = AuthExtension(lambda context: {})
    with pytest.raises(ConfigurationError) as raised:

        class Query:
            @authz.post_rule({"a": 1})
            @strawberry.field
            def my_post_field(self) -> str:
                return "x"

    assert "my_post_field" in str(raised.value)


def test_well_formed_static_rules_do_not_raise():
    authz = AuthExtension(lambda context: {})

    @strawberry.type
    class Query:
        @authz.rule(NESTED)
        @strawberry.field
        def value(self) -> str:
            return "x"

    strawberry.Schema(query=Query, extensions=[authz])


async def test_and_stopping_early_leaves_no_async_rule_function_unawaited():
    """A rule function's coroutine that `$and` no longer needs is cleaned up:
    no "coroutine ... was never awaited" warning reaches the user."""
    authz = AuthExtension(lambda context: {"no": False})

    async def type_rule(params):
        return True

    @authz.type_rule(type_rule)
    @strawberry.type
    class Item:
        @authz.rule({"no": True})
        @strawberry.field
        def secret(self) -> str | None:
            return "secret"

    @strawberry.type
    class Query:
        @strawberry.field
        def item(self) -> Item:
            return Item()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = await schema.execute("{ item { secret } }")
        await asyncio.sleep(0)
        gc.collect()
    assert result.data == {"item": {"secret": None}}
    assert codes(result) == ["FORBIDDEN"]
    unawaited = [w for w in caught if "never awaited" in str(w.message)]
    assert unawaited == []
