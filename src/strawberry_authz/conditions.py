"""`Plan`: a type's rule for one viewer, as a backend-neutral condition on rows.

`authz.plan(info, Type)` folds everything that does not depend on the row
(roles, flags, `$granted`) to constants and keeps only row conditions. The
result is one of three: every row (`plan.allow_all`), no row
(`plan.deny_all`), or `plan.condition`, a small tree a backend translates:

| node | meaning for one row |
| --- | --- |
| `Equals(column, value)` | `row.column == value`; `None` matches nothing |
| `OneOf(column, values)` | `row.column` is among `values`; empty matches nothing |
| `Where(column, scope, where, check)` | a `FilterScope`'s own pair |
| `And(children)`, `Or(children)` | every / at least one child |
| `Not(child)` | the child does not hold; a `NULL` inside counts as not holding |

`Where` is `where(column)` in SQL and `check(value)` in Python.
Every node is two-valued for a row, as the Python check is: a backend must
make `Not` pass where its child is `NULL` (`NOT COALESCE(child, FALSE)`), so
SQL's three-valued logic never lets a row through that the check denies, nor
hides one it allows. `Plan.matches(obj)` evaluates the plan on one object in
Python; it is what the SQL must agree with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = [
    "And",
    "Condition",
    "Equals",
    "Not",
    "OneOf",
    "Or",
    "Plan",
    "Where",
    "column_names",
    "holds",
    "is_member",
]


@dataclass(frozen=True)
class Equals:
    """`column = value` (a `None` value matches no row)."""

    column: str
    value: object


@dataclass(frozen=True)
class OneOf:
    """`column IN (values)` (empty matches no row; `None` is never a member).

    `ids=True` for ids an engine listed (`BatchScope(passing=...)`), often as
    text (`"42"`): an integer row value also matches by its text, as the
    engine's own check compares (`["note", 42, "view"]` asks for `note:42`).
    """

    column: str
    values: frozenset[Any]
    ids: bool = False


@dataclass(frozen=True, eq=False)
class Where:
    """A `FilterScope`'s own condition: `where(column)` and its `check`."""

    column: str
    scope: str
    where: Callable[[Any], Any]
    check: Callable[[Any], bool]


@dataclass(frozen=True)
class And:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    child: Condition


Condition: TypeAlias = "Equals | OneOf | Where | And | Or | Not"

PlanKind = Literal["allow_all", "deny_all", "condition"]


@dataclass(frozen=True)
class Plan:
    """A type's rule for one viewer, ready to become a query filter.

    Attributes:
        type_name: The GraphQL type the plan is for.
        kind: `"allow_all"`, `"deny_all"` or `"condition"`.
        condition: The row condition when `kind == "condition"`, else None.
        reason: Why every row is denied, when that came from a failure (an
            engine error, a loader error; logged); None otherwise.
    """

    type_name: str
    kind: PlanKind
    condition: Condition | None = None
    reason: str | None = None

    @property
    def allow_all(self) -> bool:
        return self.kind == "allow_all"

    @property
    def deny_all(self) -> bool:
        return self.kind == "deny_all"

    @property
    def columns(self) -> frozenset[str]:
        """The columns the condition reads (to load with the rows)."""
        return column_names(self.condition)

    def matches(self, obj: object) -> bool:
        """Whether the row `obj` passes this plan, evaluated in Python."""
        if self.kind != "condition":
            return self.kind == "allow_all"
        assert self.condition is not None
        return holds(self.condition, obj)


def holds(condition: Condition, obj: object) -> bool:
    """`condition` on one object, two-valued (what the SQL must agree with)."""
    if isinstance(condition, And):
        return all(holds(child, obj) for child in condition.children)
    if isinstance(condition, Or):
        return any(holds(child, obj) for child in condition.children)
    if isinstance(condition, Not):
        return not holds(condition.child, obj)
    value = getattr(obj, condition.column)
    if isinstance(condition, Equals):
        target = condition.value
        return value is not None and target is not None and bool(value == target)
    if isinstance(condition, OneOf):
        return is_member(value, condition.values, ids=condition.ids)
    return condition.check(value) is True


def is_member(value: object, values: frozenset[Any], *, ids: bool = False) -> bool:
    """`value` is among `values` (with `ids`, an integer also by its text)."""
    if value is None:
        return False
    try:
        if value in values:
            return True
    except TypeError:  # unhashable: never a member
        return False
    return ids and type(value) is int and str(value) in values


def column_names(condition: Condition | None) -> frozenset[str]:
    """Every column a condition reads."""
    if condition is None:
        return frozenset()
    if isinstance(condition, (And, Or)):
        found: frozenset[str] = frozenset()
        for child in condition.children:
            found |= column_names(child)
        return found
    if isinstance(condition, Not):
        return column_names(condition.child)
    return frozenset((condition.column,))
