"""The outcome of a check, and the few tools that wait for one.

An outcome is `True` (allowed) or a `Denial`; a check whose inputs are not
known yet returns an awaitable of one. Everything already known is answered
synchronously, without creating a coroutine or a task: the request path is a
chain of dict lookups until a loader actually has to run.

Whatever goes wrong inside authorization becomes a `Denial` here: a
`GraphQLError` raised on purpose is what the client sees; anything else is
logged on `strawberry_authz` and the client only sees a failure
(`INTERNAL_SERVER_ERROR`, a plain message), still a denial.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Literal, TypeAlias, TypeVar

from graphql import GraphQLError

from ._errors import (
    AuthorizationFailedError,
    ForbiddenError,
    UnauthenticatedError,
    error_code,
    is_unauthenticated,
)

__all__ = [
    "ALLOW",
    "Denial",
    "Later",
    "MaybeOutcome",
    "Outcome",
    "combine_denials",
    "decided",
    "denial_from_exception",
    "discard",
    "forbidden",
    "has_running_loop",
    "misconfigured",
    "outcome_of_done",
    "really_cancelled",
    "safe_repr",
    "safe_text",
    "settle",
    "shared",
    "timed_out",
    "within",
]

logger = logging.getLogger("strawberry_authz")

ALLOW: Literal[True] = True
T = TypeVar("T")


class Denial:
    """Why a check failed.

    `error` is what the client may see; `reason` is the server-side
    explanation (logs, decision log, debug output) and may name policy details.
    `branches` holds the denials of every failed branch of an `$or` / `$race`;
    `source` which part of a field's checks denied (`"type"`, `"field"`, ...)
    when known. `failed` is True when the denial comes from something going
    wrong (an unexpected exception, a misconfiguration, a time-out) rather
    than from a rule saying no: `$not` never turns a failure into a pass.
    """

    __slots__ = ("_named", "_reason", "branches", "error", "failed", "source")

    def __init__(
        self,
        error: Exception,
        reason: str,
        branches: tuple[Denial, ...] = (),
        source: str | None = None,
        *,
        failed: bool = False,
    ) -> None:
        self.error = error
        self._reason = reason
        self._named: tuple[str, object, str] | None = None
        self.branches = branches
        self.source = source
        self.failed = failed

    @classmethod
    def naming(cls, error: Exception, before: str, value: object, after: str) -> Denial:
        """A denial whose reason is `before + safe_repr(value) + after`.

        The text is made when the reason is first read: a batch denies
        thousands of values at once, and most reasons are never read (the
        denial log off, no decision hook).
        """
        denial = cls(error, before)
        denial._named = (before, value, after)
        return denial

    @property
    def reason(self) -> str:
        named = self._named
        if named is not None:
            # Built whole from `named`, never appended: two threads reading
            # it first at once make the same text.
            self._reason = named[0] + safe_repr(named[1]) + named[2]
            self._named = None
        return self._reason

    def __repr__(self) -> str:
        return f"Denial({self.reason!r})"

    def from_source(self, source: str) -> Denial:
        """This denial, said to come from `source` (a copy: denials are shared)."""
        if self.source == source:
            return self
        return Denial(
            self.error, self.reason, self.branches, source, failed=self.failed
        )

    def explain(self) -> dict[str, Any]:
        """The tree of failed branches, for debug output."""
        node: dict[str, Any] = {"reason": self.reason}
        code = getattr(self.error, "extensions", {}).get("code")
        if code:
            node["code"] = code
        if self.branches:
            node["branches"] = [branch.explain() for branch in self.branches]
        return node


Outcome: TypeAlias = "Literal[True] | Denial"
MaybeOutcome: TypeAlias = "Literal[True] | Denial | Awaitable[Literal[True] | Denial]"


def forbidden(reason: str) -> Denial:
    return Denial(ForbiddenError(), reason)


def denial_from_exception(error: BaseException, during: str) -> Denial:
    """Turn what a loader or rule function raised into a denial.

    A `GraphQLError` is the reason the client sees. Anything else is
    unexpected: it is logged with its traceback and the client only sees
    `INTERNAL_SERVER_ERROR` with a plain message, so internals never leak
    (fail closed) and a client can tell a failure from a "no".
    """
    if isinstance(error, GraphQLError):
        # One that says "could not check" is a failure: `$not` never passes it.
        return Denial(
            error,
            f"{during} raised {type(error).__name__}: {error.message}",
            failed=error_code(error) == AuthorizationFailedError.code,
        )
    text = safe_text(error)
    logger.error(
        "strawberry-authz: %s raised %s: %s; denying (fail closed)",
        during,
        type(error).__name__,
        text,
        exc_info=(type(error), error, error.__traceback__),
    )
    # The reason may reach a client (`debug=True`): it names the exception's
    # type only; its text (a DSN, a query, a path) is in the log line above.
    return Denial(
        AuthorizationFailedError(),
        f"{during} raised {type(error).__name__} (see the log)",
        failed=True,
    )


def safe_repr(value: object, limit: int = 200) -> str:
    """`repr(value)` for a server-side message; never raises, never huge."""
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__qualname__} whose repr() failed>"
    return text if len(text) <= limit else f"{text[:limit]}..."


def safe_text(error: BaseException) -> str:
    """`str(error)` for a server-side message; never raises."""
    try:
        return str(error)
    except Exception:
        return f"<{type(error).__qualname__} whose str() failed>"


def really_cancelled() -> bool:
    """Whether the running task is being cancelled (not just a raised error).

    A rule function or loader may raise `asyncio.CancelledError` itself; that
    denies its field. A real cancellation of the request must propagate.
    Without `Task.cancelling` (Python 3.10) every cancellation is taken as real.
    """
    task = asyncio.current_task()
    if task is None:
        return False
    cancelling = getattr(task, "cancelling", None)
    return cancelling is None or cancelling() > 0


def within(awaitable: Awaitable[T], timeout: float | None) -> Awaitable[T]:
    """`awaitable`, limited to `timeout` seconds when `scope_timeout` is set.

    Only awaited work is timed: a check answered synchronously never gets
    here, so the limit costs nothing on the fast path.
    """
    if timeout is None:
        return awaitable
    return asyncio.wait_for(awaitable, timeout)


def timed_out(during: str, timeout: float | None) -> Denial:
    """A loader or rule function that outlived `scope_timeout`: logged, denied."""
    return misconfigured(f"{during} did not answer within {timeout}s (scope_timeout)")


def misconfigured(reason: str) -> Denial:
    """A policy problem found at run time: logged loudly, denied."""
    logger.error("strawberry-authz: %s; denying (fail closed)", reason)
    return Denial(AuthorizationFailedError(), reason, failed=True)


def combine_denials(denials: list[Denial]) -> Denial:
    """One denial for an `$or` / `$race` whose every branch failed.

    Same error everywhere: that error. Otherwise `UNAUTHENTICATED` if any
    branch was unauthenticated, else `INTERNAL_SERVER_ERROR` if any branch
    failed, else `FORBIDDEN`, with every branch's reason in
    `extensions["reasons"]`.
    """
    first = denials[0]
    if all(denial.error is first.error for denial in denials):
        return Denial(
            first.error,
            first.reason,
            tuple(denials),
            failed=any(d.failed for d in denials),
        )
    reasons: list[dict[str, Any]] = []
    for denial in denials:
        error = denial.error
        extensions = getattr(error, "extensions", None) or {}
        if "reasons" in extensions:
            reasons.extend(extensions["reasons"])
        else:
            message = error.message if isinstance(error, GraphQLError) else str(error)
            reasons.append({"code": extensions.get("code"), "message": message})
    combined: Exception
    unauthenticated = [d.error for d in denials if is_unauthenticated(d.error)]
    failed = any(d.failed for d in denials)
    if unauthenticated:
        message = _message(unauthenticated[0])
        combined = UnauthenticatedError(message, extensions={"reasons": reasons})
    elif failed:
        # A branch that failed might have passed: the answer is unknown.
        combined = AuthorizationFailedError(extensions={"reasons": reasons})
    else:
        combined = ForbiddenError(extensions={"reasons": reasons})
    reason = "every branch failed: " + "; ".join(d.reason for d in denials)
    return Denial(combined, reason, tuple(denials), failed=failed)


def _message(error: Exception) -> str:
    return error.message if isinstance(error, GraphQLError) else str(error)


class Later:
    """An evaluation that starts only when awaited.

    Nothing runs (no coroutine exists) until it is awaited; a branch whose
    result stopped mattering is `close`d instead, which also closes every
    awaitable it owned (say, the coroutine of an async rule function), so no
    "never awaited" coroutine is left behind.
    """

    __slots__ = ("_args", "_fn", "_owned")

    def __init__(
        self,
        fn: Callable[..., Awaitable[Outcome]],
        *args: Any,
        owned: tuple[object, ...] | list[Any] = (),
    ) -> None:
        self._fn = fn
        self._args = args
        self._owned = owned

    def __await__(self) -> Generator[Any, None, Outcome]:
        return self._fn(*self._args).__await__()

    def close(self) -> None:
        for owned in self._owned:
            discard(owned)


def discard(pending: object) -> None:
    """Drop an evaluation nobody will await (futures keep running: shared)."""
    if isinstance(pending, Later) or asyncio.iscoroutine(pending):
        pending.close()


async def settle(pending: Awaitable[Outcome]) -> Outcome:
    """Wait for an outcome without letting a cancelled waiter cancel it.

    Shared futures (a loader many fields wait for) are shielded: graphql-core
    cancels sibling fields when one fails, and that must not cancel the loader
    the rest of the request still needs. Whatever goes wrong while waiting
    (short of a real cancellation of this task) is a denial, never an error
    text for the client.
    """
    try:
        if isinstance(pending, asyncio.Future):
            return await asyncio.shield(pending)
        return await pending
    except asyncio.CancelledError as error:
        if really_cancelled():
            raise
        if isinstance(pending, asyncio.Future) and pending.cancelled():
            return misconfigured("a shared authorization check was cancelled")
        return denial_from_exception(error, "an authorization check")
    except Exception as error:
        return denial_from_exception(error, "an authorization check")


def outcome_of_done(future: asyncio.Future[Any]) -> Outcome:
    """The outcome a done future gives, as `settle` would give it."""
    if future.cancelled():
        return misconfigured("a shared authorization check was cancelled")
    error = future.exception()
    if error is not None:
        return denial_from_exception(error, "an authorization check")
    outcome: Outcome = future.result()
    return outcome


def shared(
    computing: Awaitable[Any], remember: Callable[[Any], None]
) -> asyncio.Future[Any]:
    """Run `computing` once for every asker; `remember` its result when done.

    Later askers then find the plain result and answer synchronously.
    """
    future = asyncio.ensure_future(computing)

    def done(finished: asyncio.Future[Any]) -> None:
        if not finished.cancelled() and finished.exception() is None:
            remember(finished.result())

    future.add_done_callback(done)
    return future


def has_running_loop() -> bool:
    """Whether an event loop runs in this thread (awaitables can be shared)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def decided(outcome: object) -> bool:
    """Whether `outcome` is known (allowed or denied), not still awaited."""
    return outcome is True or isinstance(outcome, Denial)
