"""Django backend of query filters: a `Plan` as a `QuerySet.filter(...)`.

Install with the extra `strawberry-authz[django]` (Django 4.2+,
strawberry-graphql-django). This module is imported only by its users (and
by `authz.filter` when given a `QuerySet`); the core package never imports
it.

```python
notes = await authz.filter(info, Note, NoteModel.objects.order_by("id"))
```

`apply(plan, queryset)` adds the plan to the queryset: every row is the
queryset itself, no row is `queryset.none()`, a condition is one `filter(Q)`.
Values are always query parameters, never SQL text. `$not` is
`CASE WHEN condition THEN FALSE ELSE TRUE END` (SQL's `NOT COALESCE(...,
FALSE)`), so a `NULL` column never lets a row through that the Python check
denies, nor hides one it allows. A value the Python check could never find
equal to a column value (the text `"1"` for an integer column, which Django
would convert) is left out of the query, as the check leaves it out.

`authz_queryset(authz, Type, queryset, info)` is the same for a
strawberry-django type's `get_queryset`, safe to call from the worker thread
strawberry-django runs it in under an async schema.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

from asgiref.sync import SyncToAsync, async_to_sync
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import BooleanField, Case, Q, QuerySet, Value, When

from ._columns import columns_in
from ._errors import ConfigurationError
from ._filters import _applied, _refused
from ._planning import FilterRule, _children
from ._rules import ColumnCheck, Node
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

__all__ = ["apply", "authz_queryset", "expression", "filtered"]

logger = logging.getLogger("strawberry_authz")

Rows = TypeVar("Rows", bound=QuerySet)
TypeClass = TypeVar("TypeClass", bound=type)

_prepared: weakref.WeakSet[type] = weakref.WeakSet()
"""The types whose optimizer hints already name their rule's columns."""

Built: TypeAlias = "bool | Q"
"""A condition as Django: `True` (every row), `False` (no row) or a `Q`."""


def apply(plan: Plan, queryset: Rows, model: Any = None) -> Rows:
    """`queryset` narrowed to the rows `plan` selects.

    Args:
        plan: From `authz.plan(info, Type)` / `plan_sync`.
        queryset: A Django `QuerySet`. Slice it, count it or paginate it
            after: the filter must be in the query before the page is cut.
        model: Unused (the queryset's own model is read); accepted so every
            backend takes the same arguments.

    Raises:
        ConfigurationError: a column of the plan is not a concrete field of
            the queryset's model, or a `where` returned something else than
            a `Q`, a boolean expression, `True` or `False`.

    Deny-all is `queryset.none()`, which runs no query at all. A `where`
    that raises selects no row (logged), whatever the plan says.
    """
    narrowed: Rows = _narrowed(plan, queryset)
    return narrowed


def _narrowed(plan: Plan, queryset: Any) -> Any:
    if plan.allow_all:
        return queryset
    if plan.deny_all:
        return queryset.none()
    assert plan.condition is not None
    try:
        built = expression(plan.condition, queryset.model, plan.type_name)
    except ConfigurationError:
        raise
    except Exception:
        # A `where` of the application's raised: no row rather than a guess.
        logger.exception(
            "strawberry-authz: building the filter of %s failed; no row is "
            "selected (fail closed)",
            plan.type_name,
        )
        return queryset.none()
    if built is True:
        return queryset
    if built is False:
        return queryset.none()
    return queryset.filter(built)


def expression(condition: Condition, model: Any, type_name: str = "") -> Built:
    """`condition` as a Django `Q` on `model` (or `True` / `False`)."""
    if isinstance(condition, And):
        parts = [expression(c, model, type_name) for c in condition.children]
        if any(part is False for part in parts):
            return False
        kept = [part for part in parts if part is not True]
        return _joined(kept, Q.AND) if kept else True
    if isinstance(condition, Or):
        parts = [expression(c, model, type_name) for c in condition.children]
        if any(part is True for part in parts):
            return True
        kept = [part for part in parts if part is not False]
        return _joined(kept, Q.OR) if kept else False
    if isinstance(condition, Not):
        inner = expression(condition.child, model, type_name)
        if isinstance(inner, bool):
            return not inner
        # NOT COALESCE(inner, FALSE): a NULL inside counts as not holding.
        return Q(
            Case(
                When(inner, then=Value(False)),
                default=Value(True),
                output_field=BooleanField(),
            )
        )
    field = _field(model, condition.column, type_name)
    name = field.attname
    if isinstance(condition, Equals):
        same = _comparable(field, (condition.value,), ids=False)
        return Q(**{name: same[0]}) if same else False
    if isinstance(condition, OneOf):
        values = _comparable(field, condition.values, ids=condition.ids)
        return Q(**{f"{name}__in": values}) if values else False
    if isinstance(condition, Compare):
        return _compare(field, condition, type_name)
    made = condition.where(name)
    if made is True or made is False:
        return bool(made)
    if isinstance(made, Q):
        return made
    if getattr(made, "conditional", False) and hasattr(made, "resolve_expression"):
        return Q(made)
    raise ConfigurationError(
        f"the filter of {type_name}: scope {condition.scope!r}: where() returned "
        f"{type(made).__name__}, expected a Django Q, a boolean expression, "
        "True or False"
    )


