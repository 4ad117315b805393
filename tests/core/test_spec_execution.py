"""SPEC §9 — execution model: sync/async, contexts, isolation, call counts."""

import asyncio
import random
import warnings
from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from authzkit import codes
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from strawberry_authz import AuthExtension, AuthParams

# -- helpers -------------------------------------------------------------------

SECRET = "SECRET-VALUE-4411"


def dump(result: Any) -> str:
    return repr((result.data, [error.formatted for error in result.errors or []]))


class Loads:
    """`load_scopes` reading `roles` from a dict context; counts every call."""

    def __init__(self, *, async_load: bool = False, async_loader: bool = False):
        self.async_load = async_load
        self.async_loader = async_loader
        self.loads = 0
        self.loader_calls: list[tuple[str, Any]] = []

    def scopes(self, roles: Any) -> dict[str, Any]:
        def role(value: str) -> Any:
            self.loader_calls.append(("role", value))
            allowed = value in roles
            if self.async_loader:
                return _later(allowed)
            return allowed

        def plan(value: str) -> Any:
            self.loader_calls.append(("plan", value))
            return _later(value == "pro") if self.async_loader else value == "pro"

        return {"role": role, "plan": plan}

    def __call__(self, context: Any) -> Any:
        self.loads += 1
        roles = (context or {}).get("roles", ())
        if self.async_load:
            return _later(self.scopes(roles))
        return self.scopes(roles)


async def _later(value: Any) -> Any:
    await asyncio.sleep(0)
    return value


def secret_schema(authz: AuthExtension, *, async_resolver: bool) -> strawberry.Schema:
    if async_resolver:

        async def value() -> str | None:
            await asyncio.sleep(0)
            return SECRET

    else:

        def value() -> str | None:
            return SECRET

    @strawberry.type
    class Query:
        guarded: str | None = strawberry.field(
            resolver=value, extensions=[authz.rule({"role": "reader"})]
        )

        @strawberry.field
        def public(self) -> str:
            return "public"

    return strawberry.Schema(query=Query, extensions=[authz])


# -- sync and async resolvers and loaders ------------------------------------------


@pytest.mark.parametrize("async_resolver", [False, True], ids=["sync_res", "async_res"])
@pytest.mark.parametrize("async_loader", [False, True], ids=["sync_ld", "async_ld"])
@pytest.mark.parametrize("async_load", [False, True], ids=["sync_load", "async_load"])
async def test_sync_and_async_resolvers_and_loaders_allow_and_deny(
    async_resolver, async_loader, async_load
):
    authz = AuthExtension(Loads(async_load=async_load, async_loader=async_loader))
    schema = secret_schema(authz, async_resolver=async_resolver)
    allowed = await schema.execute(
        "{ guarded public }", context_value={"roles": ["reader"]}
    )
    assert allowed.errors is None
    assert allowed.data == {"guarded": SECRET, "public": "public"}
    denied = await schema.execute("{ guarded public }", context_value={"roles": []})
    assert denied.data == {"guarded": None, "public": "public"}
    assert codes(denied) == ["FORBIDDEN"]
    assert SECRET not in dump(denied)


def test_execute_sync_works_with_only_sync_loaders():
    authz = AuthExtension(Loads())
    schema = secret_schema(authz, async_resolver=False)
    allowed = schema.execute_sync("{ guarded }", context_value={"roles": ["reader"]})
    assert allowed.errors is None
    assert allowed.data == {"guarded": SECRET}
    denied = schema.execute_sync("{ guarded }", context_value={"roles": []})
    assert denied.data == {"guarded": None}
    assert codes(denied) == ["FORBIDDEN"]


