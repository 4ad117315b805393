"""The Django filter selects exactly the rows the check allows (issue 18, point 9).

Random rules (every logic key, `$not` included, row and non-row scopes) and
random rows (NULLs included) on real SQLite through the Django ORM, compared
by `strawberry_authz.testing.assert_filter_matches_check`.
"""

from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.db.models import F, Q
from django.db.models.lookups import GreaterThan
from filterapp.models import Note as NoteRow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ormkit import seed
from rulekit import LEAVES, ROW, VIEWER, note_scopes, note_type, rule_trees

from strawberry_authz import Column, FilterScope
from strawberry_authz.testing import assert_filter_matches_check

DJANGO_LEAVES = [
    *LEAVES,
    {"label": Column("label")},
    {"big": Column("owner_id")},
]


def load_scopes(viewer: dict[str, Any]) -> dict[str, object]:
    # A pair written by hand for Django: `where` gets the field name.
    scopes = note_scopes(
        viewer, lambda column, threshold: Q(**{f"{column}__gt": threshold})
    )
    scopes["label"] = FilterScope.equals(viewer["label"])
    # A boolean expression, not a lookup: Django adds no NULL guard of its
    # own when it is negated; the backend's NOT must.
    scopes["big"] = FilterScope(
        check=lambda value: value is not None and value > 1,
        where=lambda column: GreaterThan(F(column), 1),
    )
    return scopes


def rules() -> st.SearchStrategy[dict[str, object]]:
    return rule_trees(DJANGO_LEAVES)


DJANGO_ROW = st.fixed_dictionaries(
    {
        **ROW,
        "label": st.none() | st.sampled_from(["a", "1", "x'; DROP TABLE x; --"]),
    }
)

DJANGO_VIEWER = st.fixed_dictionaries(
    {
        **VIEWER,
        # Text where the columns hold numbers and numbers where they hold
        # text: Django would convert them, Python's check does not.
        "user": st.none() | st.sampled_from([1, 2, "1", True]),
        "teams": st.lists(st.sampled_from([10, 20, "10", None]), max_size=2),
        "label": st.none() | st.sampled_from(["a", 1, "x'; DROP TABLE x; --"]),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rule=rules(),
    rows=st.lists(DJANGO_ROW, max_size=8),
    viewers=st.lists(DJANGO_VIEWER, min_size=1, max_size=3),
)
def test_random_rules_filter_exactly_the_rows_their_check_allows(rule, rows, viewers):
    seed([{"id": index + 1, "title": "t", **row} for index, row in enumerate(rows)])
    authz, note = note_type(load_scopes, rule)
    # Queries run in a thread of their own (sync_to_async), as Django wants
    # under an event loop; async_to_sync brings them back to this thread.
    async_to_sync(assert_filter_matches_check)(
        authz,
        note,
        NoteRow.objects.order_by("id"),
        viewers=viewers,
        fetch=sync_to_async(list),
    )
