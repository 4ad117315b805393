"""Per-request state and the outcome of a check.

An outcome is `True` (allowed) or a `Denial`; a check whose inputs are not
known yet returns an awaitable of one. Everything already known is answered
synchronously, without creating a coroutine or a task: the request path is a
chain of dict lookups until a loader actually has to run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Generator, Hashable, Mapping
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar

from graphql import GraphQLError

from .errors import ForbiddenError, UnauthenticatedError, is_unauthenticated

if TYPE_CHECKING:
    from .rules import Node

__all__ = ["ALLOW", "Denial", "Outcome", "RequestState", "settle"]

logger = logging.getLogger("strawberry_authz")

ALLOW: Literal[True] = True
T = TypeVar("T")


class Denial:
    """Why a check failed.

    `error` is what the client may see; `reason` is the server-side
    explanation (logs, decision log, debug output) and may name policy details.
    `branches` holds the denials of every failed branch of an `$or` / `$race`.
    """

    __slots__ = ("branches", "error", "reason")

    def __init__(
        self,
        error: Exception,
        reason: str,
        branches: tuple[Denial, ...] = (),
    ) -> None:
        self.error = error
        self.reason = reason
        self.branches = branches

    def __repr__(self) -> str:
        return f"Denial({self.reason!r})"

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
    `FORBIDDEN`, so internals never leak (fail closed).
    """
    if isinstance(error, GraphQLError):
        return Denial(error, f"{during} raised {type(error).__name__}: {error.message}")
    text = safe_text(error)
    logger.error(
        "strawberry-authz: %s raised %s: %s; denying (fail closed)",
        during,
        type(error).__name__,
        text,
        exc_info=(type(error), error, error.__traceback__),
    )
    return Denial(ForbiddenError(), f"{during} raised {type(error).__name__}: {text}")


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
    return Denial(ForbiddenError(), reason)


def combine_denials(denials: list[Denial]) -> Denial:
    """One denial for an `$or` / `$race` whose every branch failed.

    Same error everywhere: that error. Otherwise `UNAUTHENTICATED` if any
    branch was unauthenticated, else `FORBIDDEN`, with every branch's reason in
    `extensions["reasons"]`.
    """
    first = denials[0]
    if all(denial.error is first.error for denial in denials):
        return Denial(first.error, first.reason, tuple(denials))
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
    if unauthenticated:
        message = _message(unauthenticated[0])
        combined = UnauthenticatedError(message, extensions={"reasons": reasons})
    else:
        combined = ForbiddenError(extensions={"reasons": reasons})
    reason = "every branch failed: " + "; ".join(d.reason for d in denials)
    return Denial(combined, reason, tuple(denials))


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


