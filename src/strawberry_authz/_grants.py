"""Grants: names a field gives to the fields of the object it returned.

Declarations (`grants=` on `AuthExtension`), the one function that turns what a
`grants=` function returned into names, and the request's ledger of grants
given, keyed by the response path they belong to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, get_args, get_origin

from ._outcomes import safe_repr

__all__ = [
    "GRANTS_FAILED",
    "GrantDeclaration",
    "GrantLedger",
    "GrantSpec",
    "grant_names",
    "normalize_grant_spec",
]

logger = logging.getLogger("strawberry_authz")

GrantSpec = Sequence[str] | Callable[..., Any]
"""`grants=` of a rule: names, or `fn(params, result)` computing them."""

_NONE: frozenset[str] = frozenset()

GRANTS_FAILED: frozenset[str] = frozenset(("\x00strawberry-authz: grants failed",))
"""Recorded in place of names when a `grants=` function raised or returned
something else than names: a `$granted` it could have passed is then a
failure (`INTERNAL_SERVER_ERROR`), not a policy "no". It only ever changes
the code of a denial; no `$granted` asks for this name."""


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


def normalize_grant_spec(grants: GrantSpec | None) -> GrantSpec | None:
    """`grants=` as given: a function stays one; names become a tuple."""
    if grants is None or callable(grants):
        return grants
    return (grants,) if isinstance(grants, str) else tuple(grants)


def grant_names(made: object, where: str) -> frozenset[str]:
    """The names a `grants=` function returned, cleaned.

    A name, a list (tuple, set) of names, or None. Anything else grants
    nothing and is logged on `strawberry_authz`: a grant is never given by
    accident.
    """
    if isinstance(made, str):
        return frozenset((made,)) if made else _NONE
    if made is None:
        return _NONE
    if isinstance(made, (list, tuple, set, frozenset)) and all(
        isinstance(name, str) and name for name in made
    ):
        return frozenset(made)
    logger.error(
        "strawberry-authz: %s returned %s; expected a name or a list of names; "
        "nothing granted",
        where,
        safe_repr(made),
    )
    return GRANTS_FAILED


class GrantLedger:
    """The grants given in one operation, per response path.

    Keyed by the identity of graphql-core's `Path` objects: a child field
    receives that very object as its parent path, and the strong reference
    kept here stops the id from being reused while the operation runs.
    Object grants (computed by a type's `grants=` function) are kept per
    object (its parent path and its key there) and function.
    """

    __slots__ = ("given", "objects")

    def __init__(self) -> None:
        self.given: dict[int, tuple[object, frozenset[str]]] = {}
        self.objects: dict[tuple[int, object, int], tuple[object, Any]] = {}

    def record(self, path: object, names: frozenset[str]) -> None:
        if not names:
            return
        entry = self.given.get(id(path))
        if entry is not None:
            names = entry[1] | names
        self.given[id(path)] = (path, names)

    def at(self, path: object) -> frozenset[str]:
        entry = self.given.get(id(path))
        return entry[1] if entry is not None else _NONE

    def of_parent(self, path: Any) -> frozenset[str]:
        """Grants given by the field that returned the object at `path.prev`.

        List indices between the two are skipped, so every item of a list
        sees the grant of the list field; nothing above that field counts.
        """
        parent = path.prev
        while parent is not None and isinstance(parent.key, int):
            parent = parent.prev
        return _NONE if parent is None else self.at(parent)

    def clear(self) -> None:
        self.given.clear()
        self.objects.clear()
