"""What is enforced on one resolver, decided once when the schema is installed.

`FieldPlan` is the typed, frozen answer of the planner for one resolver (a
field's `resolve`, or a subscription's `subscribe`); `GuardSettings` what the
`AuthExtension` sets for all of them. The request path only reads both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from ._compat import resolve_type_name
from ._decisions import DecisionHook, DecisionPhase, DecisionSource
from ._grants import GrantSpec
from ._params import FieldSite
from ._per_object import PerObject
from ._request import RequestState
from ._rules import Node
from ._warmup import Warmer

__all__ = [
    "NO_FALLBACK",
    "UNKNOWN_TYPE",
    "ErrorHook",
    "ErrorHooks",
    "FieldPlan",
    "GuardSettings",
    "ObjectCheck",
    "Part",
    "Phase",
]

ErrorHook = Callable[[Exception, list[str | int]], "Exception | str | None"]
ErrorHooks = tuple[tuple[DecisionSource, ErrorHook], ...]
"""The `on_error` hooks of a field's rules, each with the source it owns."""
Phase = Literal["subscribe", "resolve"]
Part = tuple[DecisionSource, Node]
"""One source of a field's checks and its node (`("type", node)`)."""


class _NoFallback:
    """`on_denied` was not given: a denied field reports its error."""

    def __repr__(self) -> str:
        return "<no fallback>"


NO_FALLBACK: Any = _NoFallback()


@dataclass(frozen=True)
class ObjectCheck:
    """The object rules of what one field returns.

    `concrete` for a field returning one object type (its rules, and whether
    denied items are dropped); for an interface or union, `by_type` maps each
    possible type's name to its rules (None: it has none) and `abstract` is
    that interface or union. `lists` is how many list levels wrap the type.
    """

    concrete: tuple[PerObject, bool] | None = None
    by_type: tuple[tuple[str, tuple[PerObject, bool] | None], ...] = ()
    abstract: Any = None
    lists: int = 0
    name: str = ""  # the concrete type's name (for `authz.filter(recheck=False)`)

    def rules_for(
        self, item: object, info: Any
    ) -> tuple[PerObject | None, bool] | None:
        """The rules of `item`'s GraphQL type; `UNKNOWN_TYPE` when unresolvable.

        For an interface or union the type is resolved as graphql-core will
        resolve it (the abstract type's `resolve_type`, else each possible
        type's `is_type_of`), so a subclass or a plain dict row gets the rules
        of the type it is served as.
        """
        if self.concrete is not None:
            return self.concrete
        name = resolve_type_name(item, info, self.abstract)
        for type_name, rules in self.by_type:
            if type_name == name:
                return rules
        return UNKNOWN_TYPE


UNKNOWN_TYPE: tuple[None, bool] = (None, False)
"""`ObjectCheck.rules_for` of an object whose type cannot be told: denied."""


@dataclass(frozen=True)
class GuardSettings:
    """What the extension sets for every guard of a schema."""

    var: ContextVar[RequestState | None]
    error_resolver: ErrorHook | None = None
    on_decision: DecisionHook | None = None
    debug: bool = False
    error_reasons: bool = False
    denial_log_level: int | None = logging.INFO
    explain_denials: Literal[False, "log", "response"] = False


@dataclass(frozen=True, eq=False)
class FieldPlan:
    """Everything enforced on one resolver.

    `pre` is the AND of `pre_parts` (default scopes, type, interface and field
    rules, in that order), checked before the resolver; `post` the AND of the
    post rules, checked with its result. For a subscription, the `subscribe`
    plan checks once when the stream starts (and filters events when denied
    ones are dropped); the `resolve` plan checks every event (`new_event`).
    """

    site: FieldSite
    attribute: Literal["resolve", "subscribe"] = "resolve"
    pre: Node | None = None
    pre_parts: tuple[Part, ...] = ()
    post: Node | None = None
    post_parts: tuple[Part, ...] = ()
    grants: GrantSpec | None = None
    on_error: ErrorHooks = ()
    on_denied: Any = NO_FALLBACK
    phase: DecisionPhase = "before"
    new_event: bool = False
    event_filter: tuple[Node | None, Node | None] | None = None
    warmer: Warmer | None = None
    object_check: ObjectCheck | None = None
    has_arguments: bool = True

    @property
    def coordinate(self) -> str:
        return self.site.coordinate

    def at(self, site: FieldSite) -> FieldPlan:
        """The same checks, for another field (the planner shares them).

        A plain copy with only `site` replaced: building a frozen plan from
        its fields again for each of thousands of fields would cost more
        than planning them.
        """
        copied = object.__new__(FieldPlan)
        copied.__dict__.update(self.__dict__)
        object.__setattr__(copied, "site", site)
        return copied

    def error_hook(self, source: str | None) -> ErrorHook | None:
        """The `on_error` of the rule a denial from `source` came from.

        A rule's hook sees only its own rule's denials: a post rule's
        `NOT_FOUND` never rewrites the default scopes' `UNAUTHENTICATED`.
        """
        for owner, hook in self.on_error:
            if owner == source:
                return hook
        return None

    @property
    def post_phase(self) -> DecisionPhase:
        # A subscription's post rule sees each event: it is an event decision.
        return "event" if self.phase == "event" else "after"

    def source_of(self, node: Node | None) -> DecisionSource | None:
        """Which part of the policy `node` is, for the decision log.

        For the combined checks before the resolver, the most specific part
        (field, interface, type, then default scopes): when every part
        passed, that is the one that decided to let the field through.
        """
        if node is None:
            return None
        if node is self.pre and self.pre_parts:
            return self.pre_parts[-1][0]
        if node is self.post or (self.event_filter and node is self.event_filter[1]):
            return "post"
        for source, part in self.pre_parts:
            if part is node:
                return source
        return None
