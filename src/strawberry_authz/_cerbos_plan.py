"""A Cerbos `PlanResources` answer as a small, engine-neutral condition tree.

`Cerbos(...).scope(context)` uses it to filter queries: for a
`Resource.each(action)` value, its `passing=` asks `PlanResources`, reads
the answer with `translate_plan` and turns the tree into the engine-neutral
row condition of `strawberry_authz.conditions` with `row_condition`.

`translate_plan(response)` reads the filter of one `PlanResourcesResponse`:

| Cerbos | result |
| --- | --- |
| `KIND_ALWAYS_ALLOWED` | `PlannedFilter("allow_all")` |
| `KIND_ALWAYS_DENIED` | `PlannedFilter("deny_all")` |
| `KIND_CONDITIONAL` | `PlannedFilter("condition", tree)` |

The tree has `AllOf`, `AnyOf`, `Negation` and `Compare(op, attribute,
value)` with `op` one of `eq ne lt le gt ge in`, over the resource's
attribute names (`request.resource.attr.owner` is `owner`;
`request.resource.id` is `id`, or what `variables=` maps it to).

Anything else raises `UntranslatablePlan`, which the caller must turn into
a denial, never into a broader query: an unknown operator (`startsWith`,
`hasIntersection`, ...), a variable it was not told about, a `null` or a
map operand (`eq(x, null)` is where plan adapters over-granted), a
validation error, an unknown filter kind.

`holds(condition, attributes)` evaluates a tree on one resource's
attributes the way Cerbos's CEL does: a comparison that CEL cannot make (an
ordering on `null` or on mixed types) is an *error*, an error inside `not`
stays an error, `or` passes if any side passes, `and` fails if any side
fails, and an error at the top denies. A SQL translation must agree (a
`NOT` over a NULL ordering must not let the row through); the tests check
`holds` against `CheckResources` on the same resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from cerbos.engine.v1 import engine_pb2
from google.protobuf import struct_pb2

from . import conditions as rows

__all__ = [
    "RESOURCE_ID",
    "AllOf",
    "AnyOf",
    "Compare",
    "Condition",
    "Negation",
    "PlannedFilter",
    "UntranslatablePlan",
    "holds",
    "row_condition",
    "translate_plan",
]

Operator: TypeAlias = Literal["eq", "ne", "lt", "le", "gt", "ge", "in"]
_ORDER = {"lt", "le", "gt", "ge"}
# `value < variable` is `variable > value`.
_FLIPPED = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
_ATTRIBUTE = "request.resource.attr."
_Filter = engine_pb2.PlanResourcesFilter


class UntranslatablePlan(Exception):
    """The plan holds something this translator cannot express exactly.

    The caller denies (every row), logged; it never widens the query.
    """


@dataclass(frozen=True)
class Compare:
    """`attribute <op> value`; for `in`, `value` is a tuple of members."""

    op: Operator
    attribute: str
    value: Any


@dataclass(frozen=True)
class AllOf:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class Negation:
    child: Condition


Condition: TypeAlias = "Compare | AllOf | AnyOf | Negation"


@dataclass(frozen=True)
class PlannedFilter:
    """Which resources of a kind pass: all, none, or those where `condition` holds.

    `call_id` is the Cerbos call id of the plan (for the decision log).
    """

    kind: Literal["allow_all", "deny_all", "condition"]
    condition: Condition | None = None
    call_id: str = ""


def translate_plan(
    response: Any, *, variables: Mapping[str, str] | None = None
) -> PlannedFilter:
    """The `PlannedFilter` of a `PlanResourcesResponse`.

    Args:
        response: What `plan_resources` answered.
        variables: Extra Cerbos variables the plan may name, mapped to an
            attribute name (`{"request.resource.id": "id"}` is the default);
            `request.resource.attr.<name>` is always `<name>`.

    Raises:
        UntranslatablePlan: see the module docstring.
    """
    if response.validation_errors:
        raise UntranslatablePlan(
            "the plan reports validation errors: "
            + "; ".join(error.message for error in response.validation_errors)
        )
    names = {"request.resource.id": "id", **(variables or {})}
    call_id = response.cerbos_call_id
    kind = response.filter.kind
    if kind == _Filter.KIND_ALWAYS_ALLOWED:
        return PlannedFilter("allow_all", call_id=call_id)
    if kind == _Filter.KIND_ALWAYS_DENIED:
        return PlannedFilter("deny_all", call_id=call_id)
    if kind != _Filter.KIND_CONDITIONAL:
        raise UntranslatablePlan(f"unknown plan kind {kind}")
    condition = _condition(response.filter.condition, names, 0)
    return PlannedFilter("condition", condition, call_id)


_MAX_DEPTH = 64


def _condition(operand: Any, names: Mapping[str, str], depth: int) -> Condition:
    if depth > _MAX_DEPTH:
        raise UntranslatablePlan("the plan nests too deeply")
    if operand.WhichOneof("node") != "expression":
        raise UntranslatablePlan("a plan condition that is not an expression")
    expression = operand.expression
    operator, operands = expression.operator, list(expression.operands)
    if operator in ("and", "or"):
        if not operands:
            raise UntranslatablePlan(f"an empty {operator!r}")
        children = tuple(_condition(child, names, depth + 1) for child in operands)
        return AllOf(children) if operator == "and" else AnyOf(children)
    if operator == "not":
        if len(operands) != 1:
            raise UntranslatablePlan("'not' with other than one operand")
        return Negation(_condition(operands[0], names, depth + 1))
    if operator in _FLIPPED or operator == "in":
        return _compare(operator, operands, names)
    raise UntranslatablePlan(f"unknown operator {operator!r}")


def _compare(operator: str, operands: list[Any], names: Mapping[str, str]) -> Compare:
    if len(operands) != 2:
        raise UntranslatablePlan(f"{operator!r} with {len(operands)} operands")
    kinds = [operand.WhichOneof("node") for operand in operands]
    if kinds == ["value", "variable"] and operator != "in":
        operands.reverse()
        operator = _FLIPPED[operator]
    elif kinds != ["variable", "value"]:
        raise UntranslatablePlan(f"{operator!r} over {kinds}: not attribute vs value")
    variable, value = operands[0].variable, _value(operands[1].value)
    if variable.startswith(_ATTRIBUTE) and "." not in variable[len(_ATTRIBUTE) :]:
        attribute = variable[len(_ATTRIBUTE) :]
    elif variable in names:
        attribute = names[variable]
    else:
        raise UntranslatablePlan(f"unknown variable {variable!r}")
    if operator == "in":
        if not isinstance(value, list):
            raise UntranslatablePlan("'in' over something other than a list")
        return Compare("in", attribute, tuple(value))
    if isinstance(value, list):
        raise UntranslatablePlan(f"{operator!r} against a list")
    return Compare(operator, attribute, value)  # type: ignore[arg-type]


def _value(value: struct_pb2.Value) -> Any:
    """A plan constant: str, number, bool, or a list of those; else refused."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() else number
    if kind == "list_value":
        members = [_value(item) for item in value.list_value.values]
        if any(isinstance(member, list) for member in members):
            raise UntranslatablePlan("a nested list constant")
        return members
    # `null` (three-valued in SQL, two-valued in CEL) and maps: refused.
    raise UntranslatablePlan(f"a {kind} constant")


