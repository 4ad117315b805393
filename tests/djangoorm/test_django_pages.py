"""strawberry-django lists filtered in SQL by the type's own rule (issue 18).

100 notes, the viewer may see 50: a page of 10 has 10 visible notes, a
connection's `totalCount` is 50, and teams with their notes cost 2 queries
(the optimizer's Prefetch runs the type's `get_queryset`), sync and async.
"""

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from authzkit import authz_logs, dump
from django.db import connection
from django.test.utils import CaptureQueriesContext
from filterapp.models import Note as NoteRow
from ormkit import build, ids, row_id, seed

from strawberry_authz import Column, FilterScope

OWNER_RULE = {"owner": Column("owner_id")}


def sync_scopes(context: dict[str, Any]) -> dict[str, object]:
    return {"owner": FilterScope.equals(context["user"])}


async def async_scopes(context: dict[str, Any]) -> dict[str, object]:
    return {"owner": FilterScope.equals(context["user"])}


@pytest.fixture
def hundred_notes() -> None:
    # Odd ids belong to user 1 and team 2, even ids to user 2 and team 1.
    seed(
        [
            {
                "id": i,
                "title": f"n{i}",
                "owner_id": 1 if i % 2 else 2,
                "team_id": 1 + i % 2,
            }
            for i in range(1, 101)
        ]
    )


def run(schema: Any, query: str, user: int, mode: str) -> tuple[Any, int]:
    """The result and the number of SQL queries, executed sync or async."""
    with CaptureQueriesContext(connection) as queries:
        if mode == "sync":
            result = schema.execute_sync(query, context_value={"user": user})
        else:
            # async_to_sync: strawberry-django's sync_to_async hops come back
            # to this thread, whose connection CaptureQueriesContext watches.
            result = async_to_sync(schema.execute)(query, context_value={"user": user})
    return result, len(queries)


MODES = [
    pytest.param("sync", sync_scopes, id="sync"),
    pytest.param("async", sync_scopes, id="async"),
    pytest.param("async", async_scopes, id="async-load-scopes"),
]


@pytest.mark.usefixtures("hundred_notes")
@pytest.mark.parametrize(("mode", "scopes"), MODES)
def test_a_page_of_ten_holds_ten_visible_notes_in_one_query(mode, scopes):
    built = build(OWNER_RULE, scopes)
    result, queries = run(
        built.schema, "{ notes(pagination: {limit: 10}) { id title } }", 1, mode
    )
    assert ids(result) == list(range(1, 21, 2))
    assert queries == 1


@pytest.mark.usefixtures("hundred_notes")
@pytest.mark.parametrize(("mode", "scopes"), MODES)
def test_a_connection_counts_only_the_visible_notes(mode, scopes):
    built = build(OWNER_RULE, scopes, node=True)
    query = """{ noteConnection(first: 10) {
        totalCount edges { node { id title } } pageInfo { hasNextPage } } }"""
    result, queries = run(built.schema, query, 2, mode)
    assert result.errors is None, result.errors
    page = result.data["noteConnection"]
    assert page["totalCount"] == 50
    assert [row_id(e["node"]["id"]) for e in page["edges"]] == list(range(2, 22, 2))
    assert page["pageInfo"]["hasNextPage"] is True
    assert queries <= 2


@pytest.mark.usefixtures("hundred_notes")
@pytest.mark.parametrize(("mode", "scopes"), MODES)
def test_nested_notes_are_filtered_in_the_prefetch_in_two_queries(mode, scopes):
    built = build(OWNER_RULE, scopes)
    result, queries = run(built.schema, "{ teams { id notes { id title } } }", 1, mode)
    assert result.errors is None, result.errors
    seen = {
        int(t["id"]): [int(n["id"]) for n in t["notes"]] for t in result.data["teams"]
    }
    assert seen == {1: [], 2: list(range(1, 101, 2))}
    assert queries <= 2


@pytest.mark.usefixtures("hundred_notes")
def test_the_rule_reads_its_column_with_the_rows_not_one_query_per_row():
    # The query asks for no column of the rule; the per-object check still
    # reads owner_id, which the optimizer would otherwise defer.
    built = build(OWNER_RULE, sync_scopes)
    with CaptureQueriesContext(connection) as queries:
        result = built.schema.execute_sync(
            "{ notes(pagination: {limit: 10}) { title } }", context_value={"user": 1}
        )
    assert result.errors is None, result.errors
    assert len(result.data["notes"]) == 10
    assert len(queries) == 1
    assert '"owner_id"' in queries.captured_queries[0]["sql"]


@pytest.mark.usefixtures("hundred_notes")
def test_a_sync_load_scopes_using_the_orm_under_async_never_shows_django_errors(
    caplog,
):
    # Django refuses a sync query on the event loop; the request fails
    # closed (no rows) and the client sees no text of Django's.
    def orm_scopes(context: dict[str, Any]) -> dict[str, object]:
        owner = NoteRow.objects.get(id=context["user"]).owner_id
        return {"owner": FilterScope.equals(owner)}

    built = build(OWNER_RULE, orm_scopes)
    result, _ = run(
        built.schema, "{ notes(pagination: {limit: 10}) { id } }", 1, "async"
    )
    assert result.errors is None
    assert result.data == {"notes": []}
    assert "async context" not in dump(result)
    assert "SynchronousOnlyOperation" in authz_logs(caplog)