_KINDS = {
    "AutoField": "number",
    "BigAutoField": "number",
    "SmallAutoField": "number",
    "IntegerField": "number",
    "BigIntegerField": "number",
    "SmallIntegerField": "number",
    "PositiveIntegerField": "number",
    "PositiveBigIntegerField": "number",
    "PositiveSmallIntegerField": "number",
    "FloatField": "number",
    "CharField": "str",
    "TextField": "str",
    "SlugField": "str",
    "EmailField": "str",
    "BooleanField": "bool",
    "NullBooleanField": "bool",
}
_LOOKUPS = {"lt": "lt", "le": "lte", "gt": "gt", "ge": "gte"}


def _compare(field: Any, condition: Compare, type_name: str) -> Built:
    """A `Compare` on a field of a known kind (number, string or bool).

    As in the SQLAlchemy backend: a constant of another kind is never equal
    (`False`), `NULL` never passes, `ne` included (Django's `~Q` would let
    a `NULL` through, so `ne` also asks for a value).

    Raises:
        TypeError: the field is of another kind (a `DecimalField`, JSON, a
            date): the plan denies every row (logged) rather than compare
            values the check would read otherwise.
    """
    kind = _KINDS.get(field.get_internal_type())
    if kind is None:
        raise TypeError(
            f"the filter of {type_name}: Column({condition.column!r}) is a "
            f"{field.get_internal_type()}; a Compare needs a number, string "
            "or bool field"
        )
    name, op, target = field.attname, condition.op, condition.value
    if op == "in":
        kept = sorted((m for m in target if value_kind(m) == kind), key=repr)
        return Q(**{f"{name}__in": kept}) if kept else False
    if value_kind(target) != kind or (op not in ("eq", "ne") and kind == "bool"):
        return False
    if op == "eq":
        return Q(**{name: target})
    if op == "ne":
        return Q(**{f"{name}__isnull": False}) & ~Q(**{name: target})
    return Q(**{f"{name}__{_LOOKUPS[op]}": target})


def _joined(parts: list[Q], connector: str) -> Q:
    joined = Q()
    joined.connector = connector
    for part in parts:
        joined.add(part, connector)
    return joined


def _field(model: Any, name: str, type_name: str) -> Any:
    """The concrete field of `model` whose attribute is `name`.

    `Column("owner_id")` names the attribute the Python check reads. A
    relation's own name (`owner`) reads a model instance, which no scope
    value equals, and a lookup path (`team__name`) is no attribute at all:
    both are refused rather than compared differently in SQL and in Python.
    """
    label = getattr(model, "__name__", repr(model))
    try:
        field = model._meta.get_field(name)
    except (FieldDoesNotExist, AttributeError):
        field = None
    if field is None or not getattr(field, "concrete", False):
        for candidate in getattr(getattr(model, "_meta", None), "concrete_fields", ()):
            if candidate.attname == name:
                return candidate
        raise ConfigurationError(
            f"the filter of {type_name}: Column({name!r}) is not a concrete "
            f"field of the Django model {label!r}"
        )
    if field.attname != name:
        raise ConfigurationError(
            f"the filter of {type_name}: Column({name!r}) reads a related "
            f"object on {label!r}; name the column, Column({field.attname!r})"
        )
    return field


def _comparable(field: Any, values: Any, *, ids: bool) -> list[Any]:
    """The `values` that can equal a value of `field` in Python too.

    Django converts a value to the field's type before comparing
    (`owner_id = "1"` finds the integer 1), while the check finds
    `1 == "1"` false: a value whose conversion is not equal to itself is
    left out, so the query never selects a row the check denies. With `ids`
    (an engine's answer, as text), an integer column also matches a value's
    own spelling (`"42"`, not `"042"`), as `OneOf(ids=True)` does in Python.
    """
    kept: list[Any] = []
    for value in values:
        if value is None:
            continue
        try:
            converted = field.to_python(value)
        except (ValidationError, TypeError, ValueError, ArithmeticError):
            continue
        try:
            same = converted is not None and bool(converted == value)
        except Exception:  # an __eq__ that raises: cannot be found equal
            same = False
        if same or (
            ids
            and isinstance(value, str)
            and type(converted) is int
            and str(converted) == value
        ):
            kept.append(converted)
    return sorted(set(kept), key=repr)