def holds(condition: Condition, attributes: Mapping[str, Any]) -> bool:
    """Whether a resource with `attributes` passes, as Cerbos's check decides."""
    return _truth(condition, attributes) is True


def _truth(condition: Condition, attributes: Mapping[str, Any]) -> bool | None:
    """True, False, or None for a CEL evaluation error."""
    if isinstance(condition, AllOf):
        found = [_truth(child, attributes) for child in condition.children]
        if False in found:
            return False
        return None if None in found else True
    if isinstance(condition, AnyOf):
        found = [_truth(child, attributes) for child in condition.children]
        if True in found:
            return True
        return None if None in found else False
    if isinstance(condition, Negation):
        inner = _truth(condition.child, attributes)
        return None if inner is None else not inner
    if condition.attribute not in attributes:
        return None  # CEL: no such key
    return _compare_values(condition, attributes[condition.attribute])


def _compare_values(condition: Compare, actual: Any) -> bool | None:
    op, expected = condition.op, condition.value
    if op == "in":
        return any(_equal(actual, member) for member in expected)
    if op == "eq":
        return _equal(actual, expected)
    if op == "ne":
        return not _equal(actual, expected)
    if not _ordered(actual, expected):
        return None  # CEL: no such overload
    if op == "lt":
        return bool(actual < expected)
    if op == "le":
        return bool(actual <= expected)
    if op == "gt":
        return bool(actual > expected)
    return bool(actual >= expected)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(left: Any, right: Any) -> bool:
    """CEL equality: values of different kinds are unequal (`true != 1`)."""
    if _number(left) and _number(right):
        return bool(left == right)
    return type(left) is type(right) and bool(left == right)


