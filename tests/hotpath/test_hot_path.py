"""The request path stays thin: pinned by counting work, never by timing.

Each test counts the calls into strawberry-authz's own code while a list of
objects resolves. An already-decided field must cost one call (the installed
guard); these counts go up if the static fast path, the per-request decision
memo or the list warm-up stops working, while every answer stays the same.
"""

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import strawberry

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


def build(loader: Callable[[Any], Any]) -> tuple[strawberry.Schema, list[Any]]:
    calls: list[Any] = []

    def counted(value: Any) -> Any:
        calls.append(value)
        return loader(value)

    authz = AuthExtension(lambda _: {"member": counted})

    @authz.type_rule({"member": True})
    @strawberry.type
    class Doc:
        id: int
        title: str
        body: str

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:
            return [Doc(id=i, title=f"t{i}", body=f"b{i}") for i in range(ITEMS)]

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


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_decided_fields_cost_one_call_each_with_a_sync_loader(query):
    schema, loads = build(lambda value: True)
    schema.execute_sync("{ __typename }")  # installs the guards
    with Calls() as calls:
        result = schema.execute_sync(query)
    assert not result.errors
    fields = sum(len(doc) for doc in result.data["docs"])
    assert loads == [True]
    assert calls.count <= fields + 60, (calls.count, fields)


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
async def test_an_async_loader_is_awaited_once_and_items_resolve_without_waiting(
    query,
):
    schema, loads = build(async_yes)
    await schema.execute("{ __typename }")  # installs the guards
    with Calls() as calls:
        result = await schema.execute(query)
    assert not result.errors
    fields = sum(len(doc) for doc in result.data["docs"])
    assert loads == [True]
    # The list warms its items' rules once; then each field is one call.
    assert calls.count <= fields + 80, (calls.count, fields)


async def test_a_second_list_in_the_same_request_reuses_the_decision():
    schema, loads = build(async_yes)
    await schema.execute("{ __typename }")  # installs the guards
    with Calls() as calls:
        result = await schema.execute("{ a: docs { id } b: docs { id } }")
    assert not result.errors
    assert loads == [True]
    assert calls.count <= 2 * ITEMS + 80, calls.count
