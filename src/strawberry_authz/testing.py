"""Testing a policy: run an operation as a viewer, assert what was decided.

```python
from strawberry_authz.testing import assert_allowed, assert_denied, run_as

result = run_as(schema, "{ note(id: 2) { body } }", scopes={"is_logged_in": True})
assert_allowed(result, "note")
assert_denied(result, "note.body", by="field", code="FORBIDDEN")
```

`run_as` (or `await run_as_async(...)`) executes one operation on a schema
with `load_scopes` replaced for that operation only (`scopes=` the viewer's
scopes, or `load_scopes=` a function of the context), and records every
authorization decision it made. `assert_allowed` / `assert_denied` check one
field by its response path, and which rule denied it (`by="type"`, the
`Decision.source`). Installed with the package, pytest also gets the fixture
`authz_run_as` (the `run_as` function) through the plugin entry point.
Nothing here changes a schema used outside these functions, except that its
guards now also report decisions to a recorder that is idle outside them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ._decisions import Decision, DecisionHook, decision_hook, hooks_of
from ._extension import AuthExtension, batch_observer_of
from ._scopes import LoadScopes

if TYPE_CHECKING:
    from strawberry import Schema
    from strawberry.types import ExecutionResult

__all__ = [
    "AuthzResult",
    "assert_allowed",
    "assert_denied",
    "assert_filter_matches_check",
    "run_as",
    "run_as_async",
]

# Helpers of other concepts re-exported here, one line each, written
# `from .module import name as name` (the `as` marks the re-export).
from ._filter_testing import assert_filter_matches_check as assert_filter_matches_check

_recording: ContextVar[list[Decision] | None] = ContextVar(
    "strawberry_authz.testing.recording", default=None
)
_replacement: ContextVar[LoadScopes | None] = ContextVar(
    "strawberry_authz.testing.load_scopes", default=None
)


@dataclasses.dataclass
class AuthzResult:
    """What one operation returned, and the decisions it made, in order."""

    result: ExecutionResult
    decisions: list[Decision]

    @property
    def data(self) -> Any:
        return self.result.data

    @property
    def errors(self) -> list[Any]:
        return list(self.result.errors or [])

    def decisions_at(self, path: str) -> list[Decision]:
        """The decisions about the field at `path` (see `assert_allowed`)."""
        return [d for d in self.decisions if _matches(d, path)]


def run_as(
    schema: Schema,
    query: str,
    *,
    scopes: Mapping[str, object] | None = None,
    load_scopes: LoadScopes | None = None,
    context: Any = None,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
    root_value: Any = None,
) -> AuthzResult:
    """Execute `query` with `schema.execute_sync` as the viewer `scopes` describe.

    `scopes` is what `load_scopes` would return for the viewer
    (`{"is_logged_in": True, "has_role": lambda role: role == "editor"}`);
    `load_scopes` replaces the function instead; with neither, the schema's
    own `load_scopes` runs. `context` is the request context resolvers get.
    """
    with _Operation(schema, scopes, load_scopes) as decisions:
        result = schema.execute_sync(
            query,
            variable_values=variables,
            context_value=context,
            root_value=root_value,
            operation_name=operation_name,
        )
    return AuthzResult(result, decisions)


async def run_as_async(
    schema: Schema,
    query: str,
    *,
    scopes: Mapping[str, object] | None = None,
    load_scopes: LoadScopes | None = None,
    context: Any = None,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
    root_value: Any = None,
) -> AuthzResult:
    """`run_as` with `await schema.execute` (async loaders and resolvers)."""
    with _Operation(schema, scopes, load_scopes) as decisions:
        result = await schema.execute(
            query,
            variable_values=variables,
            context_value=context,
            root_value=root_value,
            operation_name=operation_name,
        )
    return AuthzResult(result, decisions)


def assert_allowed(result: AuthzResult, path: str) -> None:
    """Assert the field at `path` was checked and allowed (every instance).

    `path` is the response path joined with dots (`"notes.0.body"`, aliases
    as written in the query); without list indices it means every item
    (`"notes.body"`). `"Note.body"` (type and field) also works. A field
    instance is allowed when every check of it passed (a pre rule and a
    post rule are two decisions).
    """
    denied = [d for d in _outcomes(result, path) if not d.allowed]
    if denied:
        raise AssertionError(
            f"expected {path!r} allowed, but it was denied: {_describe(denied)}"
        )


def assert_denied(
    result: AuthzResult,
    path: str,
    *,
    by: str | None = None,
    code: str | None = None,
) -> None:
    """Assert the field at `path` was denied (every instance).

    `by` is the part of the policy that denied it, as `Decision.source`
    names it: `"default"`, `"type"`, `"interface"`, `"field"`, `"post"` or
    `"fallback"`. `code` is the denial's code (`"FORBIDDEN"`,
    `"UNAUTHENTICATED"`, `"INTERNAL_SERVER_ERROR"` for a failure, ...).
    """
    outcomes = _outcomes(result, path)
    allowed = [d for d in outcomes if d.allowed]
    if allowed:
        raise AssertionError(
            f"expected {path!r} denied, but it was allowed: {_describe(allowed)}"
        )
    for decision in outcomes:
        if by is not None and decision.source != by:
            raise AssertionError(
                f"expected {path!r} denied by {by!r}, but it was denied by "
                f"{decision.source!r}: {_describe([decision])}"
            )
        if code is not None and decision.code != code:
            raise AssertionError(
                f"expected {path!r} denied with {code!r}, got {decision.code!r}: "
                f"{_describe([decision])}"
            )


# -- how an operation is run and recorded ----------------------------------------


class _Recorder:
    """The decision hook `testing` adds: idle outside `run_as`."""

    def __call__(self, decision: Decision) -> None:
        recording = _recording.get()
        if recording is not None:
            recording.append(decision)


class _ReplaceableLoadScopes:
    """The extension's `load_scopes`, unless `run_as` replaced it for now."""

    def __init__(self, original: LoadScopes) -> None:
        self.original = original

    def __call__(self, context: Any) -> Any:
        replacement = _replacement.get()
        if replacement is None:
            return self.original(context)
        return replacement(context)


