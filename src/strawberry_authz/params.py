"""What rule functions receive, and the per-field call being checked."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from inspect import isawaitable
from types import FrameType
from typing import TYPE_CHECKING, Any

from ._compat import strawberry_resolver_inputs
from .evaluation import denial_from_exception, shared

if TYPE_CHECKING:
    from graphql import GraphQLResolveInfo
    from strawberry.types import Info

    from .evaluation import RequestState
    from .guards import FieldGuard

__all__ = ["AuthParams", "FieldCall", "resolver_inputs"]

_UNSET: Any = object()


class AuthParams:
    """The field being checked, as its resolver sees it.

    `root` is the parent object, `args` the arguments as the resolver gets
    them (Python names, Strawberry input types), `context` the request
    context and `info` Strawberry's `Info`. `args` and `info` are built on
    first access only.
    """

    __slots__ = ("_args", "_call", "_info")

    def __init__(self, call: FieldCall) -> None:
        self._call = call
        self._args: dict[str, Any] = _UNSET
        self._info: Info = _UNSET

    @property
    def root(self) -> Any:
        return self._call.root

    @property
    def context(self) -> Any:
        return self._call.raw_info.context

    @property
    def info(self) -> Info:
        if self._info is _UNSET:
            self._info = self._call.guard.strawberry_info(self._call.raw_info)
        return self._info

    @property
    def args(self) -> dict[str, Any]:
        if self._args is _UNSET:
            self._args = self._call.guard.convert_arguments(
                self._call.raw_args, self.info
            )
        return self._args

    @property
    def path(self) -> list[str | int]:
        """The response path of the field, aliases and list indices included."""
        return self._call.raw_info.path.as_list()

    def __repr__(self) -> str:
        return f"AuthParams(field={self._call.guard.coordinate!r}, path={self.path!r})"


class FieldCall:
    """One field instance under check: the guard, the request and the inputs."""

    __slots__ = ("_params", "guard", "raw_args", "raw_info", "result", "root", "state")

    def __init__(
        self,
        guard: FieldGuard,
        state: RequestState,
        root: Any,
        info: GraphQLResolveInfo[Any],
        args: dict[str, Any],
    ) -> None:
        self.guard = guard
        self.state = state
        self.root = root
        self.raw_info = info
        self.raw_args = args
        self.result: Any = None
        self._params: AuthParams | None = None

    @property
    def params(self) -> AuthParams:
        if self._params is None:
            self._params = AuthParams(self)
        return self._params

    def parent_grants(self) -> frozenset[str]:
        """Grants recorded by the field that returned this field's parent object.

        List indices between the two are skipped, so every item of a list sees
        the grant of the list field; nothing above that field is consulted.
        """
        parent = self.raw_info.path.prev
        while parent is not None and isinstance(parent.key, int):
            parent = parent.prev
        if parent is None:
            return frozenset()
        return self.state.grants_at(parent)

    def object_grants(self) -> frozenset[str] | Awaitable[frozenset[str]]:
        """Grants the parent object's type computes from the object itself.

        Each `grants=` function of the type rules that apply to *this field*
        runs once per object instance (keyed by the object's response path and
        the function), with `params.root` the object and empty `params.args`;
        a field only sees the grants of its own type rules, so no answer
        depends on which field of the object resolved first.
        """
        makers = self.guard.type_grants
        if not makers:
            return frozenset()
        at = self.raw_info.path.prev
        names: set[str] = set()
        pending: list[Awaitable[frozenset[str]]] = []
        for make in makers:
            made = self._object_grant(at, make)
            if isinstance(made, frozenset):
                names.update(made)
            else:
                pending.append(made)
        if not pending:
            return frozenset(names)
        return _union_later(names, pending)

    def _object_grant(
        self, at: object, make: Callable[..., Any]
    ) -> frozenset[str] | Awaitable[frozenset[str]]:
        table = self.state.object_grants
        key = (id(at), id(make))
        entry = table.get(key)
        if entry is not None:
            known: frozenset[str] | Awaitable[frozenset[str]] = entry[1]
            return known
        object_call = FieldCall(self.guard, self.state, self.root, self.raw_info, {})
        computed = _compute_object_grant(make, object_call)
        if isawaitable(computed):
            future = shared(computed, lambda names: table.__setitem__(key, (at, names)))
            table[key] = (at, future)
            return future
        table[key] = (at, computed)
        return computed


async def _union_later(
    names: set[str], pending: list[Awaitable[frozenset[str]]]
) -> frozenset[str]:
    for item in pending:
        names.update(
            await asyncio.shield(item)
            if isinstance(item, asyncio.Future)
            else await item
        )
    return frozenset(names)


def _compute_object_grant(
    make: Callable[..., Any], call: FieldCall
) -> frozenset[str] | Awaitable[frozenset[str]]:
    where = f"type grants of {call.guard.type_name}"
    try:
        made = make(call.params)
        if isawaitable(made):
            return _finish_object_grant(made, where)
        return frozenset(_grant_names(made))
    except Exception as error:
        denial_from_exception(error, where)
        return frozenset()


async def _finish_object_grant(pending: Awaitable[Any], where: str) -> frozenset[str]:
    try:
        return frozenset(_grant_names(await pending))
    except Exception as error:
        denial_from_exception(error, where)
        return frozenset()


def _grant_names(made: object) -> set[str]:
    if isinstance(made, str):
        return {made}
    if made is None:
        return set()
    if isinstance(made, (list, tuple, set, frozenset)) and all(
        isinstance(name, str) for name in made
    ):
        return set(made)
    raise TypeError(f"grants must be a name or a list of names, got {made!r}")


def resolver_inputs(raw: GraphQLResolveInfo[Any]) -> tuple[Any, dict[str, Any]] | None:
    """The root and raw arguments the resolver of `raw`'s field was called with.

    Inline checks (`authz.check(info, ...)`) get only `info`; the resolver
    that called them was itself called, further up the stack (or the await
    chain), by a function holding the field's root and arguments next to this
    very `info`: Strawberry's resolver (`_source`, `kwargs`) or our guard
    (`root`, `args`). None when no such caller is found (say, the check runs
    in a task of its own).
    """
    frame: FrameType | None = sys._getframe(1)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            return None
        found = frame.f_locals
        if found.get("info") is raw:
            strawberry_call = strawberry_resolver_inputs(found)
            if strawberry_call is not None:
                return strawberry_call
            if "root" in found and isinstance(found.get("args"), dict):
                return found["root"], found["args"]
        frame = frame.f_back
    return None


_MAX_FRAMES = 64
