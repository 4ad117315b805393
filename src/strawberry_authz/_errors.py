"""Errors raised to clients, and the error raised for bad configuration.

`ForbiddenError` and `UnauthenticatedError` are what a denied field reports;
`AuthorizationFailedError` what a field reports when its check failed.
`ConfigurationError` is raised at decoration, schema install or
`AuthExtension.validate` time and never reaches a client.
"""

from __future__ import annotations

import copy
from typing import Any

from graphql import GraphQLError

from ._compat import StrawberryException

__all__ = [
    "AuthorizationFailedError",
    "ConfigurationError",
    "ForbiddenError",
    "UnauthenticatedError",
]


class _DenialError(GraphQLError):
    code = "FORBIDDEN"
    default_message = "You are not allowed to access this field."

    def __init__(
        self,
        message: str | None = None,
        *,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        merged: dict[str, Any] = {"code": self.code}
        if extensions:
            merged.update(extensions)
        super().__init__(message or self.default_message, extensions=merged)


class ForbiddenError(_DenialError):
    """The caller is known but may not access the field (`FORBIDDEN`)."""


class UnauthenticatedError(_DenialError):
    """The caller must authenticate first (`UNAUTHENTICATED`)."""

    code = "UNAUTHENTICATED"
    default_message = "You must be logged in to access this field."


class AuthorizationFailedError(_DenialError):
    """Authorization could not be decided (`INTERNAL_SERVER_ERROR`).

    What the client sees when a check *failed* rather than said no: a loader,
    `load_scopes`, a `BatchScope`, an engine or a rule function raised
    unexpectedly, timed out, or the policy is broken at run time. The field
    is denied all the same; the code lets a client retry instead of telling
    its user "access denied". Nothing of the cause is in it (it is logged).
    """

    code = "INTERNAL_SERVER_ERROR"
    default_message = "Authorization could not be checked; please try again."


class ConfigurationError(Exception):
    """A policy that cannot be enforced as written.

    The message names every problem found, each with its type, field and key.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            lines = "\n".join(f"  - {problem}" for problem in self.problems)
            message = f"{len(self.problems)} authorization problems:\n{lines}"
        super().__init__(message)


class SchemaBuildConfigurationError(ConfigurationError, StrawberryException):
    """A `ConfigurationError` found while Strawberry builds a schema.

    Strawberry re-raises its own exceptions from schema construction and hides
    any other behind a `TypeError`; being both keeps `except
    ConfigurationError` working for rules given as field extensions.
    """

    rich_message = "strawberry-authz: invalid authorization rule"
    suggestion = "Fix the rule named in the message."
    annotation_message = "invalid rule"

    @property
    def exception_source(self) -> None:
        return None


_DENIAL_MARK = "_strawberry_authz_denial"


def mark_denial(error: Exception) -> Exception:
    """Mark `error` (a fresh copy) as the error of a denial, for the log filter."""
    try:  # not `contextlib.suppress`: this runs once per denied object
        setattr(error, _DENIAL_MARK, True)
    except (AttributeError, TypeError):
        return error
    return error


def is_denial(error: object) -> bool:
    """Whether `error` is what a denied field raised (see `mark_denial`)."""
    return getattr(error, _DENIAL_MARK, False) is True


def error_code(error: BaseException) -> str | None:
    """The `extensions["code"]` of a GraphQL error, if it has one."""
    extensions = getattr(error, "extensions", None)
    if isinstance(extensions, dict):
        code = extensions.get("code")
        if isinstance(code, str):
            return code
    return None


def is_unauthenticated(error: BaseException) -> bool:
    return (
        isinstance(error, UnauthenticatedError)
        or error_code(error) == UnauthenticatedError.code
    )


def fresh_error(error: Exception) -> Exception:
    """A copy of `error` that is safe to raise for one more field.

    A denial is shared by every field it applies to; raising one instance
    thousands of times would grow its traceback without bound, so each field
    raises its own copy (same class, message and extensions, no path yet).
    """
    if isinstance(error, GraphQLError):
        clone = type(error).__new__(type(error))
        try:  # the slots named, not looped over: once per denied object
            clone.cause = error.cause
            clone.extensions = error.extensions
            clone.message = error.message
            clone.original_error = error.original_error
            clone.positions = error.positions
            clone.source = error.source
        except AttributeError:  # a subclass that left some unset
            for slot in _COPIED_SLOTS:
                setattr(clone, slot, getattr(error, slot, None))
        clone.__dict__.update(error.__dict__)
        clone.args = error.args
        clone.path = None
        clone.locations = None
        clone.nodes = None
        return clone
    try:
        return copy.copy(error)
    except Exception:
        return error


_COPIED_SLOTS = (
    "cause",
    "extensions",
    "message",
    "original_error",
    "positions",
    "source",
)
"""`GraphQLError`'s slots a copy keeps; `path`, `locations` and `nodes` are
set by graphql-core where the copy is raised."""
