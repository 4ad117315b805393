"""A `grants=` function and a post rule see a Django QuerySet's rows.

Under `execute` a QuerySet must not run its SQL on the event loop (Django
raises `SynchronousOnlyOperation`): the library reads it with `async for`,
and the function gets the rows as the list that is then served; under
`execute_sync` it is read in the resolver's thread.
"""

from typing import Any

import pytest
import strawberry
from asgiref.sync import async_to_sync
from authzkit import codes, dump
from filterapp.models import Note as NoteRow
from ormkit import seed

from strawberry_authz import AuthExtension


@pytest.fixture(autouse=True)
def rows() -> None:
    seed(
        [
            {"id": 1, "title": "mine", "owner_id": 1},
            {"id": 2, "title": "LEAK", "owner_id": 2},
        ]
    )


def build() -> strawberry.Schema:
    authz = AuthExtension(lambda context: {"owns": lambda o: o == context["user"]})

    def reads(params: Any, result: Any) -> list[str]:
        params.context["seen"].append([type(result), [row.id for row in result]])
        return ["read"]

    @authz.type_rule(
        lambda p: {"$granted": "read", "owns": p.root.owner_id}, on_object=True
    )
    @strawberry.type
    class Note:
        id: int
        title: str
        owner_id: strawberry.Private[int]

    @strawberry.type
    class Query:
        @authz.rule(True, grants=reads)
        @strawberry.field
        def notes(self) -> list[Note | None]:
            return NoteRow.objects.order_by("id")  # type: ignore[return-value]

        @authz.post_rule(
            lambda params, result: reads(params, result) == ["read"], grants=["read"]
        )
        @strawberry.field
        def checked(self) -> list[Note | None]:
            return NoteRow.objects.order_by("id")  # type: ignore[return-value]

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("field", ["notes", "checked"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_function_sees_a_querysets_rows_and_every_row_is_decided(mode, field):
    schema = build()
    context: dict[str, Any] = {"user": 1, "seen": []}
    query = f"{{ {field} {{ id title }} }}"
    if mode == "sync":
        result = schema.execute_sync(query, context_value=context)
    else:
        result = async_to_sync(schema.execute)(query, context_value=context)
    assert "LEAK" not in dump(result)
    assert "async context" not in dump(result)
    assert result.data == {field: [{"id": 1, "title": "mine"}, None]}, result.errors
    assert codes(result) == ["FORBIDDEN"]
    assert context["seen"] == [[list, [1, 2]]]
