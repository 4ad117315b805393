"""`RequestState`: the one cache of everything authorization remembers per operation.

Scope answers (`ScopeCache`), decisions of rules that depend on scopes alone,
grants given (`GrantLedger`), list warm-ups and subscription events. Nothing
here outlives the operation, and nothing else keeps per-request state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any, Protocol

from ._batch import BatchObserver
from ._grants import GrantLedger
from ._outcomes import Denial, MaybeOutcome, Outcome, shared
from ._scopes import LoadScopes, ScopeCache

_LIST_SHIFT = 32
LIST_INDEX_MASK = (1 << _LIST_SHIFT) - 1
"""The index of an object in its list, in a key of `RequestState.list_keys`."""

__all__ = ["Decidable", "RequestState"]


class Decidable(Protocol):
    """A compiled rule that depends on scopes alone (a static node)."""

    def evaluate(self, state: RequestState, call: None) -> MaybeOutcome: ...


class RequestState:
    """Everything authorization remembers for one operation."""

    __slots__ = (
        "_event_base",
        "_events",
        "_lists",
        "context",
        "decisions",
        "grants",
        "kept",
        "objects",
        "per_object",
        "plans",
        "scopes",
        "trusted",
        "warmed",
    )

    def __init__(
        self,
        load_scopes: LoadScopes,
        context: object,
        *,
        timeout: float | None = None,
        sync: bool = False,
        batch_observer: BatchObserver | None = None,
    ) -> None:
        self.context = context
        self.scopes = ScopeCache(
            load_scopes, context, timeout, sync=sync, batch_observer=batch_observer
        )
        self.decisions: dict[Decidable, Any] = {}
        self.grants = GrantLedger()
        # The object at each object path, for inline checks whose caller
        # cannot be found (`authz.check` from a task of its own).
        self.objects: dict[int, tuple[object, Any]] = {}
        # Outcomes of per-object type rules, by object (see `rules.PerObject`),
        # and the path objects whose ids their keys hold, kept alive so no id
        # is reused while the operation runs. Letting go of them makes a new
        # list: a list pass that yields (`_AsyncPass`) and still writes
        # answers sees it must keep its path in that one.
        self.per_object: dict[Hashable, Any] = {}
        self.kept: list[object] = []
        self.warmed: dict[Hashable, asyncio.Future[Any] | None] = {}
        # Query filters planned for this operation (`planning`), and the
        # fields whose filtered rows skip their object rules
        # (`authz.filter(..., recheck=False)`): id(path) -> (path, type names).
        self.plans: dict[Hashable, Any] = {}
        self.trusted: dict[int, tuple[object, frozenset[str]]] = {}
        self._events = 0
        self._event_base: tuple[int, int] | None = None
        self._lists = 0

    def decide(self, node: Decidable) -> MaybeOutcome:
        """The memoized outcome of a rule that depends on nothing but scopes."""
        decided = self.decisions.get(node)
        if decided is not None:
            return decided  # type: ignore[no-any-return]
        outcome = node.evaluate(self, None)
        if outcome is True or isinstance(outcome, Denial):
            self.decisions[node] = outcome
            return outcome
        decisions = self.decisions

        def remember(decided: Outcome) -> None:
            if decisions.get(node) is future:  # else `clear` forgot it meanwhile
                decisions[node] = decided

        future = shared(outcome, remember)
        decisions[node] = future
        return future

    def list_keys(self, size: int) -> range:
        """The keys of the answers for one list's `size` objects, a range of
        ints no other list of the operation shares (`_per_object.object_place`
        reads an object's index back from its key).

        Never reused, not even after a clear or a subscription's next event:
        an answer written late by a pass that began before them lands under
        a key nobody asks again.
        """
        self._lists += 1
        base = self._lists << _LIST_SHIFT
        return range(base, base + min(size, LIST_INDEX_MASK))

    def clear(self, scope: str | None = None) -> None:
        """Forget scope answers (all, or one scope's) and what was decided from them.

        `load_scopes` runs again on the next need; static decisions and list
        warm-ups are dropped with the answers they came from.
        """
        self.scopes.clear(scope)
        self.decisions.clear()
        self.plans.clear()
        self.trusted.clear()
        self.per_object.clear()
        self.kept = []  # a new list: see `kept` in `__init__`
        self.warmed.clear()
        self._events = 0
        self._event_base = None

    def start_event(self) -> None:
        """A new subscription event: what only the previous event used is gone.

        Grants belong to one event. Scope answers and static decisions known
        once the first event was checked (subscribe time included) stay for
        the whole subscription; those a later event added are dropped when
        the next one starts, so a stream whose rules ask for a new value per
        event (`{"member_of": event.team}`) does not grow with every event.
        """
        self.grants.clear()
        self.objects.clear()
        self.per_object.clear()
        self.kept = []  # a new list: see `kept` in `__init__`
        self._events += 1
        base = self._event_base
        if base is None:
            if self._events == 2:
                self._event_base = (len(self.scopes.results), len(self.decisions))
            return
        _keep_first(self.scopes.results, base[0])
        _keep_first(self.decisions, base[1])


def _keep_first(table: dict[Any, Any], count: int) -> None:
    """Drop all but the first `count` entries (dicts keep insertion order)."""
    for _ in range(len(table) - count):
        table.popitem()  # the last inserted entry
