"""`AuthExtension`: the public entry point.

The object is a factory for Strawberry: `strawberry.Schema(extensions=[authz])`
calls it once per operation and gets a fresh `SchemaExtension`, whose only job
is to open the operation's `RequestState`. The first time a schema is used
(or validated) its resolvers are guarded, once. The methods below are the
public surface; the work is done by the modules they name.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from . import capabilities
from ._compat import operation_execution_context
from .decisions import DecisionHook, decision_hook
from .errors import ConfigurationError
from .grants import GrantDeclaration, GrantSpec
from .inline import InlineChecks, raw_info
from .install import install_guards
from .outcomes import Outcome, decided, settle
from .plan import NO_FALLBACK, ErrorHook, GuardSettings, Phase
from .policy import FieldPolicy, Policy, check_phase, compile_defaults, decorate_type
from .request import RequestState
from .rules import RuleCompiler
from .scopes import LoadScopes, ScopeDeclaration

if TYPE_CHECKING:
    from strawberry import Schema
    from strawberry.types import ExecutionContext

__all__ = ["AuthExtension"]

logger = logging.getLogger("strawberry_authz")

TypeT = TypeVar("TypeT", bound=type)


class AuthExtension:
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
        error_reasons: Keep `extensions["reasons"]` on the error of a denied
            `$or` / `$race` (each failed branch's client-facing code and
            message). It tells a client how many branches failed; `False`
            omits it, so nothing of the policy's shape leaves the server.
        scope_timeout: Seconds an async `load_scopes`, async loader or async
            rule function may take. One that takes longer denies the fields
            waiting for it (`FORBIDDEN`, logged with the scope or the rule's
            field); other fields and operations are unaffected. `None` (the
            default) waits as long as they take.
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
        error_reasons: bool = True,
        scope_timeout: float | None = None,
    ) -> None:
        if not callable(load_scopes):
            raise TypeError(f"load_scopes must be callable, got {load_scopes!r}")
        _check_timeout(scope_timeout)
        self._load_scopes = load_scopes
        self._scope_timeout = scope_timeout
        compiler = RuleCompiler(
            ScopeDeclaration.from_spec(scopes), GrantDeclaration.from_spec(grants)
        )
        self._policy = Policy(
            compiler, compile_defaults(compiler, default_scopes or {})
        )
        self._settings = GuardSettings(
            var=ContextVar(f"strawberry_authz.request.{id(self)}", default=None),
            error_resolver=error_resolver,
            on_decision=decision_hook(on_decision),
            debug=debug,
            error_reasons=error_reasons,
        )
        self._inline = InlineChecks(compiler, self._settings)
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

    # -- decorators -------------------------------------------------------------

    def rule(
        self,
        rules_or_fn: object,
        *,
        grants: GrantSpec | None = None,
        skip_defaults: bool = False,
        skip_type_rules: bool = False,
        skip_interface_rules: bool = False,
        on_error: ErrorHook | None = None,
        on_denied: Any = NO_FALLBACK,
        phase: Phase = "subscribe",
        drop_denied: bool = False,
    ) -> FieldPolicy:
        """A rule checked before the field's resolver runs.

        Use as a decorator above `@strawberry.field` (or `mutation` /
        `subscription`), or as `strawberry.field(extensions=[authz.rule(...)])`.

        Args:
            rules_or_fn: A rule set, or `fn(params)` returning `True`, `False`,
                a rule set, or an awaitable of one of those.
            grants: Names (or `fn(params, result)` computing them) given to the
                fields of the returned object once this field passed.
            skip_defaults: Do not apply the operation's default scopes.
            skip_type_rules: Do not apply the type-wide rules of this type.
            skip_interface_rules: Do not apply rules of the interfaces'
                same-named field and of the interfaces' type rules.
            on_error: `on_error(error, path)` may return an exception to raise
                instead of the denial's error.
            on_denied: A value, or `fn(params, error)` computing one, returned
                in place of the error when the field is denied.
            phase: On a subscription, `"subscribe"` checks once before the
                stream starts; `"resolve"` checks every event.
            drop_denied: On a subscription, drop denied events silently
                instead of delivering an error for each.
        """
        check_phase(phase)
        return FieldPolicy(
            self._policy,
            rules_or_fn,
            post=False,
            grants=grants,
            skip_defaults=skip_defaults,
            skip_type_rules=skip_type_rules,
            skip_interface_rules=skip_interface_rules,
            on_error=on_error,
            on_denied=on_denied,
            phase=phase,
            drop_denied=drop_denied,
        )

    def post_rule(
        self,
        fn: Callable[..., object],
        *,
        grants: GrantSpec | None = None,
        skip_defaults: bool = False,
        skip_type_rules: bool = False,
        skip_interface_rules: bool = False,
        on_error: ErrorHook | None = None,
        on_denied: Any = NO_FALLBACK,
        drop_denied: bool = False,
    ) -> FieldPolicy:
        """A rule checked after the resolver ran: `fn(params, result)` decides.

        It returns `True`, `False`, a rule set, or an awaitable of one. On
        denial the result is discarded: the client gets the error (or the
        `on_denied` fallback). On a subscription it checks every event, with
        the event as `result`. Other options as for `rule`.
        """
        return FieldPolicy(
            self._policy,
            fn,
            post=True,
            grants=grants,
            skip_defaults=skip_defaults,
            skip_type_rules=skip_type_rules,
            skip_interface_rules=skip_interface_rules,
            on_error=on_error,
            on_denied=on_denied,
            phase="resolve",
            drop_denied=drop_denied,
        )

    def type_rule(
        self,
        rules_or_fn: object = None,
        *,
        grants: Callable[..., Any] | None = None,
        skip_interface_rules: bool = False,
        on_error: ErrorHook | None = None,
    ) -> Callable[[TypeT], TypeT]:
        """A rule on every field of a type; put it above `@strawberry.type`.

        Root types included; on an interface it applies to every field of
        every implementing type. `grants=fn(params)` computes grant names
        once per object instance from the object (`params.root`), visible to
        that object's own fields through `$granted`; `rules_or_fn` may then be
        omitted. `skip_interface_rules=True` keeps the interfaces' rules off
        this type's fields.
        """
        if rules_or_fn is None and grants is None and not skip_interface_rules:
            raise ConfigurationError(
                "authz.type_rule(): give a rule set, a rule function, grants= "
                "or skip_interface_rules=True"
            )
        if grants is not None and not callable(grants):
            raise ConfigurationError(
                "authz.type_rule(grants=...): type grants are computed from the "
                "object, so grants= must be a function (params) -> names, "
                f"got {grants!r}"
            )
        return functools.partial(
            decorate_type,
            self._policy,
            rules=rules_or_fn,
            post=False,
            on_error=on_error,
            grants=grants,
            skip_interface_rules=skip_interface_rules,
        )

    def type_post_rule(
        self, fn: Callable[..., object], *, on_error: ErrorHook | None = None
    ) -> Callable[[TypeT], TypeT]:
        """A post rule `fn(params, result)` on every field of a type."""
        return functools.partial(
            decorate_type,
            self._policy,
            rules=fn,
            post=True,
            on_error=on_error,
            grants=None,
            skip_interface_rules=False,
        )

    # -- checks inside resolvers --------------------------------------------------

    async def check(self, info: object, rules: object) -> bool:
        """Evaluate `rules` for the field being resolved; True when they pass.

        `info` is the resolver's `Info`. The request's scope cache is shared:
        a scope already computed for this request is not computed again.
        """
        outcome = self._inline.outcome(info, rules)
        if not decided(outcome):
            outcome = await settle(outcome)  # type: ignore[arg-type]
        return outcome is True

    async def require(self, info: object, rules: object) -> None:
        """Like `check`, but raise the denial's error when `rules` do not pass."""
        outcome = self._inline.outcome(info, rules)
        if not decided(outcome):
            outcome = await settle(outcome)  # type: ignore[arg-type]
        if outcome is not True:
            raise self._inline.error(info, outcome)  # type: ignore[arg-type]

    def check_sync(self, info: object, rules: object) -> bool:
        """`check` for sync resolvers; every scope involved must be sync."""
        return self._settled_sync(info, rules) is True

    def require_sync(self, info: object, rules: object) -> None:
        """`require` for sync resolvers; every scope involved must be sync."""
        outcome = self._settled_sync(info, rules)
        if outcome is not True:
            raise self._inline.error(info, outcome)

    def _settled_sync(self, info: object, rules: object) -> Outcome:
        outcome = self._inline.outcome(info, rules)
        if decided(outcome):
            return outcome  # type: ignore[return-value]
        if asyncio.iscoroutine(outcome):
            outcome.close()
        raise RuntimeError(
            "authz.check_sync / require_sync: these rules need an async scope "
            "loader; use `await authz.check(...)` / `await authz.require(...)`"
        )

    def clear_cache(self, info: object, scope: str | None = None) -> None:
        """Forget this operation's cached scope answers, from a resolver.

        Scope results are cached for the whole operation. After a change of
        who the viewer is (a login mutation, leaving a team), call this so the
        fields resolved afterwards see fresh answers: `load_scopes` runs again
        on the next need, and every scope (or, with `scope=`, every value of
        that one scope) is asked again. Mutation fields run one after another,
        so later fields of the same mutation see the change.
        """
        raw_info(info)
        state = self._var.get()
        if state is None:
            logger.warning(
                "strawberry-authz: clear_cache called outside an operation of a "
                "schema using this AuthExtension; nothing to clear"
            )
            return
        state.clear(scope)

    # -- what the viewer may do ----------------------------------------------------

    def can_field(self, rules_or_fn: object, *, description: str | None = None) -> Any:
        """A `Boolean!` field: whether `rules_or_fn` passes for this object.

        `viewer_can_edit: bool = authz.can_field(lambda p: {"owns": p.root.id})`.
        `rules_or_fn` is a rule set (compiled now) or `fn(params)` as for
        `rule`, with `params.root` the object and `params.args` empty. The
        field is `false` when denied for any reason and never an error;
        default scopes and type rules do not apply to it.
        """
        return capabilities.can_field(
            self._policy, self._policy.compiler, rules_or_fn, description=description
        )

    def permissions_field(
        self, checks: Mapping[str, object], *, description: str | None = None
    ) -> Any:
        """A `[Permission!]!` field: each named check and whether it passes.

        `checks` maps names to static rule sets, compiled now (a bad one
        raises `ConfigurationError` naming it), answered in their order,
        never as an error.
        """
        return capabilities.permissions_field(
            self._policy, self._policy.compiler, checks, description=description
        )

    async def dehydrate(
        self, context: object, checks: Mapping[str, object]
    ) -> dict[str, bool]:
        """`{name: allowed}` for `checks` outside GraphQL (e.g. a JSON route).

        The answers `permissions_field` gives for the same `context`; a denial
        or a failing loader is `False` (failures logged), never an exception.
        """
        return await capabilities.dehydrate(
            self._policy.compiler,
            self._load_scopes,
            self._scope_timeout,
            context,
            checks,
        )

    # -- validation and installation --------------------------------------------

    def validate(self, schema: Schema) -> None:
        """Check the whole policy against `schema` now and guard its resolvers.

        Raises `ConfigurationError` listing every problem, each naming the
        type, the field and the offending key.
        """
        problems = self._install(schema)
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
        problems = self._install(schema, only_once=True)
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
        )
        token = authz._var.set(state)
        try:
            yield
        finally:
            # A stream closed from another task than the one that opened it:
            # that task's context is gone with it, nothing to undo.
            with contextlib.suppress(ValueError):
                authz._var.reset(token)


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
