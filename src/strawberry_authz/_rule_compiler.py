"""Compiling rule sets into rule trees, and the user rule functions in them.

A rule set is a dict whose top level is an implicit `$and`. Compilation checks
its syntax (and, with declarations, its scope names, values and grant names)
and produces a tree of `_rules` nodes; a `RuleFunction` node calls a user
function and compiles the rule set it returns at run time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from inspect import isawaitable
from typing import Any

from ._columns import columns_in
from ._grants import GrantDeclaration
from ._keys import rule_set_key, scope_key
from ._outcomes import (
    ALLOW,
    Denial,
    Later,
    MaybeOutcome,
    Outcome,
    denial_from_exception,
    forbidden,
    misconfigured,
    really_cancelled,
    safe_repr,
    settle,
    timed_out,
    within,
)
from ._params import AuthParams, FieldCall
from ._request import RequestState
from ._rules import (
    _DENY_ALL,
    BARE_OPERATORS,
    GRANTED_KEY,
    LOGIC_KEYS,
    AllOf,
    AnyOf,
    Chain,
    ColumnCheck,
    Constant,
    Granted,
    Node,
    Not,
    Race,
    ScopeCheck,
    _at,
    _flatten,
    _Group,
)
from ._scopes import ScopeDeclaration, did_you_mean


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