class RequestState:
    """Everything authorization remembers for one operation.

    Scopes are loaded at most once, each `(scope, value)` is computed at most
    once (concurrent askers share one in-flight future, errors are remembered
    like results), static rule decisions are memoized, and grants are recorded
    per response path. Nothing here outlives the operation.
    """

    __slots__ = (
        "_event_base",
        "_events",
        "_load_scopes",
        "_scopes",
        "context",
        "decisions",
        "grants",
        "object_grants",
        "objects",
        "scope_results",
        "timeout",
        "warmed",
    )

    def __init__(
        self,
        load_scopes: Callable[[Any], object],
        context: object,
        *,
        timeout: float | None = None,
    ) -> None:
        self._load_scopes = load_scopes
        self.timeout = timeout
        self._scopes: dict[str, object] | Denial | asyncio.Future[Any] | None = None
        self._events = 0
        self._event_base: tuple[int, int] | None = None
        self.context = context
        self.scope_results: dict[Hashable, Any] = {}
        self.decisions: dict[Node, Any] = {}
        self.grants: dict[int, tuple[object, frozenset[str]]] = {}
        self.object_grants: dict[tuple[int, int], tuple[object, Any]] = {}
        self.objects: dict[int, tuple[object, Any]] = {}
        self.warmed: dict[Hashable, asyncio.Future[Any] | None] = {}

    # -- scopes ---------------------------------------------------------------

    def scope(self, name: str, value: object, key: Hashable) -> MaybeOutcome:
        cached = self.scope_results.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        scopes = self._scopes
        if scopes is None:
            scopes = self._start_loading()
        outcome: MaybeOutcome
        if type(scopes) is dict:
            outcome = self._run_loader(scopes, name, value, key)
        elif isinstance(scopes, Denial):
            outcome = scopes
        elif isinstance(scopes, asyncio.Future):
            outcome = self._share(key, self._after_scopes(scopes, name, value, key))
        else:
            outcome = self._run_loader(dict(scopes), name, value, key)
        self.scope_results[key] = outcome
        return outcome

    def _start_loading(self) -> dict[str, object] | Denial | asyncio.Future[Any]:
        try:
            loaded = self._load_scopes(self.context)
        except (Exception, asyncio.CancelledError) as error:
            self._scopes = denial_from_exception(error, "load_scopes")
            return self._scopes
        if isawaitable(loaded):
            if not _has_running_loop():
                discard(loaded)
                self._scopes = misconfigured(
                    "load_scopes is async but the operation runs synchronously "
                    "(execute_sync); use schema.execute or a sync load_scopes"
                )
                return self._scopes
            future = asyncio.ensure_future(self._await_scopes(loaded))
            self._scopes = future
            return future
        self._scopes = _accept_scopes(loaded)
        return self._scopes

    async def _await_scopes(
        self, loading: Awaitable[object]
    ) -> dict[str, object] | Denial:
        try:
            loaded = await within(loading, self.timeout)
        except asyncio.CancelledError as error:
            if really_cancelled():
                raise
            result: dict[str, object] | Denial = denial_from_exception(
                error, "load_scopes"
            )
        except asyncio.TimeoutError:
            result = timed_out("load_scopes", self.timeout)
        except Exception as error:
            result = denial_from_exception(error, "load_scopes")
        else:
            result = _accept_scopes(loaded)
        # This task is `self._scopes` unless `clear` dropped it meanwhile.
        if self._scopes is asyncio.current_task():
            self._scopes = result
        return result

    async def _after_scopes(
        self,
        loading: asyncio.Future[Any],
        name: str,
        value: object,
        key: Hashable,
    ) -> Outcome:
        scopes = await asyncio.shield(loading)
        if isinstance(scopes, Denial):
            return scopes
        outcome = self._run_loader(scopes, name, value, key)
        if outcome is True or isinstance(outcome, Denial):
            return outcome
        return await settle(outcome)

    def _run_loader(
        self, scopes: dict[str, object], name: str, value: object, key: Hashable
    ) -> MaybeOutcome:
        try:
            return self._call_loader(scopes, name, value, key)
        except (Exception, asyncio.CancelledError) as error:
            # A sync call cannot be a real cancellation: it is the loader's error.
            return denial_from_exception(error, f"scope {name!r}")

    def _call_loader(
        self, scopes: dict[str, object], name: str, value: object, key: Hashable
    ) -> MaybeOutcome:
        loader = scopes.get(name, _MISSING)
        if loader is _MISSING:
            return misconfigured(
                f"scope {name!r} is not returned by load_scopes "
                f"(it returned: {', '.join(sorted(scopes)) or 'nothing'})"
            )
        if loader is True:
            if value is True:
                return ALLOW
            return misconfigured(
                f"scope {name!r} is a bool scope and only accepts True, "
                f"got {safe_repr(value)}"
            )
        if loader is False:
            return forbidden(f"scope {name!r} is False")
        if not callable(loader):
            return misconfigured(
                f"scope {name!r}: loader must be a bool or a callable, "
                f"got {safe_repr(loader)}"
            )
        try:
            result = loader(value)
        except (Exception, asyncio.CancelledError) as error:
            return denial_from_exception(
                error, f"scope {name!r} loader({safe_repr(value)})"
            )
        if result is True:
            return ALLOW
        if result is False:
            return forbidden(f"scope {name!r} denied {safe_repr(value)}")
        if isawaitable(result):
            if not _has_running_loop():
                discard(result)
                return misconfigured(
                    f"scope {name!r} loader is async but the operation runs "
                    "synchronously (execute_sync); use schema.execute"
                )
            return self._share(key, _await_loader(result, name, value, self.timeout))
        return misconfigured(
            f"scope {name!r} loader({safe_repr(value)}) returned "
            f"{safe_repr(result)}, expected a bool"
        )

    def _share(
        self, key: Hashable, computing: Awaitable[Outcome]
    ) -> asyncio.Future[Any]:
        table = self.scope_results

        def remember(outcome: Outcome) -> None:
            if table.get(key) is future:  # else `clear` forgot it meanwhile
                table[key] = outcome

        future = shared(computing, remember)
        return future

    # -- static decisions -----------------------------------------------------

    def decide(self, node: Node) -> MaybeOutcome:
        """The memoized outcome of a rule that depends on nothing but scopes."""
        decided = self.decisions.get(node)
        if decided is not None:
            return decided  # type: ignore[no-any-return]
        outcome = node.evaluate(self, None)
        if outcome is True or isinstance(outcome, Denial):
            self.decisions[node] = outcome
            return outcome
        decisions = self.decisions

        def remember(decided: Outcome) -> None:
            if decisions.get(node) is future:  # else `clear` forgot it meanwhile
                decisions[node] = decided

        future = shared(outcome, remember)
        decisions[node] = future
        return future

    # -- forgetting -----------------------------------------------------------

    def clear(self, scope: str | None = None) -> None:
        """Forget cached answers: the next check asks the loaders again.

        `scope=None` forgets every scope's results, a name every value of that
        scope. Either way `load_scopes` runs again on the next need, and the
        static decisions and list warm-ups (computed from scopes) are dropped.
        A check already in flight finishes with its answer, unremembered.
        """
        self._scopes = None
        results = self.scope_results
        if scope is None:
            results.clear()
        else:
            for key in [k for k in results if type(k) is tuple and k[:1] == (scope,)]:
                del results[key]
        self.decisions.clear()
        self.warmed.clear()
        self._events = 0
        self._event_base = None

    # -- grants ---------------------------------------------------------------

    def record_grants(self, path: object, names: frozenset[str]) -> None:
        # Keyed by the identity of graphql-core's Path object: children receive
        # that very object as their parent path, and the strong reference kept
        # here stops the id from being reused while the operation runs.
        entry = self.grants.get(id(path))
        if entry is not None:
            names = entry[1] | names
        self.grants[id(path)] = (path, names)

    def grants_at(self, path: object) -> frozenset[str]:
        entry = self.grants.get(id(path))
        return entry[1] if entry is not None else _NO_GRANTS

    def start_event(self) -> None:
        """A new subscription event: what only the previous event used is gone.

        Grants belong to one event. Scope results and static decisions known
        once the first event was checked (subscribe time included) stay for
        the whole subscription; those a later event added are dropped when
        the next one starts, so a stream whose rules ask for a new value per
        event (`{"member_of": event.team}`) does not grow with every event.
        """
        self.grants.clear()
        self.object_grants.clear()
        self.objects.clear()
        self._events += 1
        base = self._event_base
        if base is None:
            if self._events == 2:
                self._event_base = (len(self.scope_results), len(self.decisions))
            return
        _keep_first(self.scope_results, base[0])
        _keep_first(self.decisions, base[1])


