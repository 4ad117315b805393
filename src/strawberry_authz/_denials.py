"""What the client sees when a field is denied.

The denial's error, after the error hooks (`on_error` of the rule, then the
extension's `error_resolver`), copied fresh for this field; or the field's
`on_denied` fallback value instead of an error.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from ._compat import strawberry_error_logger
from ._errors import ForbiddenError, error_code, fresh_error, is_denial, mark_denial
from ._explain import why_denied
from ._outcomes import Denial
from ._params import FieldCall
from ._plan import NO_FALLBACK, FieldPlan, GuardSettings

__all__ = [
    "QuietDenials",
    "client_error",
    "client_errors",
    "deny",
    "inactive_error",
    "quiet_denials_in_strawberry_log",
]

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
    error = client_error(denial, plan, settings, call.info.path.as_list(), call)
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
    denial: Denial,
    plan: FieldPlan,
    settings: GuardSettings,
    path: list[str | int],
    call: FieldCall | None = None,
) -> Exception:
    """The error to raise for `denial` at `path`, after the error hooks.

    The hooks are the `on_error` of the rule that denied (not of the
    field's other rules), then `error_resolver`. A hook returning None
    passes to the next hook; an exception replaces the error; a `str`
    replaces its message and keeps its code; anything else, or a hook
    raising, keeps it (logged). The denial is logged here, in one line.
    """
    error = denial.error
    if denial.branches and not settings.error_reasons:
        error = _without_reasons(denial)
    own = plan.error_hook(denial.source) if plan.on_error else None
    for hook in (own, settings.error_resolver):
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
    why = why_denied(denial, plan, call) if settings.explain_denials else None
    level = settings.denial_log_level
    if level is not None and logger.isEnabledFor(level):
        logger.log(
            level,
            "strawberry-authz: denied %s at %s (%s, %s): %s%s",
            plan.coordinate,
            ".".join(map(str, path)),
            error_code(error) or type(error).__name__,
            denial.source or "rule",
            denial.reason.replace("\n", " "),
            "" if why is None else f" [why: {', '.join(why['failed'])}]",
        )
    error = mark_denial(fresh_error(error))
    if isinstance(error, GraphQLError):
        if settings.debug:
            error.extensions = {**(error.extensions or {}), "authz": denial.explain()}
        if why is not None and settings.explain_denials == "response":
            error.extensions = {**(error.extensions or {}), "why": why}
    return error


def client_errors(
    denied: list[tuple[int, Denial]],
    plan: FieldPlan,
    settings: GuardSettings,
    base: list[str | int],
) -> list[Exception]:
    """`client_error` of each `(index, denial)`, the item at `base + [index]`.

    When nothing reads the path or the reason (no error hook, no
    explanation, no debug output, the denial log off), the error is the
    denial's own error, fresh: the items whose denials share one (a batch
    call's) get copies of the first one's. Thousands of denied list items
    then cost one `client_error`, not one each.
    """
    level = settings.denial_log_level
    if (
        plan.on_error
        or settings.error_resolver is not None
        or settings.explain_denials
        or settings.debug
        or (level is not None and logger.isEnabledFor(level))
    ):
        return [
            client_error(denial, plan, settings, [*base, index])
            for index, denial in denied
        ]
    made: dict[int, Exception] = {}
    errors: list[Exception] = []
    for index, denial in denied:
        if denial.branches:  # its error is made from its branches
            errors.append(client_error(denial, plan, settings, [*base, index]))
            continue
        # `denied` keeps every denial, so its error's id stays unique.
        error = made.get(id(denial.error))
        if error is None:
            error = made[id(denial.error)] = client_error(
                denial, plan, settings, [*base, index]
            )
            errors.append(error)
        else:
            errors.append(mark_denial(fresh_error(error)))
    return errors


class QuietDenials(logging.Filter):
    """Drops Strawberry's traceback of a denial: it was logged in one line.

    Put on Strawberry's error logger. Only errors marked by `client_error`
    are dropped; every other error (a resolver's bug) keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        if exc_info and is_denial(exc_info[1]):
            return False
        return not is_denial(getattr(record.msg, "original_error", None))


def quiet_denials_in_strawberry_log() -> None:
    """Install `QuietDenials` on Strawberry's error logger (once per process)."""
    target = strawberry_error_logger()
    if not any(isinstance(f, QuietDenials) for f in target.filters):
        target.addFilter(QuietDenials())


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
