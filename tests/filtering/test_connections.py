"""Relay connections filtered in SQL: full pages, right counts (issue 18, point 10)."""

from collections.abc import Callable, Iterable
from typing import Any

import strawberry
from filterkit import NoteRow, StatementLog, sqlite_engine
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from strawberry import relay

from strawberry_authz import AuthExtension, Column, FilterScope

ROWS = [
    {"id": n, "title": f"note {n}", "owner_id": 1 if n % 2 else 2} for n in range(1, 14)
]


class SelectWindow:
    """A filtered `Select` that `ListConnection` slices into `OFFSET/LIMIT`."""

    def __init__(
        self, session: Session, stmt: Select[Any], node: Callable[[Any], Any]
    ) -> None:
        self.session = session
        self.stmt = stmt
        self.node = node

    def __getitem__(self, window: slice) -> list[Any]:
        stmt = self.stmt.offset(window.start or 0)
        if window.stop is not None:
            stmt = stmt.limit(window.stop - (window.start or 0))
        return [self.node(row) for row in self.session.scalars(stmt)]

    def count(self) -> int:
        counted = select(func.count()).select_from(self.stmt.subquery())
        return int(self.session.scalar(counted) or 0)


def build(engine: Any, user: int) -> strawberry.Schema:
    authz = AuthExtension(lambda context: {"owner": FilterScope.equals(user)})

    @authz.type_rule({"owner": Column("owner_id")}, on_object=True)
    @strawberry.type
    class Note:
        id: int
        title: str
        owner_id: strawberry.Private[int | None]  # what the object rule reads

        @classmethod
        def of(cls, row: NoteRow) -> "Note":
            return cls(id=row.id, title=row.title, owner_id=row.owner_id)

    @strawberry.type(name="NoteConnection")
    class NoteConnection(relay.ListConnection[Note]):
        window: strawberry.Private[SelectWindow | None] = None

        @strawberry.field
        def total_count(self) -> int:
            """Visible rows only: the COUNT runs on the filtered query."""
            assert self.window is not None
            return self.window.count()

        @classmethod
        def resolve_connection(
            cls, nodes: Any, *, info: strawberry.Info, **kwargs: Any
        ) -> Any:
            connection = super().resolve_connection(nodes, info=info, **kwargs)
            connection.window = nodes
            return connection

    session = Session(engine)

    @strawberry.type
    class Query:
        @relay.connection(NoteConnection)
        async def notes(self, info: strawberry.Info) -> Iterable[Note]:
            stmt = select(NoteRow).order_by(NoteRow.id)
            stmt = await authz.filter(info, Note, stmt)
            return SelectWindow(session, stmt, Note.of)  # type: ignore[return-value]

    return strawberry.Schema(query=Query, extensions=[authz])


PAGE = """
query($after: String) {
  notes(first: 2, after: $after) {
    totalCount
    edges { node { id title } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_every_page_is_full_and_the_total_counts_only_visible_rows():
    engine = sqlite_engine(ROWS)
    for user in (1, 2):
        schema = build(engine, user)
        visible = [row["id"] for row in ROWS if row["owner_id"] == user]
        seen: list[str] = []
        after = None
        while True:
            result = await schema.execute(PAGE, variable_values={"after": after})
            assert result.errors is None, result.errors
            page = result.data["notes"]
            assert page["totalCount"] == len(visible)
            nodes = [edge["node"] for edge in page["edges"]]
            if page["pageInfo"]["hasNextPage"]:
                assert len(nodes) == 2  # full, however many rows were hidden
            seen.extend(node["title"] for node in nodes)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == [f"note {n}" for n in visible]


async def test_a_page_costs_one_query_for_its_rows_and_one_for_the_count():
    engine = sqlite_engine(ROWS)
    log = StatementLog(engine)
    result = await build(engine, 1).execute(PAGE)
    assert result.errors is None
    assert len(log.statements) == 2
    assert all("owner_id" in statement for statement in log.statements)
