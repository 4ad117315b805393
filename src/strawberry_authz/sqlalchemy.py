"""SQLAlchemy backend of query filters: a `Plan` as a `WHERE` clause.

Install with the extra `strawberry-authz[sqlalchemy]` (SQLAlchemy 2.x). This
module is imported only by its users (and by `authz.filter` when given a
`Select`); the core package never imports it.

```python
stmt = await authz.filter(info, Note, select(NoteRow).order_by(NoteRow.id))
rows = (await session.scalars(stmt.limit(50))).all()
```

Values are always bound parameters, never SQL text. `NOT` is applied as
`NOT COALESCE(condition, FALSE)`, so a `NULL` column never lets a row
through that the Python check denies (nor hides one it allows).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, true
from sqlalchemy.sql import ClauseElement

from ._errors import ConfigurationError
from .conditions import (
    And,
    Compare,
    Condition,
    Equals,
    Not,
    OneOf,
    Or,
    Plan,
    value_kind,
)

__all__ = ["apply", "expression"]

Statement = TypeVar("Statement")

logger = logging.getLogger("strawberry_authz")


def apply(plan: Plan, select_stmt: Statement, model: Any = None) -> Statement:
    """`select_stmt` with `plan` added to its `WHERE` clause.

    Args:
        plan: From `authz.plan(info, Type)`.
        select_stmt: A SQLAlchemy `Select` (sync `Session` or `AsyncSession`
            alike). Add `LIMIT` / `OFFSET` after, or count it after: the
            filter must be in the query before the page is cut.
        model: The mapped class (or alias) whose columns the plan names;
            defaults to the statement's first entity.

    Raises:
        ConfigurationError: the model has no attribute for a column of the
            plan, or a `where` returned something else than an expression.

    A `where` that raises selects no row (logged), whatever the plan says.
    """
    if plan.allow_all:
        return select_stmt
    stmt: Any = select_stmt
    if plan.deny_all:
        return stmt.where(false())  # type: ignore[no-any-return]
    if model is None:
        model = _first_entity(stmt)
    assert plan.condition is not None
    try:
        condition = expression(plan.condition, model, plan.type_name)
    except ConfigurationError:
        raise
    except Exception:
        # A `where` of the application's raised: no row rather than a guess.
        logger.exception(
            "strawberry-authz: building the filter of %s failed; no row is "
            "selected (fail closed)",
            plan.type_name,
        )
        return stmt.where(false())  # type: ignore[no-any-return]
    return stmt.where(condition)  # type: ignore[no-any-return]


def expression(
    condition: Condition, model: Any, type_name: str = "?"
) -> ColumnElement[bool]:
    """`condition` as a two-valued SQL boolean expression over `model`."""
    if isinstance(condition, And):
        return and_(*(expression(c, model, type_name) for c in condition.children))
    if isinstance(condition, Or):
        return or_(*(expression(c, model, type_name) for c in condition.children))
    if isinstance(condition, Not):
        inner = expression(condition.child, model, type_name)
        return not_(func.coalesce(inner, false()))
    column = _column(model, condition.column, type_name)
    if isinstance(condition, Equals):
        same = _comparable(column, (condition.value,))
        return column == same[0] if same else false()
    if isinstance(condition, OneOf):
        if condition.ids:
            values = _as_column_values(column, condition.values)
        else:
            values = _comparable(column, condition.values)
        return column.in_(values) if values else false()
    if isinstance(condition, Compare):
        return _compare(column, condition, type_name)
    made = condition.where(column)
    if made is True:
        return true()
    if made is False:
        return false()
    if not isinstance(made, ClauseElement):
        raise ConfigurationError(
            f"the filter of {type_name}: scope {condition.scope!r}: where() returned "
            f"{type(made).__name__}, expected a SQLAlchemy expression, True or False"
        )
    return made  # type: ignore[return-value]


_KINDS = {bool: "bool", int: "number", float: "number", str: "str"}


def _compare(column: Any, condition: Compare, type_name: str) -> ColumnElement[bool]:
    """A `Compare` on a column of a known kind (number, string or bool).

    The column's declared type tells the kind of every value it holds: a
    constant of another kind can never be equal (`false()`, so its `Not`
    passes every row, as the engine's `!=` does). `NULL` makes the
    comparison `NULL`, which never passes (and `Not` coalesces it).

    Raises:
        TypeError: the column's type is none of those (an enum, a
            `Decimal`, JSON): the plan denies every row (logged) rather
            than compare values the check would read otherwise.
    """
    try:
        python_type = column.type.python_type
    except (AttributeError, NotImplementedError):
        python_type = None
    kind = _KINDS.get(python_type)
    if kind is None:
        raise TypeError(
            f"the filter of {type_name}: Column({condition.column!r}) has type "
            f"{python_type!r}; a Compare needs a number, string or bool column"
        )
    op, target = condition.op, condition.value
    if op == "in":
        kept = sorted((m for m in target if value_kind(m) == kind), key=repr)
        return column.in_(kept) if kept else false()
    if value_kind(target) != kind or (op not in ("eq", "ne") and kind == "bool"):
        return false()
    if op == "eq":
        return column == target  # type: ignore[no-any-return]
    if op == "ne":
        return column != target  # type: ignore[no-any-return]
    if op == "lt":
        return column < target  # type: ignore[no-any-return]
    if op == "le":
        return column <= target  # type: ignore[no-any-return]
    if op == "gt":
        return column > target  # type: ignore[no-any-return]
    return column >= target  # type: ignore[no-any-return]


def _first_entity(stmt: Any) -> Any:
    descriptions = getattr(stmt, "column_descriptions", None)
    entity = descriptions[0].get("entity") if descriptions else None
    if entity is None:
        raise TypeError(
            "strawberry_authz.sqlalchemy.apply: cannot tell the model of "
            f"{stmt!r}; pass model="
        )
    return entity


def _column(model: Any, name: str, type_name: str) -> Any:
    column = getattr(model, name, None)
    if column is None or not hasattr(column, "in_"):
        raise ConfigurationError(
            f"the filter of {type_name}: Column({name!r}) is not a mapped column "
            f"of {getattr(model, '__name__', model)!r}"
        )
    return column


def _comparable(column: Any, values: Iterable[Any]) -> list[Any]:
    """The `values` that can equal a value of `column` in Python too.

    SQL converts between numbers and text where Python does not: SQLite finds
    `owner_id = '1'` true for the integer 1, while the check says
    `1 == "1"` is false. A value of the other kind is left out, so the query
    never selects a row the check denies (`None` is never compared).
    """
    try:
        python_type = column.type.python_type
    except (AttributeError, NotImplementedError):
        python_type = None
    kept: list[Any] = []
    for value in values:
        if value is None:
            continue
        if python_type in (int, float) and not isinstance(value, (int, float)):
            continue
        if python_type is str and not isinstance(value, str):
            continue
        if python_type is not str and isinstance(value, str) and python_type:
            continue
        kept.append(value)
    return sorted(kept, key=repr)


def _as_column_values(column: Any, values: frozenset[Any]) -> list[Any]:
    """`values` in the column's Python type, where one names the same id.

    An engine answers ids as strings (`"42"`); an integer key column holds
    `42`. A string converts only when it is that value's own spelling
    (`"042"` is not row 42, as the check `note:42` would not be), and a
    value that cannot be converted cannot match, so it is left out.
    """
    try:
        python_type = column.type.python_type
    except (AttributeError, NotImplementedError):
        return sorted(values, key=repr)
    if python_type is not int:
        return sorted(values, key=repr)
    kept: list[Any] = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            kept.append(value)
        elif isinstance(value, str):
            try:
                number = int(value)
            except ValueError:
                continue
            if str(number) == value:
                kept.append(number)
    return sorted(set(kept))
