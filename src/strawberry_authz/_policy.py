"""What the decorators attach: a field's rule, or a type-wide rule.

Every field a rule applies to carries a marker in `field.extensions` (a
`FieldPolicy` for its own rule, a `TypeMarker` for its type's rules), so the
marker survives Strawberry copying fields for inherited, interface and
generic types. In Strawberry's own resolve chain a marker *denies*: a schema
that is not using its `AuthExtension` never serves a protected field. When the
extension installs its guards, it rebuilds each marked resolver without the
markers, so an installed schema pays nothing for them per call.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import logging
import sys
import typing
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, TypeGuard, TypeVar, cast

from graphql import GraphQLError
from strawberry.extensions.field_extension import FieldExtension
from strawberry.types.field import StrawberryField

from ._compat import is_private, object_definition, own_fields, unwrap_info
from ._errors import ConfigurationError, SchemaBuildConfigurationError
from ._grants import GrantSpec, normalize_grant_spec
from ._plan import ErrorHook, Phase
from ._rule_compiler import RuleCompiler
from ._rules import Node
from ._scopes import did_you_mean

__all__ = [
    "FieldPolicy",
    "Policy",
    "TypeMarker",
    "TypePolicy",
    "check_phase",
    "compile_defaults",
    "compile_fallback",
    "decorate_type",
    "is_marker",
    "mark_subclasses",
    "refuse_bare_decorator",
]

logger = logging.getLogger("strawberry_authz")

TypeT = TypeVar("TypeT", bound=type)


class Policy:
    """Every rule one `AuthExtension` holds, for the markers and the installer.

    `defaults` are the compiled default scopes by operation (`"Query"`,
    `"Subscription.subscribe"`, ...); `fallback` the rule of every field no
    other rule applies to; `type_policies` the type rules by class.
    Markers point here, so the installer can tell its own markers apart.
    """

    def __init__(
        self,
        compiler: RuleCompiler,
        defaults: dict[str, Node],
        fallback: Node | None = None,
    ) -> None:
        self.compiler = compiler
        self.defaults = defaults
        self.fallback = fallback
        self.type_policies: dict[type, list[TypePolicy]] = {}


class _Marker(FieldExtension):
    """Denies in Strawberry's resolve chain until the guards replace it."""

    policy: Policy

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        raise _not_installed(info)

    async def resolve_async(
        self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        raise _not_installed(info)


def _not_installed(info: Any) -> GraphQLError:
    raw: Any = unwrap_info(info)
    coordinate = f"{raw.parent_type.name}.{raw.field_name}"
    logger.error(
        "strawberry-authz: %s has authorization rules but the schema does not "
        "use their AuthExtension (add it to strawberry.Schema(extensions=[...])); "
        "denying",
        coordinate,
    )
    return GraphQLError(
        "Authorization is not active for this field; access denied.",
        extensions={"code": "FORBIDDEN"},
    )


class TypeMarker(_Marker):
    """Put by `authz.type_rule` on every field of the decorated type."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy


class FieldPolicy(_Marker):
    """A pre- or post-resolution rule on one field (`authz.rule` / `post_rule`)."""

    def __init__(
        self,
        policy: Policy,
        rules: object,
        *,
        post: bool,
        grants: GrantSpec | None,
        skip_defaults: bool,
        skip_type_rules: bool,
        skip_interface_rules: bool,
        on_error: ErrorHook | None,
        on_denied: Any,
        phase: Phase,
        drop_denied: bool,
    ) -> None:
        self.policy = policy
        self.rules = rules
        self.post = post
        self.grants = normalize_grant_spec(grants)
        self.skip_defaults = skip_defaults
        self.skip_type_rules = skip_type_rules
        self.skip_interface_rules = skip_interface_rules
        self.on_error = on_error
        self.on_denied = on_denied
        self.phase = phase
        self.drop_denied = drop_denied
        self.node: Node | None = None
        self.compiled = False
        self.where = "authz.post_rule" if post else "authz.rule"
        if rules is None:
            self.where = "authz.grants"

    def __call__(self, field: StrawberryField) -> StrawberryField:
        """Decorator form: `@authz.rule(...)` above `@strawberry.field`."""
        if not isinstance(field, StrawberryField):
            raise ConfigurationError(_not_a_field_message(self.where, field))
        field.extensions.append(self)
        watch_class_body(self.policy, sys._getframe(1))
        resolver = field.base_resolver
        if resolver is not None:
            self._compile(resolver.wrapped_func.__qualname__)
        return field

    def apply(self, field: StrawberryField) -> None:
        """Called by Strawberry when the schema is built: compile if not yet done.

        Strawberry hides exceptions raised here behind a `TypeError` unless
        they are its own kind, so the `ConfigurationError` raised here is one.
        """
        if not self.compiled:
            origin = getattr(field.origin, "__name__", None) or "?"
            try:
                self._compile(f"{origin}.{field.python_name}")
            except ConfigurationError as error:
                raise SchemaBuildConfigurationError(error.problems) from None

    def _compile(self, where: str) -> None:
        problems: list[str] = []
        kind = "post rule" if self.post else "rule"
        self.where = where
        if self.rules is not None:  # None: `authz.grants`, no rule of its own
            self.node = self.policy.compiler.compile(
                self.rules,
                where=f"{kind} of {where}",
                problems=problems,
                post=self.post,
            )
        self.compiled = True
        if not callable(self.grants):
            for name in self.grants or ():
                problem = self.policy.compiler.grant_problem(name)
                if problem is not None:
                    problems.append(f"grants of {where}: {problem}")
        if problems:
            raise ConfigurationError(problems)


def _not_a_field_message(decorator: str, target: object) -> str:
    name = getattr(target, "__name__", None)
    if inspect.isfunction(target) and name:
        return (
            f"{decorator}(...) on function {name}: a rule decorates a Strawberry "
            "field. Put it above @strawberry.field / @strawberry.mutation / "
            "@strawberry.subscription; for a resolver given as "
            f"strawberry.field(resolver={name}), pass the rule there: "
            f"strawberry.field(resolver={name}, extensions=[{decorator}(...)])"
        )
    return (
        f"{decorator}(...) must decorate a Strawberry field: put it above "
        "@strawberry.field / @strawberry.mutation / @strawberry.subscription, "
        f"not on {target!r}"
    )


def refuse_bare_decorator(decorator: str, target: object) -> None:
    """Refuse `@authz.rule` / `@authz.type_rule` written without parentheses.

    Python then passes the field or class itself as the rule, and the result
    would be a field that vanishes from the schema or a class replaced by a
    partial; both are refused here, naming what was decorated.
    """
    if isinstance(target, StrawberryField):
        resolver = target.base_resolver
        what = "field " + (
            _short_name(resolver.wrapped_func.__qualname__)
            if resolver is not None
            else (target.python_name or "?")
        )
    elif isinstance(target, type):  # a class is never a rule: the decorated one
        what = f"type {target.__name__}"
    else:
        return
    raise ConfigurationError(
        f"@authz.{decorator} without parentheses on {what}: "
        f"call it: @authz.{decorator}(...)"
    )


def _short_name(qualname: str) -> str:
    """`Query.secret` from `make.<locals>.Query.secret`."""
    return qualname.rpartition("<locals>.")[2]


class TypePolicy:
    """A rule on every field of a type (`authz.type_rule` / `type_post_rule`).

    `node` is None for the grants-only and options-only forms; `grants`
    computes names from the object itself, once per object instance.
    """

    def __init__(
        self,
        node: Node | None,
        *,
        post: bool,
        grants: Callable[..., Any] | None,
        skip_interface_rules: bool,
        on_error: ErrorHook | None,
        where: str,
        on_object: bool = False,
        drop_denied: bool = False,
    ) -> None:
        self.node = node
        self.on_object = on_object
        self.drop_denied = drop_denied
        self.post = post
        self.grants = grants
        self.skip_interface_rules = skip_interface_rules
        self.on_error = on_error
        self.where = where


def is_marker(extension: object) -> TypeGuard[_Marker]:
    return isinstance(extension, _Marker)


def mark_subclasses(cls: type, marker: TypeMarker) -> None:
    """Make every future subclass of `cls` carry `marker` on all its fields.

    A type rule applies to the fields of subclasses and implementers too, new
    and inherited ones; without the extension installed, those fields must
    deny like the decorated type's own. Strawberry builds a subclass's fields
    when `@strawberry.type` processes it, after this hook ran on the bare
    class: the hook puts a marked `strawberry.field` in place of every plain
    annotation (inherited ones included, which Strawberry would otherwise
    rebuild unmarked) and marks the fields declared with `strawberry.field`.
    """
    if cls.__dict__.get("__authz_marks_subclasses__") is marker:
        return
    previous = cls.__dict__.get("__init_subclass__")

    def init_subclass(sub: Any, /, **kwargs: Any) -> None:
        if previous is not None:
            previous.__func__(sub, **kwargs)
        else:
            super(cast(Any, cls), sub).__init_subclass__(**kwargs)
        _mark_new_class(sub, marker)

    cls.__init_subclass__ = classmethod(init_subclass)  # type: ignore[assignment]
    cls.__authz_marks_subclasses__ = marker  # type: ignore[attr-defined]


def _mark_new_class(sub: type, marker: TypeMarker) -> None:
    own = inspect.get_annotations(sub)
    annotations = dict(own)
    for value in list(vars(sub).values()):
        if isinstance(value, StrawberryField):
            _add_marker(value, marker)
    for name, annotation in own.items():
        value = sub.__dict__.get(name, dataclasses.MISSING)
        if isinstance(value, dataclasses.Field) or _not_a_field(annotation):
            continue
        field = StrawberryField(default=value)
        field.extensions.append(marker)
        setattr(sub, name, field)
    for base in sub.__mro__[1:]:
        definition = object_definition(base)
        declared = getattr(base, "__dataclass_fields__", {})
        for inherited in getattr(definition, "fields", ()):
            name = inherited.python_name
            if name in annotations or name in vars(sub):
                continue
            if declared.get(name) is inherited:
                continue  # shared with the base: carries the base's markers
            field = copy.copy(inherited)
            field.extensions = [*inherited.extensions]
            _add_marker(field, marker)
            setattr(sub, name, field)
            annotations[name] = base.__annotations__.get(name, inherited.type)
    if annotations != own:
        sub.__annotations__ = annotations


def _add_marker(field: StrawberryField, marker: TypeMarker) -> None:
    if not any(ext is marker for ext in field.extensions):
        field.extensions.append(marker)


def _not_a_field(annotation: object) -> bool:
    """Private and ClassVar annotations never become GraphQL fields."""
    if isinstance(annotation, str):
        return "Private[" in annotation or "ClassVar" in annotation
    return typing.get_origin(annotation) is typing.ClassVar or is_private(annotation)


def watch_class_body(policy: Policy, frame: FrameType | None) -> None:
    """Learn which class a decorated field belongs to, as the class is created.

    A root type's fields are covered by the default scopes even without a rule
    of their own. Without the extension installed nothing would deny them, so
    a class named like a default-scoped operation type (`Query`, `Mutation`,
    `Subscription`) that holds at least one rule gets a marker on every field
    when Python creates it, before `@strawberry.type` builds its fields. An
    object put in the class body is told its owner by `__set_name__`.
    """
    if frame is None:
        return
    namespace = frame.f_locals
    if "__module__" not in namespace or "__qualname__" not in namespace:
        return  # not a class body
    if _OWNER_HOOK not in namespace:
        namespace[_OWNER_HOOK] = _OwnerHook(policy)


_OWNER_HOOK = "__strawberry_authz_owner__"


class _OwnerHook:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def __set_name__(self, owner: type, name: str) -> None:
        delattr(owner, name)
        operations = {key.split(".")[0] for key in self.policy.defaults}
        if owner.__name__ in operations:
            _mark_new_class(owner, TypeMarker(self.policy))


OPERATION_TYPES = ("Query", "Mutation", "Subscription")
SUBSCRIPTION_PHASES = ("subscribe", "resolve")


def compile_defaults(
    compiler: RuleCompiler, defaults: Mapping[str, Any]
) -> dict[str, Node]:
    """`default_scopes=` compiled, keyed `"Query"`, `"Subscription.subscribe"`, ..."""
    compiled: dict[str, Node] = {}
    problems: list[str] = []
    for operation, rules in defaults.items():
        if operation not in OPERATION_TYPES:
            hint = did_you_mean(str(operation), OPERATION_TYPES)
            problems.append(
                f"default_scopes: unknown operation type {operation!r}{hint} "
                f"(expected one of {', '.join(OPERATION_TYPES)})"
            )
            continue
        if operation != "Subscription":
            where = f"default_scopes of {operation}"
            compiled[operation] = compiler.compile(
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
            compiled[f"Subscription.{phase}"] = compiler.compile(
                phase_rules, where=where, problems=problems
            )
    if problems:
        raise ConfigurationError(problems)
    return compiled


def compile_fallback(compiler: RuleCompiler, rules: object) -> Node | None:
    """`fallback_rule=` compiled (None when not given)."""
    if rules is None:
        return None
    problems: list[str] = []
    node = compiler.compile(rules, where="fallback_rule", problems=problems)
    if problems:
        raise ConfigurationError(problems)
    return node


def check_phase(phase: str) -> None:
    if phase not in SUBSCRIPTION_PHASES:
        raise ConfigurationError(
            f"phase={phase!r}: expected one of {', '.join(SUBSCRIPTION_PHASES)}"
        )


def decorate_type(
    policy: Policy,
    cls: TypeT,
    rules: object,
    *,
    post: bool,
    on_error: ErrorHook | None,
    grants: Callable[..., Any] | None,
    skip_interface_rules: bool,
    on_object: bool = False,
    drop_denied: bool = False,
) -> TypeT:
    """Register a type rule of `cls` and mark every field it applies to."""
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
        node = policy.compiler.compile(rules, where=where, problems=problems, post=post)
    if problems:
        raise ConfigurationError(problems)
    type_policy = TypePolicy(
        node,
        post=post,
        grants=grants,
        skip_interface_rules=skip_interface_rules,
        on_error=on_error,
        where=where,
        on_object=on_object,
        drop_denied=drop_denied,
    )
    policy.type_policies.setdefault(cls, []).append(type_policy)
    # The marker goes on field objects of `cls` alone: on a field object
    # shared with other types it would deny their fields too.
    fields = own_fields(cls)
    if not any(
        isinstance(ext, TypeMarker) and ext.policy is policy
        for field in fields
        for ext in field.extensions
    ):
        marker = TypeMarker(policy)
        for field in fields:
            field.extensions.append(marker)
        mark_subclasses(cls, marker)
    return cls
