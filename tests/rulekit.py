"""Random rule sets for the filter-vs-check differential tests (hypothesis).

What the SQLAlchemy and the Django test share: the leaves of their rules
(`LEAVES`), the scopes behind them (`note_scopes`), the random rows and
viewers (`ROW`, `VIEWER`) and the checked type (`note_type`). Each backend
adds its own leaves, columns and viewer values.
"""

from collections.abc import Callable
from typing import Any

from authzkit import ruled_type
from hypothesis import strategies as st

from strawberry_authz import AuthExtension, Column, FilterScope

LOGIC_KEYS = ["$and", "$or", "$chain", "$race"]


def rule_trees(leaves: list[dict[str, object]]) -> st.SearchStrategy[dict[str, object]]:
    """Rule sets of up to six `leaves` under every logic key and `$not`."""

    def extend(inner: st.SearchStrategy[dict[str, object]]) -> Any:
        group = st.lists(inner, min_size=1, max_size=3)
        return st.one_of(
            st.builds(lambda k, items: {k: items}, st.sampled_from(LOGIC_KEYS), group),
            st.builds(lambda item: {"$not": item}, inner),
        )

    return st.recursive(st.sampled_from(leaves), extend, max_leaves=6)


LEAVES: list[dict[str, object]] = [
    {"admin": True},
    {"closed": True},
    {"owner": Column("owner_id")},
    {"member": Column("team_id")},
    {"public": Column("public")},
    {"above": Column("id")},
]

ROW: dict[str, st.SearchStrategy[Any]] = {
    "owner_id": st.none() | st.sampled_from([1, 2, 3]),
    "team_id": st.none() | st.sampled_from([10, 20]),
    "public": st.none() | st.booleans(),
}

VIEWER: dict[str, st.SearchStrategy[Any]] = {
    # "1" and "10": text where the columns hold numbers (the database would
    # convert; Python's check does not).
    "user": st.none() | st.sampled_from([1, 2, "1"]),
    "teams": st.lists(st.sampled_from([10, 20, "10"]), max_size=2),
    "admin": st.booleans(),
    "above": st.integers(0, 6),
}


def note_scopes(
    viewer: dict[str, Any], above: Callable[[Any, int], Any]
) -> dict[str, object]:
    """The scopes of `LEAVES` for `viewer`; `above(column, n)` is the backend's
    `column > n` (a pair written by hand: `id > threshold` both ways)."""
    threshold = viewer["above"]
    return {
        "admin": viewer["admin"],
        "closed": False,
        "owner": FilterScope.equals(viewer["user"]),
        "member": FilterScope.one_of(viewer["teams"]),
        "public": FilterScope.equals(True),
        "above": FilterScope(
            check=lambda value: value is not None and value > threshold,
            where=lambda column: above(column, threshold),
        ),
    }


def note_type(
    load_scopes: Callable[[Any], Any], rule: dict[str, object]
) -> tuple[AuthExtension, type]:
    """An extension of `load_scopes` and a `Note` type checked by `rule`."""
    authz = AuthExtension(load_scopes)
    return authz, ruled_type(authz, "Note", {"id": int}, rule, on_object=True)
