"""The filter selects exactly the rows the check allows (issue 18, point 9).

Random rules (every logic key, `$not` included, over row and non-row scopes)
and random rows (NULLs included) on real SQLite through SQLAlchemy, compared
by `strawberry_authz.testing.assert_filter_matches_check`.
"""

import asyncio
from typing import Any

import pytest
import strawberry
from filterkit import NoteRow, sqlite_engine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rulekit import rule_trees
from sqlalchemy import select
from sqlalchemy.orm import Session

from strawberry_authz import AuthExtension, Column, FilterScope
from strawberry_authz.testing import assert_filter_matches_check

LEAVES: list[dict[str, object]] = [
    {"admin": True},
    {"closed": True},
    {"owner": Column("owner_id")},
    {"member": Column("team_id")},
    {"public": Column("public")},
    {"above": Column("id")},
]


def load_scopes(viewer: dict[str, Any]) -> dict[str, object]:
    threshold = viewer["above"]
    return {
        "admin": viewer["admin"],
        "closed": False,
        "owner": FilterScope.equals(viewer["user"]),
        "member": FilterScope.one_of(viewer["teams"]),
        "public": FilterScope.equals(True),
        # A pair written by hand: `id > threshold` both ways.
        "above": FilterScope(
            check=lambda value: value is not None and value > threshold,
            where=lambda column: column > threshold,
        ),
    }


def rules() -> st.SearchStrategy[dict[str, object]]:
    return rule_trees(LEAVES)


ROW = st.fixed_dictionaries(
    {
        "owner_id": st.none() | st.sampled_from([1, 2, 3]),
        "team_id": st.none() | st.sampled_from([10, 20]),
        "public": st.none() | st.booleans(),
    }
)

VIEWER = st.fixed_dictionaries(
    {
        # "1" and "10": text where the columns hold numbers (SQLite would
        # convert; Python's check does not).
        "user": st.none() | st.sampled_from([1, 2, "1"]),
        "teams": st.lists(st.sampled_from([10, 20, "10"]), max_size=2),
        "admin": st.booleans(),
        "above": st.integers(0, 6),
    }
)


def note_type(rule: dict[str, object]) -> tuple[AuthExtension, type]:
    authz = AuthExtension(load_scopes)

    @authz.type_rule(rule, on_object=True)
    @strawberry.type
    class Note:
        id: int

    return authz, Note


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rule=rules(),
    rows=st.lists(ROW, max_size=8),
    viewers=st.lists(VIEWER, min_size=1, max_size=3),
)
def test_random_rules_filter_exactly_the_rows_their_check_allows(rule, rows, viewers):
    engine = sqlite_engine(
        [{"id": index + 1, "title": "t", **row} for index, row in enumerate(rows)]
    )
    authz, note = note_type(rule)
    with Session(engine) as session:
        asyncio.run(
            assert_filter_matches_check(
                authz,
                note,
                select(NoteRow),
                viewers=viewers,
                fetch=lambda query: session.scalars(query).all(),
            )
        )
    engine.dispose()


async def test_the_helper_reports_a_filter_broader_than_its_check():
    engine = sqlite_engine(
        [{"id": 1, "title": "t", "owner_id": 1}, {"id": 2, "title": "u", "owner_id": 2}]
    )
    authz = AuthExtension(
        lambda viewer: {
            "owner": FilterScope(check=lambda v: v == 1, where=lambda c: c >= 1)
        }
    )

    @authz.type_rule({"owner": Column("owner_id")}, on_object=True)
    @strawberry.type
    class Note:
        id: int

    with Session(engine) as session, pytest.raises(AssertionError) as raised:
        await assert_filter_matches_check(
            authz,
            Note,
            select(NoteRow),
            viewers=[{"user": 1}],
            fetch=lambda query: session.scalars(query).all(),
        )
    assert "selects ['2']" in str(raised.value)
