"""`AuthExtension`: the public entry point.

The object is a factory for Strawberry: `strawberry.Schema(extensions=[authz])`
calls it once per operation and gets a fresh `SchemaExtension`, whose only job
is to open the operation's `RequestState`. The first time a schema is used
(or validated) its resolvers are guarded, once. Its methods come in parts:
declaring rules (`declare`), checks inside resolvers (`inline`), what the
viewer may do (`capabilities`); this module holds the configuration, the
per-operation extension and installation.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from ._batch import BatchObserver
from ._capabilities import CapabilityMethods
from ._compat import operation_execution_context, operation_is_sync
from ._decisions import DecisionHook, decision_hook, hooks_of
from ._declare import RuleDeclarations
from ._denials import quiet_denials_in_strawberry_log
from ._errors import ConfigurationError
from ._filters import FilterMethods
from ._grants import GrantDeclaration
from ._inline import InlineCheckMethods, InlineChecks
from ._install import install_guards
from ._plan import ErrorHook, GuardSettings
from ._planning import filter_rule_problems
from ._policy import Policy, compile_defaults, compile_fallback
from ._request import RequestState
from ._rule_compiler import RuleCompiler
from ._scopes import LoadScopes, ScopeDeclaration

if TYPE_CHECKING:
    from strawberry import Schema
    from strawberry.types import ExecutionContext

__all__ = ["AuthExtension"]

logger = logging.getLogger("strawberry_authz")

TypeT = TypeVar("TypeT", bound=type)


class AuthExtension(
    RuleDeclarations, InlineCheckMethods, CapabilityMethods, FilterMethods
):
    """Authorization for a Strawberry schema.

    Args:
        load_scopes: `load_scopes(context)` returns `{name: loader}` (or an
            awaitable of it). It runs at most once per operation, and only when
            the first protected field needs a scope.
        scopes: Optional declaration of scope names and value types (a
            `TypedDict`, a pydantic model or a `{name: type}` mapping). With it,
            every static rule is checked before any request runs.
        grants: Optional declaration of grant names (`Literal[...]` or a
            collection of names).
        default_scopes: Rules for every root field, per operation type:
            `{"Query": rules, "Mutation": rules,
            "Subscription": {"subscribe": rules, "resolve": rules}}`.
        error_resolver: `error_resolver(error, path)` may return an exception
            to raise instead of a denial's error; `None` keeps the original.
            A rule's own `on_error` is tried first.
        on_decision: Called with one `Decision` per checked field (sync or
            async), or a list of such hooks (e.g. `[otel, audit]`), called in
            order. A hook cannot change a decision; its exceptions are logged
            and the other hooks still run.
        debug: Add the tree of failed branches to a denied field's error
            (`extensions["authz"]`). Off by default: it reveals policy, and
            the reasons of a rule computed from a result (a post rule) can
            carry values derived from that denied result.
        error_reasons: Add `extensions["reasons"]` to the error of a denied
            `$or` / `$race` (each failed branch's client-facing code and
            message). It tells a client the shape of the rule, so it is off
            by default (`False`: nothing of the policy's shape leaves the
            server); turn it on while developing.
        scope_timeout: Seconds an async `load_scopes`, async loader or async
            rule function may take. One that takes longer denies the fields
            waiting for it (a failure: `INTERNAL_SERVER_ERROR`, logged with
            the scope or the rule's field); other fields and operations are
            unaffected. `None` (the default) waits as long as they take.
        fallback_rule: The rule of every field that no other rule applies to
            (no default scopes, type, interface or field rule), root or
            nested, in every operation type. `False` denies by default; a
            field opts out by having any rule (`authz.rule(True)` is an
            explicit allow). Introspection (`__schema`, `__type`,
            `__typename`) is never subject to it. `None` (the default) leaves
            such fields open.
        denial_log_level: The level at which each denied field is logged on
            `strawberry_authz`, in one line (field, path, code, which rule,
            reason); `None` logs no denial. Strawberry's own traceback of a
            denial is left out of its error log: a denial is expected, not a
            crash. Failures (a loader raising, ...) are also logged at
            `ERROR` with their traceback.
        explain_denials: Why was I denied, for development. `"log"` adds to
            each denial's log line the parts of the rule that failed, named
            by their keys and scopes, never their values (`[why:
            $or/has_role, $or/$granted read_photos]`); `"response"` also puts
            them in the error (`extensions["why"] = {"rule": "type",
            "failed": [...]}`). Off (`False`) by default: even without
            values, the paths describe the policy; keep it off in
            production.
    """

    def __init__(
        self,
        load_scopes: LoadScopes,
        *,
        scopes: object = None,
        grants: object = None,
        default_scopes: Mapping[str, Any] | None = None,
        error_resolver: ErrorHook | None = None,
        on_decision: DecisionHook | Sequence[DecisionHook] | None = None,
        debug: bool = False,
        error_reasons: bool = False,
        scope_timeout: float | None = None,
        fallback_rule: object = None,
        denial_log_level: int | None = logging.INFO,
        explain_denials: Literal[False, "log", "response"] = False,
    ) -> None:
        if not callable(load_scopes):
            raise TypeError(f"load_scopes must be callable, got {load_scopes!r}")
        _check_timeout(scope_timeout)
        self._load_scopes = load_scopes
        self._scope_timeout = scope_timeout
        compiler = RuleCompiler(
            ScopeDeclaration.from_spec(scopes), GrantDeclaration.from_spec(grants)
        )
        self._compiler = compiler
        self._policy = Policy(
            compiler,
            compile_defaults(compiler, default_scopes or {}),
            compile_fallback(compiler, fallback_rule),
        )
        self._owner = self._policy
        self._settings = GuardSettings(
            var=ContextVar(f"strawberry_authz.request.{id(self)}", default=None),
            error_resolver=error_resolver,
            on_decision=decision_hook(on_decision),
            debug=debug,
            error_reasons=error_reasons,
            denial_log_level=denial_log_level,
            explain_denials=_checked_explain(explain_denials),
        )
        quiet_denials_in_strawberry_log()
        self._inline = InlineChecks(compiler, self._settings)
        self._batch_observer = batch_observer_of(self._settings.on_decision)
        self._install_lock = threading.Lock()
        # Weak: a schema the application dropped must not be kept alive by
        # the (usually module-level) extension; its entry goes with it.
        self._installed: weakref.WeakValueDictionary[int, Schema] = (
            weakref.WeakValueDictionary()
        )

    @property
    def _var(self) -> ContextVar[RequestState | None]:
        return self._settings.var

    # -- Strawberry's extension factory -----------------------------------------

    def __call__(
        self, *, execution_context: ExecutionContext | None = None
    ) -> SchemaExtension:
        return _OperationExtension(self, execution_context)

    # -- validation and installation --------------------------------------------

    def validate(self, schema: Schema) -> None:
        """Check the whole policy against `schema` now and guard its resolvers.

        Raises `ConfigurationError` listing every problem, each naming the
        type, the field and the offending key.
        """
        problems = self._install(schema)
        problems.extend(filter_rule_problems(self._policy))
        if not any(ext is self for ext in schema.extensions):
            problems.append(
                "the schema does not list this AuthExtension in "
                "extensions=[...]: no request would open an authorization state, "
                "so every guarded field would be denied"
            )
        if problems:
            raise ConfigurationError(problems)

    def _ensure_installed(self, schema: Schema) -> None:
        if id(schema) in self._installed:
            return
        try:
            problems = self._install(schema, only_once=True)
        except Exception:
            logger.exception(
                "strawberry-authz: installing the guards failed; refusing every request"
            )
            problems = ["installing the guards failed (see the log)"]
        if problems:
            error = ConfigurationError(problems)
            logger.error("strawberry-authz: refusing every request: %s", error)
            raise GraphQLError(
                "Authorization is misconfigured on this server; access denied.",
                extensions={"code": "FORBIDDEN"},
            )

    def _install(self, schema: Schema, *, only_once: bool = False) -> list[str]:
        with self._install_lock:
            if only_once and id(schema) in self._installed:
                return []
            active = tuple(
                ext._policy
                for ext in schema.extensions
                if isinstance(ext, AuthExtension)
            )
            problems = install_guards(self._policy, self._settings, schema, active)
            if not problems:
                self._installed[id(schema)] = schema
            return problems


class _OperationExtension(SchemaExtension):
    """Opens one operation's authorization state for the resolvers to find."""

    def __init__(
        self, authz: AuthExtension, execution_context: ExecutionContext | None
    ) -> None:
        self._authz = authz
        if execution_context is not None:
            self.execution_context = execution_context

    def on_operation(self) -> Iterator[None]:
        authz = self._authz
        execution_context = operation_execution_context(self)
        authz._ensure_installed(execution_context.schema)
        state = RequestState(
            authz._load_scopes,
            execution_context.context,
            timeout=authz._scope_timeout,
            sync=operation_is_sync(),
            batch_observer=authz._batch_observer,
        )
        token = authz._var.set(state)
        try:
            yield
        finally:
            # A stream closed from another task than the one that opened it:
            # that task's context is gone with it, nothing to undo.
            with contextlib.suppress(ValueError):
                authz._var.reset(token)


def batch_observer_of(hook: DecisionHook | None) -> BatchObserver | None:
    """A span around each batch call, from the decision hooks that offer one.

    A hook with `batch_span(size, scope=...)` (as `OpenTelemetryDecisions`
    has) gets one span per `BatchScope` call.
    """
    spanning = [h for h in hooks_of(hook) if callable(getattr(h, "batch_span", None))]
    if not spanning:
        return None
    first = spanning[0]

    def observe(scope: str, size: int) -> AbstractContextManager[Any]:
        span: AbstractContextManager[Any] = first.batch_span(  # type: ignore[attr-defined]
            size, scope=scope
        )
        return span

    return observe


def _checked_explain(
    explain: object,
) -> Literal[False, "log", "response"]:
    if explain is False or explain == "log" or explain == "response":
        return explain
    raise TypeError(
        f"explain_denials must be False, 'log' or 'response', got {explain!r}"
    )


def _check_timeout(scope_timeout: object) -> None:
    if scope_timeout is not None and (
        isinstance(scope_timeout, bool)
        or not isinstance(scope_timeout, (int, float))
        or not scope_timeout > 0
    ):
        raise TypeError(
            "scope_timeout must be a positive number of seconds or None, "
            f"got {scope_timeout!r}"
        )
