"""What capability fields cost: counted, never timed.

Each `(scope, value)` is asked once per request however many objects ask it,
an answer already known costs no awaitable, and a static answer is decided
once for a whole list, as for guarded fields.
"""

import asyncio
import inspect
import sys
from pathlib import Path
from typing import Any

import pytest
import strawberry
from capkit import OWNERS, Loads, can_edit_column, notes_schema, owner_of, owns

import strawberry_authz
from strawberry_authz import AuthExtension, BatchScope

PACKAGE = str(Path(strawberry_authz.__file__).parent)
ITEMS = 100


class Coroutines:
    """Counts coroutine frames run (started or resumed) in the package's code."""

    def __init__(self) -> None:
        self.count = 0

    def profile(self, frame: Any, event: str, arg: Any) -> None:
        code = frame.f_code
        if (
            event == "call"
            and code.co_flags & inspect.CO_COROUTINE
            and code.co_filename.startswith(PACKAGE)
        ):
            self.count += 1

    def __enter__(self) -> "Coroutines":
        sys.setprofile(self.profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)


@pytest.mark.parametrize("slow", [False, True], ids=["sync", "async"])
async def test_one_loader_call_per_distinct_value_over_a_long_list(slow):
    loads = Loads(slow=slow)
    schema = notes_schema(AuthExtension(loads.load_scopes), owns, count=ITEMS)
    result = await schema.execute(
        "{ a: notes { viewerCanEdit } b: notes { viewerCanEdit } }",
        context_value={"user": "u4"},
    )
    assert result.errors is None
    answers = [owner_of(i) == "u4" for i in range(ITEMS)]
    for alias in ("a", "b"):
        assert [note["viewerCanEdit"] for note in result.data[alias]] == answers
    assert loads.count("owns_note") == OWNERS
    assert sorted(value for _, value in loads.calls) == sorted(
        owner_of(i) for i in range(OWNERS)
    )


def test_one_loader_call_per_distinct_value_under_execute_sync():
    loads = Loads()
    schema = notes_schema(AuthExtension(loads.load_scopes), owns, count=ITEMS)
    result = schema.execute_sync(
        "{ notes { viewerCanEdit } }", context_value={"user": "u4"}
    )
    assert result.errors is None
    assert loads.count("owns_note") == OWNERS


async def test_a_static_answer_on_a_list_is_awaited_once_not_per_item():
    loads = Loads(slow=True)
    schema = notes_schema(
        AuthExtension(loads.load_scopes), {"has_role": "editor"}, count=ITEMS
    )
    await schema.execute("{ __typename }")  # installs the resolvers
    with Coroutines() as coroutines:
        result = await schema.execute(
            "{ notes { viewerCanEdit } }", context_value={"roles": ["editor"]}
        )
    assert result.errors is None
    assert can_edit_column(result) == [True] * ITEMS
    assert loads.count("has_role") == 1
    # The list decides the answer before its items: each item then answers
    # synchronously (per-item waiting would run 2+ coroutines per item).
    assert coroutines.count < 20, coroutines.count


def later_schema(loads: Loads) -> strawberry.Schema:
    """`first` answers the notes; `later` asks them again once that is done."""
    authz = AuthExtension(loads.load_scopes)

    @strawberry.type
    class Note:
        id: int
        owner: str
        viewer_can_edit: bool = authz.can_field(owns)

    def notes() -> list[Note]:
        return [Note(id=i, owner=owner_of(i)) for i in range(ITEMS)]

    @strawberry.type
    class Later:
        id: int = 0

        @strawberry.field
        def notes(self) -> list[Note]:
            return notes()

    @strawberry.type
    class Query:
        @strawberry.field
        def first(self) -> list[Note]:
            return notes()

        @strawberry.field
        async def later(self) -> Later:
            await asyncio.sleep(0.01)  # `first`'s answers are known by now
            return Later()

    return strawberry.Schema(query=Query, extensions=[authz])


async def test_known_answers_cost_no_awaitable_per_item():
    loads = Loads(slow=True)
    schema = later_schema(loads)
    context = {"user": "u2"}
    await schema.execute("{ __typename }")  # installs the resolvers
    with Coroutines() as without_second_list:
        alone = await schema.execute(
            "{ first { viewerCanEdit } later { id } }", context_value=context
        )
    with Coroutines() as with_second_list:
        both = await schema.execute(
            "{ first { viewerCanEdit } later { notes { viewerCanEdit } } }",
            context_value=context,
        )
    assert (alone.errors, both.errors) == (None, None)
    assert [n["viewerCanEdit"] for n in both.data["later"]["notes"]] == [
        n["viewerCanEdit"] for n in both.data["first"]
    ]
    extra = with_second_list.count - without_second_list.count
    assert extra < 10, (extra, without_second_list.count)
    assert loads.count("owns_note") == 2 * OWNERS  # two requests


async def test_permissions_and_capabilities_share_the_request_cache():
    loads = Loads(slow=True)
    authz = AuthExtension(loads.load_scopes)

    @strawberry.type
    class Note:
        id: int
        owner: str
        viewer_can_edit: bool = authz.can_field(owns)

    @strawberry.type
    class Query:
        permissions = authz.permissions_field(
            {"edit-u1": {"owns_note": "u1"}, "editor": {"has_role": "editor"}}
        )

        @authz.rule({"has_role": "editor"})
        @strawberry.field
        def notes(self) -> list[Note]:
            return [Note(id=i, owner=owner_of(i)) for i in range(ITEMS)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute(
        "{ notes { viewerCanEdit } permissions { name allowed } }",
        context_value={"user": "u1", "roles": ["editor"]},
    )
    assert result.errors is None
    assert loads.count("owns_note") == OWNERS
    assert loads.count("has_role") == 1


async def test_a_batch_scope_answers_a_whole_list_in_one_call():
    batches: list[list[Any]] = []

    async def owns_many(owners: list[Any]) -> list[bool]:
        batches.append(owners)
        await asyncio.sleep(0)
        return [owner == "u3" for owner in owners]

    authz = AuthExtension(lambda context: {"owns_note": BatchScope(owns_many)})
    schema = notes_schema(authz, owns, count=ITEMS)
    result = await schema.execute("{ notes { viewerCanEdit } }")
    assert result.errors is None
    assert can_edit_column(result) == [owner_of(i) == "u3" for i in range(ITEMS)]
    assert len(batches) == 1