@pytest.mark.parametrize(
    "loads",
    [Loads(async_loader=True), Loads(async_load=True)],
    ids=["async_loader", "async_load_scopes"],
)
def test_async_scope_under_execute_sync_fails_closed(loads):
    authz = AuthExtension(loads)
    schema = secret_schema(authz, async_resolver=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an un-awaited coroutine is not the point
        result = schema.execute_sync(
            "{ guarded public }", context_value={"roles": ["reader"]}
        )
    assert result.data in (None, {"guarded": None, "public": "public"})
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert SECRET not in dump(result)


# -- contexts -------------------------------------------------------------------


@dataclass
class User:
    name: str
    roles: tuple[str, ...]


@dataclass
class RequestContext:
    user: User | None


def _context_schema(seen: list[Any]) -> strawberry.Schema:
    def load(context: Any) -> dict[str, Any]:
        seen.append(context)
        if context is None:
            roles: tuple[str, ...] = ()
        elif isinstance(context, dict):
            roles = context["user"].roles if context["user"] else ()
        else:
            roles = context.user.roles if context.user else ()
        return {"role": lambda value: value in roles}

    authz = AuthExtension(load)

    @strawberry.type
    class Query:
        @authz.rule({"role": "reader"})
        @strawberry.field
        def guarded(self) -> str | None:
            return SECRET

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("kind", ["dict", "object"])
async def test_load_scopes_receives_a_dict_or_object_context(kind):
    seen: list[Any] = []
    schema = _context_schema(seen)
    reader, nobody = User("ann", ("reader",)), User("bob", ())

    def context(user: User) -> Any:
        return {"user": user} if kind == "dict" else RequestContext(user=user)

    allowed = await schema.execute("{ guarded }", context_value=context(reader))
    assert allowed.data == {"guarded": SECRET}
    denied = await schema.execute("{ guarded }", context_value=context(nobody))
    assert denied.data == {"guarded": None}
    assert codes(denied) == ["FORBIDDEN"]
    assert seen == [context(reader), context(nobody)]


@pytest.mark.parametrize("is_async", [False, True])
async def test_without_context_load_scopes_receives_none(is_async):
    seen: list[Any] = []
    schema = _context_schema(seen)
    if is_async:
        result = await schema.execute("{ guarded }")
    else:
        result = schema.execute_sync("{ guarded }")
    assert seen == [None]
    assert result.data == {"guarded": None}
    assert codes(result) == ["FORBIDDEN"]


# -- concurrency -----------------------------------------------------------------


async def test_concurrent_requests_only_see_their_own_allowed_data():
    async def load(context: Any) -> dict[str, Any]:
        await asyncio.sleep(random.random() / 100)
        me = context["me"]

        async def owns(owner: str) -> bool:
            await asyncio.sleep(random.random() / 100)
            return owner == me

        return {"owns": owns, "admin": me == "u0"}

    authz = AuthExtension(load)

    @strawberry.type
    class Account:
        owner: str

        @authz.rule(lambda params: {"$or": {"owns": params.root.owner, "admin": True}})
        @strawberry.field
        async def balance(self) -> str | None:
            await asyncio.sleep(random.random() / 100)
            return f"balance-of-{self.owner}"

    @strawberry.type
    class Query:
        @strawberry.field
        def accounts(self) -> list[Account]:
            return [Account(owner=f"u{n}") for n in range(5)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    users = [f"u{n % 5}" for n in range(20)]
    random.shuffle(users)
    results = await asyncio.gather(
        *(
            schema.execute("{ accounts { owner balance } }", context_value={"me": me})
            for me in users
        )
    )
    for me, result in zip(users, results, strict=True):
        balances = {a["owner"]: a["balance"] for a in result.data["accounts"]}
        if me == "u0":
            assert result.errors is None
            assert balances == {f"u{n}": f"balance-of-u{n}" for n in range(5)}
        else:
            assert balances == {
                f"u{n}": f"balance-of-u{n}" if f"u{n}" == me else None for n in range(5)
            }
            assert codes(result) == ["FORBIDDEN"] * 4
            text = dump(result)
            for n in range(5):
                if f"u{n}" != me:
                    assert f"balance-of-u{n}" not in text


# -- call counts -----------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True])
async def test_one_load_scopes_and_one_loader_call_per_scope_value_for_1000_items(
    is_async,
):
    loads = Loads(async_load=is_async, async_loader=is_async)
    authz = AuthExtension(loads)

    @authz.type_rule({"role": "reader", "plan": "pro"})
    @strawberry.type
    class Row:
        n: int
        a: str = "a"
        b: str = "b"

        @authz.rule({"$or": [{"role": "admin"}, {"role": "reader"}]})
        @strawberry.field
        def c(self) -> str:
            return "c"

    @strawberry.type
    class Query:
        @strawberry.field
        def rows(self) -> list[Row]:
            return [Row(n=n) for n in range(1000)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    query = "{ rows { n a b c } }"
    context = {"roles": ["reader"]}
    if is_async:
        result = await schema.execute(query, context_value=context)
    else:
        result = schema.execute_sync(query, context_value=context)
    assert result.errors is None
    assert len(result.data["rows"]) == 1000
    assert result.data["rows"][999] == {"n": 999, "a": "a", "b": "b", "c": "c"}
    assert loads.loads == 1
    assert sorted(loads.loader_calls) == [
        ("plan", "pro"),
        ("role", "admin"),
        ("role", "reader"),
    ]


async def test_load_scopes_not_called_when_the_query_touches_no_protected_field():
    loads = Loads(async_load=True)
    authz = AuthExtension(loads, default_scopes={"Mutation": {"role": "writer"}})

    @authz.type_rule({"role": "reader"})
    @strawberry.type
    class Secret:
        value: str = SECRET

    @strawberry.type
    class Query:
        @strawberry.field
        def public(self) -> str:
            return "public"

        @strawberry.field
        def secret(self) -> Secret:
            return Secret()

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def touch(self) -> bool:
            return True

    schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=[authz])
    result = await schema.execute("{ public }")
    assert result.data == {"public": "public"}
    assert loads.loads == 0
    assert loads.loader_calls == []


def test_each_request_gets_a_fresh_extension_and_its_own_load_scopes_call():
    loads = Loads()
    authz = AuthExtension(loads)
    schema = secret_schema(authz, async_resolver=False)
    first = schema.execute_sync("{ guarded }", context_value={"roles": ["reader"]})
    second = schema.execute_sync("{ guarded }", context_value={"roles": []})
    assert first.data == {"guarded": SECRET}
    assert second.data == {"guarded": None}
    assert loads.loads == 2
    assert loads.loader_calls == [("role", "reader"), ("role", "reader")]
    one, two = authz(execution_context=None), authz(execution_context=None)
    assert isinstance(one, SchemaExtension)
    assert one is not two


def test_no_warning_at_schema_build_or_first_request():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        authz = AuthExtension(Loads(), default_scopes={"Query": {"role": "reader"}})

        @authz.type_rule({"role": "reader"})
        @strawberry.type
        class Item:
            name: str = "item"

        @strawberry.type
        class Query:
            @authz.rule({"role": "reader"}, grants=["g"])
            @strawberry.field
            def item(self) -> Item:
                return Item()

        schema = strawberry.Schema(query=Query, extensions=[authz])
        authz.validate(schema)
        result = schema.execute_sync(
            "{ item { name } }", context_value={"roles": ["reader"]}
        )
    assert result.data == {"item": {"name": "item"}}
    assert [str(w.message) for w in caught] == []


# -- AuthParams ------------------------------------------------------------------


@strawberry.input
class Filter:
    tag: str
    min_size: int = 0


def test_auth_params_expose_root_args_context_and_info():
    seen: list[dict[str, Any]] = []

    def capture(params: AuthParams) -> bool:
        seen.append(
            {
                "root": params.root,
                "args": params.args,
                "context": params.context,
                "info": params.info,
            }
        )
        return True

    authz = AuthExtension(lambda context: {})

    @strawberry.type
    class Folder:
        name: str

        @authz.rule(capture)
        @strawberry.field
        def files(self, user_id: strawberry.ID, filter: Filter) -> list[str]:
            return [f"{self.name}/{filter.tag}"]

    @strawberry.type
    class Query:
        @strawberry.field
        def folder(self) -> Folder:
            return Folder(name="docs")

    schema = strawberry.Schema(query=Query, extensions=[authz])
    context = {"request": "ctx"}
    result = schema.execute_sync(
        '{ folder { files(userId: "7", filter: {tag: "x", minSize: 3}) } }',
        context_value=context,
    )
    assert result.errors is None
    assert result.data == {"folder": {"files": ["docs/x"]}}
    [params] = seen
    assert params["root"] == Folder(name="docs")
    assert set(params["args"]) == {"user_id", "filter"}
    assert params["args"]["user_id"] == "7"
    assert isinstance(params["args"]["filter"], Filter)
    assert params["args"]["filter"] == Filter(tag="x", min_size=3)
    assert params["context"] is context
    assert isinstance(params["info"], Info)
    assert params["info"].field_name == "files"
    assert params["info"].context is context


async def test_post_rule_params_expose_the_same_as_a_rule():
    seen: list[Any] = []

    async def capture(params: AuthParams, result: Any) -> bool:
        seen.append((params.root, params.args, params.context, params.info.field_name))
        return True

    authz = AuthExtension(lambda context: {})

    @strawberry.type
    class Query:
        @authz.post_rule(capture)
        @strawberry.field
        async def find(self, user_id: int, filter: Filter | None = None) -> int:
            return user_id

    schema = strawberry.Schema(query=Query, extensions=[authz])
    root = Query()
    result = await schema.execute(
        "{ find(userId: 3) }", context_value={"c": 1}, root_value=root
    )
    assert result.data == {"find": 3}
    assert seen == [(root, {"user_id": 3, "filter": None}, {"c": 1}, "find")]
