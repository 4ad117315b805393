"""A resolver's result is never asked for its truth value or length.

A lazy result (a Django QuerySet, an ORM query) may run I/O, or fail, when
asked `bool()` or `len()`: under async a QuerySet raises
`SynchronousOnlyOperation`. The library only iterates what a list field
returned; anything that fails while it does denies the field with the plain
`FORBIDDEN` and a log, never Python's text.
"""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes, dump, owned_type

from strawberry_authz import AuthExtension


class LazyRows:
    """Iterable; asking its truth value or length raises (as a QuerySet may)."""

    def __init__(self, items: list[Any], *, broken: bool = False) -> None:
        self.items = items
        self.broken = broken

    def __iter__(self) -> Iterator[Any]:
        if self.broken:
            raise RuntimeError(
                "RAW-QUERY-TEXT: you cannot call this from an async context"
            )
        return iter(self.items)

    def __bool__(self) -> bool:
        raise RuntimeError("RAW-QUERY-TEXT: truth value asked")

    def __len__(self) -> int:
        raise RuntimeError("RAW-QUERY-TEXT: length asked")


def build(*, broken: bool = False):
    authz = AuthExtension(lambda _: {"signed_in": True, "owns": lambda o: o == "me"})

    @authz.type_rule({"signed_in": True})
    @strawberry.type
    class Tag:
        """A static type rule: its list warms it up before the items resolve."""

        name: str

    # A type rule function: decided per object, the list decides it ahead.
    Note = owned_type(authz, "Note", lambda p: {"owns": p.root.owner})
    Secret = owned_type(
        authz, "Secret", lambda p: {"owns": p.root.owner}, on_object=True
    )

    @strawberry.type
    class Query:
        @strawberry.field
        def tags(self) -> list[Tag]:
            return LazyRows([Tag(name="a"), Tag(name="b")], broken=broken)

        @strawberry.field
        def notes(self) -> list[Note | None]:  # type: ignore[valid-type]
            rows = [Note(owner="me", text="mine"), Note(owner="x", text="LEAK")]
            return LazyRows(rows, broken=broken)

        @strawberry.field
        def secrets(self) -> list[Secret | None] | None:  # type: ignore[valid-type]
            rows = [Secret(owner="me", text="mine"), Secret(owner="x", text="LEAK")]
            return LazyRows(rows, broken=broken)

        @authz.rule({"signed_in": True}, grants=["read"])
        @strawberry.field
        def granted(self) -> list[Tag]:
            return LazyRows([Tag(name="c")], broken=broken)

    return strawberry.Schema(query=Query, extensions=[authz])


QUERIES = {
    "{ tags { name } }": {"tags": [{"name": "a"}, {"name": "b"}]},
    "{ notes { text } }": {"notes": [{"text": "mine"}, None]},
    "{ secrets { text } }": {"secrets": [{"text": "mine"}, None]},
    "{ granted { name } }": {"granted": [{"name": "c"}]},
}


@pytest.mark.parametrize(("query", "data"), QUERIES.items(), ids=list(QUERIES))
@pytest.mark.parametrize("is_async", [False, True], ids=["execute_sync", "execute"])
async def test_a_lazy_list_is_iterated_never_asked_its_truth_value_or_length(
    query, data, is_async
):
    schema = build()
    result = (await schema.execute(query)) if is_async else schema.execute_sync(query)
    assert "RAW-QUERY-TEXT" not in dump(result)
    assert "LEAK" not in dump(result)
    assert result.data == data, result.errors
    assert codes(result) == ["FORBIDDEN"] * next(iter(data.values())).count(None)


@pytest.mark.parametrize("is_async", [False, True], ids=["execute_sync", "execute"])
async def test_a_lazy_list_failing_while_its_objects_are_decided_denies_plainly(
    is_async, caplog
):
    schema = build(broken=True)
    query = "{ secrets { text } }"
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = (
            (await schema.execute(query)) if is_async else schema.execute_sync(query)
        )
    assert "RAW-QUERY-TEXT" not in dump(result)
    assert result.data == {"secrets": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "RAW-QUERY-TEXT" in authz_logs(caplog)


async def test_an_async_list_failing_while_its_objects_are_decided_denies_plainly(
    caplog,
):
    authz = AuthExtension(lambda _: {"owns": lambda owner: owner == "me"})

    @authz.type_rule(lambda p: {"owns": p.root.owner}, on_object=True)
    @strawberry.type
    class Secret:
        owner: strawberry.Private[str]
        text: str

    @strawberry.type
    class Query:
        @strawberry.field
        async def secrets(self) -> list[Secret | None] | None:
            yield Secret(owner="me", text="mine")
            raise RuntimeError("RAW-QUERY-TEXT: the cursor broke")

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute("{ secrets { text } }")
    assert "RAW-QUERY-TEXT" not in dump(result)
    assert result.data == {"secrets": None}
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "RAW-QUERY-TEXT" in authz_logs(caplog)
