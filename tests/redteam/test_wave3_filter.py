"""Third wave: `authz.filter` attacked from outside (issue 18's Done-when).

NULLs, `$not`, empty id sets, engine errors, a viewer switching mid-request,
injection through values, `recheck=False` meeting nested objects, and two
viewers at once. What held is in docs/security.md.
"""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import codes, dump
from sqlalchemy import create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from strawberry_authz import AuthExtension, BatchScope, Column, FilterScope


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "rt_rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str | None]
    parent_id: Mapped[int | None]


ENGINE = create_engine("sqlite://")
Base.metadata.create_all(ENGINE)
with Session(ENGINE) as _s:
    _s.add_all(
        [
            Row(id=1, owner="alice", parent_id=2),
            Row(id=2, owner="bob", parent_id=None),
            Row(id=3, owner=None, parent_id=None),
            Row(id=4, owner="x' OR '1'='1", parent_id=None),
        ]
    )
    _s.commit()


def rows(stmt: Any) -> list[Row]:
    with Session(ENGINE, expire_on_commit=False) as session:
        return list(session.scalars(stmt.order_by(Row.id)))


def owner_scopes(context: Any) -> dict[str, Any]:
    return {"owner": FilterScope.equals(context["user"])}


NESTED = AuthExtension(owner_scopes)


@NESTED.type_rule({"owner": Column("owner")}, on_object=True)
@strawberry.type
class Note:
    id: int
    owner: str | None
    parent_id: strawberry.Private[int | None]

    @strawberry.field
    def parent(self) -> "Note | None":
        if self.parent_id is None:
            return None
        found = rows(select(Row).where(Row.id == self.parent_id))[0]
        return Note(id=found.id, owner=found.owner, parent_id=None)


@strawberry.type
class NestedQuery:
    @strawberry.field
    async def notes(self, info: strawberry.Info, recheck: bool = True) -> list[Note]:
        stmt = await NESTED.filter(info, Note, select(Row), recheck=recheck)
        return [Note(id=r.id, owner=r.owner, parent_id=r.parent_id) for r in rows(stmt)]


NESTED_SCHEMA = strawberry.Schema(query=NestedQuery, extensions=[NESTED])


def nested_schema(recheck: bool) -> strawberry.Schema:
    return NESTED_SCHEMA


@pytest.mark.parametrize("recheck", [True, False])
async def test_recheck_false_never_trusts_an_object_loaded_beneath_a_filtered_row(
    recheck,
):
    """The filter narrowed `notes`' query, not `Note.parent`'s own load."""
    result = await NESTED_SCHEMA.execute(
        "query ($r: Boolean!) { notes(recheck: $r) { id owner parent { id owner } } }",
        variable_values={"r": recheck},
        context_value={"user": "alice"},
    )
    assert "bob" not in dump(result)
    assert result.data["notes"][0]["id"] == 1
    assert result.data["notes"][0]["parent"] is None
    assert len(result.data["notes"]) == 1
    assert codes(result) == ["FORBIDDEN"]


async def test_injection_through_a_value_is_a_bound_parameter():
    schema = nested_schema(True)
    result = await schema.execute(
        "{ notes { id } }", context_value={"user": "x' OR '1'='1"}
    )
    # Only the row whose owner *is* that text, never every row.
    assert result.data["notes"] == [{"id": 4}]


@pytest.mark.parametrize("user", [None, ""])
async def test_an_anonymous_viewer_never_matches_a_null_owner(user):
    schema = nested_schema(True)
    result = await schema.execute("{ notes { id } }", context_value={"user": user})
    assert result.data["notes"] == []


