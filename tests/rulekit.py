"""Random rule sets for the filter-vs-check differential tests (hypothesis)."""

from typing import Any

from hypothesis import strategies as st

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
