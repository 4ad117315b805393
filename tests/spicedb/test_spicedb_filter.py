"""SpiceDB filters the query: `column IN (ids from LookupResources)` (issue 18.5).

A real embedded SpiceDB decides who may view which document; a SQLite table
holds the documents. The type's rule `{"can": ["document", Column("id"),
"view"]}` checks each object with CheckBulkPermissions and filters the query
with LookupResources; an engine error or too many ids deny every row.
"""

from typing import Any

import pytest
import spicedbkit
import strawberry
from authzkit import authz_logs, dump
from spicedbkit import VISIBLE, Broken, Counting, stop
from sqlalchemy import create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from strawberry_authz import AuthExtension, Column
from strawberry_authz.spicedb import SpiceDB
from strawberry_authz.testing import assert_filter_matches_check


class Base(DeclarativeBase):
    pass


class DocumentRow(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]


def documents() -> Any:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(DocumentRow(id=n, title=f"doc {n}") for n in range(1, 8))
        session.commit()
    return engine


def as_user(context: Any) -> str | None:
    return context.get("user")


CAN_VIEW = {"can": ["document", Column("id"), "view"]}


def schema_over(spicedb: SpiceDB, engine: Any, rules: object = CAN_VIEW) -> Any:
    authz = AuthExtension(lambda context: {"can": spicedb.scope(context)})

    @authz.type_rule(rules, on_object=True)
    @strawberry.type
    class Document:
        id: int
        title: str

    @strawberry.type
    class Query:
        @strawberry.field
        async def documents(self, info: strawberry.Info) -> list[Document]:
            stmt = select(DocumentRow).order_by(DocumentRow.id)
            stmt = await authz.filter(info, Document, stmt)
            with Session(engine) as session:
                found = list(session.scalars(stmt))
                session.expunge_all()
            return found  # type: ignore[return-value]

    return strawberry.Schema(query=Query, extensions=[authz]), authz, Document


def adapter(db: Any, **options: Any) -> tuple[SpiceDB, Counting]:
    spicedb = SpiceDB.from_embedded(
        db, subject=as_user, consistency=spicedbkit.FRESH, **options
    )
    counting = Counting(spicedb.client)
    spicedb.client = counting
    return spicedb, counting


@pytest.mark.parametrize("user", sorted(VISIBLE))
async def test_each_user_gets_exactly_the_documents_spicedb_lets_them_view(
    db: Any, user: str
) -> None:
    spicedb, counting = adapter(db)
    schema, _, _ = schema_over(spicedb, documents())
    result = await schema.execute(
        "{ documents { id } }", context_value={"user": f"user:{user}"}
    )
    assert result.errors is None
    assert {str(d["id"]) for d in result.data["documents"]} == VISIBLE[user]
    assert counting.calls("LookupResources") == 1
    # The rows keep their object check, answered from the ids just listed.
    assert counting.calls("CheckBulkPermissions") == 0


async def test_the_filter_matches_the_check_for_every_user(db: Any) -> None:
    spicedb, _ = adapter(db)
    engine = documents()
    _, authz, document = schema_over(spicedb, engine)
    with Session(engine) as session:
        await assert_filter_matches_check(
            authz,
            document,
            select(DocumentRow),
            viewers=[{"user": f"user:{user}"} for user in VISIBLE] + [{}],
            fetch=lambda query: session.scalars(query).all(),
        )


async def test_anonymous_sees_nothing_without_a_call(db: Any) -> None:
    spicedb, counting = adapter(db)
    schema, _, _ = schema_over(spicedb, documents())
    result = await schema.execute("{ documents { id } }", context_value={})
    assert result.errors is None
    assert result.data == {"documents": []}
    assert counting.requests == {}


@pytest.mark.parametrize("rules", [CAN_VIEW, {"$not": CAN_VIEW}])
async def test_an_engine_error_denies_every_row_even_under_not(
    db: Any, rules: object, caplog: pytest.LogCaptureFixture
) -> None:
    schema, _, _ = schema_over(SpiceDB(Broken(), subject=as_user), documents(), rules)
    result = await schema.execute(
        "{ documents { id } }", context_value={"user": "user:alice"}
    )
    assert result.errors is None
    assert result.data == {"documents": []}  # never every row
    assert Broken.SECRET not in dump(result)
    assert "passing" in authz_logs(caplog)


async def test_more_ids_than_max_lookup_deny_every_row(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    spicedb, _ = adapter(db, max_lookup=1)
    schema, _, _ = schema_over(spicedb, documents())
    result = await schema.execute(
        "{ documents { id } }", context_value={"user": "user:alice"}
    )
    assert result.data == {"documents": []}  # alice may view 2: not a truncated 1
    assert "max_passing=1" in authz_logs(caplog)


async def test_a_stopped_engine_denies_every_row(db: Any) -> None:
    spicedb, _ = adapter(db)
    schema, _, _ = schema_over(spicedb, documents())
    stop(db)
    result = await schema.execute(
        "{ documents { id } }", context_value={"user": "user:alice"}
    )
    assert result.data == {"documents": []}
