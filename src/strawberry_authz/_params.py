"""What rule functions receive (`AuthParams`), and the field call being checked.

A `FieldSite` is what is fixed about a field once the schema is installed (its
coordinate, its Strawberry field, the type grants of its object); a
`FieldCall` is one instance of that field in one operation, created once when
a guard leaves its fast path and passed, alone, through the request path.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from inspect import isawaitable
from operator import attrgetter
from types import FrameType
from typing import TYPE_CHECKING, Any, Generic, TypeAlias

from typing_extensions import TypeVar

from ._compat import (
    ResolveInfo,
    convert_arguments,
    make_info,
    strawberry_resolver_inputs,
)
from ._grants import GRANTS_FAILED, grant_names
from ._outcomes import denial_from_exception, shared
from ._request import RequestState

if TYPE_CHECKING:
    from strawberry import Schema
    from strawberry.types import Info
    from strawberry.types.field import StrawberryField

__all__ = [
    "AuthParams",
    "FieldCall",
    "FieldSite",
    "ObjectCall",
    "PostRuleFunction",
    "RuleFunction",
    "RuleResult",
    "RuleSet",
    "resolver_inputs",
]

RootT = TypeVar("RootT", default=Any)
"""The parent object's type (`params.root`); `Any` when not given."""
ContextT = TypeVar("ContextT", default=Any)
"""The request context's type (`params.context`); `Any` when not given."""

_UNSET: Any = object()
_OWN: Any = object()
"""`ObjectCall.at` of a check made from one of the object's own fields."""
_NO_ARGS: dict[str, Any] = {}
_NONE: frozenset[str] = frozenset()


@dataclass(eq=False, slots=True)
class FieldSite:
    """A field of an installed schema, as rule functions and grants need it.

    `type_grants` are the `grants=` functions of the type rules that apply to
    this field's object, computed once per object. Nothing changes a site
    once it is made; it is not frozen only because installing makes one per
    field, and a frozen dataclass takes four times as long to build.
    """

    type_name: str
    field_name: str
    schema: Schema
    field: StrawberryField | None
    type_grants: tuple[Callable[..., Any], ...] = ()

    @property
    def coordinate(self) -> str:
        return f"{self.type_name}.{self.field_name}"

    def strawberry_info(self, info: ResolveInfo) -> Info:
        return make_info(self.schema, info, self.field)

    def convert_arguments(self, raw: dict[str, Any], info: Info) -> dict[str, Any]:
        if not raw:
            return {}
        if self.field is None:
            return dict(raw)
        return convert_arguments(self.schema, self.field, raw, info)


class AuthParams(Generic[RootT, ContextT]):
    """The field being checked, as its resolver sees it.

    `root` is the parent object (read-only), `args` the arguments as the resolver gets
    them (Python names, Strawberry input types), `context` the request
    context and `info` Strawberry's `Info`. `args` and `info` are built on
    first access only.

    Generic in the root and the context type, so a type checker catches a
    misspelt attribute: `def owns(params: AuthParams[Note, Context]) -> bool`
    makes `params.root.owner_idd` an error. Bare `AuthParams` is
    `AuthParams[Any, Any]`.
    """

    # It holds what it reads of the call, not the call: the call caches its
    # params, and a reference back would make a cycle per checked object
    # (thousands of them for a list), left for the collector to find.
    __slots__ = ("_args", "_info", "_raw", "_raw_args", "_root", "_site")

    if TYPE_CHECKING:

        @property
        def root(self) -> RootT:
            root: RootT = self._root
            return root

    else:
        # Read-only: the field's later checks (post rule, `grants=`, error
        # hook) share these params, and a rule assigning `root` would make
        # them read another object. Read in C, no Python frame: rules read
        # it once per object.
        root = property(attrgetter("_root"))

    def __init__(
        self,
        site: FieldSite,
        info: ResolveInfo,
        root: Any,
        args: dict[str, Any] = _NO_ARGS,
    ) -> None:
        self._site = site
        self._raw = info
        self._root = root
        self._raw_args = args
        self._args: dict[str, Any] = _UNSET
        self._info: Info = _UNSET

    @property
    def context(self) -> ContextT:
        context: ContextT = self._raw.context
        return context

    @property
    def info(self) -> Info:
        if self._info is _UNSET:
            self._info = self._site.strawberry_info(self._raw)
        return self._info

    @property
    def args(self) -> dict[str, Any]:
        if self._args is _UNSET:
            raw = self._raw_args
            # No arguments (every per-object rule): no `Info` to build for them.
            self._args = self._site.convert_arguments(raw, self.info) if raw else {}
        return self._args

    @property
    def path(self) -> list[str | int]:
        """The response path of the field, aliases and list indices included."""
        return self._raw.path.as_list()

    def __repr__(self) -> str:
        coordinate = self._site.coordinate
        return f"AuthParams(field={coordinate!r}, path={self.path!r})"


