"""Rule trees: compiled once into small nodes, evaluated per request.

A rule set is a dict whose top level is an implicit `$and`. Compilation checks
its syntax (and, with declarations, its scope names, values and grant names)
and produces a tree of nodes. A node is *static* when its outcome depends only
on the request's scopes; static trees are decided once per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from inspect import isawaitable
from typing import Any

from ._batch import Queued
from ._columns import columns_in, substitute
from ._grants import GrantDeclaration
from ._keys import rule_set_key, scope_key
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
    really_cancelled,
    safe_repr,
    settle,
    shared,
    timed_out,
    within,
)
from ._params import AuthParams, FieldCall
from ._request import RequestState
from ._scopes import ScopeDeclaration, did_you_mean

__all__ = ["Node", "RuleCompiler"]

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
        if self.name in call.parent_grants():
            return ALLOW
        own = call.object_grants()
        if isinstance(own, frozenset):
            return self._decide(own)
        return self._later(own)

    def _decide(self, names: frozenset[str]) -> Outcome:
        if self.name in names:
            return ALLOW
        return forbidden(
            f"grant {self.name!r} was given neither by the parent field "
            "nor by the object's type"
        )

    async def _later(self, pending: Awaitable[frozenset[str]]) -> Outcome:
        if isinstance(pending, asyncio.Future):
            names = await asyncio.shield(pending)
        else:
            names = await pending
        return self._decide(names)

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
        # pre-decision calls it directly, see `warmup.decide_objects`.
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


def object_key_at(parent: object, key: object, node: Node) -> Hashable:
    """`object_key` of the object at `key` (an index) below the path `parent`."""
    return (id(parent), key, id(node))


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


class RuleFunction(Node):
    """A user function deciding from `AuthParams` (and the result, for post rules).

    It returns `True`, `False`, a rule set, or an awaitable of one of those;
    a rule set returned at run time is compiled and evaluated on the spot, and
    a malformed one denies.
    """

    __slots__ = ("compiled", "compiler", "fn", "post", "where")

    def __init__(
        self,
        fn: Callable[..., object],
        *,
        post: bool,
        where: str,
        compiler: RuleCompiler,
    ) -> None:
        super().__init__(static=False)
        self.fn = fn
        self.post = post
        self.where = where
        self.compiler = compiler
        self.compiled = CompiledRuleSets(compiler)

    def evaluate(self, state: RequestState, call: FieldCall | None) -> MaybeOutcome:
        if call is None:
            return misconfigured(
                f"rule function of {self.where} checked outside a field"
            )
        returned = call.returned
        if returned is not None and self in returned:
            return self._interpret(returned[self], state, call)
        return self.then(self.run(call.params, call.result), state, call)

    def run(self, params: AuthParams, result: Any = None) -> object:
        """What the function returns for `params`, or the denial of its raising."""
        try:
            if self.post:
                return self.fn(params, result)
            return self.fn(params)
        except (Exception, asyncio.CancelledError) as error:
            return self.run_failed(error)

    def run_failed(self, error: BaseException) -> Denial:
        """What `run` gives when the function raised `error`."""
        # Raised synchronously, a CancelledError is the function's own error.
        return denial_from_exception(error, f"rule function of {self.where}")

    def then(
        self, decided: object, state: RequestState, call: FieldCall
    ) -> MaybeOutcome:
        """The outcome of what `run` gave for `call`."""
        # The common answers (a bool, a dict) are told apart before the
        # costlier awaitable check: this runs once per object of a list.
        if (
            decided is not True
            and decided is not False
            and type(decided) is not dict
            and isawaitable(decided)
        ):
            return Later(self._await, decided, state, call, owned=(decided,))
        if call.returned is not None:
            call.returned[self] = decided
        return self._interpret(decided, state, call)

    def plain(self, decided: object, state: RequestState) -> MaybeOutcome | None:
        """The outcome of what `run` gave, if it needs no call; else None.

        `True`, `False`, a denial, `{"scope": value}` (a value of its own
        per object, asked as it is: no node per object, nothing could cache
        one), and any rule set that depends on scopes alone (decided once per
        request, whatever the object) are answered here; a list pre-decision
        then needs no `FieldCall` for the object.
        """
        if decided is True:
            return ALLOW
        if decided is False:
            return forbidden(f"rule function of {self.where} returned False")
        kind = type(decided)
        if kind is dict or kind is list:
            # `_known_rule_set`, inlined for the one-scope shape: per object.
            if kind is dict and len(decided) == 1 and self.compiler.scopes is None:  # type: ignore[arg-type]
                ((name, value),) = decided.items()  # type: ignore[attr-defined]
                if (
                    type(name) is str
                    and name
                    and name[0] != "$"
                    and name not in BARE_OPERATORS
                ):
                    try:
                        key = scope_key(name, value)
                    except Exception:
                        return self._one_scope(name, value, state)  # says why
                    return state.scopes.answer(name, value, key)
            known = self._static_or_node(decided, state)
            return None if isinstance(known, Node) else known
        if kind is Denial:
            return decided  # type: ignore[return-value]
        return None

    def _known_rule_set(
        self, rules: dict[Any, Any] | list[Any], state: RequestState
    ) -> MaybeOutcome | Node:
        """`plain`'s answer for a returned rule set, or its node if it needs a call."""
        if type(rules) is dict and len(rules) == 1 and self.compiler.scopes is None:
            ((name, value),) = rules.items()
            if (
                type(name) is str
                and name
                and name[0] != "$"
                and name not in BARE_OPERATORS
            ):
                return self._one_scope(name, value, state)
        return self._static_or_node(rules, state)

    def _one_scope(self, name: str, value: object, state: RequestState) -> MaybeOutcome:
        """`{name: value}`: the scope asked as it is, no node compiled for it."""
        try:
            key = scope_key(name, value)
        except Exception as error:
            return denial_from_exception(
                error, f"compiling the rule returned by {self.where}"
            )
        return state.scopes.answer(name, value, key)

    def _static_or_node(
        self, rules: object, state: RequestState
    ) -> MaybeOutcome | Node:
        """A returned rule set's outcome if only scopes decide it, else its node."""
        try:
            node, seen = self.compiled.find(rules, self.where, "rule returned by ")
        except Exception as error:
            return denial_from_exception(
                error, f"compiling the rule returned by {self.where}"
            )
        if isinstance(node, Denial) or not node.static:
            return node
        if not seen:
            # A form not seen before (maybe one per object, as with a value
            # of its own per object): not worth remembering for the request.
            return node.evaluate(state, None)
        scopes = state.scopes
        if not scopes.sync and not scopes.batches.collecting:
            return state.decide(node)
        # No event loop to share a pending answer with (or a round of a list
        # pre-decision queueing batch values): only a known one is kept.
        known = state.decisions.get(node)
        if known is True or type(known) is Denial:
            return known
        outcome = node.evaluate(state, None)
        if outcome is True or isinstance(outcome, Denial):
            state.decisions[node] = outcome
        return outcome

    async def _await(
        self, decided: Awaitable[object], state: RequestState, call: FieldCall
    ) -> Outcome:
        try:
            value = await within(decided, state.scopes.timeout)
        except asyncio.CancelledError as error:
            if really_cancelled():
                raise
            return denial_from_exception(error, f"rule function of {self.where}")
        except asyncio.TimeoutError:
            return timed_out(f"rule function of {self.where}", state.scopes.timeout)
        except Exception as error:
            return denial_from_exception(error, f"rule function of {self.where}")
        outcome = self._interpret(value, state, call)
        if outcome is True or isinstance(outcome, Denial):
            return outcome
        return await settle(outcome)

    def _interpret(
        self, decided: object, state: RequestState, call: FieldCall
    ) -> MaybeOutcome:
        kind = type(decided)
        if kind is dict or kind is list:
            known = self._known_rule_set(decided, state)  # type: ignore[arg-type]
            if not isinstance(known, Node):
                return known
            if call.returned is not None:
                call.returned[self] = known
            return known.evaluate(state, call)
        plain = self.plain(decided, state)
        if plain is not None:
            return plain
        if isinstance(decided, Node):  # compiled in an earlier round (see `returned`)
            return decided.evaluate(state, call)
        if isinstance(decided, (Mapping, list)):
            try:
                node = self._compiled(decided)
            except Exception as error:
                return denial_from_exception(
                    error, f"compiling the rule returned by {self.where}"
                )
            if isinstance(node, Denial):
                return node
            if call.returned is not None:
                call.returned[self] = node
            return node.evaluate(state, call)
        return misconfigured(
            f"rule function of {self.where} returned {safe_repr(decided)}; "
            "expected True, False or a rule set"
        )

    def _compiled(self, rules: object) -> Node | Denial:
        """The node for a returned rule set, compiled once per distinct form."""
        return self.compiled.node(rules, self.where, "rule returned by ")

    def describe(self) -> object:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        return {"$function": name}


