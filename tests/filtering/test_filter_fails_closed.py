"""Attacks on the filter: every failure selects fewer rows, never more.

Issue 18's attack list: a `where` that raises, a scope missing from
`load_scopes`, `load_scopes` failing, a model without the column, planning
outside an operation, `$not` above each of these.
"""

import pytest
import strawberry
from authzkit import authz_logs, codes, dump
from filterkit import NOTES_QUERY, NoteRow, build, ids, sqlite_engine
from sqlalchemy import select

from strawberry_authz import AuthExtension, Column, FilterScope

ROWS = [
    {"id": 1, "title": "a", "owner_id": 1},
    {"id": 2, "title": "b", "owner_id": None},
    {"id": 3, "title": "c", "owner_id": 2},
]
OWN = {"owner": Column("owner_id")}
BOTH = [OWN, {"$not": OWN}]


def failing_where(context: object) -> dict[str, object]:
    def where(column: object) -> object:
        raise RuntimeError("secret connection string")

    return {"owner": FilterScope(check=lambda value: value == 1, where=where)}


@pytest.mark.parametrize("rules", BOTH)
async def test_a_where_that_raises_selects_no_row(rules, caplog):
    built = build(rules, failing_where, sqlite_engine(ROWS))
    result = await built.schema.execute(NOTES_QUERY)
    assert ids(result) == []
    assert "secret connection string" not in dump(result)
    assert "building the filter of Note failed" in authz_logs(caplog)


@pytest.mark.parametrize("rules", BOTH)
async def test_a_scope_missing_from_load_scopes_selects_no_row(rules, caplog):
    built = build(rules, lambda context: {}, sqlite_engine(ROWS))
    result = await built.schema.execute(NOTES_QUERY)
    assert ids(result) == []
    assert "'owner' is not returned by load_scopes" in authz_logs(caplog)


@pytest.mark.parametrize("rules", BOTH)
async def test_load_scopes_failing_selects_no_row(rules, caplog):
    def load_scopes(context: object) -> dict[str, object]:
        raise RuntimeError("database down")

    built = build(rules, load_scopes, sqlite_engine(ROWS))
    result = await built.schema.execute(NOTES_QUERY)
    assert ids(result) == []
    assert "database down" not in dump(result)
    assert "database down" in authz_logs(caplog)


async def test_a_loader_error_under_not_is_not_a_pass(caplog):
    def load_scopes(context: object) -> dict[str, object]:
        def admin(value: object) -> bool:
            raise RuntimeError("role service down")

        return {"admin": admin, "owner": FilterScope.equals(1)}

    built = build({"$not": {"admin": True}}, load_scopes, sqlite_engine(ROWS))
    result = await built.schema.execute(NOTES_QUERY)
    assert ids(result) == []  # "not an admin" is unknown, not true


async def test_a_column_the_model_lacks_is_refused_not_ignored(caplog):
    built = build(
        {"owner": Column("author_id")},
        lambda context: {"owner": FilterScope.equals(1)},
        sqlite_engine(ROWS),
    )
    result = await built.schema.execute(NOTES_QUERY)
    assert codes(result) == ["FORBIDDEN"]
    assert result.data is None
    assert "Column('author_id') is not a mapped column" in authz_logs(caplog)
    assert "author_id" not in dump(result)


async def test_an_object_without_the_column_is_denied_by_the_check():
    authz = AuthExtension(lambda context: {"owner": FilterScope.equals(1)})

    @authz.type_rule({"$not": OWN}, on_object=True)
    @strawberry.type
    class Note:
        id: int

    @strawberry.type
    class Query:
        @strawberry.field
        def note(self) -> Note | None:
            return Note(id=1)  # no owner_id: unknown, so never "not mine"

    result = await strawberry.Schema(query=Query, extensions=[authz]).execute(
        "{ note { id } }"
    )
    assert result.data == {"note": None}
    assert codes(result) == [
        "INTERNAL_SERVER_ERROR"
    ]  # a failure: the rule could not be read


async def test_planning_outside_an_operation_selects_no_row(caplog):
    built = build(
        OWN, lambda context: {"owner": FilterScope.equals(1)}, sqlite_engine(ROWS)
    )

    class Info:  # a resolver's info as a stray task would hold it
        path = None
        parent_type = None

    stmt = await built.authz.filter(Info(), built.Note, select(NoteRow))
    assert str(stmt).endswith("WHERE false")
    assert "outside an operation" in authz_logs(caplog)


@pytest.mark.parametrize(
    ("scope", "column"),
    [
        (FilterScope.equals("1"), "owner_id"),  # text for an integer column
        (FilterScope.one_of(["1", "2"]), "owner_id"),
        (FilterScope.equals(1), "title"),  # a number for a text column
    ],
)
async def test_sql_never_matches_a_value_python_would_not(scope, column):
    # SQLite finds owner_id = '1' true for the integer 1; the check says
    # 1 == "1" is false. The filter must agree with the check: no row.
    rows = [*ROWS, {"id": 4, "title": "1", "owner_id": 3}]
    built = build(
        {"owner": Column(column)}, lambda context: {"owner": scope}, sqlite_engine(rows)
    )
    result = await built.schema.execute(NOTES_QUERY)
    assert ids(result) == []
    assert result.data["notes"]["totalCount"] == 0
