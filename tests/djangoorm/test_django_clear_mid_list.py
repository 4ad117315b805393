"""A viewer switch (`clear_cache`) while a lazy QuerySet's objects are decided.

The list field returns the QuerySet itself, unevaluated: under
`execute_sync` the list pass iterates it, under `execute` it is read with
`async for` (Django runs the query off the event loop). A rule function
logs the admin out at the second note: the notes asked before the clear
are denied as undecided, those after it are decided for the guest, who may
read notes 4 and 5 only.
"""

from typing import Any

import pytest
import strawberry
import strawberry_django
from asgiref.sync import async_to_sync
from authzkit import codes
from filterapp.models import Note as NoteRow
from ormkit import seed

from strawberry_authz import AuthExtension, BatchScope

ADMIN, GUEST = "admin", "guest"
ROWS = [
    {"id": i, "title": f"secret {i}", "owner_id": 1, "label": None} for i in range(1, 6)
]
QUERY = "{ notes { id title } }"


@pytest.fixture(autouse=True)
def rows() -> None:
    seed(ROWS)


def _schema(is_async: bool, size: int, asked: list[Any]) -> strawberry.Schema:
    def scopes(context: Any) -> dict[str, Any]:
        viewer = context["user"]

        def answers(values: list[Any]) -> list[bool]:
            asked.append((viewer, [value[1] for value in values]))
            if viewer == GUEST:
                return [value[1] >= 4 for value in values]
            return [True for _ in values]

        async def answers_async(values: list[Any]) -> list[bool]:
            return answers(values)

        load = answers_async if is_async else answers
        return {"can": BatchScope(load, max_batch_size=size)}

    authz = AuthExtension(scopes)

    def rule(params: Any) -> Any:
        if params.root.id == 2 and params.context["user"] == ADMIN:
            params.context["user"] = GUEST
            authz.clear_cache(params.info)
        return {"can": ["note", params.root.id]}

    @authz.type_rule(rule, on_object=True)
    @strawberry_django.type(NoteRow)
    class Note:
        id: int
        title: str

    @strawberry.type
    class Query:
        @strawberry.field
        def notes(self) -> list[Note | None]:  # type: ignore[valid-type]
            return NoteRow.objects.order_by("id")  # type: ignore[return-value]

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_a_clear_while_a_lazy_querysets_notes_are_decided_serves_the_guest_only_hers(
    is_async: bool, size: int
) -> None:
    asked: list[Any] = []
    schema = _schema(is_async, size, asked)
    context = {"user": ADMIN}
    if is_async:
        result = async_to_sync(schema.execute)(QUERY, context_value=context)
    else:
        result = schema.execute_sync(QUERY, context_value=context)
    hers = [{"id": i, "title": f"secret {i}"} for i in (4, 5)]
    assert result.data == {"notes": [None, None, None, *hers]}
    # Note 1 was asked before the clear: undecided, denied as a failure.
    assert codes(result) == ["INTERNAL_SERVER_ERROR", "FORBIDDEN", "FORBIDDEN"]
    # Every note from the clear on was asked of the guest's loader; nothing
    # the admin's answered was served.
    guest = sorted(i for viewer, ids in asked if viewer == GUEST for i in ids)
    assert guest == [2, 3, 4, 5]
