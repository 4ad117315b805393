"""The example's plan-to-SQL translation selects exactly what the check allows.

`examples/teamnotes/filtering.py` turns a `Plan` into a `WHERE` for plain
`sqlite3`. For each condition (the ones the three engines produce, and
`NULL`, `NOT` and typed comparisons around them), the rows the SQL selects
on the real demo database are the rows `Plan.matches` (the Python check)
passes, no more, no fewer.
"""

import pytest

from examples.teamnotes.db import Database
from examples.teamnotes.filtering import where_sql
from strawberry_authz import ConfigurationError
from strawberry_authz.conditions import (
    And,
    Compare,
    Equals,
    Not,
    OneOf,
    Or,
    Plan,
    Where,
)

CONDITIONS = [
    Equals("owner_id", 3),
    Equals("owner_id", None),
    Not(Equals("owner_id", None)),
    Equals("draft", False),
    OneOf("id", frozenset({"1", "4", "x"}), ids=True),
    OneOf("team_id", frozenset()),
    Not(OneOf("team_id", frozenset({1}))),
    Or(
        (
            Equals("owner_id", 3),
            And((Equals("draft", False), OneOf("team_id", frozenset({2})))),
        )
    ),
    Compare("draft", "eq", False),
    Compare("draft", "ne", True),
    Compare("draft", "eq", 0),
    Compare("owner_id", "eq", 4.0),
    Compare("owner_id", "eq", "4"),
    Compare("team_id", "in", (1, "2", True)),
    Compare("id", "ge", 3),
    Compare("title", "lt", "Ro"),
    Not(Compare("owner_id", "eq", 3)),
    Not(And((Compare("draft", "eq", True), Equals("team_id", 1)))),
    And(()),
    Or(()),
]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    database = Database(tmp_path_factory.mktemp("filtering") / "notes.db")
    database.seed_if_empty()
    return database


@pytest.mark.parametrize("condition", CONDITIONS, ids=repr)
def test_the_where_selects_the_rows_the_check_allows(db, condition):
    plan = Plan("Note", "condition", condition)
    where, params = where_sql(plan)
    selected = [row.id for row in db.notes_where(where, params, 0, None)]
    assert selected == [row.id for row in db.all_notes() if plan.matches(row)]


def test_every_row_and_no_row(db):
    every = where_sql(Plan("Note", "allow_all"))
    assert len(db.notes_where(*every, 0, None)) == len(db.all_notes())
    assert db.notes_where(*where_sql(Plan("Note", "deny_all")), 0, None) == []


def test_values_are_parameters_never_sql_text():
    where, params = where_sql(Plan("Note", "condition", Equals("title", "x' OR 1=1")))
    assert "OR 1=1" not in where
    assert params == ["x' OR 1=1"]


@pytest.mark.parametrize(
    "condition",
    [
        Equals("secret", 1),
        Where("id", "mine", lambda column: column, lambda value: True),
    ],
    ids=["unknown column", "a FilterScope's own where"],
)
def test_what_it_cannot_translate_is_refused(condition):
    with pytest.raises(ConfigurationError):
        where_sql(Plan("Note", "condition", condition))
