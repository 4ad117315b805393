"""Planning a type's query filter from its rule, for one viewer.

**Which rules make a type's filter.** The type rules that apply to every
field of the type, as a field without `skip_type_rules` gets them: its own
`type_rule(...)` (with and without `on_object=True`) and its interfaces' (unless
`skip_interface_rules`), along the class hierarchy. Field rules, post rules
and default scopes are not part of it: they still apply per field.

**Folding.** A part that does not read the row (a scope without a `Column`,
a constant, `$granted`) is decided for the request as a check would decide
it, then folded: `$and` / `$chain` become AND, `$or` / `$race` OR, `$not` NOT.
A `Column` leaf becomes the scope's `where` half: `Equals` / `OneOf` for
`FilterScope.equals` / `one_of`, `Where` for a `FilterScope` of one's own,
`OneOf` of the values a `BatchScope(passing=...)` returns, or the
condition it returns (a policy engine's plan on a `RowValue`: the row's
mapped columns, `Resource.each(action)`). `$granted` is decided as the
rows' own check will decide it: by the grants the field that filters gives
the objects it returns (its `grants=` names; a `grants=` function sees the
result, not known yet, so nothing: fewer rows, never more).

**Refused.** What cannot become a filter is a `ConfigurationError` naming
the type rule and the key, never a broader query: a rule function (opaque
code reading `params.root`), a `Column` on a scope without a `where` half.

**Failures deny.** A scope that fails (an exception, a time-out, an engine
error, too many passing values) counts as not passing, and a `$not` above a
failure does not pass either: the filter never selects more than the check
allows. Every failure is logged on `strawberry_authz`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from inspect import isawaitable
from typing import Any

from ._batch import BatchScope
from ._columns import Column, FilterScope, RowValue, columns_in
from ._compat import object_definition
from ._errors import ConfigurationError
from ._outcomes import (
    Denial,
    denial_from_exception,
    discard,
    forbidden,
    misconfigured,
    safe_repr,
    settle,
    within,
)
from ._params import FieldCall
from ._per_object import PerObject
from ._policy import Policy, TypePolicy
from ._request import RequestState
from ._rule_compiler import RuleFunction
from ._rules import (
    AllOf,
    AnyOf,
    Chain,
    ColumnCheck,
    Granted,
    Node,
    Race,
    SourceTag,
    all_of,
)
from ._rules import Not as NotNode
from .conditions import And, Compare, Condition, Equals, Not, OneOf, Or, Plan, Where

__all__ = ["FilterRule", "filter_rule_of", "filter_rule_problems"]

logger = logging.getLogger("strawberry_authz")


class FilterRule:
    """The rules of one type that make its filter (see the module docstring).

    Built once per extension and type. `problems` lists what cannot become a
    filter, each naming the type rule and the key; `where` names the type
    rule each `Column` leaf comes from, for the errors found at plan time.
    """

    __slots__ = ("node", "problems", "type_name", "uses_grants", "where")

    def __init__(self, type_name: str, parts: list[TypePolicy]) -> None:
        self.type_name = type_name
        self.where: dict[int, str] = {}
        self.problems: list[str] = []
        self.uses_grants = False
        nodes: list[Node] = []
        for part in parts:
            assert part.node is not None
            self._inspect(part.node, part.where)
            nodes.append(part.node)
        self.node = all_of(nodes)

    def _inspect(self, node: Node, where: str) -> None:
        if isinstance(node, RuleFunction):
            self.problems.append(
                f"{where}: key '$function' ({safe_repr(node.describe())}): a rule "
                "function cannot become a query filter; write the row condition "
                "as {'scope': Column('name')} with a FilterScope"
            )
        elif isinstance(node, ColumnCheck):
            self.where[id(node)] = where
            if len(columns_in(node.value)) != 1 and not isinstance(
                node.value, RowValue
            ):
                self.problems.append(
                    f"{where}: key {node.name!r}: a filtered scope value holds "
                    f"exactly one Column, got {safe_repr(node.value)}"
                )
        elif isinstance(node, Granted):
            self.uses_grants = True
        for child in _children(node):
            self._inspect(child, where)


def _children(node: Node) -> tuple[Node, ...]:
    children = getattr(node, "children", None)
    if children is not None:
        return tuple(children)
    child = getattr(node, "child", None)
    return (child,) if isinstance(child, Node) else ()


def filter_rule_of(policy: Policy, cls: type) -> FilterRule:
    """The `FilterRule` of the Strawberry type `cls` under `policy`."""
    definition = object_definition(cls)
    if definition is None:
        raise TypeError(f"expected a Strawberry type, got {cls!r}")
    own: list[TypePolicy] = []
    interfaces: list[TypePolicy] = []
    for klass in cls.__mro__:
        found = policy.type_policies.get(klass, ())
        if klass is not cls and getattr(
            object_definition(klass), "is_interface", False
        ):
            interfaces.extend(found)
        else:
            own.extend(found)
    skip = any(p.skip_interface_rules for p in policy.type_policies.get(cls, ()))
    applying = (*own, *(() if skip else interfaces))
    parts = [p for p in applying if p.node is not None and not p.post]
    rule = FilterRule(definition.name, parts)
    if rule.uses_grants and any(p.grants is not None for p in applying):
        # `$granted` may then be given by each object itself (a type's
        # `grants=` function): opaque code, like a rule function.
        rule.problems.append(
            f"type_rule of {definition.name}: key '$granted': the type grants "
            "names from each object (grants=), which a query cannot evaluate"
        )
    return rule


def filter_rule_problems(policy: Policy) -> list[str]:
    """Problems of every type whose rules read a `Column` (checked by validate)."""
    problems: list[str] = []
    for cls in list(policy.type_policies):
        if object_definition(cls) is None:
            continue
        rule = filter_rule_of(policy, cls)
        if rule.where:  # it reads a Column: it is meant to filter
            problems.extend(p for p in rule.problems if p not in problems)
    return problems


class Planner:
    """Folds one `FilterRule` for one operation (see the module docstring)."""

    def __init__(
        self,
        rule: FilterRule,
        state: RequestState,
        call: FieldCall,
        given: frozenset[str] | None = None,
    ) -> None:
        self.rule = rule
        self.state = state
        self.call = call
        # The grants the filtering field gives the rows it returns: what
        # `$granted` in their rules sees (None: ask `call`).
        self.given = given
        self.answers: dict[int, Any] = {}
        self.listing: list[ColumnCheck] = []  # leaves answered by `passing=`

    # -- phase 1: every leaf that does not depend on the row, answered ---------

    def ask(self, node: Node, scopes: dict[str, object]) -> list[tuple[Node, Any]]:
        """Ask every leaf of `node`; the `(leaf, awaitable)` still pending."""
        pending: list[tuple[Node, Any]] = []
        try:
            self._ask(node, scopes, pending)
        except BaseException:
            self.drop(pending)
            raise
        return pending

    def _ask(
        self, node: Node, scopes: dict[str, object], pending: list[tuple[Node, Any]]
    ) -> None:
        if node.static:
            outcome: Any = self.state.decide(node)
        elif isinstance(node, Granted):
            if self.given is None:
                outcome = node.evaluate(self.state, self.call)
            elif node.name in self.given:
                outcome = True
            else:
                outcome = forbidden(
                    f"grant {node.name!r} is not given by the field that filters"
                )
        elif isinstance(node, ColumnCheck):
            outcome = self._column(node, scopes)
        else:
            for child in _children(node):
                self._ask(child, scopes, pending)
            return
        if isinstance(outcome, (bool, Denial, *_CONDITIONS)):
            self.answers[id(node)] = outcome
        else:
            pending.append((node, outcome))

    async def wait(self, pending: list[tuple[Node, Any]]) -> None:
        """Wait for the pending leaves, concurrently."""
        outcomes = await asyncio.gather(*(settle(item) for _, item in pending))
        for (node, _), outcome in zip(pending, outcomes, strict=True):
            self.answers[id(node)] = outcome

    @staticmethod
    def drop(pending: list[tuple[Node, Any]]) -> None:
        """Close pending leaves nobody will await (they then count as failed)."""
        for _, item in pending:
            discard(item)

    def _column(self, node: ColumnCheck, scopes: dict[str, object]) -> Any:
        where = self.rule.where.get(id(node), f"type rule of {self.rule.type_name}")
        loader = scopes.get(node.name, _MISSING)
        if loader is _MISSING:
            return misconfigured(
                f"scope {node.name!r} is not returned by load_scopes "
                f"(it returned: {', '.join(sorted(scopes)) or 'nothing'})"
            )
        if isinstance(node.value, RowValue):
            if isinstance(loader, BatchScope) and loader.passing is not None:
                return passing_values(loader, node, None, self.state.scopes.timeout)
            raise ConfigurationError(
                f"{where}: key {node.name!r}: scope {node.name!r} "
                f"({safe_repr(loader)}) cannot filter on {safe_repr(node.value)}: "
                "it needs a BatchScope with passing= (an engine's scope)"
            )
        (column,) = columns_in(node.value)
        if isinstance(loader, FilterScope):
            if type(node.value) is not Column:
                raise ConfigurationError(
                    f"{where}: key {node.name!r}: a FilterScope takes the Column "
                    f"itself as its value, got {safe_repr(node.value)}"
                )
            if loader.kind == "equals":
                value = loader.operand
                return Equals(column.name, value) if value is not None else False
            if loader.kind == "one_of":
                members = loader.operand
                return OneOf(column.name, members) if members else False
            return Where(column.name, node.name, loader.where, loader)
        if isinstance(loader, BatchScope) and loader.passing is not None:
            self.listing.append(node)
            return passing_values(loader, node, column.name, self.state.scopes.timeout)
        raise ConfigurationError(
            f"{where}: key {node.name!r}: scope {node.name!r} "
            f"({safe_repr(loader)}) has no query half, so this Column cannot "
            "become a filter; return a FilterScope (or a BatchScope with "
            "passing=) for it from load_scopes"
        )

    # -- phase 2: the tree folded into a plan -----------------------------------

    def plan(self) -> Plan:
        node = self.rule.node
        if node is None:
            return Plan(self.rule.type_name, "allow_all")
        self._remember_listed()
        value, failed = self._fold(node)
        if value is True:
            return Plan(self.rule.type_name, "allow_all")
        if value is False:
            reason = "a scope failed (see the log)" if failed else None
            return Plan(self.rule.type_name, "deny_all", reason=reason)
        return Plan(self.rule.type_name, "condition", value)

    def _remember_listed(self) -> None:
        """Let the rows' own check find what an engine listed (no second call).

        A row the filter selected then passes its object check without
        asking the engine again; a row that is not in the list (a query
        that went wrong) is still asked.
        """
        listed = self.state.scopes.batches.listed
        for leaf in self.listing:
            answer = self.answers.get(id(leaf))
            if (
                isinstance(answer, OneOf)
                and answer.ids
                and [answer.column] == [c.name for c in columns_in(leaf.value)]
            ):
                listed.setdefault(leaf.name, []).append((leaf.value, answer.values))

    def _fold(self, node: Node) -> tuple[bool | Condition, bool]:
        """`node` as True, False or a condition; and whether a failure is in it."""
        if id(node) in self.answers:
            return _leaf(self.answers[id(node)])
        kind = type(node)
        if kind in (AllOf, Chain):
            return _and([self._fold(child) for child in _children(node)])
        if kind in (AnyOf, Race):
            return _or([self._fold(child) for child in _children(node)])
        if kind is NotNode:
            value, failed = self._fold(_children(node)[0])
            if failed:  # a failure is never turned into a pass
                return False, True
            if isinstance(value, bool):
                return not value, False
            return Not(value), False
        if kind in (SourceTag, PerObject):
            return self._fold(_children(node)[0])
        return False, True  # nothing else reaches here; fail closed


_CONDITIONS = (Equals, OneOf, Where, Compare, And, Or, Not)
_MISSING = object()


def _leaf(answer: Any) -> tuple[bool | Condition, bool]:
    if answer is True:
        return True, False
    if answer is False:
        return False, False
    if isinstance(answer, Denial):
        return False, answer.failed
    if isinstance(answer, _CONDITIONS):
        return answer, False
    return False, True


def _and(parts: list[tuple[bool | Condition, bool]]) -> tuple[bool | Condition, bool]:
    failed = any(failed for _, failed in parts)
    if any(value is False for value, _ in parts):
        return False, failed
    kept = [value for value, _ in parts if value is not True]
    if not kept:
        return True, failed
    return (kept[0] if len(kept) == 1 else And(tuple(kept))), failed  # type: ignore[arg-type]


def _or(parts: list[tuple[bool | Condition, bool]]) -> tuple[bool | Condition, bool]:
    failed = any(failed for _, failed in parts)
    if any(value is True for value, _ in parts):
        return True, failed
    kept = [value for value, _ in parts if value is not False]
    if not kept:
        return False, failed
    return (kept[0] if len(kept) == 1 else Or(tuple(kept))), failed  # type: ignore[arg-type]


def passing_values(
    scope: BatchScope, node: ColumnCheck, column: str | None, timeout: float | None
) -> Any:
    """`OneOf(column, values that pass)`, a denial, or an awaitable of either.

    `passing` may also answer a row condition itself (a `conditions` node,
    or `True` / `False` for every row / none): a policy engine's plan. For
    a `RowValue` (`column` None) that is the only answer it may give.
    """
    during = f"scope {node.name!r} passing({safe_repr(node.value)})"
    try:
        found = scope.passing(node.value)  # type: ignore[misc]
    except Exception as error:
        return _failure(error, during)
    if hasattr(found, "__aiter__") or isawaitable(found):
        return _passing_later(found, scope.max_passing, column, during, timeout)
    try:
        if _is_condition(found):
            return found
        return _one_of(column, _capped(found, scope.max_passing, during), during)
    except Exception as error:
        return _failure(error, during)


async def _passing_later(
    found: Any, cap: int, column: str | None, during: str, timeout: float | None
) -> Any:
    async def collect() -> Any:
        given = found
        if isawaitable(given) and not hasattr(given, "__aiter__"):
            given = await given
        if _is_condition(given):
            return given
        if not hasattr(given, "__aiter__"):
            return _capped(given, cap, during)
        values: set[Any] = set()
        try:
            async for value in given:
                if value is not None:
                    values.add(value)
                    if len(values) > cap:
                        raise _TooMany(during, cap)
        finally:
            closing = getattr(given, "aclose", None)
            if closing is not None:
                await closing()  # stop the engine's stream we no longer read
        return values

    try:
        got = await within(collect(), timeout)
        if _is_condition(got):
            return got
        return _one_of(column, got, during)
    except asyncio.CancelledError:
        raise
    except asyncio.TimeoutError:
        return misconfigured(f"{during} timed out after {timeout}s")
    except Exception as error:
        return _failure(error, during)


def _failure(error: BaseException, during: str) -> Denial:
    """A denial that `$not` never turns into a pass, whatever was raised.

    An engine that could not list what passes (a `ForbiddenError` from an
    adapter included) says nothing about the rows: "not in the list" must
    not become "every row".
    """
    denial = denial_from_exception(error, during)
    return Denial(denial.error, denial.reason, failed=True)


class _TooMany(Exception):
    def __init__(self, during: str, cap: int) -> None:
        super().__init__(
            f"{during} gave more than max_passing={cap} values; denying every "
            "row rather than filtering on a truncated list"
        )


def _capped(found: Any, cap: int, during: str) -> set[Any]:
    if isinstance(found, (str, bytes)) or not isinstance(found, Iterable):
        raise TypeError(f"{during} returned {safe_repr(found)}, expected values")
    values: set[Any] = set()
    for value in found:
        if value is not None:
            values.add(value)
            if len(values) > cap:
                raise _TooMany(during, cap)
    return values


def _is_condition(found: Any) -> bool:
    """Whether `passing` answered a row condition (or True / False)."""
    return found is True or found is False or isinstance(found, _CONDITIONS)


def _one_of(column: str | None, values: set[Any], during: str) -> Any:
    if column is None:
        raise TypeError(
            f"{during} listed values for a whole-row value; it must answer a "
            "row condition"
        )
    return OneOf(column, frozenset(values), ids=True) if values else False
