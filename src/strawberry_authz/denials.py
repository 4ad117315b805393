"""What the client sees when a field is denied.

The denial's error, after the error hooks (`on_error` of the rule, then the
extension's `error_resolver`), copied fresh for this field; or the field's
`on_denied` fallback value instead of an error.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from .errors import ForbiddenError, fresh_error
from .outcomes import Denial
from .params import FieldCall
from .plan import NO_FALLBACK, FieldPlan, GuardSettings

__all__ = ["client_error", "deny", "inactive_error"]

logger = logging.getLogger("strawberry_authz")


def inactive_error() -> GraphQLError:
    """A guarded field resolved outside an operation of its extension."""
    return GraphQLError(
        "Authorization is not active for this request; access denied.",
        extensions={"code": "FORBIDDEN"},
    )


def deny(
    call: FieldCall, denial: Denial, plan: FieldPlan, settings: GuardSettings
) -> Any:
    """Raise the error the client sees for `denial`, or return the fallback."""
    error = client_error(denial, plan, settings, call.info.path.as_list())
    fallback = plan.on_denied
    if fallback is NO_FALLBACK:
        raise error
    if not callable(fallback):
        return fallback
    try:
        return fallback(call.params, error)
    except Exception:
        logger.exception(
            "strawberry-authz: on_denied of %s raised; reporting the denial",
            plan.coordinate,
        )
        raise error from None


def client_error(
    denial: Denial, plan: FieldPlan, settings: GuardSettings, path: list[str | int]
) -> Exception:
    """The error to raise for `denial` at `path`, after the error hooks.

    A hook returning None passes to the next hook; an exception replaces the
    error; a `str` replaces its message and keeps its code; anything else, or
    a hook raising, keeps it (logged).
    """
    error = denial.error
    if denial.branches and not settings.error_reasons:
        error = _without_reasons(denial)
    for hook in (plan.on_error, settings.error_resolver):
        if hook is None:
            continue
        try:
            replacement = hook(error, path)
        except Exception:
            logger.exception(
                "strawberry-authz: error hook of %s raised; keeping the denial",
                plan.coordinate,
            )
            break
        if replacement is None:
            continue
        error = _replaced(error, replacement, plan.coordinate)
        break
    if logger.isEnabledFor(logging.DEBUG):  # its arguments cost, per field
        logger.debug(
            "strawberry-authz: denied %s at %s: %s",
            plan.coordinate,
            path,
            denial.reason,
        )
    error = fresh_error(error)
    if settings.debug and isinstance(error, GraphQLError):
        error.extensions = {**(error.extensions or {}), "authz": denial.explain()}
    return error


def _replaced(error: Exception, replacement: object, coordinate: str) -> Exception:
    if isinstance(replacement, str):
        return _with_message(error, replacement)
    if isinstance(replacement, Exception):
        return replacement
    logger.warning(
        "strawberry-authz: error hook of %s returned %s; expected an exception, "
        "a message or None; keeping the denial's error",
        coordinate,
        type(replacement).__name__,
    )
    return error


def _with_message(error: Exception, message: str) -> Exception:
    """`error` with a new message, same class, code and extensions."""
    copied = fresh_error(error)
    if isinstance(copied, GraphQLError):
        copied.message = message
        copied.args = (message,)
        return copied
    return ForbiddenError(message)


def _without_reasons(denial: Denial) -> Exception:
    """The error of `denial` without the `reasons` an `$or` / `$race` adds.

    Only the error built by combining the branches loses them: an error a
    loader or rule function raised itself is reported as raised.
    """
    error = denial.error
    extensions = getattr(error, "extensions", None)
    if (
        not isinstance(error, GraphQLError)
        or not extensions
        or "reasons" not in extensions
        or any(error is raised for raised in _raised_errors(denial))
    ):
        return error
    copied = fresh_error(error)
    assert isinstance(copied, GraphQLError)
    copied.extensions = {k: v for k, v in extensions.items() if k != "reasons"}
    return copied


def _raised_errors(denial: Denial) -> list[Exception]:
    if not denial.branches:
        return [denial.error]
    return [error for branch in denial.branches for error in _raised_errors(branch)]
