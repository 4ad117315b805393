"""Cache keys: the canonical form of a scope value or a returned rule set.

A scope answer is cached per `(scope, key)`, so two values may share a key only
if a loader could not tell them apart. The key is built from a real canonical
form (see `scope_value_key`); a value without one is keyed by identity.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import pydantic

__all__ = [
    "MAX_KEY_DEPTH",
    "UnkeyableValueError",
    "register_key",
    "rule_set_key",
    "scope_key",
    "scope_value_key",
]

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
_HASH_MAY_RAISE = (decimal.Decimal, datetime.datetime, datetime.time)
"""Keyed by value, though hashing some raises (`Decimal("sNaN")`, a time
whose tzinfo fails)."""


_KEYERS: dict[type, Callable[[Any], Hashable]] = {}


def register_key(kind: type, keyer: Callable[[Any], Hashable]) -> None:
    """Key values of exactly `kind` (a scope value type of this package, e.g.
    an engine's `ResourceCheck`) by `keyer(value)`, a canonical form it
    trusts; the key must start with a tag no other form uses."""
    _KEYERS[kind] = keyer


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
    if kind is list or kind is tuple:
        flat = _flat(value, kind)
        if flat is not None:
            return flat
    keyer = _KEYERS.get(kind)
    if keyer is not None:
        return keyer(value)
    return _canonical(value, 0)


def scope_key(name: str, value: object) -> Hashable:
    """The key of scope `name`'s answer for `value` (see `scope_value_key`).

    `(name, "list" or "tuple", *members)` for a flat list or tuple: one
    tuple, where the general form is `(name, scope_value_key(value))` (two
    members, the second never a string: the shapes never meet), and only
    strings and ints in it, so the collector stops scanning it once it has
    seen it (thousands are kept per list of objects).
    """
    kind = type(value)
    if kind is list or kind is tuple:
        for item in value:  # type: ignore[attr-defined]
            item_kind = type(item)
            if item_kind is not str and item_kind is not int:
                break
        else:
            return (name, "list" if kind is list else "tuple", *value)  # type: ignore[misc]
    return (name, scope_value_key(value))


def _flat(value: Any, kind: type) -> Hashable | None:
    """The key of a list or tuple of exactly `str` and `int` members, else None.

    The common per-object value, `["document", id, "view"]`. Its members need
    no type of their own in the key: a `str` never equals an `int`, and no
    other type (`bool`, `float`, a subclass) gets this form. The `"seq"` tag
    keeps it apart from every other form.
    """
    members = tuple(value)
    for item in members:
        item_kind = type(item)
        if item_kind is not str and item_kind is not int:
            return None
    return ("seq", kind, members)


def _canonical(value: object, depth: int) -> Hashable:
    if depth > MAX_KEY_DEPTH:
        raise UnkeyableValueError(
            f"scope value nested deeper than {MAX_KEY_DEPTH} levels"
        )
    kind = type(value)
    if kind in _PLAIN or kind in _TRUSTED or kind is datetime.datetime:
        if kind in _HASH_MAY_RAISE:
            # A signaling NaN, a tzinfo whose `utcoffset` raises: found only
            # where the key is used, it would fail the whole list, not this
            # object alone.
            try:
                hash(value)
            except Exception as error:
                raise UnkeyableValueError(
                    f"a {kind.__name__} that cannot be hashed has no key"
                    f" ({type(error).__name__}: {error})"
                ) from None
        return (kind, value)
    below = depth + 1
    if (
        kind is list
        or kind is tuple
        or (not isinstance(value, enum.Enum) and isinstance(value, (list, tuple)))
    ):
        flat = _flat(value, kind) if kind is list or kind is tuple else None
        if flat is not None:
            return flat
        # Plain members keyed inline: the checks below cost more.
        members: list[Hashable] = []
        for item in value:  # type: ignore[attr-defined]
            item_kind = type(item)
            if item_kind is str or item_kind is int:
                members.append((item_kind, item))
            else:
                members.append(_canonical(item, below))
        return (kind, tuple(members))
    if isinstance(value, enum.Enum):
        return ("enum", kind, value.name)
    if isinstance(value, Mapping):
        items = [(_canonical(k, below), _canonical(v, below)) for k, v in value.items()]
        items.sort(key=repr)
        return ("mapping", tuple(items))
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
        if type(rules) is dict:
            return _dict_key(rules, 0)
        return _rule_key(rules, 0)
    except (UnkeyableValueError, _IdentityKeyed):
        return None


class _IdentityKeyed(Exception):
    pass


def _rule_key(rules: object, depth: int) -> Hashable:
    if depth > MAX_KEY_DEPTH:
        raise UnkeyableValueError(f"rule set nested deeper than {MAX_KEY_DEPTH}")
    kind = type(rules)
    if kind is dict:
        return _dict_key(rules, depth)  # type: ignore[arg-type]
    if kind is list:
        return _list_key(rules, depth + 1)  # type: ignore[arg-type]
    if isinstance(rules, Mapping):
        return ("d", tuple((k, _rule_key(v, depth + 1)) for k, v in rules.items()))
    key = scope_value_key(rules)
    if _holds_identity(key):
        raise _IdentityKeyed
    return ("v", key)


def _dict_key(rules: dict[Any, Any], depth: int) -> Hashable:
    """`_rule_key` of a dict.

    A rule function returns a fresh rule set per object, so this runs per
    object: plain values (keyed as `scope_value_key` keys them) and lists
    are keyed inline, since a call per value costs more than the rest.
    """
    if depth > MAX_KEY_DEPTH:
        raise UnkeyableValueError(f"rule set nested deeper than {MAX_KEY_DEPTH}")
    below = depth + 1
    entries: list[tuple[object, Hashable]] = []
    for name, value in rules.items():
        kind = type(value)
        if kind is str or kind is int or kind is bool:
            entries.append((name, ("v", (kind, value))))
        elif kind is list:  # `{"$or": [{...}, {...}]}`
            entries.append((name, _list_key(value, below + 1)))
        else:
            entries.append((name, _rule_key(value, below)))
    return ("d", tuple(entries))


def _list_key(rules: list[Any], below: int) -> Hashable:
    """`_rule_key` of a list whose items are at depth `below`."""
    if below > MAX_KEY_DEPTH + 1:
        raise UnkeyableValueError(f"rule set nested deeper than {MAX_KEY_DEPTH}")
    listed: list[Hashable] = []
    for item in rules:
        if type(item) is dict:
            if len(item) == 1 and below <= MAX_KEY_DEPTH:
                # `_dict_key` of `{"scope": value}` with a plain value, inlined:
                # the commonest branch of an `$or` returned per object.
                ((name, value),) = item.items()
                kind = type(value)
                if kind is str or kind is int or kind is bool:
                    listed.append(("d", ((name, ("v", (kind, value))),)))
                    continue
            listed.append(_dict_key(item, below))
        else:
            listed.append(_rule_key(item, below))
    return ("l", tuple(listed))


def _holds_identity(key: object) -> bool:
    if isinstance(key, _Identity):
        return True
    if isinstance(key, tuple):
        return any(_holds_identity(part) for part in key)
    return False
