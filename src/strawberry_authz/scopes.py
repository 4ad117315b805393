"""Scope and grant declarations, and the canonical cache key of a scope value.

A declaration (`scopes=` / `grants=` on `AuthExtension`) lets every static rule
be checked before any request runs. Without one, names are not checked ahead
of time and a rule naming an unknown scope denies at run time.
"""

from __future__ import annotations

import typing
from collections.abc import Hashable, Iterable, Mapping
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pydantic

__all__ = ["GrantDeclaration", "ScopeDeclaration", "scope_value_key"]

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


def scope_value_key(value: object) -> Hashable:
    """A hashable key that tells apart every value a loader could distinguish.

    `True` and `1` are different keys; dicts and lists are keyed by a canonical
    form, so `{"a": 1, "b": 2}` and `{"b": 2, "a": 1}` share one key.
    """
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return (kind, value)
    return _canonical(value)


def _canonical(value: object) -> Hashable:
    if isinstance(value, Mapping):
        items = [(_canonical(k), _canonical(v)) for k, v in value.items()]
        items.sort(key=repr)
        return ("mapping", tuple(items))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_canonical(item) for item in value))
    if isinstance(value, (set, frozenset)):
        members = sorted((_canonical(item) for item in value), key=repr)
        return ("set", tuple(members))
    try:
        hash(value)
    except TypeError:
        return ("repr", type(value).__qualname__, repr(value))
    return (type(value), value)
