"""A clear made by user code while a list is decided never caches the old
viewer's answers.

A list decides all its objects' rules in one pass, asking a `BatchScope`
through queues bound to the loaders of the moment. User code that runs
inside that pass — a rule function, a `load_fn` — may switch the viewer and
call `clear_cache`. Values asked of the old viewer's loader may then still
be answered (a check in flight finishes), but never for the new viewer: not
served in the list, not cached for a later field. Sync (`execute_sync`,
where the pass has no event loop to yield to) and async alike.
"""

import asyncio
from typing import Any

import pytest
import strawberry

from strawberry_authz import AuthExtension, BatchScope

ADMIN, GUEST = "admin", "guest"


def _loader_by_viewer(is_async: bool, size: int, during: Any = None) -> Any:
    """`load_scopes` whose `can` answers True for the admin only."""

    def scopes(context: Any) -> dict[str, Any]:
        viewer = context["user"]

        def answers(values: list[Any]) -> list[bool]:
            if during is not None:
                during(context)
            return [viewer == ADMIN for _ in values]

        async def load_async(values: list[Any]) -> list[bool]:
            return answers(values)

        load = load_async if is_async else answers
        return {"can": BatchScope(load, max_batch_size=size)}

    return scopes


def _schema(authz: AuthExtension, rule: Any, is_async: bool) -> strawberry.Schema:
    @authz.type_rule(rule, on_object=True)
    @strawberry.type
    class Doc:
        id: int
        secret: str

    @strawberry.type
    class After:
        @authz.rule({"can": ["doc", 4]})
        @strawberry.field
        def four(self) -> str | None:
            return "SECRET-FOUR"

    if is_async:

        @strawberry.type
        class Query:
            @strawberry.field
            def docs(self) -> list[Doc | None]:
                return [Doc(id=i, secret=f"SECRET{i}") for i in range(1, 6)]

            @strawberry.field
            async def after(self) -> After:
                # Resolved once the list was decided: `four` is asked after
                # the clear, never in flight before it.
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


def _run(schema: strawberry.Schema, is_async: bool) -> Any:
    query = "{ docs { id secret } after { four } }"
    context = {"user": ADMIN}
    if is_async:
        return asyncio.run(schema.execute(query, context_value=context))
    return schema.execute_sync(query, context_value=context)


def _assert_guest_sees_nothing(result: Any) -> None:
    assert "SECRET" not in repr(result.data)
    assert result.data == {"docs": [None] * 5, "after": {"four": None}}
    assert result.errors


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_a_rule_function_that_clears_mid_list_serves_nothing_of_the_old_viewer(
    is_async, size
):
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        if params.root.id == 3 and params.context["user"] == ADMIN:
            params.context["user"] = GUEST  # logged out while the list is decided
            authz.clear_cache(params.info)
        return {"can": ["doc", params.root.id]}

    _assert_guest_sees_nothing(_run(_schema(authz, rule, is_async), is_async))


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_rule_set_asked_before_a_clear_mid_list_is_not_cached_for_the_new_viewer(
    is_async,
):
    # `$or` takes the general path (no inline batch value): its values are
    # queued through the scope cache, before the clear.
    authz = AuthExtension(_loader_by_viewer(is_async, 100))

    def rule(params: Any) -> Any:
        if params.root.id == 5 and params.context["user"] == ADMIN:
            params.context["user"] = GUEST
            authz.clear_cache(params.info)
        return {"$or": [{"can": ["doc", params.root.id]}, {"can": ["doc", 99]}]}

    _assert_guest_sees_nothing(_run(_schema(authz, rule, is_async), is_async))


def test_answers_of_a_load_fn_that_clears_while_answering_are_not_cached():
    # Sync: the list's batch is answered before the next field is asked.
    # With an event loop a field may ask the same value while that batch is
    # in flight, and a check in flight finishes with its answer.
    def log_out(context: Any) -> None:
        if context["user"] == ADMIN:
            context["user"] = GUEST
            authz.clear_cache(context["info"])

    authz = AuthExtension(_loader_by_viewer(False, 100, during=log_out))

    def rule(params: Any) -> Any:
        params.context["info"] = params.info
        return {"can": ["doc", params.root.id]}

    result = _run(_schema(authz, rule, False), False)
    assert result.data["after"] == {"four": None}
    assert "SECRET-FOUR" not in repr(result.data)
