"""Attacks on a clear made by user code while a list's objects are decided.

`authz.clear_cache` called by a rule function (or a scope loader) that
switched the viewer, while a list is decided: nothing asked of the old
viewer's loaders may be served in the list, nor cached for a later field
asking the same value. Public API only, sync and async.
"""

import asyncio
from typing import Any

import pytest
import strawberry

from strawberry_authz import AuthExtension, BatchScope

ADMIN, GUEST = "admin", "guest"


def _loader_by_viewer(is_async: bool, size: int, log: list[Any] | None = None) -> Any:
    """`load_scopes` whose `can` answers True for the admin only; `flag` is a
    plain loader answering the same."""

    def scopes(context: Any) -> dict[str, Any]:
        viewer = context["user"]

        def answers(values: list[Any]) -> list[bool]:
            if log is not None:
                log.append((viewer, list(values)))
            return [viewer == ADMIN for _ in values]

        async def load_async(values: list[Any]) -> list[bool]:
            return answers(values)

        def flag(value: Any) -> bool:
            hook = context.get("flag_hook")
            if hook is not None:
                hook(value)
            # Read now: a loader that logs the viewer out answers for the guest.
            return bool(context["user"] == ADMIN)

        load = load_async if is_async else answers
        return {"can": BatchScope(load, max_batch_size=size), "flag": flag}

    return scopes


def _schema(
    authz: AuthExtension, rule: Any, is_async: bool, **type_rule: Any
) -> strawberry.Schema:
    @authz.type_rule(rule, on_object=True, **type_rule)
    @strawberry.type
    class Doc:
        id: int
        secret: str

    @strawberry.type
    class After:
        @authz.rule({"can": ["doc", 2]})
        @strawberry.field
        def two(self) -> str | None:
            return "SECRET-TWO"

    if is_async:

        @strawberry.type
        class Query:
            @strawberry.field
            def docs(self) -> list[Doc | None]:
                return [Doc(id=i, secret=f"SECRET{i}") for i in range(1, 6)]

            @strawberry.field
            async def after(self) -> After:
                await asyncio.sleep(0.05)
                return After()

    else:

        @strawberry.type
        class Query:  # type: ignore[no-redef]
            @strawberry.field
            def docs(self) -> list[Doc | None]:
                return [Doc(id=i, secret=f"SECRET{i}") for i in range(1, 6)]

            @strawberry.field
            def after(self) -> After:
                return After()

    schema = strawberry.Schema(query=Query, extensions=[authz])
    authz.validate(schema)
    return schema


def _run(schema: strawberry.Schema, is_async: bool, query: str | None = None) -> Any:
    query = query or "{ docs { id secret } after { two } }"
    context = {"user": ADMIN}
    if is_async:

        async def run() -> Any:
            return await asyncio.wait_for(
                schema.execute(query, context_value=context), 10
            )

        return asyncio.run(run())
    return schema.execute_sync(query, context_value=context)


def _assert_guest_sees_no_secret(result: Any) -> None:
    assert "SECRET" not in repr(result.data), result.data
    assert result.errors
    for error in result.errors:
        assert "Traceback" not in error.message


def _log_out(params: Any, authz: AuthExtension, scope: str | None = None) -> None:
    if params.context["user"] == ADMIN:
        params.context["user"] = GUEST
        if scope is None:
            authz.clear_cache(params.info)
        else:
            authz.clear_cache(params.info, scope)


LONG_WAYS = {
    "or": lambda i: {"$or": [{"can": ["doc", i]}, {"can": ["doc", 99]}]},
    "flag": lambda i: {"flag": i},
    "bool_scope_true": lambda i: {"can": ["doc", i], "flag": i},
}


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
@pytest.mark.parametrize("long_way", sorted(LONG_WAYS))
def test_a_last_object_clearing_then_taking_the_long_way_serves_nothing_of_the_admin(
    is_async, size, long_way
):
    # The objects before it were asked inline ({"can": value}); the one that
    # clears returns a rule the inline path does not take.
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        if params.root.id == 5:
            _log_out(params, authz)
            return LONG_WAYS[long_way](params.root.id)
        return {"can": ["doc", params.root.id]}

    _assert_guest_sees_no_secret(_run(_schema(authz, rule, is_async), is_async))


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_a_last_object_whose_rule_raises_after_clearing_serves_nothing_of_the_admin(
    is_async, size
):
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        if params.root.id == 5:
            _log_out(params, authz)
            raise RuntimeError("session gone /internal/path")
        return {"can": ["doc", params.root.id]}

    result = _run(_schema(authz, rule, is_async), is_async)
    _assert_guest_sees_no_secret(result)
    assert "/internal/path" not in repr(result.errors)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_a_plain_scope_loader_that_clears_mid_list_serves_nothing_of_the_old_viewer(
    is_async, size
):
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        context = params.context

        def hook(value: Any) -> None:
            if context["user"] == ADMIN:
                context["user"] = GUEST
                authz.clear_cache(params.info)

        context["flag_hook"] = hook
        if params.root.id == 5:
            return {"flag": 5}
        return {"can": ["doc", params.root.id]}

    _assert_guest_sees_no_secret(_run(_schema(authz, rule, is_async), is_async))


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
@pytest.mark.parametrize("at", [1, 3, 5])
def test_a_clear_of_the_asked_scope_alone_mid_list_serves_nothing_of_the_old_viewer(
    is_async, size, at
):
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        if params.root.id == at:
            _log_out(params, authz, "can")
        return {"can": ["doc", params.root.id]}

    _assert_guest_sees_no_secret(_run(_schema(authz, rule, is_async), is_async))


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    "size", [1, 2, 100], ids=["chunks_of_1", "chunks_of_2", "one_chunk"]
)
def test_clears_by_every_object_serve_nothing_of_the_admin(is_async, size):
    # Every object clears: the first as the admin logs out, the rest as the
    # guest (several clears in a row, the viewer unchanged after the first).
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        params.context["user"] = GUEST
        authz.clear_cache(params.info)
        return {"can": ["doc", params.root.id]}

    result = _run(_schema(authz, rule, is_async), is_async)
    _assert_guest_sees_no_secret(result)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_drop_denied_list_that_clears_mid_list_keeps_no_secret(is_async, size):
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        if params.root.id == 3:
            _log_out(params, authz)
        return {"can": ["doc", params.root.id]}

    result = _run(_schema(authz, rule, is_async, drop_denied=True), is_async)
    assert "SECRET" not in repr(result.data), result.data
