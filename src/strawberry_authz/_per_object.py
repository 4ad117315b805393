"""Type rules that depend on the object: decided once per object.

`PerObject` wraps a rule node so that every selected field of one object
shares its outcome; `object_key` says which objects are the same one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from ._batch import Queued
from ._outcomes import Denial, MaybeOutcome, Outcome, misconfigured, shared
from ._params import FieldCall
from ._request import LIST_INDEX_MASK, RequestState
from ._rule_compiler import RuleFunction
from ._rules import Node


class PerObject(Node):
    """A type rule that depends on the object: decided once per object.

    Every selected field of one object (one object at one response path)
    shares the outcome, computed with `params.root` the object and
    `params.args` empty; a list pre-decides it for all its items at once.
    """

    __slots__ = ("child", "function", "source", "type_grants")

    def __init__(
        self,
        child: Node,
        type_grants: tuple[Callable[..., Any], ...] = (),
        source: Any = "type",
    ) -> None:
        super().__init__(static=False)
        self.child = child
        # The `grants=` functions of the object's type rules, for the checks
        # made before the object's fields resolve (see `params.ObjectCall`).
        self.type_grants = type_grants
        # Whose rule it is, for the decision log: "type" or "interface".
        self.source = source
        # A type rule that is one rule function (the common case): a list
        # pre-decision calls it directly, see `_object_pass.decide_objects`.
        self.function: RuleFunction | None = (
            child if type(child) is RuleFunction and not child.post else None
        )

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        if call is None:
            return misconfigured("a per-object type rule checked outside a field")
        at = call.info.path.prev
        key = object_key(at, self)
        known = state.per_object.get(key)
        if known is not None:
            return known  # type: ignore[no-any-return]
        keep = None if at is None else at.prev
        return self.decide(state, key, keep, call.for_object(self.type_grants))

    def decide(
        self, state: RequestState, key: Hashable, keep: object, call: FieldCall
    ) -> MaybeOutcome:
        """Evaluate for the object of `call` and remember it under `key`.

        `keep` is kept alive for the operation (`state.kept`): the path object
        whose id the key holds, so the id is not reused while the operation
        runs. None when the caller keeps it (a list keeps it once).
        """
        if keep is not None:
            state.kept.append(keep)
        return self.remember(state, key, self.child.evaluate(state, call))

    def remember(
        self, state: RequestState, key: Hashable, outcome: MaybeOutcome
    ) -> MaybeOutcome:
        """Keep `outcome` (this rule's for one object) under `key`, as `decide`."""
        table = state.per_object
        if outcome is True or isinstance(outcome, Denial):
            table[key] = outcome
            return outcome
        if (
            type(outcome) is Queued
            or state.scopes.batches.collecting
            or state.scopes.sync
        ):
            # Evaluated again once its batch answered (or it cannot be shared
            # without an event loop): nothing to remember yet.
            return outcome

        def store(decided: Outcome) -> None:
            if table.get(key) is future:
                table[key] = decided

        future = shared(outcome, store)
        table[key] = future
        return future

    def describe(self) -> object:
        return self.child.describe()


def object_key(at: Any, node: Node) -> Hashable:
    """The key of `node`'s answer for the object at response path `at`.

    Made of the parent path object's identity and `at`'s key (a list index or
    a response name), so a list can compute it for its items before
    graphql-core creates their paths. The node is there by identity too: it
    lives as long as the schema, and a key of ints and strings only is one
    the collector stops scanning once seen (a list keeps thousands).
    """
    if at is None:
        return (0, None, id(node))
    return object_key_at(at.prev, at.key, node)


def object_place(key: Any) -> Any:
    """The place below its field (an index, or a tuple of them) of the object
    whose answer is under `key`: an `object_key`, or an int of
    `RequestState.list_keys` (a flat list's object, by index)."""
    return key & LIST_INDEX_MASK if type(key) is int else key[1]


def object_key_at(parent: object, key: object, node: Node) -> Hashable:
    """`object_key` of the object at `key` (an index) below the path `parent`."""
    return (id(parent), key, id(node))