_RECORDER = _Recorder()


class _Operation:
    """Records the decisions of one operation with `load_scopes` replaced."""

    def __init__(
        self,
        schema: Schema,
        scopes: Mapping[str, object] | None,
        load_scopes: LoadScopes | None,
    ) -> None:
        if scopes is not None and load_scopes is not None:
            raise TypeError("run_as: give scopes= or load_scopes=, not both")
        extensions = [e for e in schema.extensions if isinstance(e, AuthExtension)]
        if not extensions:
            raise TypeError("run_as: the schema lists no AuthExtension")
        for authz in extensions:
            _prepare(authz, schema)
        if scopes is not None:
            viewer = dict(scopes)
            load_scopes = lambda context: viewer  # noqa: E731
        self.load_scopes = load_scopes
        self.decisions: list[Decision] = []

    def __enter__(self) -> list[Decision]:
        self._tokens = (
            _recording.set(self.decisions),
            _replacement.set(self.load_scopes),
        )
        return self.decisions

    def __exit__(self, *exc_info: object) -> None:
        recording, replacement = self._tokens
        _replacement.reset(replacement)
        _recording.reset(recording)


def _prepare(authz: AuthExtension, schema: Schema) -> None:
    """Give `authz` the recorder and a replaceable `load_scopes`, once.

    The guards read the decision hooks when they are built, so a schema
    installed before is installed again (its guards are replaced, never
    stacked).
    """
    if not isinstance(authz._load_scopes, _ReplaceableLoadScopes):
        authz._load_scopes = _ReplaceableLoadScopes(authz._load_scopes)
    settings = authz._settings
    if _RECORDER not in hooks_of(settings.on_decision):
        hooks: list[DecisionHook] = [*hooks_of(settings.on_decision), _RECORDER]
        settings = dataclasses.replace(settings, on_decision=decision_hook(hooks))
        authz._settings = settings
        authz._inline.settings = settings
        authz._batch_observer = batch_observer_of(settings.on_decision)
        authz._installed.clear()
    if id(schema) not in authz._installed:
        authz._install(schema)


# -- finding decisions by path ---------------------------------------------------


def _matches(decision: Decision, path: str) -> bool:
    exact = ".".join(map(str, decision.path))
    if path in (exact, decision.coordinate):
        return True
    return path == ".".join(p for p in decision.path if isinstance(p, str))


def _outcomes(result: AuthzResult, path: str) -> list[Decision]:
    """One decision per field instance at `path`: its denial, else its last."""
    found = result.decisions_at(path)
    if not found:
        seen = sorted({".".join(map(str, d.path)) for d in result.decisions})
        raise AssertionError(
            f"no authorization decision for {path!r} (is any rule on it, and "
            f"was it queried?); decided: {', '.join(seen) or 'nothing'}"
        )
    by_instance: dict[tuple[str | int, ...], Decision] = {}
    for decision in found:
        key = tuple(decision.path)
        known = by_instance.get(key)
        if known is None or known.allowed:
            by_instance[key] = decision
    return list(by_instance.values())


def _describe(decisions: list[Decision]) -> str:
    return "; ".join(
        ".".join(map(str, d.path))
        + (" allowed" if d.allowed else f" denied by {d.source} ({d.code}): {d.reason}")
        for d in decisions[:5]
    ) + (f" (and {len(decisions) - 5} more)" if len(decisions) > 5 else "")


# -- the pytest plugin (entry point `pytest11`) -----------------------------------

try:
    import pytest
except ImportError:  # a production install: no fixtures, nothing else changes
    pass
else:

    @pytest.fixture
    def authz_run_as() -> Any:
        """`strawberry_authz.testing.run_as`, as a fixture."""
        return run_as