class CompiledRuleSets:
    """Rule sets given at run time, compiled once per distinct form.

    For the rule sets a rule function returns and those of inline checks. The
    commonest per-object answer, `{"scope": value}` with a value of its own
    for each object, becomes its scope check directly: it needs no syntax
    check, and no cache could hold it. A malformed rule set is a denial.
    """

    MAX_SIZE = 1024
    """Distinct rule sets kept compiled (then the cache starts over)."""

    __slots__ = ("_nodes", "compiler")

    def __init__(self, compiler: RuleCompiler) -> None:
        self.compiler = compiler
        self._nodes: dict[Hashable, Node] = {}

    def node(self, rules: object, where: str, prefix: str = "") -> Node | Denial:
        """The node of `rules`; `prefix + where` names it in problems."""
        return self.find(rules, where, prefix)[0]

    def find(
        self, rules: object, where: str, prefix: str = ""
    ) -> tuple[Node | Denial, bool]:
        """`node(...)`, and whether it was compiled before (a form seen again)."""
        if type(rules) is dict and self.compiler.scopes is None:
            direct = _plain_scope_checks(rules)
            if direct is not None:
                return direct, False
        key = rule_set_key(rules)
        if key is not None:
            known = self._nodes.get(key)
            if known is not None:
                return known, True
        problems: list[str] = []
        node = self.compiler.compile(rules, where=prefix + where, problems=problems)
        if problems:
            return misconfigured("; ".join(problems)), False
        if key is not None:
            if len(self._nodes) >= self.MAX_SIZE:
                self._nodes.clear()
            self._nodes[key] = node
        return node, False


