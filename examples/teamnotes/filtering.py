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
(`"5"`, from SpiceDB) match the integer column too. A node it does not know
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
        values: list[object] = [v for v in node.values if v is not None]
        if node.ids:
            # An engine's ids are text; the row's id is an integer.
            values += [int(v) for v in values if isinstance(v, str) and v.isdigit()]
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
    # SQLite stores a bool as the integer 0 / 1, so bools compare as such.
    members = node.value if node.op == "in" else (node.value,)
    kind = "'integer'" if isinstance(members[0], bool) else _sql_type(members[0])
    typed = f"typeof({column}) IN ({kind})"
    if node.op == "in":
        return f"({typed} AND {_members(column, list(members), params)})"
    if isinstance(node.value, bool) and node.op not in ("eq", "ne"):
        return "0"
    params.append(node.value)
    return f"({typed} AND {column} {_COMPARE[node.op]} ?)"


def _sql_type(value: object) -> str:
    return "'text'" if isinstance(value, str) else "'integer', 'real'"


def _column(name: str, columns: frozenset[str]) -> str:
    if name not in columns:
        raise ConfigurationError([f"notes filter: no column {name!r} to filter on"])
    return name
