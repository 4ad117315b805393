"""One rule checks an object and filters the query (issue 18, points 1-4, 7, 8, 10)."""

import pytest
import strawberry
from authzkit import authz_logs, codes, dump
from filterkit import (
    NOTES_QUERY,
    NoteRow,
    StatementLog,
    build,
    ids,
    sqlite_engine,
    total,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from strawberry_authz import (
    AuthExtension,
    BatchScope,
    Column,
    ConfigurationError,
    FilterScope,
)

ROWS = [
    {"id": 1, "title": "a", "owner_id": 1, "team_id": 10},
    {"id": 2, "title": "b", "owner_id": 2, "team_id": 10},
    {"id": 3, "title": "c", "owner_id": 1, "team_id": 20},
    {"id": 4, "title": "d", "owner_id": None, "team_id": None},
    {"id": 5, "title": "e", "owner_id": 2, "team_id": 20},
    {"id": 6, "title": "f", "owner_id": 1, "team_id": None},
]

OWN = {"owner": Column("owner_id")}


def viewer(user: int | None, *, admin: bool = False, teams: tuple[int, ...] = ()):
    def load_scopes(context: object) -> dict[str, object]:
        return {
            "admin": admin,
            "owner": FilterScope.equals(user),
            "member": FilterScope.one_of(teams),
        }

    return load_scopes


async def test_a_column_rule_filters_the_list_in_sql_with_full_pages_and_counts():
    engine = sqlite_engine(ROWS)
    log = StatementLog(engine)
    built = build(OWN, viewer(1), engine)
    result = await built.schema.execute(NOTES_QUERY, variable_values={"limit": 2})
    assert ids(result) == [1, 3]  # a full page of the viewer's own rows
    assert total(result) == 3  # counts only what the viewer may see
    assert len(log.statements) == 2  # the count and the page, nothing per row
    assert all("owner_id" in statement for statement in log.statements)


async def test_the_same_rule_checks_one_object_by_reading_its_column():
    engine = sqlite_engine(ROWS)
    authz_rows: list[NoteRow] = []
    with Session(engine) as session:
        authz_rows = list(session.scalars(select(NoteRow).order_by(NoteRow.id)))
        session.expunge_all()
    authz = AuthExtension(viewer(2))

    @authz.type_rule(OWN, on_object=True, drop_denied=True)
    @strawberry.type
    class Note:
        id: int

    @strawberry.type
    class Query:
        @strawberry.field
        def notes(self) -> list[Note]:
            return authz_rows  # type: ignore[return-value]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ notes { id } }")
    assert result.errors is None
    assert [note["id"] for note in result.data["notes"]] == [2, 5]


async def test_scopes_that_do_not_read_the_row_fold_before_any_sql():
    engine = sqlite_engine(ROWS)
    rules = {"$or": [{"admin": True}, OWN]}
    admin = build(rules, viewer(1, admin=True), engine)
    log = StatementLog(engine)
    result = await admin.schema.execute(NOTES_QUERY)
    assert ids(result) == [1, 2, 3, 4, 5, 6]
    assert "WHERE" not in log.statements[-1]  # allow-all: no condition at all

    user = build(rules, viewer(1), engine)
    result = await user.schema.execute(NOTES_QUERY)
    assert ids(result) == [1, 3, 6]


async def test_a_viewer_with_no_way_in_gets_an_empty_page_and_a_zero_count():
    engine = sqlite_engine(ROWS)
    built = build({"$and": [{"admin": True}, OWN]}, viewer(1), engine)
    result = await built.schema.execute(NOTES_QUERY)
    assert ids(result) == []
    assert total(result) == 0


async def test_not_lets_rows_with_a_null_column_through_exactly_as_the_check_does():
    engine = sqlite_engine(ROWS)
    # "not mine": the row without an owner is not mine, in SQL too.
    built = build({"$not": OWN}, viewer(1), engine, recheck=True)
    result = await built.schema.execute(NOTES_QUERY)
    assert ids(result) == [2, 4, 5]
    assert total(result) == 3


async def test_none_matches_nothing_in_the_filter_and_the_check():
    engine = sqlite_engine(ROWS)
    anonymous = build(OWN, viewer(None), engine)
    result = await anonymous.schema.execute(NOTES_QUERY)
    assert ids(result) == []  # never the rows whose owner is NULL
    assert total(result) == 0
    assert not FilterScope.equals(None).check(None)
    assert not FilterScope.one_of([None]).check(None)


async def test_membership_and_an_empty_membership_list():
    engine = sqlite_engine(ROWS)
    rules = {"$or": [OWN, {"member": Column("team_id")}]}
    member = build(rules, viewer(2, teams=(10,)), engine)
    assert ids(await member.schema.execute(NOTES_QUERY)) == [1, 2, 5]
    nobody = build({"member": Column("team_id")}, viewer(2, teams=()), engine)
    assert ids(await nobody.schema.execute(NOTES_QUERY)) == []


async def test_values_are_bound_parameters_never_sql_text():
    engine = sqlite_engine(ROWS)
    hostile = "1 OR 1=1; DROP TABLE notes; --"
    built = build(
        {"owner": Column("title")},
        lambda context: {"owner": FilterScope.equals(hostile)},
        engine,
    )
    result = await built.schema.execute(NOTES_QUERY)
    assert ids(result) == []
    with Session(engine) as session:
        assert len(session.scalars(select(NoteRow)).all()) == len(ROWS)


def test_sync_resolvers_filter_with_filter_sync():
    engine = sqlite_engine(ROWS)
    built = build(OWN, viewer(2), engine, sync=True)
    result = built.schema.execute_sync(NOTES_QUERY, variable_values={"limit": 1})
    assert ids(result) == [2]
    assert total(result) == 2


async def test_the_plan_is_built_once_per_operation():
    engine = sqlite_engine(ROWS)
    calls: list[object] = []

    def passing(value: object) -> list[int]:
        calls.append(value)
        return [1, 2]

    scope = BatchScope(lambda values: [v in (1, 2) for v in values], passing=passing)
    built = build({"can": Column("id")}, lambda context: {"can": scope}, engine)
    query = (
        "{ a: notes { items { id } } b: notes(limit: 1) { totalCount items { id } } }"
    )
    result = await built.schema.execute(query)
    assert result.errors is None
    assert [i["id"] for i in result.data["a"]["items"]] == [1, 2]
    assert result.data["b"]["totalCount"] == 2
    assert len(calls) == 1


async def test_a_rule_function_cannot_become_a_filter_and_says_where(caplog):
    engine = sqlite_engine(ROWS)
    built = build(lambda params: params.root.owner_id == 1, viewer(1), engine)
    built.authz.validate(built.schema)  # no Column: not declared as a filter
    result = await built.schema.execute(NOTES_QUERY)
    assert result.data is None  # never a broader query
    assert codes(result) == ["FORBIDDEN"]
    assert "type_rule of Note" not in dump(result)  # the policy stays server-side
    assert "type_rule of Note: key '$function'" in authz_logs(caplog)


def test_validate_names_the_type_and_key_of_a_filter_that_mixes_in_a_rule_function():
    built = build(OWN, viewer(1), sqlite_engine(ROWS))
    built.authz.validate(built.schema)  # a pure Column rule is filterable

    authz = AuthExtension(viewer(1))

    @authz.type_rule(OWN, on_object=True)
    @authz.type_rule(lambda params: True, on_object=True)
    @strawberry.type
    class Secret:
        id: int

    @strawberry.type
    class Query:
        secret: Secret | None = None

    schema = strawberry.Schema(query=Query, extensions=[authz])
    with pytest.raises(ConfigurationError) as raised:
        authz.validate(schema)
    message = str(raised.value)
    assert "type_rule of Secret" in message
    assert "'$function'" in message


async def test_a_column_on_a_scope_without_a_query_half_is_a_configuration_error():
    engine = sqlite_engine(ROWS)
    built = build(OWN, lambda context: {"owner": lambda value: value == 1}, engine)
    result = await built.schema.execute(NOTES_QUERY)
    assert result.errors
    assert result.data is None or result.data["notes"] is None

    authz = AuthExtension(lambda context: {"owner": lambda value: value == 1})

    @authz.type_rule(OWN, on_object=True)
    @strawberry.type
    class Note:
        id: int

    raised: list[BaseException] = []

    @strawberry.type
    class Query:
        @strawberry.field
        async def n(self, info: strawberry.Info) -> int:
            try:
                await authz.plan(info, Note)
            except ConfigurationError as error:
                raised.append(error)
            return 0

    await strawberry.Schema(query=Query, extensions=[authz]).execute("{ n }")
    assert len(raised) == 1
    assert "type_rule of Note" in str(raised[0])
    assert "'owner'" in str(raised[0])


async def test_an_interface_rule_is_part_of_its_implementers_filter():
    engine = sqlite_engine(ROWS)
    authz = AuthExtension(viewer(1, teams=(10,)))

    @authz.type_rule({"owner": Column("owner_id")}, on_object=True)
    @strawberry.interface
    class Owned:
        id: int

    @authz.type_rule({"member": Column("team_id")}, on_object=True)
    @strawberry.type
    class TeamNote(Owned):
        title: str
        owner_id: strawberry.Private[int | None]
        team_id: strawberry.Private[int | None]

    plans = []

    @strawberry.type
    class Query:
        @strawberry.field
        async def notes(self, info: strawberry.Info) -> list[TeamNote]:
            stmt = await authz.filter(info, TeamNote, select(NoteRow))
            plans.append(await authz.plan(info, TeamNote))
            with Session(engine) as session:
                return [
                    TeamNote(
                        id=row.id,
                        title=row.title,
                        owner_id=row.owner_id,
                        team_id=row.team_id,
                    )
                    for row in session.scalars(stmt.order_by(NoteRow.id))
                ]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ notes { id } }")
    assert result.errors is None
    assert [note["id"] for note in result.data["notes"]] == [1]  # owner 1 AND team 10
    assert plans[0].columns == {"owner_id", "team_id"}


