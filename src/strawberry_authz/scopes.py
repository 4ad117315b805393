"""Scope and grant declarations, and the canonical cache key of a scope value.

A declaration (`scopes=` / `grants=` on `AuthExtension`) lets every static rule
be checked before any request runs. Without one, names are not checked ahead
of time and a rule naming an unknown scope denies at run time.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import typing
import uuid
from collections.abc import Hashable, Iterable, Mapping
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pydantic

__all__ = [
    "GrantDeclaration",
    "ScopeDeclaration",
    "UnkeyableValueError",
    "rule_set_key",
    "scope_value_key",
]

_MISSING = object()


class ScopeDeclaration:
    """The scope names a policy may use and the type of each rule value.

    A scope declared as `bool` accepts only `True` in a rule; any other type is
    checked with pydantic in strict mode.
    """

    def __init__(self, names: Mapping[str, Any]) -> None:
        self._types = {name: _without_none(kind) for name, kind in names.items()}
        self._adapters: dict[str, pydantic.TypeAdapter[Any]] = {}

    @classmethod
    def from_spec(cls, spec: object) -> ScopeDeclaration | None:
        if spec is None:
            return None
        if isinstance(spec, Mapping):
            return cls(spec)
        if isinstance(spec, type) and issubclass(spec, pydantic.BaseModel):
            return cls(
                {name: info.annotation for name, info in spec.model_fields.items()}
            )
        if isinstance(spec, type) and typing.is_typeddict(spec):
            return cls(typing.get_type_hints(spec))
        raise TypeError(
            "scopes= must be a TypedDict, a pydantic model or a {name: type} "
            f"mapping, not {spec!r}"
        )

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._types)

    def problem(self, name: str, value: object) -> str | None:
        """Why `{name: value}` is not a valid rule entry, or None if it is."""
        declared = self._types.get(name, _MISSING)
        if declared is _MISSING:
            known = ", ".join(sorted(self._types)) or "none"
            return f"unknown scope {name!r} (declared scopes: {known})"
        if declared is bool:
            if value is True:
                return None
            return (
                f"scope {name!r} is a bool scope and only accepts True, got {value!r}"
            )
        adapter = self._adapters.get(name)
        if adapter is None:
            adapter = self._adapters[name] = pydantic.TypeAdapter(declared)
        try:
            adapter.validate_python(value, strict=True)
        except pydantic.ValidationError as error:
            first = error.errors()[0]["msg"]
            return f"invalid value {value!r} for scope {name!r}: {first}"
        return None


def _without_none(kind: Any) -> Any:
    """`bool | None` (a pydantic field with a default) is a bool scope."""
    members = get_args(kind)
    if type(None) in members and get_origin(kind) in (Union, UnionType):
        rest = [member for member in members if member is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return kind


class GrantDeclaration:
    """The grant names a policy may give and ask for."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    @classmethod
    def from_spec(cls, spec: object) -> GrantDeclaration | None:
        if spec is None:
            return None
        if get_origin(spec) is Literal:
            return cls(str(arg) for arg in get_args(spec))
        if isinstance(spec, str):
            return cls([spec])
        if isinstance(spec, Iterable):
            return cls(str(name) for name in spec)
        raise TypeError(
            f"grants= must be a Literal[...] or a collection of names, not {spec!r}"
        )

    def problem(self, name: str) -> str | None:
        if name in self.names:
            return None
        known = ", ".join(sorted(self.names)) or "none"
        return f"unknown grant {name!r} (declared grants: {known})"


MAX_KEY_DEPTH = 32
"""How deeply a scope value may nest before it is refused (denied)."""


class UnkeyableValueError(ValueError):
    """A scope value the cache cannot key safely (too deep); its field is denied."""


class _Identity:
    """Keys a value by identity, and keeps it alive while the key exists.

    Used for values without a trustworthy canonical form: two such values are
    the same key only if they are the same object, and the strong reference
    stops the id from being reused while a cache holds the key.
    """

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)

    def __repr__(self) -> str:
        return f"<identity {type(self.value).__qualname__} {id(self.value):#x}>"


_PLAIN = (str, int, float, bool, type(None), bytes, complex)
_TRUSTED = (
    uuid.UUID,
    decimal.Decimal,
    datetime.date,
    datetime.time,
    datetime.timedelta,
)


def scope_value_key(value: object) -> Hashable:
    """A hashable key that tells apart every value a loader could distinguish.

    The key is built only from a real canonical form: `str`, `int`, `float`,
    `bool`, `None` (each with its type, so `True` and `1` differ), enums,
    lists and tuples, mappings (order-free), sets, dataclasses and pydantic
    models (by type and field values), recursively. Any other value is keyed
    by identity and kept alive by the key, so two objects are never merged
    because their `repr` or `__eq__` say they are equal. A value nested deeper
    than `MAX_KEY_DEPTH` raises `UnkeyableValueError`.
    """
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return (kind, value)
    return _canonical(value, 0)


def _canonical(value: object, depth: int) -> Hashable:
    if depth > MAX_KEY_DEPTH:
        raise UnkeyableValueError(
            f"scope value nested deeper than {MAX_KEY_DEPTH} levels"
        )
    kind = type(value)
    if kind in _PLAIN or kind in _TRUSTED or kind is datetime.datetime:
        return (kind, value)
    if isinstance(value, enum.Enum):
        return ("enum", kind, value.name)
    below = depth + 1
    if isinstance(value, Mapping):
        items = [(_canonical(k, below), _canonical(v, below)) for k, v in value.items()]
        items.sort(key=repr)
        return ("mapping", tuple(items))
    if isinstance(value, (list, tuple)):
        return (kind, tuple(_canonical(item, below) for item in value))
    if isinstance(value, (set, frozenset)):
        members = sorted((_canonical(item, below) for item in value), key=repr)
        return ("set", kind, tuple(members))
    if isinstance(value, pydantic.BaseModel):
        names = [*type(value).model_fields, *(value.model_extra or {})]
        fields = tuple((n, _canonical(getattr(value, n), below)) for n in names)
        return ("model", kind, fields)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = tuple(
            (f.name, _canonical(getattr(value, f.name), below))
            for f in dataclasses.fields(value)
        )
        return ("dataclass", kind, fields)
    return ("identity", _Identity(value))


def rule_set_key(rules: object) -> Hashable | None:
    """A key equal for rule sets that compile to the same tree, else None.

    Unlike a scope value's key it keeps the written order of dict entries
    (`$chain` and `$race` given as dicts run in that order). None when some
    value has no canonical form (it is keyed by identity): such rule sets are
    compiled every time rather than kept alive in a cache.
    """
    try:
        key = _rule_key(rules, 0)
    except (UnkeyableValueError, _IdentityKeyed):
        return None
    return key


class _IdentityKeyed(Exception):
    pass


def _rule_key(rules: object, depth: int) -> Hashable:
    if depth > MAX_KEY_DEPTH:
        raise UnkeyableValueError(f"rule set nested deeper than {MAX_KEY_DEPTH}")
    if isinstance(rules, Mapping):
        return ("d", tuple((k, _rule_key(v, depth + 1)) for k, v in rules.items()))
    if type(rules) is list:
        return ("l", tuple(_rule_key(item, depth + 1) for item in rules))
    key = scope_value_key(rules)
    if _holds_identity(key):
        raise _IdentityKeyed
    return ("v", key)


def _holds_identity(key: object) -> bool:
    if isinstance(key, _Identity):
        return True
    if isinstance(key, tuple):
        return any(_holds_identity(part) for part in key)
    return False