RuleSet: TypeAlias = Mapping[str, Any]
"""A rule set: `{"scope": value, "$or": [...], ...}` (see Rule trees)."""
RuleResult: TypeAlias = "bool | RuleSet"
"""What a rule function answers: `True`, `False` or a rule set."""
RuleFunction: TypeAlias = Callable[
    [AuthParams[Any, Any]], "RuleResult | Awaitable[RuleResult]"
]
"""`fn(params)` for `authz.rule(fn)` / `type_rule(fn)`, sync or async."""
PostRuleFunction: TypeAlias = Callable[
    [AuthParams[Any, Any], Any], "RuleResult | Awaitable[RuleResult]"
]
"""`fn(params, result)` for `authz.post_rule(fn)` / `type_post_rule(fn)`."""


class FieldCall:
    """One field instance under check: where, in which operation, with what.

    `args` are the raw (GraphQL) arguments; `result` is the resolver's result
    once it ran (post rules), or the event (subscriptions).
    """

    __slots__ = (
        "_params",
        "args",
        "info",
        "result",
        "returned",
        "root",
        "served",
        "site",
        "state",
    )
    # Set only for a list a post rule allowed and a grants function reads
    # (`_served.kept`): never on the hot path.
    served: tuple[Any, ...] | None

    def __init__(
        self,
        site: FieldSite,
        state: RequestState,
        root: Any,
        info: ResolveInfo,
        args: dict[str, Any] = _NO_ARGS,
    ) -> None:
        self.site = site
        self.state = state
        self.root = root
        self.info = info
        self.args = args
        self.result: Any = None
        # What each rule function returned for this call, when the call is
        # evaluated more than once (a list decided in rounds).
        self.returned: dict[object, object] | None = None
        self._params: AuthParams | None = None

    def for_object(
        self,
        type_grants: tuple[Callable[..., Any], ...],
        root: Any = _UNSET,
        at: Any = _OWN,
    ) -> ObjectCall:
        """The check of an object's per-object type rules, seen from this field.

        With `root` and `at`, the object is one this field returned (`at` its
        place in the result, see `ObjectCall`); without, the object this
        field is of, decided from one of its own fields. Either way the
        check sees the same: `params.root` the object, no arguments, the
        grants of the field that returned it and those `type_grants` (the
        object's type's `grants=` functions) compute for it.
        """
        if root is _UNSET:
            root = self.root
        return ObjectCall(self.site, self.state, root, self.info, at, type_grants)

    @property
    def params(self) -> AuthParams:
        if self._params is None:
            self._params = AuthParams(self.site, self.info, self.root, self.args)
        return self._params

    def parent_grants(self) -> frozenset[str]:
        """Grants given by the field that returned this field's parent object."""
        return self.state.grants.of_parent(self.info.path)

    def object_grants(self) -> frozenset[str] | Awaitable[frozenset[str]]:
        """Grants the parent object's type computes from the object itself.

        Each `grants=` function of the type rules that apply to *this field*
        runs once per object instance (keyed by the object's place in the
        response and the function), with `params.root` the object and empty
        `params.args`; a field only sees the grants of its own type rules.
        """
        at = self.info.path.prev
        if at is None:
            return _object_grants(self, self.site.type_grants, None, None)
        return _object_grants(self, self.site.type_grants, at.prev, at.key)


