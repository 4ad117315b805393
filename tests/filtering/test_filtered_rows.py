"""Filtered rows keep their object check; async sessions; a viewer switching.

Issue 18, points 4 (AsyncSession), 7 (recheck) and the attack list (a viewer
switching mid-request, `$granted` folded where the filter runs).
"""

import strawberry
from authzkit import codes
from filterkit import NOTES_QUERY, NoteRow, build, ids, sqlite_engine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from strawberry_authz import AuthExtension, BatchScope, Column, FilterScope

ROWS = [
    {"id": 1, "title": "a", "owner_id": 1},
    {"id": 2, "title": "b", "owner_id": 2},
    {"id": 3, "title": "c", "owner_id": 1},
]


def too_broad(context: object) -> dict[str, object]:
    # A `where` half that disagrees with its check: every row in SQL, only
    # owner 1 for an object. The per-object check is the second line.
    return {"owner": FilterScope(check=lambda value: value == 1, where=lambda c: True)}


async def test_rows_that_came_through_the_filter_are_still_checked_one_by_one():
    built = build({"owner": Column("owner_id")}, too_broad, sqlite_engine(ROWS))
    result = await built.schema.execute(NOTES_QUERY)
    assert ids(result) == [1, 3]  # row 2 passed the (wrong) filter, not the check


async def test_recheck_false_trusts_the_filter_for_that_type():
    built = build(
        {"owner": Column("owner_id")}, too_broad, sqlite_engine(ROWS), recheck=False
    )
    result = await built.schema.execute(NOTES_QUERY)
    assert ids(result) == [1, 2, 3]  # what the filter selected, unchecked


async def test_recheck_false_keeps_denying_with_drop_denied_off():
    built = build(
        {"owner": Column("owner_id")},
        too_broad,
        sqlite_engine(ROWS),
        drop_denied=False,
    )
    result = await built.schema.execute(NOTES_QUERY)
    assert codes(result) == ["FORBIDDEN"]  # the wrong row is an error, not data
    assert "'b'" not in repr(result.data)


async def test_filter_works_with_an_async_session_on_aiosqlite(tmp_path):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'notes.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(NoteRow.metadata.create_all)
    async with AsyncSession(engine) as session:
        session.add_all(NoteRow(**row) for row in ROWS)
        await session.commit()

    authz = AuthExtension(lambda context: {"owner": FilterScope.equals(1)})

    @authz.type_rule({"owner": Column("owner_id")}, on_object=True)
    @strawberry.type
    class Note:
        id: int

    @strawberry.type
    class Query:
        @strawberry.field
        async def notes(self, info: strawberry.Info) -> list[Note]:
            stmt = await authz.filter(info, Note, select(NoteRow).order_by(NoteRow.id))
            async with AsyncSession(engine) as session:
                return list((await session.scalars(stmt)).all())  # type: ignore[arg-type]

        @strawberry.field
        async def count(self, info: strawberry.Info) -> int:
            stmt = await authz.filter(info, Note, select(NoteRow))
            async with AsyncSession(engine) as session:
                counted = select(func.count()).select_from(stmt.subquery())
                return int(await session.scalar(counted) or 0)

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ notes { id } count }")
    await engine.dispose()
    assert result.errors is None
    assert result.data == {"notes": [{"id": 1}, {"id": 3}], "count": 2}


async def test_a_viewer_switching_mid_request_gets_a_new_plan():
    engine = sqlite_engine(ROWS)
    context = {"user": 1}
    authz = AuthExtension(
        lambda context: {"owner": FilterScope.equals(context["user"])}
    )

    @authz.type_rule({"owner": Column("owner_id")}, on_object=True)
    @strawberry.type
    class Note:
        id: int

    from sqlalchemy.orm import Session

    def rows(stmt: object) -> list[Note]:
        with Session(engine) as session:
            found = list(session.scalars(stmt))  # type: ignore[call-overload]
            session.expunge_all()
        return found

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        async def before(self, info: strawberry.Info) -> list[Note]:
            return rows(await authz.filter(info, Note, select(NoteRow)))

        @strawberry.mutation
        async def switch(self, info: strawberry.Info) -> bool:
            info.context["user"] = 2
            authz.clear_cache(info)
            return True

        @strawberry.mutation
        async def after(self, info: strawberry.Info) -> list[Note]:
            return rows(await authz.filter(info, Note, select(NoteRow)))

    @strawberry.type
    class Query:
        x: int = 0

    schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=[authz])
    result = await schema.execute(
        "mutation { before { id } switch after { id } }", context_value=context
    )
    assert result.errors is None
    assert result.data["before"] == [{"id": 1}, {"id": 3}]
    assert result.data["after"] == [{"id": 2}]