def _plain_scope_checks(rules: dict[Any, Any]) -> Node | None:
    """`{"a": 1, "b": 2}` (scope names only, no `$` keys) as its nodes; else None."""
    if not rules:
        return None
    checks: list[Node] = []
    for name, value in rules.items():
        if type(name) is not str or not name or name[0] == "$":
            return None
        if name in BARE_OPERATORS:
            return None  # compiled, so the missing `$` is reported
        checks.append(ScopeCheck(name, value))
    return checks[0] if len(checks) == 1 else AllOf(checks)


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


class RuleCompiler:
    """Compiles rule sets, checking them against the declarations if any."""

    def __init__(
        self,
        scopes: ScopeDeclaration | None,
        grants: GrantDeclaration | None,
    ) -> None:
        self.scopes = scopes
        self.grants = grants

    def grant_problem(self, name: object) -> str | None:
        """Why `name` cannot be a grant name, or None if it can."""
        if not isinstance(name, str) or not name:
            return f"a grant name must be a non-empty string, got {name!r}"
        if self.grants is not None:
            return self.grants.problem(name)
        return None

    def compile(
        self,
        rules: object,
        *,
        where: str,
        problems: list[str],
        post: bool = False,
    ) -> Node:
        """Compile `rules` (a rule set or a rule function) into a node.

        Problems are appended to `problems`, each naming `where` and the key;
        the returned node is then a placeholder that denies.
        """
        if rules is True or rules is False:
            return Constant(rules)
        if callable(rules) and not isinstance(rules, (Mapping, list)):
            return RuleFunction(rules, post=post, where=where, compiler=self)
        if post:
            problems.append(f"{where}: a post rule must be a function (params, result)")
            return _DENY_ALL
        if isinstance(rules, list):
            return self._group(AllOf, rules, where, "", problems)
        return self._rule_set(rules, where, "", problems)

    def _rule_set(
        self, rules: object, where: str, at: str, problems: list[str]
    ) -> Node:
        if not isinstance(rules, Mapping):
            problems.append(
                f"{where}: {_at(at)}a rule set must be a dict, got {rules!r}"
            )
            return _DENY_ALL
        if not rules:
            problems.append(f"{where}: {_at(at)}empty rule set")
            return _DENY_ALL
        nodes = [
            self._entry(key, value, where, f"{at}.{key}" if at else str(key), problems)
            for key, value in rules.items()
        ]
        return nodes[0] if len(nodes) == 1 else AllOf(_flatten(nodes))

    def _entry(
        self, key: object, value: object, where: str, at: str, problems: list[str]
    ) -> Node:
        if not isinstance(key, str):
            problems.append(f"{where}: key {key!r}: rule keys must be strings")
            return _DENY_ALL
        if key.startswith("$"):
            if key == "$and":
                return self._group(AllOf, value, where, at, problems)
            if key == "$or":
                return self._group(AnyOf, value, where, at, problems)
            if key == "$chain":
                return self._group(Chain, value, where, at, problems)
            if key == "$race":
                return self._group(Race, value, where, at, problems)
            if key == "$not":
                return Not(self._group(AllOf, value, where, at, problems))
            if key == GRANTED_KEY:
                return self._granted(value, where, at, problems)
            known = ", ".join((*LOGIC_KEYS, GRANTED_KEY))
            problems.append(
                f"{where}: key {at!r}: unknown key {key!r}"
                f"{did_you_mean(key, (*LOGIC_KEYS, GRANTED_KEY))} (known: {known})"
            )
            return _DENY_ALL
        if key in BARE_OPERATORS and (
            self.scopes is None or key not in self.scopes.names
        ):
            problems.append(
                f"{where}: key {at!r}: {key!r} is not an operator; did you mean "
                f"'${key}'? (a scope named {key!r} must be declared in scopes=)"
            )
            return _DENY_ALL
        if columns_in(value):
            if self.scopes is not None:
                # The value is read from each object: only the name is known.
                problem = self.scopes.name_problem(key)
                if problem is not None:
                    problems.append(f"{where}: key {at!r}: {problem}")
            return ColumnCheck(key, value)
        if self.scopes is not None:
            problem = self.scopes.problem(key, value)
            if problem is not None:
                problems.append(f"{where}: key {at!r}: {problem}")
        return ScopeCheck(key, value)

    def _granted(self, value: object, where: str, at: str, problems: list[str]) -> Node:
        if not isinstance(value, str) or not value:
            problems.append(
                f"{where}: key {at!r}: $granted needs a grant name, got {value!r}"
            )
            return _DENY_ALL
        if self.grants is not None:
            problem = self.grants.problem(value)
            if problem is not None:
                problems.append(f"{where}: key {at!r}: {problem}")
        return Granted(value)

    def _group(
        self,
        kind: type[_Group],
        value: object,
        where: str,
        at: str,
        problems: list[str],
    ) -> Node:
        entries: list[Node]
        if isinstance(value, Mapping):
            entries = [
                self._entry(key, item, where, f"{at}.{key}", problems)
                for key, item in value.items()
            ]
        elif isinstance(value, list):
            entries = [
                self._rule_set(item, where, f"{at}[{index}]", problems)
                for index, item in enumerate(value)
            ]
        else:
            problems.append(
                f"{where}: key {at!r}: expects a dict or a list of dicts, got {value!r}"
            )
            return _DENY_ALL
        if not entries:
            problems.append(f"{where}: key {at!r}: empty rule set")
            return _DENY_ALL
        if kind is AllOf:
            entries = _flatten(entries)
        return kind(entries)


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
            outcome = _result_of(future)
            if outcome is not True:
                return outcome
    return ALLOW


async def _any_of(pending: list[Awaitable[Outcome]], denials: list[Denial]) -> Outcome:
    futures = [_as_future(item) for item in pending]
    waiting = set(futures)
    while waiting:
        done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for future in done:
            if _result_of(future) is True:
                return ALLOW
    # Reported in written order, whatever order the branches finished in.
    denials.extend(_result_of(future) for future in futures)  # type: ignore[misc]
    return combine_denials(denials)


def _as_future(item: Awaitable[Outcome]) -> asyncio.Future[Any]:
    future = asyncio.ensure_future(item)
    future.add_done_callback(_consume)
    return future


def _result_of(future: asyncio.Future[Any]) -> Outcome:
    if future.cancelled():
        return misconfigured("a shared authorization check was cancelled")
    error = future.exception()
    if error is not None:
        return denial_from_exception(error, "an authorization check")
    result: Outcome = future.result()
    return result


def _consume(future: asyncio.Future[Any]) -> None:
    # Retrieve the outcome of abandoned branches so asyncio never reports
    # "exception was never retrieved" for a check nobody waits for any more.
    if not future.cancelled():
        future.exception()