class ObjectCall(FieldCall):
    """A check of an object's per-object type rules (made by `for_object`).

    Per-object type rules of a returned object (`on_object=True`), those a
    list decides for all its items at once, and those a field of the object
    decides first are all checked with one. `info` is the returning field's
    and `at` the object's place below it (a list index, a tuple of indices
    in nested lists, None for the field's own result); or, when one of the
    object's own fields decides, `info` is that field's and `at` is `_OWN`.
    `type_grants` are the `grants=` functions of the object's type rules.
    Its `$granted` sees what the object's fields would, whoever checks: the
    grants of the returning field and those the object's type computes, kept
    under the same keys.
    """

    __slots__ = ("at", "type_grants")

    def __init__(
        self,
        site: FieldSite,
        state: RequestState,
        root: Any,
        info: ResolveInfo,
        at: Any,
        type_grants: tuple[Callable[..., Any], ...],
    ) -> None:
        super().__init__(site, state, root, info)
        self.at = at
        self.type_grants = type_grants

    def parent_grants(self) -> frozenset[str]:
        if self.at is _OWN:
            return self.state.grants.of_parent(self.info.path)
        return self.state.grants.at(self.info.path)

    def object_grants(self) -> frozenset[str] | Awaitable[frozenset[str]]:
        path = self.info.path
        if self.at is _OWN:
            at = path.prev
            if at is None:
                return _object_grants(self, self.type_grants, None, None)
            return _object_grants(self, self.type_grants, at.prev, at.key)
        if self.at is None:
            return _object_grants(self, self.type_grants, path.prev, path.key)
        return _object_grants(self, self.type_grants, path, self.at)


def _object_grants(
    call: FieldCall,
    makers: tuple[Callable[..., Any], ...],
    parent: Any,
    key: object,
) -> frozenset[str] | Awaitable[frozenset[str]]:
    """What `makers` grant the object at `key` below the path `parent`.

    Kept per object and function under `(id(parent), key, id(make))`: a list
    decides its items before graphql-core makes their paths, and their fields
    find the same entries afterwards.
    """
    if not makers:
        return _NONE
    names: set[str] = set()
    pending: list[Awaitable[frozenset[str]]] = []
    for make in makers:
        made = _object_grant(call, parent, key, make)
        if isinstance(made, frozenset):
            names.update(made)
        else:
            pending.append(made)
    if not pending:
        return frozenset(names)
    return _union_later(names, pending)


def _object_grant(
    call: FieldCall, parent: Any, at: object, make: Callable[..., Any]
) -> frozenset[str] | Awaitable[frozenset[str]]:
    table = call.state.grants.objects
    key = (id(parent), at, id(make))
    entry = table.get(key)
    if entry is not None:
        known: frozenset[str] | Awaitable[frozenset[str]] = entry[1]
        return known
    object_call = FieldCall(call.site, call.state, call.root, call.info)
    computed = _compute_object_grant(make, object_call)
    if isawaitable(computed):
        future = shared(computed, lambda names: table.__setitem__(key, (parent, names)))
        table[key] = (parent, future)
        return future
    table[key] = (parent, computed)
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
    where = f"type grants of {call.site.type_name}"
    try:
        made = make(call.params)
    except Exception as error:
        denial_from_exception(error, where)
        return GRANTS_FAILED
    if isawaitable(made):
        return _finish_object_grant(made, where)
    return grant_names(made, where)


async def _finish_object_grant(pending: Awaitable[Any], where: str) -> frozenset[str]:
    try:
        made = await pending
    except Exception as error:
        denial_from_exception(error, where)
        return GRANTS_FAILED
    return grant_names(made, where)


def resolver_inputs(raw: ResolveInfo) -> tuple[Any, dict[str, Any]] | None:
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