_MISSING = object()
_NO_GRANTS: frozenset[str] = frozenset()


def _keep_first(table: dict[Any, Any], count: int) -> None:
    """Drop all but the first `count` entries (dicts keep insertion order)."""
    for _ in range(len(table) - count):
        table.popitem()  # the last inserted entry


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


async def _await_loader(
    result: Awaitable[object], name: str, value: object, timeout: float | None
) -> Outcome:
    try:
        resolved = await within(result, timeout)
    except asyncio.CancelledError as error:
        if really_cancelled():
            raise
        return denial_from_exception(
            error, f"scope {name!r} loader({safe_repr(value)})"
        )
    except asyncio.TimeoutError:
        return timed_out(f"scope {name!r} loader({safe_repr(value)})", timeout)
    except Exception as error:
        return denial_from_exception(
            error, f"scope {name!r} loader({safe_repr(value)})"
        )
    if resolved is True:
        return ALLOW
    if resolved is False:
        return forbidden(f"scope {name!r} denied {safe_repr(value)}")
    return misconfigured(
        f"scope {name!r} loader({safe_repr(value)}) returned "
        f"{safe_repr(resolved)}, expected a bool"
    )


def _accept_scopes(loaded: object) -> dict[str, object] | Denial:
    if isinstance(loaded, Mapping):
        try:
            return dict(loaded)
        except Exception as error:
            return denial_from_exception(error, "reading the mapping of load_scopes")
    return misconfigured(
        f"load_scopes returned {safe_repr(loaded)}, expected a mapping"
    )


def _has_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
