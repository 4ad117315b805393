"""Declaring rules: `authz.rule`, `post_rule`, `type_rule`, `type_post_rule`.

The methods of `AuthExtension` that attach a policy to fields and types; what
they attach (markers and policies) is in `policy`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ._errors import ConfigurationError
from ._grants import GrantSpec
from ._params import PostRuleFunction
from ._plan import NO_FALLBACK, ErrorHook, Phase
from ._policy import (
    FieldPolicy,
    Policy,
    check_phase,
    decorate_type,
    refuse_bare_decorator,
)

__all__ = ["RuleDeclarations"]

TypeT = TypeVar("TypeT", bound=type)


class RuleDeclarations:
    """The decorators of `AuthExtension` (a part of it, not used alone)."""

    _policy: Policy

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
        refuse_bare_decorator("rule", rules_or_fn)
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
        fn: PostRuleFunction,
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
        refuse_bare_decorator("post_rule", fn)
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

    def grants(self, names_or_fn: GrantSpec) -> FieldPolicy:
        """Grants given by a field, without a rule of its own.

        `@authz.grants(["self"])` above `@strawberry.field` records `self`
        for the fields of the returned object once the field resolved and
        passed what applies to it (default scopes, type rules). It does not
        allow anything: under `fallback_rule=False` a field with grants only
        is still denied, unlike `authz.rule(True, grants=...)`.
        `names_or_fn` is a list of names or `fn(params, result)`, as for
        `grants=` on `rule`.
        """
        refuse_bare_decorator("grants", names_or_fn)
        return FieldPolicy(
            self._policy,
            None,
            post=False,
            grants=names_or_fn,
            skip_defaults=False,
            skip_type_rules=False,
            skip_interface_rules=False,
            on_error=None,
            on_denied=NO_FALLBACK,
            phase="subscribe",
            drop_denied=False,
        )

    def type_rule(
        self,
        rules_or_fn: object = None,
        *,
        grants: Callable[..., Any] | None = None,
        skip_interface_rules: bool = False,
        on_error: ErrorHook | None = None,
        on_object: bool = False,
        drop_denied: bool = False,
    ) -> Callable[[TypeT], TypeT]:
        """A rule on every field of a type; put it above `@strawberry.type`.

        Root types included; on an interface it applies to every field of
        every implementing type. `grants=fn(params)` computes grant names
        once per object instance from the object (`params.root`), visible to
        that object's own fields through `$granted`; `rules_or_fn` may then be
        omitted. `skip_interface_rules=True` keeps the interfaces' rules off
        this type's fields.

        A rule function runs once per object (one object at one response
        path), shared by all its selected fields, with `params.root` the
        object and `params.args` empty.

        `on_object=True` checks the rule once when a field returns the object,
        instead of on its fields: on denial the returning field gets `null`
        and the error. With `drop_denied=True` denied objects are removed from
        the lists that return them (a single-object field still gets `null`
        and the error).
        """
        refuse_bare_decorator("type_rule", rules_or_fn)
        if drop_denied and not on_object:
            raise ConfigurationError(
                "authz.type_rule(drop_denied=True) needs on_object=True: only a "
                "rule checked when a list returns its objects can drop them"
            )
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
            on_object=on_object,
            drop_denied=drop_denied,
        )

    def type_post_rule(
        self, fn: PostRuleFunction, *, on_error: ErrorHook | None = None
    ) -> Callable[[TypeT], TypeT]:
        """A post rule `fn(params, result)` on every field of a type."""
        refuse_bare_decorator("type_post_rule", fn)
        return functools.partial(
            decorate_type,
            self._policy,
            rules=fn,
            post=True,
            on_error=on_error,
            grants=None,
            skip_interface_rules=False,
        )
