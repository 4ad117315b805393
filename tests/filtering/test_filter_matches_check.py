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
from rulekit import LEAVES, ROW, VIEWER, note_scopes, note_type, rule_trees
from sqlalchemy import select
from sqlalchemy.orm import Session

from strawberry_authz import AuthExtension, Column, FilterScope
from strawberry_authz.testing import assert_filter_matches_check


def load_scopes(viewer: dict[str, Any]) -> dict[str, object]:
    return note_scopes(viewer, lambda column, threshold: column > threshold)


def rules() -> st.SearchStrategy[dict[str, object]]:
    return rule_trees(LEAVES)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rule=rules(),
    rows=st.lists(st.fixed_dictionaries(ROW), max_size=8),
    viewers=st.lists(st.fixed_dictionaries(VIEWER), min_size=1, max_size=3),
)
def test_random_rules_filter_exactly_the_rows_their_check_allows(rule, rows, viewers):
    engine = sqlite_engine(
        [{"id": index + 1, "title": "t", **row} for index, row in enumerate(rows)]
    )
    authz, note = note_type(load_scopes, rule)
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
