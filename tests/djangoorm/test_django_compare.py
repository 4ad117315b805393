"""A policy engine's comparisons (`Compare`, e.g. from Cerbos `PlanResources`)
filter a Django queryset exactly as `Plan.matches` decides in Python: NULLs
and values of another kind never pass, `ne` included; `Not` lets them in."""

import pytest
from filterapp.models import Note as NoteRow
from ormkit import seed

from strawberry_authz.conditions import Compare, Condition, Not, Plan
from strawberry_authz.django import apply

ROWS = [
    {"id": 1, "owner_id": 1, "label": "a", "public": True},
    {"id": 2, "owner_id": None, "label": None, "public": None},
    {"id": 3, "owner_id": 2, "label": "b", "public": False},
    {"id": 4, "owner_id": 3, "label": "c", "public": True},
    {"id": 5, "owner_id": 0, "label": "", "public": False},
]

CONDITIONS = [
    Compare("owner_id", "eq", 2),
    Compare("owner_id", "ne", 2),
    Compare("owner_id", "lt", 2),
    Compare("owner_id", "le", 2),
    Compare("owner_id", "gt", 1),
    Compare("owner_id", "ge", 1),
    Compare("owner_id", "in", (1, 3, "3")),
    Compare("owner_id", "eq", "2"),  # another kind: never equal
    Compare("owner_id", "eq", True),  # a bool is not the number 1
    Compare("label", "eq", "a"),
    Compare("label", "ne", "a"),
    Compare("label", "lt", "b"),
    Compare("label", "in", ("a", "c", 1)),
    Compare("public", "eq", True),
    Compare("public", "ne", True),
    Compare("public", "lt", True),  # no ordering of bools
]


@pytest.fixture(autouse=True)
def rows() -> None:
    seed(ROWS)


def selected(condition: Condition) -> list[int]:
    plan = Plan("Note", "condition", condition)
    return sorted(row.id for row in apply(plan, NoteRow.objects.all()))


def allowed(condition: Condition) -> list[int]:
    plan = Plan("Note", "condition", condition)
    return sorted(row.id for row in NoteRow.objects.all() if plan.matches(row))


@pytest.mark.parametrize("condition", CONDITIONS, ids=repr)
@pytest.mark.parametrize("negated", [False, True], ids=["as is", "under Not"])
def test_a_comparison_selects_exactly_the_rows_the_check_allows(condition, negated):
    if negated:
        condition = Not(condition)
    assert selected(condition) == allowed(condition)


def test_ne_never_selects_a_null_but_its_negation_does():
    assert 2 not in selected(Compare("owner_id", "ne", 2))
    assert 2 in selected(Not(Compare("owner_id", "eq", 2)))