def _ordered(left: Any, right: Any) -> bool:
    return (_number(left) and _number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )


RESOURCE_ID = "request.resource.id"
"""The name `row_condition` reads as the resource id (never an attribute's:
an attribute name has no dot). Pass `variables={RESOURCE_ID: RESOURCE_ID}`
to `translate_plan`."""

_COMPLEMENT = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt"}


def row_condition(
    planned: PlannedFilter,
    columns: Mapping[str, str],
    id_column: str | None,
) -> bool | rows.Condition:
    """`planned` as a row condition: `True` (every row), `False` or a tree.

    Args:
        planned: From `translate_plan` (with the id named `RESOURCE_ID`).
        columns: `{attribute: column}`: where each attribute the policy
            reads is stored in a row.
        id_column: The column of the resource id (compared as the id
            Cerbos sees, its text: `OneOf(..., ids=True)`), or None.

    The result passes a row exactly when `holds` does on the attributes of
    that row: negations are pushed down to the comparisons, and each
    comparison has an exact complement, so a CEL *error* (an ordering on
    `null` or on another kind) passes neither a comparison nor its
    negation, as the check denies it.

    Raises:
        UntranslatablePlan: an attribute without a column, or an ordering
            on the id. The caller denies every row.
    """
    if planned.kind != "condition":
        return planned.kind == "allow_all"
    assert planned.condition is not None
    return _rows(planned.condition, True, columns, id_column)


def _rows(
    condition: Condition,
    positive: bool,
    columns: Mapping[str, str],
    id_column: str | None,
) -> bool | rows.Condition:
    """Where `condition` is true (`positive`) or false, as a row condition."""
    if isinstance(condition, Negation):
        return _rows(condition.child, not positive, columns, id_column)
    if isinstance(condition, (AllOf, AnyOf)):
        parts = [_rows(c, positive, columns, id_column) for c in condition.children]
        # `and` is true when all are true, false when any is false.
        every = isinstance(condition, AllOf) == positive
        return _fold(parts, every)
    if condition.attribute == RESOURCE_ID:
        if id_column is None:
            raise UntranslatablePlan("the plan reads the id, which has no column")
        return _id(condition, positive, id_column)
    column = columns.get(condition.attribute)
    if column is None:
        raise UntranslatablePlan(
            f"attribute {condition.attribute!r} is not read from a column"
        )
    op, value = condition.op, condition.value
    if op in _COMPLEMENT:
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            return False  # CEL cannot order it: an error either way
        return rows.Compare(column, op if positive else _COMPLEMENT[op], value)  # type: ignore[arg-type]
    if op == "in":
        if not value:
            return not positive
        equal: rows.Condition = rows.Compare(column, "in", tuple(value))
    else:
        equal = rows.Compare(column, "eq", value)
    # `eq` / `in` never err on a present attribute: false is "not true".
    return equal if positive == (op != "ne") else rows.Not(equal)


def _id(condition: Compare, positive: bool, column: str) -> bool | rows.Condition:
    op, value = condition.op, condition.value
    if op in _COMPLEMENT:
        raise UntranslatablePlan(f"an ordering ({op!r}) on the resource id")
    members = value if op == "in" else (value,)
    # Cerbos sees every id as text: another kind is never equal.
    ids = frozenset(m for m in members if isinstance(m, str))
    equal: bool | rows.Condition = rows.OneOf(column, ids, ids=True) if ids else False
    if positive == (op != "ne"):
        return equal
    return True if equal is False else rows.Not(equal)  # type: ignore[arg-type]


def _fold(parts: list[bool | rows.Condition], every: bool) -> bool | rows.Condition:
    """AND (`every`) or OR of `parts`, constants folded."""
    if any(part is (not every) for part in parts):
        return not every  # a false part decides an AND, a true one an OR
    kept = [part for part in parts if not isinstance(part, bool)]
    if not kept:
        return every
    if len(kept) == 1:
        return kept[0]
    return rows.And(tuple(kept)) if every else rows.Or(tuple(kept))
