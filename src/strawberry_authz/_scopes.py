"""Scopes: their declaration, and loading their answers for one operation.

A declaration (`scopes=` on `AuthExtension`) lets every static rule be checked
before any request runs. Without one, names are not checked ahead of time and
a rule naming an unknown scope denies at run time.

`ScopeCache` runs `load_scopes` at most once per operation (lazily, when the
first check needs a scope) and each `(scope, value)` loader at most once:
concurrent askers share one in-flight future (a value a list asks waits as
the list's `AskedTogether`, and each other asker gets a future of its own),
errors are remembered like results, and an answer already known is returned
synchronously.
"""

from __future__ import annotations

import asyncio
import difflib
import typing
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from inspect import isawaitable
from types import UnionType
from typing import Any, TypeAlias, Union, get_args, get_origin

import pydantic

from ._asked import AskedTogether
from ._batch import Batches, BatchObserver, BatchScope, Queued
from ._outcomes import (
    ALLOW,
    Denial,
    MaybeOutcome,
    Outcome,
    denial_from_exception,
    discard,
    forbidden,
    has_running_loop,
    misconfigured,
    really_cancelled,
    safe_repr,
    settle,
    shared,
    timed_out,
    within,
)

__all__ = [
    "LoadScopes",
    "ScopeCache",
    "ScopeDeclaration",
    "ScopeLoader",
    "did_you_mean",
]

ScopeLoader: TypeAlias = "bool | Callable[[Any], bool | Awaitable[bool]] | BatchScope"
"""A scope: a `bool`, `loader(value)` answering a bool (sync or async), or a
`BatchScope` answering many values in one call."""
LoadScopes: TypeAlias = Callable[
    [Any], "Mapping[str, object] | Awaitable[Mapping[str, object]]"
]
"""`load_scopes(context)`: the request's scopes (each a `ScopeLoader`) by
name, sync or async. Values are typed `object` so that a dict literal of
mixed loaders needs no annotation."""

_MISSING = object()