async def test_granted_folds_to_what_the_filtering_field_was_granted():
    engine = sqlite_engine(ROWS)
    authz = AuthExtension(lambda context: {"owner": FilterScope.equals(2)})

    @authz.type_rule(
        {"$or": [{"$granted": "see_all"}, {"owner": Column("owner_id")}]},
        on_object=True,
    )
    @strawberry.type
    class Note:
        id: int

    from sqlalchemy.orm import Session

    def rows(stmt: object) -> list[Note]:
        with Session(engine) as session:
            found = list(session.scalars(stmt))  # type: ignore[call-overload]
            session.expunge_all()
        return found

    @strawberry.type
    class Folder:
        @strawberry.field
        async def notes(self, info: strawberry.Info) -> list[Note]:
            stmt = select(NoteRow).order_by(NoteRow.id)
            return rows(await authz.filter(info, Note, stmt))

    @strawberry.type
    class Query:
        @authz.rule(True, grants=["see_all"])
        @strawberry.field
        def open_folder(self) -> Folder:
            return Folder()

        @strawberry.field
        def folder(self) -> Folder:
            return Folder()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute(
        "{ openFolder { notes { id } } folder { notes { id } } }"
    )
    assert result.errors is None
    assert result.data["openFolder"]["notes"] == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert result.data["folder"]["notes"] == [{"id": 2}]


async def test_deny_by_default_and_an_audit_hook_compose_with_the_filter():
    engine = sqlite_engine(ROWS)
    decisions: list[object] = []
    authz = AuthExtension(
        lambda context: {"owner": FilterScope.equals(1)},
        fallback_rule=False,
        on_decision=decisions.append,
    )

    @authz.type_rule({"owner": Column("owner_id")}, on_object=True)
    @strawberry.type
    class Note:
        id: int
        title: str

    from sqlalchemy.orm import Session

    @strawberry.type
    class Query:
        @authz.rule(True)
        @strawberry.field
        async def notes(self, info: strawberry.Info) -> tuple[Note, ...]:
            stmt = await authz.filter(info, Note, select(NoteRow).order_by(NoteRow.id))
            with Session(engine) as session:
                found = tuple(session.scalars(stmt))
                session.expunge_all()
            return found  # type: ignore[return-value]

        @strawberry.field
        def unguarded(self) -> int:  # deny by default still denies it
            return 1

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ notes { id title } }")
    assert result.errors is None
    assert result.data == {"notes": [{"id": 1, "title": "a"}, {"id": 3, "title": "c"}]}
    assert decisions  # the field's own decision is recorded
    denied = await schema.execute("{ unguarded }")
    assert codes(denied) == ["FORBIDDEN"]


async def test_rows_an_engine_listed_pass_their_check_without_asking_it_again():
    engine = sqlite_engine(ROWS)
    asked: list[list[object]] = []

    def load_fn(values: list[object]) -> list[bool]:
        asked.append(values)
        return [value[1] in (1, 2) for value in values]  # type: ignore[index]

    scope = BatchScope(load_fn, passing=lambda value: ["1", "2"])
    authz = AuthExtension(lambda context: {"can": scope})

    @authz.type_rule({"can": ["note", Column("id")]}, on_object=True)
    @strawberry.type
    class Note:
        id: int

    from sqlalchemy.orm import Session

    @strawberry.type
    class Query:
        @strawberry.field
        async def notes(self, info: strawberry.Info) -> list[Note | None]:
            stmt = await authz.filter(info, Note, select(NoteRow).order_by(NoteRow.id))
            with Session(engine) as session:
                found = list(session.scalars(stmt))
                # A row the query did not select (a bug in the resolver):
                found.append(session.get(NoteRow, 3))
                session.expunge_all()
            return found  # type: ignore[return-value]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ notes { id } }")
    assert result.data == {"notes": [{"id": 1}, {"id": 2}, None]}
    assert asked == [[["note", 3]]]  # only the row the engine had not listed
