"""`AuthExtension`: the public entry point.

The object is a factory for Strawberry: `strawberry.Schema(extensions=[authz])`
calls it once per operation and gets a fresh `SchemaExtension`, whose only job
is to open the operation's `RequestState`. The first time a schema is used
(or validated) its resolvers are guarded, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar, cast

from graphql import GraphQLError, GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from . import capabilities
from ._compat import (
    object_definition,
    operation_execution_context,
    strawberry_field_of,
    strawberry_schema_of,
    unwrap_info,
)
from .decisions import DecisionHook, decision_hook
from .errors import ConfigurationError
from .evaluation import (
    Denial,
    MaybeOutcome,
    Outcome,
    RequestState,
    denial_from_exception,
    misconfigured,
    settle,
)
from .guards import NO_FALLBACK, FieldGuard
from .install import install_guards
from .params import FieldCall, resolver_inputs
from .policy import (
    ErrorHook,
    FieldPolicy,
    GrantSpec,
    Phase,
    TypeMarker,
    TypePolicy,
    mark_subclasses,
)
from .rules import Node, RuleCompiler
from .scopes import GrantDeclaration, ScopeDeclaration, rule_set_key

if TYPE_CHECKING:
    from strawberry import Schema
    from strawberry.types import ExecutionContext

__all__ = ["AuthExtension"]

logger = logging.getLogger("strawberry_authz")

TypeT = TypeVar("TypeT", bound=type)
LoadScopes = Callable[[Any], "Mapping[str, object] | Awaitable[Mapping[str, object]]"]

OPERATION_TYPES = ("Query", "Mutation", "Subscription")
_MAX_INLINE_RULE_SETS = 1024
SUBSCRIPTION_PHASES = ("subscribe", "resolve")


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
        if scope_timeout is not None and (
            isinstance(scope_timeout, bool)
            or not isinstance(scope_timeout, (int, float))
            or not scope_timeout > 0
        ):
            raise TypeError(
                "scope_timeout must be a positive number of seconds or None, "
                f"got {scope_timeout!r}"
            )
        self._scope_timeout = scope_timeout
        self._load_scopes = load_scopes
        self._scope_names = ScopeDeclaration.from_spec(scopes)
        self._grant_names = GrantDeclaration.from_spec(grants)
        self._compiler = RuleCompiler(self._scope_names, self._grant_names)
        self._error_resolver = error_resolver
        self._on_decision = decision_hook(on_decision)
        self._debug = debug
        self._error_reasons = error_reasons
        self._defaults = self._compile_defaults(default_scopes or {})
        self._type_policies: dict[type, list[TypePolicy]] = {}
        self._var: ContextVar[RequestState | None] = ContextVar(
            f"strawberry_authz.request.{id(self)}", default=None
        )
        self._inline_nodes: dict[Hashable, Node] = {}
        self._install_lock = threading.Lock()
        # Weak: a schema the application dropped must not be kept alive by
        # the (usually module-level) extension; its entry goes with it.
        self._installed: weakref.WeakValueDictionary[int, Schema] = (
            weakref.WeakValueDictionary()
        )

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
        _check_phase(phase)
        return FieldPolicy(
            self,
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
            self,
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
        return self._type_decorator(
            rules_or_fn,
            post=False,
            on_error=on_error,
            grants=grants,
            skip_interface_rules=skip_interface_rules,
        )

    def type_post_rule(
        self, fn: Callable[..., object], *, on_error: ErrorHook | None = None
    ) -> Callable[[TypeT], TypeT]:
        """A post rule `fn(params, result)` on every field of a type."""
        return self._type_decorator(fn, post=True, on_error=on_error)

    def _type_decorator(
        self,
        rules: object,
        *,
        post: bool,
        on_error: ErrorHook | None,
        grants: Callable[..., Any] | None = None,
        skip_interface_rules: bool = False,
    ) -> Callable[[TypeT], TypeT]:
        def decorate(cls: TypeT) -> TypeT:
            definition = object_definition(cls)
            decorator = "type_post_rule" if post else "type_rule"
            if definition is None:
                raise TypeError(
                    f"authz.{decorator}(...) must decorate a Strawberry type: put it "
                    f"above @strawberry.type (or @strawberry.interface) on {cls!r}"
                )
            if getattr(definition, "is_input", False):
                raise ConfigurationError(
                    f"authz.{decorator}(...) on input type {definition.name}: "
                    "input types are not resolved, so the rule would never be "
                    "checked; put the rule on the field that takes the input "
                    "and read the value from params.args"
                )
            where = f"{decorator} of {definition.name}"
            problems: list[str] = []
            node = None
            if rules is not None:
                node = self._compiler.compile(
                    rules, where=where, problems=problems, post=post
                )
            if problems:
                raise ConfigurationError(problems)
            policy = TypePolicy(
                node,
                post=post,
                grants=grants,
                skip_interface_rules=skip_interface_rules,
                on_error=on_error,
                where=where,
            )
            self._type_policies.setdefault(cls, []).append(policy)
            if not any(
                isinstance(ext, TypeMarker) and ext.authz is self
                for field in definition.fields
                for ext in field.extensions
            ):
                marker = TypeMarker(self)
                for field in definition.fields:
                    field.extensions.append(marker)
                mark_subclasses(cls, marker)
            return cls

        return decorate

    # -- checks inside resolvers --------------------------------------------------

    async def check(self, info: object, rules: object) -> bool:
        """Evaluate `rules` for the field being resolved; True when they pass.

        `info` is the resolver's `Info`. The request's scope cache is shared:
        a scope already computed for this request is not computed again.
        """
        outcome = self._check_inline(info, rules)
        if outcome is not True and not isinstance(outcome, Denial):
            outcome = await settle(outcome)
        return outcome is True

    async def require(self, info: object, rules: object) -> None:
        """Like `check`, but raise the denial's error when `rules` do not pass."""
        outcome = self._check_inline(info, rules)
        if outcome is not True and not isinstance(outcome, Denial):
            outcome = await settle(outcome)
        if outcome is not True:
            raise self._inline_guard(info).client_error(outcome, _raw_info(info))

    def check_sync(self, info: object, rules: object) -> bool:
        """`check` for sync resolvers; every scope involved must be sync."""
        return self._settled_sync(info, rules) is True

    def require_sync(self, info: object, rules: object) -> None:
        """`require` for sync resolvers; every scope involved must be sync."""
        outcome = self._settled_sync(info, rules)
        if outcome is not True:
            raise self._inline_guard(info).client_error(outcome, _raw_info(info))

    def clear_cache(self, info: object, scope: str | None = None) -> None:
        """Forget this operation's cached scope answers, from a resolver.

        Scope results are cached for the whole operation. After a change of
        who the viewer is (a login mutation, leaving a team), call this so the
        fields resolved afterwards see fresh answers: `load_scopes` runs again
        on the next need, and every scope (or, with `scope=`, every value of
        that one scope) is asked again. Mutation fields run one after another,
        so later fields of the same mutation see the change.
        """
        _raw_info(info)
        state = self._var.get()
        if state is None:
            logger.warning(
                "strawberry-authz: clear_cache called outside an operation of a "
                "schema using this AuthExtension; nothing to clear"
            )
            return
        state.clear(scope)

    def _settled_sync(self, info: object, rules: object) -> Outcome:
        outcome = self._check_inline(info, rules)
        if outcome is True or isinstance(outcome, Denial):
            return outcome
        if asyncio.iscoroutine(outcome):
            outcome.close()
        raise RuntimeError(
            "authz.check_sync / require_sync: these rules need an async scope "
            "loader; use `await authz.check(...)` / `await authz.require(...)`"
        )

    def _check_inline(self, info: object, rules: object) -> MaybeOutcome:
        raw = _raw_info(info)
        state = self._var.get()
        if state is None:
            return misconfigured(
                "authz.check / require called outside an operation of a schema "
                "using this AuthExtension"
            )
        guard = self._inline_guard(info)
        try:
            node = self._inline_node(rules, guard.coordinate)
        except Exception as error:
            return denial_from_exception(error, f"authz.check in {guard.coordinate}")
        if isinstance(node, Denial):
            return node
        if node.static:
            return state.decide(node)
        args: dict[str, Any]
        found = resolver_inputs(raw)
        if found is None:
            known = state.objects.get(id(raw.path.prev))
            root, args = (known[1] if known is not None else None), {}
        else:
            root, args = found
        return node.evaluate(state, FieldCall(guard, state, root, raw, args))

    def _inline_node(self, rules: object, coordinate: str) -> Node | Denial:
        """`rules` compiled, once per distinct rule set (not on every call)."""
        key = rule_set_key(rules)
        if key is not None:
            node = self._inline_nodes.get(key)
            if node is not None:
                return node
        problems: list[str] = []
        node = self._compiler.compile(
            rules, where=f"authz.check in {coordinate}", problems=problems
        )
        if problems:
            return misconfigured("; ".join(problems))
        if key is not None:
            if len(self._inline_nodes) >= _MAX_INLINE_RULE_SETS:
                self._inline_nodes.clear()
            self._inline_nodes[key] = node
        return node

    def _inline_guard(self, info: object) -> FieldGuard:
        raw = _raw_info(info)
        installed = getattr(
            raw.parent_type.fields[raw.field_name].resolve, "guard", None
        )
        if isinstance(installed, FieldGuard) and installed.var is self._var:
            return installed
        return FieldGuard(
            type_name=raw.parent_type.name,
            field_name=raw.field_name,
            original=None,
            field=strawberry_field_of(raw.parent_type.fields[raw.field_name]),
            schema=strawberry_schema_of(raw.schema),
            var=self._var,
            error_resolver=self._error_resolver,
            debug=self._debug,
            error_reasons=self._error_reasons,
        )

    # -- what the viewer may do ----------------------------------------------------

    def can_field(self, rules_or_fn: object, *, description: str | None = None) -> Any:
        """A `Boolean!` field: whether `rules_or_fn` passes for this object.

        `viewer_can_edit: bool = authz.can_field(lambda p: {"owns": p.root.id})`.
        `rules_or_fn` is a rule set (compiled now) or `fn(params)` as for
        `rule`, with `params.root` the object and `params.args` empty. The
        field is `false` when denied for any reason and never an error;
        default scopes and type rules do not apply to it.
        """
        return capabilities.can_field(self, rules_or_fn, description=description)

    def permissions_field(
        self, checks: Mapping[str, object], *, description: str | None = None
    ) -> Any:
        """A `[Permission!]!` field: each named check and whether it passes.

        `checks` maps names to static rule sets, compiled now (a bad one
        raises `ConfigurationError` naming it), answered in their order,
        never as an error.
        """
        return capabilities.permissions_field(self, checks, description=description)

    async def dehydrate(
        self, context: object, checks: Mapping[str, object]
    ) -> dict[str, bool]:
        """`{name: allowed}` for `checks` outside GraphQL (e.g. a JSON route).

        The answers `permissions_field` gives for the same `context`; a denial
        or a failing loader is `False` (failures logged), never an exception.
        """
        return await capabilities.dehydrate(self, context, checks)

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
            problems = install_guards(self, schema)
            if not problems:
                self._installed[id(schema)] = schema
            return problems

    def _compile_defaults(self, defaults: Mapping[str, Any]) -> dict[str, Node]:
        compiled: dict[str, Node] = {}
        problems: list[str] = []
        for operation, rules in defaults.items():
            if operation not in OPERATION_TYPES:
                problems.append(
                    f"default_scopes: unknown operation type {operation!r} "
                    f"(expected one of {', '.join(OPERATION_TYPES)})"
                )
                continue
            if operation != "Subscription":
                where = f"default_scopes of {operation}"
                compiled[operation] = self._compiler.compile(
                    rules, where=where, problems=problems
                )
                continue
            if (
                not isinstance(rules, Mapping)
                or not set(rules) <= set(SUBSCRIPTION_PHASES)
                or not rules
            ):
                problems.append(
                    "default_scopes of Subscription: expected "
                    "{'subscribe': rules, 'resolve': rules} (either or both), "
                    f"got {rules!r}"
                )
                continue
            for phase, phase_rules in rules.items():
                where = f"default_scopes of Subscription.{phase}"
                compiled[f"Subscription.{phase}"] = self._compiler.compile(
                    phase_rules, where=where, problems=problems
                )
        if problems:
            raise ConfigurationError(problems)
        return compiled


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


def _raw_info(info: object) -> GraphQLResolveInfo[Any]:
    raw = unwrap_info(info)
    if not hasattr(raw, "parent_type") or not hasattr(raw, "path"):
        raise TypeError(f"expected the resolver's info, got {info!r}")
    return cast("GraphQLResolveInfo[Any]", raw)


def _check_phase(phase: str) -> None:
    if phase not in SUBSCRIPTION_PHASES:
        raise ConfigurationError(
            f"phase={phase!r}: expected one of {', '.join(SUBSCRIPTION_PHASES)}"
        )
