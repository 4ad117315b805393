"""A notes table on real SQLite and a schema whose list is filtered in SQL.

`build(rules, scopes)` makes an `AuthExtension` whose `load_scopes` returns
`scopes(context)`, a `Note` type carrying `rules` as its object rule, and
`Query.notes(limit, offset)` returning a page (`items`, `totalCount`) built
from `authz.filter` before LIMIT / OFFSET / COUNT.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from sqlalchemy import (
    Engine,
    ForeignKey,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from strawberry_authz import AuthExtension


class Base(DeclarativeBase):
    pass


class NoteRow(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    owner_id: Mapped[int | None] = mapped_column(default=None)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), default=None)
    public: Mapped[bool | None] = mapped_column(default=False)


class TeamRow(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)


def sqlite_engine(rows: list[dict[str, Any]]) -> Engine:
    """An in-memory SQLite database holding `rows` (a team for each team_id)."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    teams = {row["team_id"] for row in rows if row.get("team_id") is not None}
    with Session(engine) as session:
        session.add_all(TeamRow(id=team) for team in sorted(teams))
        session.add_all(NoteRow(**row) for row in rows)
        session.commit()
    return engine


class StatementLog:
    """Counts the SQL statements an engine runs (and keeps their text)."""

    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        self.statements.append(statement)


@dataclass
class Built:
    authz: AuthExtension
    schema: strawberry.Schema
    Note: type


def build(
    rules: object,
    scopes: Callable[[Any], dict[str, object]],
    engine: Engine,
    *,
    recheck: bool = True,
    drop_denied: bool = True,
    sync: bool = False,
) -> Built:
    """The schema of the module docstring, over `engine`."""
    authz = AuthExtension(scopes)

    @authz.type_rule(rules, on_object=True, drop_denied=drop_denied)
    @strawberry.type
    class Note:
        id: int
        title: str

    @strawberry.type
    class NotePage:
        items: list[Note]
        total_count: int

    def page(stmt: Any, limit: int, offset: int) -> NotePage:
        with Session(engine) as session:
            total = session.scalar(select(func.count()).select_from(stmt.subquery()))
            items = session.scalars(stmt.limit(limit).offset(offset)).all()
            session.expunge_all()
        return NotePage(items=list(items), total_count=total or 0)  # type: ignore[arg-type]

    if sync:

        @strawberry.type
        class Query:
            @strawberry.field
            def notes(
                self, info: strawberry.Info, limit: int = 100, offset: int = 0
            ) -> NotePage:
                stmt = select(NoteRow).order_by(NoteRow.id)
                stmt = authz.filter_sync(info, Note, stmt, recheck=recheck)
                return page(stmt, limit, offset)

    else:

        @strawberry.type
        class Query:  # type: ignore[no-redef]
            @strawberry.field
            async def notes(
                self, info: strawberry.Info, limit: int = 100, offset: int = 0
            ) -> NotePage:
                stmt = select(NoteRow).order_by(NoteRow.id)
                stmt = await authz.filter(info, Note, stmt, recheck=recheck)
                return page(stmt, limit, offset)

    schema = strawberry.Schema(query=Query, extensions=[authz])
    return Built(authz, schema, Note)


NOTES_QUERY = """
query($limit: Int, $offset: Int) {
  notes(limit: $limit, offset: $offset) { totalCount items { id title } }
}
"""


def ids(result: Any) -> list[int]:
    assert result.errors is None, result.errors
    return [item["id"] for item in result.data["notes"]["items"]]


def total(result: Any) -> int:
    assert result.errors is None, result.errors
    return int(result.data["notes"]["totalCount"])
