"""A filter plan as a SQLite `WHERE` clause, for the `notes` connection.

strawberry-authz turns a type's rule into a `Plan` for the viewer
(`authz.plan(info, Note)`): every row, no row, or a small tree of row
conditions (`strawberry_authz.conditions`). Its own backends take a
SQLAlchemy `Select` or a Django `QuerySet`; this example uses plain
`sqlite3`, so it translates the tree itself, here: into SQL text with `?`
placeholders and the values beside it, never inside it.

The translation keeps the plan two-valued, as the Python check is: a `NOT`
is `NOT COALESCE(..., 0)`, so a `NULL` never lets a row through that the
check would deny; `None` matches nothing; ids an engine listed as text
(`"5"`, from SpiceDB) match the integer column too; a typed comparison
(`Compare`, from Cerbos) passes only values of its kind (`draft` holds
bools). A node it does not know
raises `ConfigurationError`: refused, never replaced by a broader query.
"""

from __future__ import annotations

from strawberry_authz import ConfigurationError
from strawberry_authz.conditions import (
    And,
    Compare,
    Condition,
    Equals,
    Not,
    OneOf,
    Or,
    Plan,
)

# The columns a rule may filter `notes` on (a plan naming another is refused).
NOTE_COLUMNS = frozenset(("id", "team_id", "owner_id", "title", "draft"))
# Stored as 0 / 1, read as `bool`: a typed comparison treats them as bools.
BOOL_COLUMNS = frozenset(("draft",))
_COMPARE = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def where_sql(
    plan: Plan, columns: frozenset[str] = NOTE_COLUMNS
) -> tuple[str, list[object]]:
    """`(sql, params)`: `plan` as a condition for `WHERE`.

    Raises:
        ConfigurationError: a node or a column this translation cannot
            express faithfully.
    """
    if plan.allow_all:
        return "1", []
    if plan.deny_all or plan.condition is None:
        return "0", []
    params: list[object] = []
    return _sql(plan.condition, columns, params), params


def _sql(node: Condition, columns: frozenset[str], params: list[object]) -> str:
    if isinstance(node, (And, Or)):
        if not node.children:
            return "1" if isinstance(node, And) else "0"
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(_sql(c, columns, params) for c in node.children) + ")"
    if isinstance(node, Not):
        return f"(NOT COALESCE({_sql(node.child, columns, params)}, 0))"
    if isinstance(node, Equals):
        if node.value is None:
            return "0"
        return _members(_column(node.column, columns), [node.value], params)
    if isinstance(node, OneOf):
        # An engine's ids are text ("5"): SQLite applies the integer column's
        # affinity to the list, so "5" matches the row 5, as `ids=True` says.
        values: list[object] = [v for v in node.values if v is not None]
        return _members(_column(node.column, columns), values, params)
    if isinstance(node, Compare):
        return _compare(node, _column(node.column, columns), params)
    raise ConfigurationError(
        [f"notes filter: cannot translate {type(node).__name__} to SQL"]
    )


def _members(column: str, values: list[object], params: list[object]) -> str:
    if not values:
        return "0"
    params.extend(values)
    return f"({column} IN ({', '.join('?' * len(values))}))"


def _compare(node: Compare, column: str, params: list[object]) -> str:
    # Typed, as `Compare` is: a row value of another kind never passes.
    if node.op == "in":
        members = [Compare(node.column, "eq", member) for member in node.value]
        return _sql(Or(tuple(members)), frozenset((column,)), params)
    value = node.value
    if isinstance(value, bool) != (column in BOOL_COLUMNS):
        return "0"  # a bool against a number, or a number against a bool
    if isinstance(value, bool):
        # SQLite stores a bool as the integer 0 / 1; bools are not ordered.
        if node.op not in ("eq", "ne"):
            return "0"
        params.append(int(value))
        return f"(typeof({column}) = 'integer' AND {column} {_COMPARE[node.op]} ?)"
    kinds = "'text'" if isinstance(value, str) else "'integer', 'real'"
    params.append(value)
    return f"(typeof({column}) IN ({kinds}) AND {column} {_COMPARE[node.op]} ?)"


def _column(name: str, columns: frozenset[str]) -> str:
    if name not in columns:
        raise ConfigurationError([f"notes filter: no column {name!r} to filter on"])
    return name
