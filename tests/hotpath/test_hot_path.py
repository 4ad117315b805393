"""The request path stays thin: pinned by counting work, never by timing.

Each test counts the calls into strawberry-authz's own code while a list of
objects resolves, for two list sizes: what a request costs beyond a fixed
amount grows by one call (the installed guard) per already-decided field.
The counts go up if the static fast path, the per-request decision memo or
the list warm-up stops working, while every answer stays the same.
"""

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import strawberry
from authzkit import titled, titled_type

import strawberry_authz
from strawberry_authz import AuthExtension

PACKAGE = str(Path(strawberry_authz.__file__).parent)
ITEMS = 200


class Calls:
    """Counts the Python calls (and coroutine resumptions) into the package."""

    def __init__(self) -> None:
        self.count = 0

    def profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(PACKAGE):
            self.count += 1

    def __enter__(self) -> "Calls":
        sys.setprofile(self.profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)


def build(
    loader: Callable[[Any], Any], items: int = ITEMS
) -> tuple[strawberry.Schema, list[Any]]:
    calls: list[Any] = []

    def counted(value: Any) -> Any:
        calls.append(value)
        return loader(value)

    authz = AuthExtension(lambda _: {"member": counted})

    Doc = titled_type(authz, {"member": True})

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:  # type: ignore[valid-type]
            return titled(Doc, range(items))

    return strawberry.Schema(query=Query, extensions=[authz]), calls


async def async_yes(value: Any) -> bool:
    await asyncio.sleep(0)
    return True


QUERIES = {
    "plain": "{ docs { id title body } }",
    "aliases": "{ docs { id a: title b: title body } }",
    "fragments": (
        "{ docs { ...F ... on Doc { body } } } fragment F on Doc { id t: title }"
    ),
}


def calls_per_field(run: Callable[[int], tuple[Any, int]]) -> float:
    """Extra calls per extra field, between a list of ITEMS and of 2 * ITEMS."""
    small_calls, small_fields = run(ITEMS)
    large_calls, large_fields = run(2 * ITEMS)
    return (large_calls - small_calls) / (large_fields - small_fields)


def count_fields(result: Any) -> int:
    assert not result.errors, result.errors
    return sum(len(item) for items in result.data.values() for item in items)


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_decided_fields_cost_one_call_each_with_a_sync_loader(query):
    def run(items: int) -> tuple[int, int]:
        schema, loads = build(lambda value: True, items)
        schema.execute_sync("{ __typename }")  # installs the guards
        with Calls() as calls:
            result = schema.execute_sync(query)
        assert loads == [True]
        return calls.count, count_fields(result)

    assert calls_per_field(run) <= 1.0


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
async def test_an_async_loader_is_awaited_once_and_items_resolve_without_waiting(
    query,
):
    async def measure(items: int) -> tuple[int, int]:
        schema, loads = build(async_yes, items)
        await schema.execute("{ __typename }")  # installs the guards
        with Calls() as calls:
            result = await schema.execute(query)
        assert loads == [True]
        return calls.count, count_fields(result)

    small = await measure(ITEMS)
    large = await measure(2 * ITEMS)
    # The list warms its items' rules once; then each field is one call.
    assert calls_per_field(lambda items: small if items == ITEMS else large) <= 1.0


async def test_a_second_list_in_the_same_request_reuses_the_decision():
    async def measure(items: int) -> tuple[int, int]:
        schema, loads = build(async_yes, items)
        await schema.execute("{ __typename }")  # installs the guards
        with Calls() as calls:
            result = await schema.execute("{ a: docs { id } b: docs { id } }")
        assert loads == [True]
        return calls.count, count_fields(result)

    small = await measure(ITEMS)
    large = await measure(2 * ITEMS)
    assert calls_per_field(lambda items: small if items == ITEMS else large) <= 1.0


def build_object_rule(drop: bool) -> strawberry.Schema:
    authz = AuthExtension(lambda _: {"can": lambda value: value % 4 != 3})

    Doc = titled_type(
        authz, lambda p: {"can": p.root.id}, on_object=True, drop_denied=drop
    )

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:  # type: ignore[valid-type]
            return titled(Doc, range(ITEMS))

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("drop", [False, True], ids=["on_object", "drop_denied"])
async def test_the_fields_of_an_object_that_passed_its_object_rule_cost_nothing(
    drop, is_async
):
    schema = build_object_rule(drop)

    async def count(query: str) -> int:
        execute = schema.execute if is_async else None
        with Calls() as calls:
            if execute is not None:
                result = await execute(query)
            else:
                result = schema.execute_sync(query)
        served = [doc for doc in result.data["docs"] if doc is not None]
        assert [doc["id"] for doc in served] == [i for i in range(ITEMS) if i % 4 != 3]
        return calls.count

    await count("{ docs { id title body } }")  # installs the guards
    one_field = await count("{ docs { id } }")
    three_fields = await count("{ docs { id title body } }")
    assert three_fields - one_field == 0


