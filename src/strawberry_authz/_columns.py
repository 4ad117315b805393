"""`Column` and `FilterScope`: one rule that checks an object and filters a query.

A `Column("owner_id")` written as a scope value (`{"owner": Column("owner_id")}`)
is read from the object being checked (`params.root.owner_id`) when a field is
checked, and becomes the mapped column when the type's rule is turned into a
query filter (`authz.plan`, `authz.filter`).

A `FilterScope` is a scope loader that answers both ways for the same viewer:
`check(value) -> bool` for one object, `where(column)` for the query. The
helpers `FilterScope.equals(value)` and `FilterScope.one_of(values)` write
both halves from one value, backend-neutrally, so nothing is written twice.
`None` matches nothing in both halves (SQL's `NULL = NULL` is never true, so
the Python half says the same).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "NO_MATCH",
    "Column",
    "FilterScope",
    "RowValue",
    "column_value",
    "columns_in",
    "substitute",
]


class Column:
    """A reference to a mapped attribute, usable as (part of) a scope value.

    Args:
        name: The attribute of the object (and of the mapped model) to read:
            `Column("owner_id")`.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"Column: name must be an attribute name, got {name!r}")
        self.name = name

    def read(self, obj: object) -> object:
        """The value of this column on `obj` (raises `AttributeError` if none)."""
        return getattr(obj, self.name)

    def __eq__(self, other: object) -> bool:
        return type(other) is Column and other.name == self.name

    def __hash__(self) -> int:
        return hash((Column, self.name))

    def __repr__(self) -> str:
        return f"Column({self.name!r})"


class RowValue:
    """A scope value read from a whole object (several columns) at once.

    For a scope whose engine decides on many attributes of the row (a
    policy engine's resource: `Resource.each("view")`). Checked for one
    object, the value is `read(obj)`; planned for a query, the scope's
    `BatchScope(passing=...)` receives it as it is and answers with a
    condition on `columns` (see `planning`). Subclasses set `columns`
    (at least one) and implement `read`.
    """

    __slots__ = ()

    columns: tuple[Column, ...]

    def read(self, obj: object) -> object:
        """The scope value for the object `obj`."""
        raise NotImplementedError


Where = Callable[[Any], Any]
"""`where(column)`: the query condition for the column (a backend expression,
a Django `Q`, or `True` / `False`)."""


class FilterScope:
    """A scope loader answering for one object and for a whole query.

    Return it from `load_scopes`: `{"owner": FilterScope.equals(user.id)}`.

    Args:
        check: `check(value) -> bool` for the value read from one object.
        where: `where(column) -> condition` for the same viewer, where
            `column` is the backend's column (a SQLAlchemy column attribute,
            or the field name for Django). Return `True` (every row) or
            `False` (no row) where the answer does not depend on the row.
            The condition must select exactly the rows `check` allows,
            NULLs included; `strawberry_authz.testing.assert_filter_matches_check`
            tests that.
    """

    __slots__ = ("check", "kind", "operand", "where")

    def __init__(self, *, check: Callable[[Any], bool], where: Where) -> None:
        if not callable(check) or not callable(where):
            raise TypeError("FilterScope: check and where must be callables")
        self.check = check
        self.where = where
        # "equals" / "one_of" for the helpers, which every backend translates
        # itself; "where" for a user's own pair.
        self.kind = "where"
        self.operand: Any = None

    @classmethod
    def equals(cls, value: object) -> FilterScope:
        """Passes for a value equal to `value` (`column = value`).

        `None` matches nothing: an anonymous viewer's `None` id never matches
        a row whose owner is unknown.
        """

        def check(seen: object) -> bool:
            return value is not None and seen is not None and seen == value

        scope = cls(check=check, where=_backend_only)
        scope.kind = "equals"
        scope.operand = value
        return scope

    @classmethod
    def one_of(cls, values: Iterable[object]) -> FilterScope:
        """Passes for a value among `values` (`column IN (values)`).

        Empty `values` matches nothing; a `None` among them matches nothing.
        """
        members = frozenset(value for value in values if value is not None)

        def check(seen: object) -> bool:
            try:
                return seen is not None and seen in members
            except TypeError:  # unhashable: never a member
                return False

        scope = cls(check=check, where=_backend_only)
        scope.kind = "one_of"
        scope.operand = members
        return scope

    def __call__(self, value: object) -> bool:
        """The loader form: the check, for a rule's value or an object's."""
        return self.check(value) is True

    def __repr__(self) -> str:
        if self.kind == "where":
            return f"FilterScope(check={self.check!r}, where={self.where!r})"
        return f"FilterScope.{self.kind}({self.operand!r})"


def _backend_only(column: object) -> object:
    raise TypeError("a FilterScope helper is translated by the filter backend")


def columns_in(value: object) -> list[Column]:
    """Every `Column` inside a scope value (in lists, tuples and dict values)."""
    if type(value) is Column:
        return [value]
    if isinstance(value, RowValue):
        return list(value.columns)
    if isinstance(value, (list, tuple)):
        return [column for item in value for column in columns_in(item)]
    if isinstance(value, Mapping):
        return [column for item in value.values() for column in columns_in(item)]
    return []


def substitute(value: object, obj: object) -> object:
    """`value` with each `Column` replaced by that attribute of `obj`."""
    if type(value) is Column:
        return value.read(obj)
    if isinstance(value, RowValue):
        return value.read(obj)
    if isinstance(value, list):
        return [substitute(item, obj) for item in value]
    if isinstance(value, tuple):
        return tuple(substitute(item, obj) for item in value)
    if isinstance(value, Mapping):
        return {key: substitute(item, obj) for key, item in value.items()}
    return value


NO_MATCH = object()
"""What `column_value` returns for a value that does not fit the template."""


def column_value(template: object, value: object) -> object:
    """What stands where `template` has its `Column`, in `value`; else `NO_MATCH`.

    `column_value(["note", Column("id"), "view"], ["note", 42, "view"])` is
    42; any other difference (type, length, another part) is `NO_MATCH`.
    """
    if type(template) is Column:
        return value
    if isinstance(template, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(template):
            return NO_MATCH
        found: object = NO_MATCH
        for part, seen in zip(template, value, strict=True):
            if columns_in(part):
                found = column_value(part, seen)
                if found is NO_MATCH:
                    return NO_MATCH
            elif type(part) is not type(seen) or part != seen:
                return NO_MATCH
        return found
    return NO_MATCH
