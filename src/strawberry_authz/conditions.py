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
| `Compare(column, op, value)` | a typed comparison (`eq ne lt le gt ge in`) |
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
    "Compare",
    "Condition",
    "Equals",
    "Not",
    "OneOf",
    "Or",
    "Plan",
    "Where",
    "column_names",
    "compares",
    "holds",
    "is_member",
    "value_kind",
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


CompareOp = Literal["eq", "ne", "lt", "le", "gt", "ge", "in"]
_OPS = frozenset(("eq", "ne", "lt", "le", "gt", "ge", "in"))


@dataclass(frozen=True)
class Compare:
    """`column <op> value`, compared only within one kind of value.

    What a policy engine's plan compares (a Cerbos `PlanResources`
    condition). The kinds are numbers (`int` and `float`, never `bool`),
    `str` and `bool`. A row passes only if its value is not `None`, is of
    the kind of `value`, and the comparison holds: `NULL` and a value of
    another kind never pass (`true` is not `1`, `"3"` is not `3`), as the
    engine's typed comparison decides; `ne` too (`Not(Compare(c, "eq",
    v))` is the one that passes a `NULL`). Orderings (`lt le gt ge`) hold
    for numbers and strings only. For `in`, `value` is a tuple of members
    and the row passes when it equals one of them.
    """

    column: str
    op: CompareOp
    value: Any

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"Compare: unknown operator {self.op!r}")
        members = self.value if self.op == "in" else (self.value,)
        if self.op == "in" and not isinstance(self.value, tuple):
            raise TypeError("Compare: 'in' takes a tuple of members")
        if any(value_kind(member) is None for member in members):
            raise TypeError(
                f"Compare: {self.value!r} is not a number, string or bool "
                "(None is never compared)"
            )


@dataclass(frozen=True)
class And:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    child: Condition


Condition: TypeAlias = "Equals | OneOf | Where | Compare | And | Or | Not"

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
    if isinstance(condition, Compare):
        return compares(value, condition.op, condition.value)
    return condition.check(value) is True


def value_kind(value: object) -> str | None:
    """`"number"`, `"str"` or `"bool"` (what `Compare` compares), else None."""
    kind = type(value)
    if kind is bool:
        return "bool"
    if kind is int or kind is float:
        return "number"
    if kind is str:
        return "str"
    return None


def compares(value: object, op: str, target: Any) -> bool:
    """`value <op> target` as `Compare` decides it (see there)."""
    if op == "in":
        return any(compares(value, "eq", member) for member in target)
    kind = value_kind(value)
    if kind is None or kind != value_kind(target):
        return False
    if op == "eq":
        return bool(value == target)
    if op == "ne":
        return bool(value != target)
    if kind == "bool":
        return False  # orderings are for numbers and strings
    left: Any = value
    if op == "lt":
        return bool(left < target)
    if op == "le":
        return bool(left <= target)
    if op == "gt":
        return bool(left > target)
    return bool(left >= target)


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
