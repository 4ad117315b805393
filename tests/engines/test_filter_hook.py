"""`BatchScope(passing=...)` answering a row condition, engine-neutrally (issue 20.2).

The hook a policy engine filters through, without a server: a condition
answered for `Resource.each(action)` or a `Column`, what it may not answer,
and an engine without the hook (Cedar) refused, never a broader query.
"""

import logging
from typing import Any

import pytest
import strawberry
from enginekit import CEDAR_POLICIES, DOCUMENTS
from sqlalchemy import create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from strawberry_authz import AuthExtension, BatchScope, Column, ConfigurationError
from strawberry_authz._filter_testing import plan_for_context
from strawberry_authz.conditions import Compare, Not, Or
from strawberry_authz.engines import Resource
from strawberry_authz.testing import assert_filter_matches_check


class Base(DeclarativeBase):
    pass


class DocRow(Base):
    __tablename__ = "docs"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str | None]
    status: Mapped[str | None]


ROWS = [
    DocRow(id=n, owner=owner, status=status)
    for n, (owner, status) in enumerate(
        [
            ("alice", "draft"),
            ("bob", "published"),
            ("bob", "draft"),
            (None, "draft"),
            ("alice", None),
            (None, None),
        ],
        1,
    )
]


def schema(scopes: Any, rule: object) -> tuple[AuthExtension, type]:
    authz = AuthExtension(scopes)

    @authz.type_rule(rule, on_object=True)
    @strawberry.type
    class Doc:
        id: int

    return authz, Doc


def fetch(query: Any) -> list[Any]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(DocRow(id=r.id, owner=r.owner, status=r.status) for r in ROWS)
        session.commit()
        rows = list(session.scalars(query))
        session.expunge_all()
    return rows


class Engine:
    """`owner == user || status != "draft"`, checked and planned."""

    def __init__(self, user: str | None) -> None:
        self.user = user

    def check_many(self, values: list[Any]) -> list[bool]:
        return [
            self.user is not None
            and (
                v.attributes["owner"] == self.user or v.attributes["status"] != "draft"
            )
            for v in values
        ]

    def passing(self, value: Any) -> Any:
        if self.user is None:
            return False
        columns = value.attribute_columns
        return Or(
            (
                Compare(columns["owner"], "eq", self.user),
                Not(Compare(columns["status"], "eq", "draft")),
            )
        )

    def scope(self) -> BatchScope:
        return BatchScope(self.check_many, passing=self.passing)


async def test_a_condition_answered_for_resource_each_filters_like_the_check() -> None:
    authz, doc = schema(
        lambda context: {"can": Engine(context["user"]).scope()},
        {"can": DOCUMENTS.each("view")},
    )
    viewers = [{"user": "alice"}, {"user": "bob"}, {"user": None}]
    await assert_filter_matches_check(
        authz, doc, select(DocRow), viewers=viewers, fetch=fetch
    )
    plan, _ = await plan_for_context(authz, doc, {"user": "alice"})
    assert plan.columns == {"owner", "status"}
    assert [r.id for r in fetch(select(DocRow)) if plan.matches(r)] == [1, 2, 5, 6]


async def test_listed_values_for_a_whole_row_value_deny_every_row(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scope = BatchScope(lambda values: [True] * len(values), passing=lambda v: [1, 2])
    authz, doc = schema(lambda context: {"can": scope}, {"can": DOCUMENTS.each("view")})
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        plan, _ = await plan_for_context(authz, doc, {})
    assert plan.deny_all
    assert "must answer a row condition" in caplog.text


async def test_a_condition_answered_for_a_column_filters_and_its_not_negates() -> None:
    def scopes(context: Any) -> dict[str, object]:
        return {
            "mine": BatchScope(
                lambda values: [v == "alice" for v in values],
                passing=lambda value: Compare("owner", "eq", "alice"),
            )
        }

    for rule in ({"mine": Column("owner")}, {"$not": {"mine": Column("owner")}}):
        authz, doc = schema(scopes, rule)
        await assert_filter_matches_check(
            authz, doc, select(DocRow), viewers=[{}], fetch=fetch
        )


async def test_a_failing_condition_denies_every_row_even_under_not() -> None:
    def broken(value: Any) -> Any:
        raise RuntimeError("plan service down")

    scope = BatchScope(lambda values: [True] * len(values), passing=broken)
    for rule in (
        {"can": DOCUMENTS.each("view")},
        {"$not": {"can": DOCUMENTS.each("view")}},
    ):
        authz, doc = schema(lambda context: {"can": scope}, rule)
        plan, _ = await plan_for_context(authz, doc, {})
        assert plan.deny_all


def test_a_resource_each_needs_a_column_and_an_action() -> None:
    with pytest.raises(ConfigurationError, match="action"):
        DOCUMENTS.each("")
    with pytest.raises(ConfigurationError, match="column"):
        Resource("document", id=str, attributes={"owner": len}).each("view")
    assert DOCUMENTS.each("view").read(ROWS[0]) == DOCUMENTS.check(ROWS[0], "view")


async def test_cedar_has_no_query_filter_and_is_refused_by_name(
    cedar_installed: None,
) -> None:
    from strawberry_authz.cedar import Cedar

    cedar = Cedar(
        CEDAR_POLICIES,
        entities=[],
        principal=lambda context: {"type": "user", "id": "alice"},
    )
    authz, doc = schema(
        lambda context: {"can": cedar.scope(context)}, {"can": DOCUMENTS.each("view")}
    )
    with pytest.raises(ConfigurationError) as raised:
        await plan_for_context(authz, doc, {})
    assert "Doc" in str(raised.value) and "'can'" in str(raised.value)
    assert "passing=" in str(raised.value)
