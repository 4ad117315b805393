"""Rule trees: small nodes, evaluated per request.

A rule set compiles (see `_rule_compiler`) into a tree of these nodes. A node
is *static* when its outcome depends only on the request's scopes; static
trees are decided once per request. Per-object type rules are in
`_per_object`, user rule functions in `_rule_compiler`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Hashable, Sequence
from typing import Any

from ._columns import substitute
from ._errors import AuthorizationFailedError
from ._grants import GRANTS_FAILED
from ._keys import scope_key
from ._outcomes import (
    ALLOW,
    Denial,
    Later,
    MaybeOutcome,
    Outcome,
    combine_denials,
    denial_from_exception,
    discard,
    forbidden,
    misconfigured,
    outcome_of_done,
    safe_repr,
    settle,
)
from ._params import FieldCall
from ._request import RequestState

__all__ = ["Node"]


LOGIC_KEYS = ("$and", "$or", "$chain", "$race", "$not")


GRANTED_KEY = "$granted"


BARE_OPERATORS = frozenset(key[1:] for key in (*LOGIC_KEYS, GRANTED_KEY))
"""Operator names written without their `$`: refused unless declared as scopes."""


class Node:
    """One compiled rule. `evaluate` returns an outcome or an awaitable of one."""

    __slots__ = ("static",)

    def __init__(self, static: bool) -> None:
        self.static = static

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        raise NotImplementedError

    def describe(self) -> object:
        """The rule as a user would write it (for logs and debug output)."""
        raise NotImplementedError


class ScopeCheck(Node):
    __slots__ = ("key", "name", "value")

    def __init__(self, name: str, value: object) -> None:
        super().__init__(static=True)
        self.name = name
        self.value = value
        self.key: Hashable = scope_key(name, value)

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        return state.scopes.answer(self.name, self.value, self.key)

    def describe(self) -> object:
        return {self.name: self.value}


class ColumnCheck(Node):
    """A scope whose value reads the object: `{"owner": Column("owner_id")}`.

    Checked for one object, each `Column` in the value is replaced by that
    attribute of the object (`params.root`) and the scope is asked for the
    result; an object without the attribute denies (fail closed). Planned
    for a query (`filtering`), the scope's `where` half is used instead.
    """

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: object) -> None:
        super().__init__(static=False)
        self.name = name
        self.value = value

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        if call is None:
            return misconfigured(
                f"scope {self.name!r} with a Column checked outside a field"
            )
        try:
            value = substitute(self.value, call.root)
            key = scope_key(self.name, value)
        except Exception as error:
            return denial_from_exception(
                error, f"reading {safe_repr(self.value)} of the object"
            )
        return state.scopes.answer(self.name, value, key)

    def describe(self) -> object:
        return {self.name: self.value}


class Granted(Node):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        super().__init__(static=False)
        self.name = name

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        if call is None:
            return misconfigured(f"$granted {self.name!r} checked outside a field")
        parent = call.parent_grants()
        if self.name in parent:
            return ALLOW
        own = call.object_grants()
        if isinstance(own, frozenset):
            return self._decide(own, parent)
        return self._later(own, parent)

    def _decide(self, names: frozenset[str], parent: frozenset[str]) -> Outcome:
        if self.name in names:
            return ALLOW
        if names >= GRANTS_FAILED or parent >= GRANTS_FAILED:
            # A grants= function that failed might have given it: a failure
            # (the client may retry), still a denial.
            return Denial(
                AuthorizationFailedError(),
                f"grant {self.name!r}: a grants= function failed (see the log)",
                failed=True,
            )
        return forbidden(
            f"grant {self.name!r} was given neither by the parent field "
            "nor by the object's type"
        )

    async def _later(
        self, pending: Awaitable[frozenset[str]], parent: frozenset[str]
    ) -> Outcome:
        if isinstance(pending, asyncio.Future):
            names = await asyncio.shield(pending)
        else:
            names = await pending
        return self._decide(names, parent)

    def describe(self) -> object:
        return {GRANTED_KEY: self.name}


class _Group(Node):
    __slots__ = ("children",)
    keyword = ""

    def __init__(self, children: Sequence[Node]) -> None:
        super().__init__(static=all(child.static for child in children))
        self.children = tuple(children)

    def describe(self) -> object:
        return {self.keyword: [child.describe() for child in self.children]}


class AllOf(_Group):
    """`$and`: every entry passes; entries may run concurrently."""

    __slots__ = ()
    keyword = "$and"

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        pending: list[Awaitable[Outcome]] | None = None
        for child in self.children:
            outcome = child.evaluate(state, call)
            if outcome is True:
                continue
            if isinstance(outcome, Denial):
                _abandon(pending)
                return outcome
            if pending is None:
                pending = [outcome]
            else:
                pending.append(outcome)
        if pending is None:
            return ALLOW
        return Later(_all_of, pending, owned=pending)


class AnyOf(_Group):
    """`$or`: at least one entry passes; entries may run concurrently."""

    __slots__ = ()
    keyword = "$or"

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        pending: list[Awaitable[Outcome]] | None = None
        denials: list[Denial] = []
        for child in self.children:
            outcome = child.evaluate(state, call)
            if outcome is True:
                _abandon(pending)
                return ALLOW
            if isinstance(outcome, Denial):
                denials.append(outcome)
            elif pending is None:
                pending = [outcome]
            else:
                pending.append(outcome)
        if pending is None:
            return combine_denials(denials)
        return Later(_any_of, pending, denials, owned=pending)


class Chain(_Group):
    """`$chain`: every entry passes, strictly in written order."""

    __slots__ = ()
    keyword = "$chain"

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        children = self.children
        for index, child in enumerate(children):
            outcome = child.evaluate(state, call)
            if outcome is True:
                continue
            if isinstance(outcome, Denial):
                return outcome
            return Later(
                self._resume, outcome, index + 1, state, call, owned=(outcome,)
            )
        return ALLOW

    async def _resume(
        self,
        pending: Awaitable[Outcome],
        start: int,
        state: RequestState,
        call: FieldCall | None,
    ) -> Outcome:
        outcome = await settle(pending)
        if outcome is not True:
            return outcome
        for child in self.children[start:]:
            step = child.evaluate(state, call)
            if step is not True and not isinstance(step, Denial):
                step = await settle(step)
            if step is not True:
                return step
        return ALLOW


class Race(_Group):
    """`$race`: at least one entry passes, tried strictly in written order."""

    __slots__ = ()
    keyword = "$race"

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        denials: list[Denial] = []
        for index, child in enumerate(self.children):
            outcome = child.evaluate(state, call)
            if outcome is True:
                return ALLOW
            if isinstance(outcome, Denial):
                denials.append(outcome)
                continue
            return Later(
                self._resume, outcome, index + 1, denials, state, call, owned=(outcome,)
            )
        return combine_denials(denials)

    async def _resume(
        self,
        pending: Awaitable[Outcome],
        start: int,
        denials: list[Denial],
        state: RequestState,
        call: FieldCall | None,
    ) -> Outcome:
        outcome = await settle(pending)
        if outcome is True:
            return ALLOW
        denials.append(outcome)
        for child in self.children[start:]:
            step = child.evaluate(state, call)
            if step is not True and not isinstance(step, Denial):
                step = await settle(step)
            if step is True:
                return ALLOW
            denials.append(step)
        return combine_denials(denials)


class Not(Node):
    """`$not`: passes when its rules are denied on purpose, denied when they pass.

    "On purpose" is a rule saying no: a `False` scope or rule function, or a
    `GraphQLError` (`ForbiddenError`, `UnauthenticatedError`, a loader's own)
    raised by a loader or rule function. A failure (an unexpected exception,
    a misconfiguration, a time-out) stays a denial: fail closed.
    """

    __slots__ = ("child",)

    def __init__(self, child: Node) -> None:
        super().__init__(static=child.static)
        self.child = child

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        outcome = self.child.evaluate(state, call)
        if outcome is True or isinstance(outcome, Denial):
            return self._invert(outcome)
        return Later(self._later, outcome, owned=(outcome,))

    async def _later(self, pending: Awaitable[Outcome]) -> Outcome:
        return self._invert(await settle(pending))

    def _invert(self, outcome: Outcome) -> Outcome:
        if outcome is True:
            return forbidden("$not: its rules passed")
        if outcome.failed:
            return outcome
        return ALLOW

    def describe(self) -> object:
        return {"$not": self.child.describe()}


class Constant(Node):
    """`authz.rule(True)` (an explicit allow) or `authz.rule(False)` (a deny)."""

    __slots__ = ("allow",)

    def __init__(self, allow: bool) -> None:
        super().__init__(static=True)
        self.allow = allow

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        return ALLOW if self.allow else forbidden("the rule is False")

    def describe(self) -> object:
        return self.allow


class SourceTag(Node):
    """One part of a field's checks (default scopes, a type rule, ...).

    It answers as its rule does; a denial it passes on says which part it is,
    for the decision log and audit records.
    """

    __slots__ = ("child", "source")

    def __init__(self, source: str, child: Node) -> None:
        super().__init__(static=child.static)
        self.source = source
        self.child = child

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        outcome = self.child.evaluate(state, call)
        if outcome is True:
            return ALLOW
        if isinstance(outcome, Denial):
            return outcome.from_source(self.source)
        return Later(self._tag, outcome, owned=(outcome,))

    async def _tag(self, pending: Awaitable[Outcome]) -> Outcome:
        outcome = await settle(pending)
        return ALLOW if outcome is True else outcome.from_source(self.source)

    def describe(self) -> object:
        return self.child.describe()


class _DenyAll(Node):
    """Stands in for a rule that failed to compile; it can never allow."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(static=True)

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        return misconfigured("the rule of this field failed to compile")

    def describe(self) -> object:
        return {"$invalid": True}


_DENY_ALL = _DenyAll()


def all_of(nodes: Sequence[Node]) -> Node | None:
    """The AND of `nodes` (None when there is nothing to check)."""
    flat = _flatten(nodes)
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else AllOf(flat)


def _flatten(nodes: Sequence[Node]) -> list[Node]:
    flat: list[Node] = []
    for node in nodes:
        if type(node) is AllOf:
            flat.extend(node.children)
        else:
            flat.append(node)
    return flat


def _at(at: str) -> str:
    return f"key {at!r}: " if at else ""


def _abandon(pending: list[Awaitable[Outcome]] | None) -> None:
    """Drop evaluations whose result no longer matters.

    Lazy evaluations are closed (they never started); futures are left
    running, because they are shared and memoized for the rest of the request.
    """
    if pending:
        for item in pending:
            discard(item)


async def _all_of(pending: list[Awaitable[Outcome]]) -> Outcome:
    if len(pending) == 1:
        return await settle(pending[0])
    waiting = {_as_future(item) for item in pending}
    while waiting:
        done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for future in done:
            outcome = outcome_of_done(future)
            if outcome is not True:
                return outcome
    return ALLOW


async def _any_of(pending: list[Awaitable[Outcome]], denials: list[Denial]) -> Outcome:
    futures = [_as_future(item) for item in pending]
    waiting = set(futures)
    while waiting:
        done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for future in done:
            if outcome_of_done(future) is True:
                return ALLOW
    # Reported in written order, whatever order the branches finished in.
    denials.extend(outcome_of_done(future) for future in futures)  # type: ignore[misc]
    return combine_denials(denials)


def _as_future(item: Awaitable[Outcome]) -> asyncio.Future[Any]:
    future = asyncio.ensure_future(item)
    future.add_done_callback(_consume)
    return future


def _consume(future: asyncio.Future[Any]) -> None:
    # Retrieve the outcome of abandoned branches so asyncio never reports
    # "exception was never retrieved" for a check nobody waits for any more.
    if not future.cancelled():
        future.exception()