def test_declared_scopes_accept_a_column_and_still_check_the_name():
    authz = AuthExtension(viewer(1), scopes={"owner": int, "member": int})

    @authz.type_rule({"owner": Column("owner_id")}, on_object=True)
    @strawberry.type
    class Fine:
        id: int

    with pytest.raises(ConfigurationError, match="unknown scope 'ownr'"):

        @authz.type_rule({"ownr": Column("owner_id")}, on_object=True)
        @strawberry.type
        class Typo:
            id: int


def test_a_column_in_a_type_rule_checks_every_field_against_its_object():
    authz = AuthExtension(viewer(2))

    @authz.type_rule(OWN)  # not on_object: each field checks its parent object
    @strawberry.type
    class Note:
        id: int
        owner_id: int | None

    rows = [Note(id=n, owner_id=owner) for n, owner in ((1, 1), (2, 2), (3, None))]

    @strawberry.type
    class Query:
        @strawberry.field
        def notes(self) -> list[Note | None]:
            return rows  # type: ignore[return-value]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ notes { id ownerId } }")
    assert result.data == {"notes": [None, {"id": 2, "ownerId": 2}, None]}
    assert set(codes(result)) == {"FORBIDDEN"}


def test_plan_sync_with_an_async_loader_selects_no_row(caplog):
    engine = sqlite_engine(ROWS)

    async def owner(value: object) -> bool:
        return True

    def load_scopes(context: object) -> dict[str, object]:
        return {"owner": FilterScope.equals(1), "admin": owner}

    built = build({"$and": [{"admin": True}, OWN]}, load_scopes, engine, sync=True)
    result = built.schema.execute_sync(NOTES_QUERY)
    assert ids(result) == []
    assert "scope 'admin' loader is async" in authz_logs(caplog)


async def test_granted_that_the_object_itself_may_grant_is_refused(caplog):
    authz = AuthExtension(viewer(1))

    @authz.type_rule(
        {"$or": [{"$granted": "mine"}, OWN]},
        on_object=True,
        grants=lambda params, root: "mine",
    )
    @strawberry.type
    class Note:
        id: int

    @strawberry.type
    class Query:
        @strawberry.field
        async def notes(self, info: strawberry.Info) -> list[Note]:
            await authz.filter(info, Note, select(NoteRow))
            return []

    result = await strawberry.Schema(query=Query, extensions=[authz]).execute(
        "{ notes { id } }"
    )
    assert codes(result) == ["FORBIDDEN"]
    assert "key '$granted': the type grants names from each object" in authz_logs(
        caplog
    )