# Where the compiled rule nodes live (their `evaluate` methods).
RULE_NODE_MODULES = ("_rules.py", "_per_object.py", "_rule_compiler.py")


class Evaluations(Calls):
    """Counts evaluations of compiled rules (`Node.evaluate` and subclasses)."""

    def profile(self, frame: Any, event: str, arg: Any) -> None:
        code = frame.f_code
        if (
            event == "call"
            and code.co_name == "evaluate"
            and code.co_filename.endswith(RULE_NODE_MODULES)
            and code.co_filename.startswith(PACKAGE)
        ):
            self.count += 1


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("on_object", [False, True], ids=["type rule", "on_object"])
async def test_a_rule_set_of_any_shape_returned_per_object_is_evaluated_once(
    on_object, is_async
):
    def build_or(items: int) -> strawberry.Schema:
        authz = AuthExtension(lambda _: {"role": lambda value: value == "user"})

        @authz.type_rule(
            lambda p: {"$or": [{"role": "admin"}, {"role": "user"}]},
            on_object=on_object,
        )
        @strawberry.type
        class Doc:
            id: int
            title: str

        @strawberry.type
        class Query:
            @strawberry.field
            def docs(self) -> list[Doc]:
                return [Doc(id=i, title="t") for i in range(items)]

        return strawberry.Schema(query=Query, extensions=[authz])

    async def evaluations(items: int) -> int:
        schema = build_or(items)
        with Evaluations() as counted:
            if is_async:
                result = await schema.execute("{ docs { id title } }")
            else:
                result = schema.execute_sync("{ docs { id title } }")
        assert result.errors is None
        assert len(result.data["docs"]) == items
        return counted.count

    assert await evaluations(2 * ITEMS) == await evaluations(ITEMS)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_field_of_a_denied_object_costs_its_error_and_nothing_more(is_async):
    authz = AuthExtension(lambda _: {"can": lambda value: False})

    @authz.type_rule(lambda p: {"can": p.root.id})
    @strawberry.type
    class Doc:
        id: int | None
        title: str | None
        body: str | None

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:
            return [Doc(id=i, title=f"t{i}", body=f"b{i}") for i in range(ITEMS)]

    schema = strawberry.Schema(query=Query, extensions=[authz])

    async def count(query: str) -> int:
        with Calls() as calls:
            if is_async:
                result = await schema.execute(query)
            else:
                result = schema.execute_sync(query)
        docs = result.data["docs"]
        assert all(value is None for doc in docs for value in doc.values())
        assert {e.extensions["code"] for e in result.errors} == {"FORBIDDEN"}
        return calls.count

    await count("{ docs { id title body } }")  # installs the guards
    one_field = await count("{ docs { id } }")
    three_fields = await count("{ docs { id title body } }")
    # Each extra denied field: its guard, and building its error (the error
    # hooks, a fresh copy marked as a denial), then Strawberry logging it
    # through `QuietDenials` (issue 19: one log line per denial, no
    # traceback): 7 calls, no evaluation of the rule again.
    assert (three_fields - one_field) / (2 * ITEMS) < 7.5


STRAWBERRY = str(Path(strawberry.__file__).parent)


class StrawberryCalls(Calls):
    """Counts the Python calls into Strawberry's own code."""

    def profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(STRAWBERRY):
            self.count += 1


def test_an_allowed_objects_fields_without_resolvers_skip_strawberrys_wrapper():
    def docs_schema(authz: AuthExtension | None, items: int) -> strawberry.Schema:
        @strawberry.type
        class Doc:
            id: int
            title: str
            body: str

        if authz is not None:
            Doc = authz.type_rule(lambda p: {"can": p.root.id})(Doc)

        @strawberry.type
        class Query:
            @strawberry.field
            def docs(self) -> list[Doc]:  # type: ignore[valid-type]
                return [Doc(id=i, title=f"t{i}", body=f"b{i}") for i in range(items)]

        return strawberry.Schema(
            query=Query, extensions=[] if authz is None else [authz]
        )

    def per_field(authorized: bool) -> float:
        def run(items: int) -> tuple[int, int]:
            authz = AuthExtension(lambda _: {"can": lambda value: True})
            schema = docs_schema(authz if authorized else None, items)
            schema.execute_sync("{ docs { id } }")  # builds the guards
            with StrawberryCalls() as calls:
                result = schema.execute_sync("{ docs { id title body } }")
            return calls.count, count_fields(result)

        return calls_per_field(run)

    # Strawberry's resolver of a field without one is two calls (its wrapper,
    # then `get_result`); the guard of an allowed object reads the attribute.
    assert per_field(authorized=True) < per_field(authorized=False)