class ScopeDeclaration:
    """The scope names a policy may use and the type of each rule value.

    A scope declared as `bool` accepts only `True` in a rule; any other type is
    checked with pydantic in strict mode.
    """

    def __init__(self, names: Mapping[str, Any]) -> None:
        self._types = {name: _without_none(kind) for name, kind in names.items()}
        self._adapters: dict[str, pydantic.TypeAdapter[Any]] = {}

    @classmethod
    def from_spec(cls, spec: object) -> ScopeDeclaration | None:
        if spec is None:
            return None
        if isinstance(spec, Mapping):
            return cls(spec)
        if isinstance(spec, type) and issubclass(spec, pydantic.BaseModel):
            return cls(
                {name: info.annotation for name, info in spec.model_fields.items()}
            )
        if isinstance(spec, type) and typing.is_typeddict(spec):
            return cls(typing.get_type_hints(spec))
        raise TypeError(
            "scopes= must be a TypedDict, a pydantic model or a {name: type} "
            f"mapping, not {spec!r}"
        )

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._types)

    def name_problem(self, name: str) -> str | None:
        """Why `name` is not a declared scope, or None if it is."""
        if name in self._types:
            return None
        known = ", ".join(sorted(self._types)) or "none"
        hint = did_you_mean(name, self._types)
        return f"unknown scope {name!r}{hint} (declared scopes: {known})"

    def problem(self, name: str, value: object) -> str | None:
        """Why `{name: value}` is not a valid rule entry, or None if it is."""
        declared = self._types.get(name, _MISSING)
        if declared is _MISSING:
            return self.name_problem(name)
        if declared is bool:
            if value is True:
                return None
            return (
                f"scope {name!r} is a bool scope and only accepts True, got {value!r}"
            )
        adapter = self._adapters.get(name)
        if adapter is None:
            adapter = self._adapters[name] = pydantic.TypeAdapter(declared)
        try:
            adapter.validate_python(value, strict=True)
        except pydantic.ValidationError as error:
            first = error.errors()[0]["msg"]
            return f"invalid value {value!r} for scope {name!r}: {first}"
        return None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`"; did you mean 'x'?"` for the closest of `known`, or `""`."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _without_none(kind: Any) -> Any:
    """`bool | None` (a pydantic field with a default) is a bool scope."""
    members = get_args(kind)
    if type(None) in members and get_origin(kind) in (Union, UnionType):
        rest = [member for member in members if member is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return kind


class ScopeCache:
    """The scope answers of one operation (see the module docstring).

    `results` maps `(scope, value key)` to an outcome, or to the future of one
    while its loader runs (a list's `AskedTogether` while its batch runs).
    """

    __slots__ = (
        "_load_scopes",
        "_scopes",
        "batches",
        "context",
        "results",
        "sync",
        "timeout",
    )

    def __init__(
        self,
        load_scopes: LoadScopes,
        context: object,
        timeout: float | None,
        *,
        sync: bool = False,
        batch_observer: BatchObserver | None = None,
    ) -> None:
        self._load_scopes = load_scopes
        self.sync = sync
        self._scopes: dict[str, object] | Denial | asyncio.Future[Any] | None = None
        self.context = context
        self.timeout = timeout
        self.results: dict[Hashable, Any] = {}
        self.batches = Batches(
            self.results, timeout, sync=sync, observer=batch_observer
        )

    def answer(self, name: str, value: object, key: Hashable) -> MaybeOutcome:
        """The outcome of scope `name` for `value` (its cache key `key`)."""
        cached = self.results.get(key)
        if cached is not None:
            if type(cached) is AskedTogether:  # a list's value, being asked
                return cached.waiter(key)
            return cached  # type: ignore[no-any-return]
        scopes = self._scopes
        if scopes is None:
            scopes = self._start_loading()
        outcome: MaybeOutcome
        if type(scopes) is dict:
            loader = scopes.get(name)
            if type(loader) is BatchScope:  # per object: asked, not called
                outcome = self.batches.ask(name, loader, value, key)
            else:
                try:  # `_run_loader`, inlined: this runs once per value
                    outcome = self._call_loader(scopes, name, value, key)
                except (Exception, asyncio.CancelledError) as error:
                    outcome = denial_from_exception(error, f"scope {name!r}")
        elif isinstance(scopes, Denial):
            outcome = scopes
        elif isinstance(scopes, asyncio.Future):
            outcome = self._share(key, self._after_scopes(scopes, name, value, key))
        else:
            outcome = self._run_loader(dict(scopes), name, value, key)
        # A `Queued` value is asked again once its batch answered. A failure
        # `check_sync` met asking at once (an async `load_fn` it cannot wait
        # for) is that call's, not the value's.
        if type(outcome) is not Queued and not (
            self.batches.immediate and type(outcome) is Denial and outcome.failed
        ):
            self.results[key] = outcome
        return outcome

    def loaded(self) -> dict[str, object] | Denial | asyncio.Future[Any]:
        """What `load_scopes` returned (loading it now if need be).

        Its mapping, the denial of every scope when it failed, or the future
        of either while an async `load_scopes` runs.
        """
        scopes = self._scopes
        if scopes is None:
            scopes = self._start_loading()
        elif not isinstance(scopes, (dict, Denial, asyncio.Future)):
            scopes = _accept_scopes(scopes)
        return scopes

    def _start_loading(self) -> dict[str, object] | Denial | asyncio.Future[Any]:
        # Run again if `load_scopes` itself cleared (what it returned was
        # read before the clear), and kept unless that run cleared too.
        for _ in range(2):
            generation = self.batches.generation
            loaded = _call_load_scopes(self._load_scopes, self.context, self.sync)
            scopes = (
                asyncio.ensure_future(self._await_scopes(loaded))
                if isawaitable(loaded)
                else loaded
            )
            if self.batches.generation == generation:
                self._scopes = scopes
                return scopes
        return scopes  # this check's alone, unremembered

    async def _await_scopes(
        self, loading: Awaitable[object]
    ) -> dict[str, object] | Denial:
        try:
            loaded = await within(loading, self.timeout)
        except asyncio.CancelledError as error:
            if really_cancelled():
                raise
            result: dict[str, object] | Denial = _no_scopes(error, "load_scopes")
        except asyncio.TimeoutError:
            result = timed_out("load_scopes", self.timeout)
        except Exception as error:
            result = _no_scopes(error, "load_scopes")
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
        if isinstance(loader, BatchScope):
            return self.batches.ask(name, loader, value, key)
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
        if result is True:  # the common answer, before the costlier checks
            return ALLOW
        if isawaitable(result):
            if self.sync or not has_running_loop():
                discard(result)
                return misconfigured(
                    f"scope {name!r} loader is async but the operation runs "
                    "synchronously (execute_sync); use schema.execute"
                )
            return self._share(key, _await_loader(result, name, value, self.timeout))
        return _answer(name, value, result)

    def _share(
        self, key: Hashable, computing: Awaitable[Outcome]
    ) -> asyncio.Future[Any]:
        table = self.results

        def remember(outcome: Outcome) -> None:
            if table.get(key) is future:  # else `clear` forgot it meanwhile
                table[key] = outcome

        future = shared(computing, remember)
        return future

    def clear(self, scope: str | None = None) -> None:
        """Forget answers (all, or every value of one scope) and the loaders.

        `load_scopes` runs again on the next need. A check already in flight
        finishes with its answer, unremembered (`Batches.cleared`)."""
        self._scopes = None
        self.batches.cleared()  # counts the clear: `Batches.generation`
        if scope is None:
            self.batches.listed.clear()
        else:
            self.batches.listed.pop(scope, None)
        results = self.results
        if scope is None:
            results.clear()
        else:
            for key in [k for k in results if type(k) is tuple and k[:1] == (scope,)]:
                del results[key]


_MISSING = object()


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
    return _answer(name, value, resolved)


def _answer(name: str, value: object, result: object) -> Outcome:
    """What a loader's (awaited) result means: only `True` and `False` count."""
    if result is True:
        return ALLOW
    if result is False:
        return forbidden(f"scope {name!r} denied {safe_repr(value)}")
    return misconfigured(
        f"scope {name!r} loader({safe_repr(value)}) returned "
        f"{safe_repr(result)}, expected a bool"
    )


def _call_load_scopes(
    load_scopes: LoadScopes, context: object, sync: bool
) -> dict[str, object] | Denial | Awaitable[object]:
    """What `load_scopes(context)` returned: its mapping, the denial of every
    scope, or its awaitable (run only in an operation with an event loop)."""
    try:
        loaded = load_scopes(context)
    except (Exception, asyncio.CancelledError) as error:
        return _no_scopes(error, "load_scopes")
    if not isawaitable(loaded):
        return _accept_scopes(loaded)
    if sync or not has_running_loop():
        discard(loaded)
        return misconfigured(
            "load_scopes is async but the operation runs synchronously "
            "(execute_sync); use schema.execute or a sync load_scopes"
        )
    return loaded


def _no_scopes(error: BaseException, during: str) -> Denial:
    """The denial of every scope when `load_scopes` raised.

    Its `GraphQLError` is still what the client sees, but it is a failure,
    not a scope saying no: no scope could be known, so `$not` must not turn
    it into a pass (an unauthenticated request is not "not banned").
    """
    denial = denial_from_exception(error, during)
    return Denial(denial.error, denial.reason, failed=True)


def _accept_scopes(loaded: object) -> dict[str, object] | Denial:
    if isinstance(loaded, Mapping):
        try:
            return dict(loaded)
        except Exception as error:
            return _no_scopes(error, "reading the mapping of load_scopes")
    return misconfigured(
        f"load_scopes returned {safe_repr(loaded)}, expected a mapping"
    )