def engine_schema(passing: Any, load_fn: Any, rule: Any) -> strawberry.Schema:
    authz = AuthExtension(lambda context: {"can": BatchScope(load_fn, passing=passing)})

    @authz.type_rule(rule, on_object=True)
    @strawberry.type
    class Doc:
        id: int
        owner: str | None

    @strawberry.type
    class Query:
        @strawberry.field
        async def docs(self, info: strawberry.Info) -> list[Doc | None]:
            stmt = await authz.filter(info, Doc, select(Row))
            return [Doc(id=r.id, owner=r.owner) for r in rows(stmt)]

    return strawberry.Schema(query=Query, extensions=[authz])


async def test_an_engine_error_in_passing_denies_every_row_without_its_text():
    def passing(_value: Any) -> Any:
        raise RuntimeError("ENGINE-SECRET-TEXT")

    schema = engine_schema(
        passing, lambda values: [True] * len(values), {"can": ["doc", Column("id")]}
    )
    result = await schema.execute("{ docs { id } }")
    assert "ENGINE-SECRET-TEXT" not in dump(result)
    assert not (result.data or {}).get("docs")


async def test_an_empty_passing_set_selects_no_row_even_under_not_not():
    schema = engine_schema(
        lambda _v: [],
        lambda values: [False] * len(values),
        {"$not": {"$not": {"can": ["doc", Column("id")]}}},
    )
    result = await schema.execute("{ docs { id } }")
    assert result.data["docs"] == []


async def test_not_around_an_engine_that_fails_denies_as_a_failure():
    """`$not` of a failed answer is never a pass, in the query or the check."""

    def load_fn(values: list[Any]) -> dict[Any, Any]:
        return {tuple(v): RuntimeError("LOADER-SECRET") for v in values}

    def passing(_value: Any) -> Any:
        raise RuntimeError("PASSING-SECRET")

    schema = engine_schema(passing, load_fn, {"$not": {"can": ["doc", Column("id")]}})
    result = await schema.execute("{ docs { id } }")
    text = dump(result)
    assert "SECRET" not in text
    assert not any(d for d in (result.data or {}).get("docs") or [])


async def test_listed_ids_answer_only_the_question_they_were_listed_for():
    """ids listed for "view" never pass a check of "edit" on the same scope."""
    asked: list[Any] = []

    def load_fn(values: list[Any]) -> list[bool]:
        asked.extend(values)
        return [False] * len(values)

    authz = AuthExtension(
        lambda context: {"can": BatchScope(load_fn, passing=lambda _v: [1, 2, 3, 4])}
    )

    @authz.type_rule({"can": ["doc", Column("id"), "view"]}, on_object=True)
    @strawberry.type
    class Doc:
        id: int
        can_edit: bool = authz.can_field(lambda p: {"can": ["doc", p.root.id, "edit"]})

        @authz.rule(lambda p: {"can": ["doc", p.root.id, "edit"]})
        @strawberry.field
        def edit_token(self) -> str | None:
            return "EDIT-TOKEN"

    @strawberry.type
    class Query:
        @strawberry.field
        async def docs(self, info: strawberry.Info) -> list[Doc | None]:
            stmt = await authz.filter(info, Doc, select(Row))
            return [Doc(id=r.id) for r in rows(stmt)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ docs { id canEdit editToken } }")
    assert "EDIT-TOKEN" not in dump(result)
    assert [d["canEdit"] for d in result.data["docs"] if d] == [False] * 4
    assert all(v[2] == "edit" for v in asked) and len(asked) == 4


