"""The Django filter selects exactly the rows the check allows (issue 18, point 9).

Random rules (every logic key, `$not` included, row and non-row scopes) and
random rows (NULLs included) on real SQLite through the Django ORM, compared
by `strawberry_authz.testing.assert_filter_matches_check`.
"""

from typing import Any

import strawberry
from asgiref.sync import async_to_sync, sync_to_async
from django.db.models import F, Q
from django.db.models.lookups import GreaterThan
from filterapp.models import Note as NoteRow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ormkit import seed
from rulekit import rule_trees

from strawberry_authz import AuthExtension, Column, FilterScope
from strawberry_authz.testing import assert_filter_matches_check

LEAVES: list[dict[str, object]] = [
    {"admin": True},
    {"closed": True},
    {"owner": Column("owner_id")},
    {"member": Column("team_id")},
    {"public": Column("public")},
    {"label": Column("label")},
    {"above": Column("id")},
    {"big": Column("owner_id")},
]


def load_scopes(viewer: dict[str, Any]) -> dict[str, object]:
    threshold = viewer["above"]
    return {
        "admin": viewer["admin"],
        "closed": False,
        "owner": FilterScope.equals(viewer["user"]),
        "member": FilterScope.one_of(viewer["teams"]),
        "public": FilterScope.equals(True),
        "label": FilterScope.equals(viewer["label"]),
        # A pair written by hand for Django: `where` gets the field name.
        "above": FilterScope(
            check=lambda value: value is not None and value > threshold,
            where=lambda column: Q(**{f"{column}__gt": threshold}),
        ),
        # A boolean expression, not a lookup: Django adds no NULL guard of
        # its own when it is negated; the backend's NOT must.
        "big": FilterScope(
            check=lambda value: value is not None and value > 1,
            where=lambda column: GreaterThan(F(column), 1),
        ),
    }


def rules() -> st.SearchStrategy[dict[str, object]]:
    return rule_trees(LEAVES)


ROW = st.fixed_dictionaries(
    {
        "owner_id": st.none() | st.sampled_from([1, 2, 3]),
        "team_id": st.none() | st.sampled_from([10, 20]),
        "public": st.none() | st.booleans(),
        "label": st.none() | st.sampled_from(["a", "1", "x'; DROP TABLE x; --"]),
    }
)

VIEWER = st.fixed_dictionaries(
    {
        # Text where the columns hold numbers and numbers where they hold
        # text: Django would convert them, Python's check does not.
        "user": st.none() | st.sampled_from([1, 2, "1", True]),
        "teams": st.lists(st.sampled_from([10, 20, "10", None]), max_size=2),
        "label": st.none() | st.sampled_from(["a", 1, "x'; DROP TABLE x; --"]),
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


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rule=rules(),
    rows=st.lists(ROW, max_size=8),
    viewers=st.lists(VIEWER, min_size=1, max_size=3),
)
def test_random_rules_filter_exactly_the_rows_their_check_allows(rule, rows, viewers):
    seed([{"id": index + 1, "title": "t", **row} for index, row in enumerate(rows)])
    authz, note = note_type(rule)
    # Queries run in a thread of their own (sync_to_async), as Django wants
    # under an event loop; async_to_sync brings them back to this thread.
    async_to_sync(assert_filter_matches_check)(
        authz,
        note,
        NoteRow.objects.order_by("id"),
        viewers=viewers,
        fetch=sync_to_async(list),
    )