def authz_queryset(
    authz: Any,
    type_: type,
    queryset: Rows,
    info: Any,
    *,
    recheck: bool = True,
) -> Rows:
    """`queryset` filtered by `type_`'s rule, for a strawberry-django type.

    Call it from the type's `get_queryset`, which strawberry-django runs for
    top-level lists, connections and (through the optimizer's `Prefetch`)
    nested relations, always before pagination and counting:

        @classmethod
        def get_queryset(cls, queryset, info, **kwargs):
            return authz_queryset(authz, cls, queryset, info)

    Also loads the columns the rule reads with the rows (the optimizer's
    `only()` would otherwise defer them, and the per-object check would
    query once per row).

    Under an async schema strawberry-django calls `get_queryset` in a worker
    thread: the plan is then built on the request's event loop (async
    `load_scopes` and loaders work). On the event loop itself, or in a sync
    schema, it is built synchronously (`authz.plan_sync`). Never evaluates
    the queryset.

    Args:
        recheck: As for `authz.filter`: `False` skips the per-object check
            of `type_`'s objects returned beneath this field.
    """
    try:
        rule = authz._filter_rule(type_)
    except ConfigurationError as error:
        raise _refused(error) from None
    if type_ not in _prepared:
        _load_columns_with_rows(type_, rule)
        _prepared.add(type_)
    if _request_loop() is not None:
        plan = async_to_sync(authz.plan)(info, type_)
    else:
        plan = authz.plan_sync(info, type_)
    if not recheck:
        authz._trust(info, plan)
    return _applied(plan, queryset, None)


def filtered(authz: Any, *, recheck: bool = True) -> Callable[[TypeClass], TypeClass]:
    """Class decorator: a strawberry-django type filtered by its own rule.

    Put it above `authz.type_rule(...)`:

        @filtered(authz)
        @authz.type_rule({"owner": Column("owner_id")}, on_object=True)
        @strawberry_django.type(models.Note)
        class Note: ...

    Gives the type a `get_queryset` calling `authz_queryset` (unless it
    defines its own, which should call `authz_queryset` itself), and makes
    the optimizer load the columns the rule reads with the rows from the
    first request on (nested relations included).

    Args:
        recheck: Rows keep their per-object check (the default: defense in
            depth, reading columns already loaded); `False` trusts the
            filter for this type, as `authz.filter(..., recheck=False)`.

    Raises:
        ConfigurationError: the type's rule cannot become a filter (named
            type rule and key), here rather than at the first request.
    """

    def decorate(cls: TypeClass) -> TypeClass:
        _load_columns_with_rows(cls, authz._filter_rule(cls))
        _prepared.add(cls)
        if "get_queryset" not in cls.__dict__:

            def get_queryset(
                klass: Any, /, queryset: Any, info: Any, **kwargs: Any
            ) -> Any:
                return authz_queryset(authz, klass, queryset, info, recheck=recheck)

            cls.get_queryset = classmethod(get_queryset)  # type: ignore[attr-defined]
        return cls

    return decorate


def _request_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop of the async request this worker thread serves, if any.

    asgiref's `sync_to_async` (which strawberry-django uses) records it for
    `async_to_sync`; none on the event loop's own thread or in a sync request.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return None
    local = SyncToAsync.threadlocal
    loop = getattr(local, "main_event_loop", None)
    if loop is None or getattr(local, "main_event_loop_pid", os.getpid()) != (
        os.getpid()
    ):
        return None
    if loop.is_closed() or not loop.is_running():
        return None
    return loop  # type: ignore[no-any-return]


def _load_columns_with_rows(type_: type, rule: FilterRule) -> None:
    """Make strawberry-django's optimizer load the columns `rule` reads.

    The optimizer selects only the fields a query asks for (`only()`), plus
    the type's own `only` hints; a column the object check reads but the
    query does not ask for would be read back with one query per row. The
    rule's columns join the type's hints (once per type: they do not depend
    on the viewer).
    """
    try:
        from strawberry_django.utils.typing import get_django_definition
    except ImportError:  # plain Django: nothing defers columns behind our back
        return
    definition = get_django_definition(type_)
    store = getattr(definition, "store", None)
    if store is None:
        return
    for name in sorted(_rule_columns(rule.node)):
        if name not in store.only:
            store.only.append(name)


def _rule_columns(node: Node | None) -> set[str]:
    if node is None:
        return set()
    found: set[str] = set()
    if isinstance(node, ColumnCheck):
        found.update(column.name for column in columns_in(node.value))
    for child in _children(node):
        found |= _rule_columns(child)
    return found