async def test_two_viewers_at_once_each_get_their_own_plan():
    gate = asyncio.Event()

    async def owner_of(context: Any) -> dict[str, Any]:
        if context["user"] == "alice":
            await gate.wait()  # alice's scopes load after bob's request ran
        else:
            gate.set()
        return {"owner": FilterScope.equals(context["user"])}

    authz = AuthExtension(owner_of)

    @authz.type_rule({"owner": Column("owner")}, on_object=True)
    @strawberry.type
    class Note:
        id: int
        owner: str | None

    @strawberry.type
    class Query:
        @strawberry.field
        async def notes(self, info: strawberry.Info) -> list[Note]:
            stmt = await authz.filter(info, Note, select(Row), recheck=False)
            await asyncio.sleep(0)
            return [Note(id=r.id, owner=r.owner) for r in rows(stmt)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    a, b = await asyncio.gather(
        schema.execute("{ notes { id owner } }", context_value={"user": "alice"}),
        schema.execute("{ notes { id owner } }", context_value={"user": "bob"}),
    )
    assert a.data["notes"] == [{"id": 1, "owner": "alice"}]
    assert b.data["notes"] == [{"id": 2, "owner": "bob"}]


async def test_a_viewer_switching_mid_request_filters_as_the_new_viewer():
    authz = AuthExtension(owner_scopes)

    @authz.type_rule({"owner": Column("owner")}, on_object=True)
    @strawberry.type
    class Note:
        id: int

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        async def first(self, info: strawberry.Info) -> list[Note]:
            stmt = await authz.filter(info, Note, select(Row), recheck=False)
            return [Note(id=r.id) for r in rows(stmt)]

        @strawberry.mutation
        async def logout(self, info: strawberry.Info) -> bool:
            info.context["user"] = None
            authz.clear_cache(info)
            return True

        @strawberry.mutation
        async def second(self, info: strawberry.Info) -> list[Note]:
            stmt = await authz.filter(info, Note, select(Row), recheck=False)
            return [Note(id=r.id) for r in rows(stmt)]

    @strawberry.type
    class Query:
        ok: bool = True

    schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=[authz])
    result = await schema.execute(
        "mutation { first { id } logout second { id } }",
        context_value={"user": "alice"},
    )
    assert result.data["first"] == [{"id": 1}]
    assert result.data["second"] == []


async def test_recheck_false_never_trusts_another_type_behind_an_interface():
    authz = AuthExtension(owner_scopes)

    @strawberry.interface
    class Entry:
        id: int

    @authz.type_rule({"owner": Column("owner")}, on_object=True)
    @strawberry.type
    class Memo(Entry):
        owner: str | None

    @authz.type_rule(lambda p: False, on_object=True)
    @strawberry.type
    class Vault(Entry):
        code: str

    @strawberry.type
    class Query:
        @strawberry.field
        async def entries(self, info: strawberry.Info) -> list[Entry | None]:
            stmt = await authz.filter(info, Memo, select(Row), recheck=False)
            found: list[Any] = [Memo(id=r.id, owner=r.owner) for r in rows(stmt)]
            return [*found, Vault(id=99, code="VAULT-CODE")]

    schema = strawberry.Schema(query=Query, types=[Memo, Vault], extensions=[authz])
    result = await schema.execute(
        "{ entries { id ... on Vault { code } } }", context_value={"user": "alice"}
    )
    assert "VAULT-CODE" not in dump(result)
    assert result.data["entries"] == [{"id": 1}, None]


async def test_a_grant_given_to_one_alias_never_widens_a_siblings_filter():
    authz = AuthExtension(owner_scopes)

    @authz.type_rule(
        {"$or": [{"$granted": "all"}, {"owner": Column("owner")}]}, on_object=True
    )
    @strawberry.type
    class Note:
        id: int
        owner: str | None

    async def load(info: strawberry.Info) -> list[Note]:
        stmt = await authz.filter(info, Note, select(Row), recheck=False)
        return [Note(id=r.id, owner=r.owner) for r in rows(stmt)]

    @strawberry.type
    class Query:
        @authz.rule(True, grants=["all"])
        @strawberry.field
        async def everything(self, info: strawberry.Info) -> list[Note]:
            return await load(info)

        @strawberry.field
        async def mine(self, info: strawberry.Info) -> list[Note]:
            return await load(info)

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute(
        "{ b: mine { id } a: everything { id } c: mine { id } }",
        context_value={"user": "alice"},
    )
    assert len(result.data["a"]) == 4
    assert result.data["b"] == result.data["c"] == [{"id": 1}]
