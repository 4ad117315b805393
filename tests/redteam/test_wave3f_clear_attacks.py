"""Attacks on a clear made by user code while a list's objects are decided.

`authz.clear_cache` called by a rule function (or a scope loader) that
switched the viewer, while a list is decided: nothing asked of the old
viewer's loaders may be served in the list, nor cached for a later field
asking the same value. Public API only, sync and async.
"""

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from authzkit import ruled_type

from strawberry_authz import AuthExtension, BatchScope
from strawberry_authz.audit import AuditLog

ADMIN, GUEST = "admin", "guest"


def _loader_by_viewer(
    is_async: bool,
    size: int,
    log: list[Any] | None = None,
    guest_reads_from: int | None = None,
    on_load: Any = None,
    on_answer: Any = None,
) -> Any:
    """`load_scopes` whose `can` answers True for the admin only (and for
    the guest, documents from `guest_reads_from` on); `flag` is a plain
    loader answering as `can` does for the admin. `on_load(context)` runs
    once the viewer was read, `on_answer(context)` as `can` answers: user
    code that may log the viewer out."""

    def scopes(context: Any) -> dict[str, Any]:
        viewer = context["user"]
        if on_load is not None:
            on_load(context)

        def answers(values: list[Any]) -> list[bool]:
            if on_answer is not None:
                on_answer(context)
            if log is not None:
                log.append((viewer, list(values)))
            if guest_reads_from is not None and viewer == GUEST:
                return [value[1] >= guest_reads_from for value in values]
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
    authz: AuthExtension, rule: Any, is_async: bool, asked: int = 2, **type_rule: Any
) -> strawberry.Schema:
    """Five documents under `rule`; `after { later }` asks ["doc", `asked`]."""

    Doc = _secret_type(authz, rule, **type_rule)

    @strawberry.type
    class Docs:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return [Doc(id=i, secret=f"SECRET{i}") for i in range(1, 6)]

    return _with_after(authz, Docs, is_async, asked)


def _secret_type(
    authz: AuthExtension, rule: Any, name: str = "Doc", **options: Any
) -> Any:
    """A type `name` (`id`, `secret`) under `type_rule(rule, on_object=True)`."""
    fields = {"id": int, "secret": str}
    return ruled_type(authz, name, fields, rule, on_object=True, **options)


def _with_after(
    authz: AuthExtension,
    query: type,
    is_async: bool,
    asked: int = 2,
    types: tuple[type, ...] = (),
) -> strawberry.Schema:
    """The schema of `query` (and `types`) and a field `after { later }`
    asking ["doc", `asked`]: with an event loop, once the list was decided
    (after any clear it made, never in flight before it)."""

    @strawberry.type
    class After:
        @authz.rule({"can": ["doc", asked]})
        @strawberry.field
        def later(self) -> str | None:
            return "SECRET-LATER"

    if is_async:

        @strawberry.type
        class Query(query):  # type: ignore[valid-type,misc]
            @strawberry.field
            async def after(self) -> After:
                await asyncio.sleep(0.05)
                return After()

    else:

        @strawberry.type
        class Query(query):  # type: ignore[valid-type,misc,no-redef]
            @strawberry.field
            def after(self) -> After:
                return After()

    schema = strawberry.Schema(query=Query, types=list(types), extensions=[authz])
    authz.validate(schema)
    return schema


def _run(schema: strawberry.Schema, is_async: bool, query: str | None = None) -> Any:
    query = query or "{ docs { id secret } after { later } }"
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


def _flag_logs_out(params: Any, authz: AuthExtension, at: int | None = None) -> None:
    """The plain loader `flag` logs the admin out as it answers (for value
    `at` only, when given): a loader clearing the cache."""
    context = params.context

    def hook(value: Any) -> None:
        if (at is None or value == at) and context["user"] == ADMIN:
            _log_out(params, authz)

    context["flag_hook"] = hook


def _keeping_info(params: Any) -> Any:
    """A rule asking `{"can": ["doc", id]}` that leaves `info` in the
    context, for a loader to clear with."""
    params.context["info"] = params.info
    return {"can": ["doc", params.root.id]}


def _clearing_at(authz: AuthExtension, at: int) -> Any:
    """A rule asking `{"can": ["doc", id]}` that logs the admin out at
    document `at` (`_log_out`)."""

    def rule(params: Any) -> Any:
        if params.root.id == at:
            _log_out(params, authz)
        return {"can": ["doc", params.root.id]}

    return rule


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_a_value_asked_after_a_clear_mid_list_is_the_new_viewers(is_async, size):
    # Doc 4 is asked after doc 3's rule cleared: of the guest's loader, for
    # the list and for `after.later`, never through the admin's queue.
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    rule = _clearing_at(authz, 3)

    result = _run(_schema(authz, rule, is_async, asked=4), is_async)
    assert result.data == {"docs": [None] * 5, "after": {"later": None}}


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_objects_after_a_clear_mid_list_are_decided_for_the_new_viewer(is_async, size):
    # The guest may read documents 4 and 5: asked after doc 3's rule
    # cleared, they are served to the guest; those asked before the clear
    # are denied as undecided.
    authz = AuthExtension(_loader_by_viewer(is_async, size, guest_reads_from=4))

    rule = _clearing_at(authz, 3)

    result = _run(_schema(authz, rule, is_async), is_async)
    assert result.data == {
        "docs": [None, None, None]
        + [{"id": i, "secret": f"SECRET{i}"} for i in (4, 5)],
        "after": {"later": None},
    }


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
        _flag_logs_out(params, authz)
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
@pytest.mark.parametrize("at", [3, 5])
def test_drop_denied_list_that_clears_mid_list_keeps_no_secret(is_async, size, at):
    # At 5 (the last object) the rule takes the long way after clearing.
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        if params.root.id == at:
            _log_out(params, authz)
            if at == 5:
                return {"$or": [{"can": ["doc", 5]}]}
        return {"can": ["doc", params.root.id]}

    result = _run(_schema(authz, rule, is_async, drop_denied=True), is_async)
    assert "SECRET" not in repr(result.data), result.data


def _shaped_schema(authz: AuthExtension, rule: Any, is_async: bool, shape: str) -> Any:
    """`docs` returned as `shape`, then `after { later }` (`_with_after`)."""

    Doc = _secret_type(authz, rule)

    Note = _secret_type(authz, rule, "Note")

    def make(i: int) -> Any:
        kind = Note if shape == "union" and i % 2 else Doc
        return kind(id=i, secret=f"SECRET{i}")

    item = Doc | Note if shape == "union" else Doc

    if shape == "nested":

        @strawberry.type
        class Query:
            @strawberry.field
            def docs(self) -> list[list[Doc | None]]:
                return [[make(i), make(i + 1)] for i in (1, 3, 5)]

    else:

        @strawberry.type
        class Query:  # type: ignore[no-redef]
            @strawberry.field
            def docs(self) -> list[item | None]:  # type: ignore[valid-type]
                made = (make(i) for i in range(1, 7))
                if shape == "tuple":
                    return tuple(made)  # type: ignore[return-value]
                if shape == "generator":
                    return made  # type: ignore[return-value]
                return list(made)

    return _with_after(authz, Query, is_async)


SHAPES = ["list", "tuple", "generator", "union", "nested"]
QUERIES = {
    "union": "{ docs { ... on Doc { id secret } ... on Note { id secret } } "
    "after { later } }",
}


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("at", [3, 6])
def test_a_list_of_any_shape_cleared_mid_pass_serves_nothing_of_the_admin(
    is_async, size, shape, at
):
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        if params.root.id == at:
            _log_out(params, authz)
            if at == 6:  # the last object, the long way
                return {"$or": [{"can": ["doc", 6]}]}
        return {"can": ["doc", params.root.id]}

    schema = _shaped_schema(authz, rule, is_async, shape)
    result = _run(schema, is_async, QUERIES.get(shape))
    assert result.data is not None and result.data["docs"], result.errors
    _assert_guest_sees_no_secret(result)


RULES = {
    "scalar": lambda i: {"can": i},
    "chain": lambda i: {"$chain": [{"can": ["doc", i]}, {"can": ["doc", i + 100]}]},
    "and_plain": lambda i: {"$and": [{"can": ["doc", i]}, {"flag": i}]},
}


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
@pytest.mark.parametrize("form", sorted(RULES))
@pytest.mark.parametrize("at", [3, 5])
def test_rule_forms_cleared_mid_list_serve_nothing_of_the_admin(
    is_async, size, form, at
):
    authz = AuthExtension(_loader_by_viewer(is_async, size))
    make = RULES[form]

    def rule(params: Any) -> Any:
        if params.root.id == at:
            _log_out(params, authz)
        return make(params.root.id)

    schema = _schema(authz, rule, is_async)
    query = "{ docs { id secret } after { later } }"
    result = _run(schema, is_async, query)
    assert result.data is not None and result.data["docs"], result.errors
    assert "SECRET" not in repr(result.data["docs"]), result.data
    if form != "scalar":
        assert result.data["after"] == {"later": None}


@pytest.mark.parametrize(
    "size", [1, 2, 100], ids=["chunks_of_1", "chunks_of_2", "one_chunk"]
)
def test_an_async_load_fn_that_clears_serves_the_guest_nothing_asked_after(size):
    # The chunk whose load_fn clears is in flight: its answers may reach
    # nobody after the clear, neither the list's objects nor `after.later`.
    def log_out(context: Any) -> None:
        if context["user"] == ADMIN:
            context["user"] = GUEST
            authz.clear_cache(context["info"])

    def scopes(context: Any) -> dict[str, Any]:
        viewer = context["user"]

        async def load(values: list[Any]) -> list[bool]:
            log_out(context)
            await asyncio.sleep(0)
            return [viewer == ADMIN for _ in values]

        return {"can": BatchScope(load, max_batch_size=size)}

    authz = AuthExtension(scopes)

    def rule(params: Any) -> Any:
        params.context["info"] = params.info
        return {"can": ["doc", params.root.id]}

    result = _run(_schema(authz, rule, True), True)
    assert result.data["after"] == {"later": None}


@pytest.mark.parametrize("call", [1, 2], ids=["first_chunk", "second_chunk"])
def test_a_sync_load_fn_that_clears_in_one_chunk_caches_nothing_of_that_chunk(call):
    # Chunks of 2: [1, 2], [3, 4], [5]. The load_fn logs the viewer out
    # while answering chunk `call`: neither that chunk's answers nor the
    # earlier chunks' are served to the guest or cached for `after.later`.
    calls: list[Any] = []

    def on_answer(context: Any) -> None:
        calls.append(context["user"])
        if len(calls) == call and context["user"] == ADMIN:
            context["user"] = GUEST
            authz.clear_cache(context["info"])

    authz = AuthExtension(_loader_by_viewer(False, 2, on_answer=on_answer))
    schema = _schema(authz, _keeping_info, False, asked=2 if call == 1 else 4)
    result = _run(schema, False)
    _assert_guest_sees_no_secret(result)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("shape", ["list", "nested"])
def test_an_on_decision_hook_that_clears_records_what_the_list_served(is_async, shape):
    # The list was decided (and served) as the admin; the hook logs the
    # viewer out at the first object's record. The records of the other
    # objects tell what was applied to them, not a decision made afresh
    # after the clear (which said "denied" for objects that were served).
    seen: dict[str, Any] = {}
    records: list[tuple[Any, bool]] = []

    def hook(decision: Any) -> None:
        records.append((decision.path, decision.allowed))
        context = seen.get("context")
        if len(records) == 1 and context and context["user"] == ADMIN:
            context["user"] = GUEST
            authz.clear_cache(seen["info"])

    authz = AuthExtension(_loader_by_viewer(is_async, 100), on_decision=hook)

    def rule(params: Any) -> Any:
        seen["context"], seen["info"] = params.context, params.info
        return {"can": ["doc", params.root.id]}

    schema = _shaped_schema(authz, rule, is_async, shape)
    result = _run(schema, is_async)
    docs = result.data["docs"]
    served = docs if shape == "list" else [doc for pair in docs for doc in pair]
    listed = [allowed for path, allowed in records if path[0] == "docs"]
    assert listed == [doc is not None for doc in served], (records, result.data)
    assert result.data["after"] == {"later": None}


def _async_loader_by_viewer(size: int) -> Any:
    """An async `load_scopes`: `can` answers True for the admin only."""

    async def scopes(context: Any) -> dict[str, Any]:
        viewer = context["user"]
        # The admin's scopes come last: they must not replace the guest's.
        await asyncio.sleep(0.02 if viewer == ADMIN else 0)

        async def load(values: list[Any]) -> list[bool]:
            await asyncio.sleep(0)
            return [viewer == ADMIN for _ in values]

        return {"can": BatchScope(load, max_batch_size=size)}

    return scopes


@pytest.mark.parametrize("size", [1, 2, 100], ids=["chunks_of_1", "chunks_of_2", "one"])
@pytest.mark.parametrize("at", [1, 2, 3, 5])
@pytest.mark.parametrize("long_way", [False, True], ids=["inline", "long_way"])
def test_an_async_load_scopes_reloaded_mid_list_serves_nothing_of_the_admin(
    size, at, long_way
):
    # The clear drops the loaded scopes: the rest of the list waits for an
    # async `load_scopes` run afresh (as the guest), never hanging.
    authz = AuthExtension(_async_loader_by_viewer(size))

    def rule(params: Any) -> Any:
        if params.root.id == at:
            _log_out(params, authz)
        if long_way:
            return {"$or": [{"can": ["doc", params.root.id]}]}
        return {"can": ["doc", params.root.id]}

    result = _run(_schema(authz, rule, True), True)
    assert result.data is not None, result.errors
    _assert_guest_sees_no_secret(result)


@pytest.mark.parametrize("size", [1, 2, 100], ids=["chunks_of_1", "chunks_of_2", "one"])
@pytest.mark.parametrize("long_way", [False, True], ids=["inline", "long_way"])
def test_a_sibling_resolver_that_clears_while_an_async_list_waits_serves_no_later_field(
    size, long_way
):
    # `logout` runs while `docs`' batches are in flight: it switches the
    # viewer and clears. `after.later` (asked after) is the guest's.
    authz = AuthExtension(_loader_by_viewer(True, size))

    def rule(params: Any) -> Any:
        if long_way:
            return {"$or": [{"can": ["doc", params.root.id]}]}
        return {"can": ["doc", params.root.id]}

    Doc = _secret_type(authz, rule)

    @strawberry.type
    class Query:
        @strawberry.field
        async def docs(self) -> list[Doc | None]:
            return [Doc(id=i, secret=f"SECRET{i}") for i in range(1, 6)]

        @strawberry.field
        async def logout(self, info: strawberry.Info) -> bool:
            info.context["user"] = GUEST
            authz.clear_cache(info)
            return True

    schema = _with_after(authz, Query, True)
    result = _run(schema, True, "{ docs { id secret } logout after { later } }")
    assert result.data["after"] == {"later": None}, result.data


@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one"])
def test_an_async_generator_list_cleared_mid_pass_serves_nothing_of_the_admin(size):
    authz = AuthExtension(_loader_by_viewer(True, size))

    rule = _clearing_at(authz, 3)

    Doc = _secret_type(authz, rule)

    @strawberry.type
    class Query:
        @strawberry.field
        async def docs(self) -> list[Doc | None]:
            async def made() -> Any:
                for i in range(1, 6):
                    yield Doc(id=i, secret=f"SECRET{i}")

            return made()  # type: ignore[return-value]

    result = _run(_with_after(authz, Query, True, asked=4), True)
    assert result.data is not None, result.errors
    _assert_guest_sees_no_secret(result)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [1, 2, 100], ids=["chunks_of_1", "chunks_of_2", "one"])
def test_a_load_fn_that_clears_then_raises_leaks_no_error_text(is_async, size):
    def on_answer(context: Any) -> None:
        if context["user"] == ADMIN:
            context["user"] = GUEST
            authz.clear_cache(context["info"])
            raise KeyError("db password hunter2 at /srv/app.py")

    authz = AuthExtension(_loader_by_viewer(is_async, size, on_answer=on_answer))
    result = _run(_schema(authz, _keeping_info, is_async), is_async)
    _assert_guest_sees_no_secret(result)
    assert "hunter2" not in repr(result.errors) and "KeyError" not in repr(
        result.errors
    )
    assert "/srv" not in repr([e.formatted for e in result.errors])


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
@pytest.mark.parametrize("at", [3, 5])
def test_a_type_rule_on_fields_cleared_mid_list_serves_nothing_of_the_admin(
    is_async, size, at
):
    # `type_rule` without `on_object`: each object's fields are denied.
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        if params.root.id == at:
            _log_out(params, authz)
            if at == 5:
                return {"$or": [{"can": ["doc", 5]}]}
        return {"can": ["doc", params.root.id]}

    @authz.type_rule(rule)
    @strawberry.type
    class Doc:
        id: strawberry.Private[int]
        secret: str | None

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:
            return [Doc(id=i, secret=f"SECRET{i}") for i in range(1, 6)]

    schema = _with_after(authz, Query, is_async)
    result = _run(schema, is_async, "{ docs { secret } after { later } }")
    assert result.data is not None, result.errors
    _assert_guest_sees_no_secret(result)


@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_a_clear_in_a_subscription_events_list_leaves_the_next_events_to_the_guest(
    size,
):
    authz = AuthExtension(_loader_by_viewer(True, size))

    rule = _clearing_at(authz, 3)

    Doc = _secret_type(authz, rule)

    @strawberry.type
    class Query:
        x: int = 1

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def docs(self) -> AsyncGenerator[list[Doc | None], None]:
            for _ in range(3):
                yield [Doc(id=i, secret=f"SECRET{i}") for i in range(1, 6)]

    schema = strawberry.Schema(
        query=Query, subscription=Subscription, extensions=[authz]
    )

    async def main() -> list[Any]:
        stream = await schema.subscribe(
            "subscription { docs { id secret } }", context_value={"user": ADMIN}
        )
        return [event.data async for event in stream]

    events = asyncio.run(asyncio.wait_for(main(), 10))
    assert len(events) == 3, events
    assert "SECRET" not in repr(events[1:]), events


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_a_plain_loader_clearing_in_a_later_round_serves_nothing_of_the_admin(
    is_async, size
):
    # `$chain`: the batch value is asked first (round one), the plain scope
    # after its answer (round two), where its loader logs the viewer out.
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        _flag_logs_out(params, authz, at=3)
        i = params.root.id
        return {"$chain": [{"can": ["doc", i]}, {"flag": i}]}

    result = _run(_schema(authz, rule, is_async), is_async)
    # Those decided before the clear are undecided after it: denied too.
    assert result.data == {"docs": [None] * 5, "after": {"later": None}}


def _relay_schema(
    authz: AuthExtension, rule: Any, is_async: bool, **type_rule: Any
) -> strawberry.Schema:
    """`docs`: a relay connection of five `Doc` nodes under `rule`."""
    from strawberry import relay

    @authz.type_rule(rule, on_object=True, **type_rule)
    @strawberry.type
    class Doc(relay.Node):
        id: relay.NodeID[int]
        secret: str

    @strawberry.type
    class Query:
        @relay.connection(relay.ListConnection[Doc] | None)  # type: ignore[arg-type]
        def docs(self) -> list[Doc]:
            return [Doc(id=i, secret=f"SECRET{i}") for i in range(1, 6)]

    return _with_after(authz, Query, is_async)


RELAY = "{ docs(first: 5) { edges { node { id secret } } } after { later } }"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
@pytest.mark.parametrize("at", [1, 3, 5])
@pytest.mark.parametrize("drop", [False, True], ids=["null", "drop_denied"])
def test_a_relay_connection_cleared_mid_page_serves_nothing_of_the_admin(
    is_async, size, at, drop
):
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        if params.root.id == at:
            _log_out(params, authz)
            if at == 5:
                return {"$or": [{"can": ["doc", 5]}]}
        return {"can": ["doc", params.root.id]}

    schema = _relay_schema(authz, rule, is_async, drop_denied=drop)
    result = _run(schema, is_async, RELAY)
    assert result.data is not None, result.errors
    assert "SECRET" not in repr(result.data), result.data
    assert result.data["after"] == {"later": None}, result.data
    for error in result.errors or []:
        assert "Traceback" not in error.message and "Error(" not in error.message


@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_relay_nodes_asked_after_a_clear_by_the_first_node_are_the_new_viewers(size):
    # `after { later }` first (sync: in order) loads the admin's scopes; the
    # first node's rule clears before returning: every node is asked after
    # it, of the guest's loader only (`edge.node` is non-null, so a node
    # denied as undecided would null the page: none may be).
    log: list[Any] = []

    def scopes(context: Any) -> dict[str, Any]:
        viewer = context["user"]

        def answers(values: list[Any]) -> list[bool]:
            log.append(viewer)
            return [True for _ in values]

        return {"can": BatchScope(answers, max_batch_size=size)}

    authz = AuthExtension(scopes)

    rule = _clearing_at(authz, 1)

    query = "{ after { later } docs(first: 5) { edges { node { id secret } } } }"
    result = _run(_relay_schema(authz, rule, False), False, query)
    assert result.errors is None, result.errors
    nodes = [edge["node"]["secret"] for edge in result.data["docs"]["edges"]]
    assert nodes == [f"SECRET{i}" for i in range(1, 6)]
    assert log[0] == ADMIN and set(log[1:]) == {GUEST}, log


def _interface_schema(
    authz: AuthExtension, rule: Any, is_async: bool, where: str, **type_rule: Any
) -> strawberry.Schema:
    """`docs`: a list of the interface `Item`, Doc and Note alternating,
    under `rule` on each implementation or (`where="interface"`) on `Item`."""
    guard = authz.type_rule(rule, on_object=True, **type_rule)
    on_item, on_kind = (guard, None) if where == "interface" else (None, guard)

    @strawberry.interface
    class Item:
        id: int
        secret: str

    if on_item is not None:
        on_item(Item)

    @strawberry.type
    class Doc(Item):
        pass

    @strawberry.type
    class Note(Item):
        pass

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Item | None]:
            return [
                (Note if i % 2 else Doc)(id=i, secret=f"SECRET{i}") for i in range(1, 6)
            ]

    if on_kind is not None:
        on_kind(Doc)
        on_kind(Note)

    return _with_after(authz, Query, is_async, types=(Doc, Note))


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
@pytest.mark.parametrize("at", [1, 3, 5])
@pytest.mark.parametrize("drop", [False, True], ids=["null", "drop_denied"])
@pytest.mark.parametrize("where", ["implementations", "interface"])
def test_an_interface_list_cleared_mid_list_serves_nothing_of_the_admin(
    is_async, size, at, drop, where
):
    authz = AuthExtension(_loader_by_viewer(is_async, size))

    def rule(params: Any) -> Any:
        if params.root.id == at:
            _log_out(params, authz)
            if at == 5:
                return {"$or": [{"can": ["doc", 5]}]}
        return {"can": ["doc", params.root.id]}

    schema = _interface_schema(authz, rule, is_async, where, drop_denied=drop)
    result = _run(schema, is_async, "{ docs { __typename id secret } after { later } }")
    assert result.data is not None, result.errors
    assert "SECRET" not in repr(result.data), result.data
    assert result.data["after"] == {"later": None}, result.data
    for error in result.errors or []:
        assert "Traceback" not in error.message and "Error(" not in error.message


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
@pytest.mark.parametrize("drop", [False, True], ids=["null", "drop_denied"])
@pytest.mark.parametrize("where", ["implementations", "interface"])
def test_interface_objects_after_a_clear_mid_list_are_decided_for_the_new_viewer(
    is_async, size, drop, where
):
    # Doc and Note alternate; the guest may read 4 and 5 (a Note and a Doc).
    authz = AuthExtension(_loader_by_viewer(is_async, size, guest_reads_from=4))

    rule = _clearing_at(authz, 3)

    schema = _interface_schema(authz, rule, is_async, where, drop_denied=drop)
    result = _run(schema, is_async, "{ docs { __typename id secret } after { later } }")
    served = [
        {"__typename": "Doc", "id": 4, "secret": "SECRET4"},
        {"__typename": "Note", "id": 5, "secret": "SECRET5"},
    ]
    assert result.data == {
        "docs": served if drop else [None, None, None, *served],
        "after": {"later": None},
    }, result.data


def _assert_no_admin_scopes_behind(
    authz: AuthExtension, call: int, is_async: bool, loads: list[str]
) -> None:
    """Five documents and `after.later` under a rule that, for `call` 2,
    clears at document 2 keeping the viewer (the reload of `load_scopes`
    is the one that logs out): `later` is never the admin's, and no
    failure says more than a plain message."""

    def rule(params: Any) -> Any:
        params.context["info"] = params.info
        if call == 2 and params.root.id == 2 and params.context["user"] == ADMIN:
            authz.clear_cache(params.info)
        return {"can": ["doc", params.root.id]}

    result = _run(_schema(authz, rule, is_async), is_async)
    assert result.data is not None, result.errors
    assert result.data["after"] == {"later": None}, (loads, result.data)
    for error in result.errors or []:
        assert "Traceback" not in error.message


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [1, 2, 100], ids=["chunks_of_1", "chunks_of_2", "one"])
@pytest.mark.parametrize("call", [1, 2], ids=["first_load", "second_load"])
def test_a_load_scopes_that_clears_while_loading_leaves_no_admin_scopes_behind(
    is_async, size, call
):
    # The user's `load_scopes` itself logs the viewer out on its `call`-th
    # run (the second is the reload after a rule's clear), and returns the
    # scopes of the viewer it read first: in flight, never remembered.
    loads: list[str] = []

    def on_load(context: Any) -> None:
        loads.append(context["user"])
        if len(loads) == call and context["user"] == ADMIN:
            context["user"] = GUEST
            authz.clear_cache(context["info"])

    authz = AuthExtension(_loader_by_viewer(is_async, size, on_load=on_load))

    _assert_no_admin_scopes_behind(authz, call, is_async, loads)


@pytest.mark.parametrize("size", [1, 2, 100], ids=["chunks_of_1", "chunks_of_2", "one"])
@pytest.mark.parametrize("call", [1, 2], ids=["first_load", "second_load"])
def test_an_async_load_scopes_that_clears_while_loading_leaves_no_admin_scopes_behind(
    size, call
):
    loads: list[str] = []

    async def scopes(context: Any) -> dict[str, Any]:
        viewer = context["user"]
        loads.append(viewer)
        await asyncio.sleep(0)
        if len(loads) == call and viewer == ADMIN:
            context["user"] = GUEST
            authz.clear_cache(context["info"])
        await asyncio.sleep(0)

        async def load(values: list[Any]) -> list[bool]:
            await asyncio.sleep(0)
            return [viewer == ADMIN for _ in values]

        return {"can": BatchScope(load, max_batch_size=size)}

    authz = AuthExtension(scopes)

    _assert_no_admin_scopes_behind(authz, call, True, loads)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_a_load_scopes_that_clears_on_every_run_serves_the_new_viewer_only(
    is_async, size
):
    # Every run logs the viewer out and clears (a defensive `clear_cache`):
    # no run's scopes are remembered; each check is answered by a run made
    # after a clear, as the guest, without a hang or an error.
    loads: list[str] = []

    def on_load(context: Any) -> None:
        loads.append(context["user"])
        context["user"] = GUEST
        authz.clear_cache(context["info"])

    authz = AuthExtension(_loader_by_viewer(is_async, size, on_load=on_load))
    result = _run(_schema(authz, _keeping_info, is_async), is_async)
    assert result.data == {"docs": [None] * 5, "after": {"later": None}}, loads
    for error in result.errors or []:
        assert "Traceback" not in error.message


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("size", [2, 100], ids=["chunks_of_2", "one_chunk"])
def test_a_clear_mid_list_under_deny_by_default_is_audited_as_served(is_async, size):
    # `fallback_rule=False` and the audit log on: the list is served as
    # decided (1-3 denied, 4-5 the guest's), and the log has one denial
    # for each object left out, none for those served.
    records: list[dict[str, Any]] = []
    authz = AuthExtension(
        _loader_by_viewer(is_async, size, guest_reads_from=4),
        fallback_rule=False,
        on_decision=AuditLog(records.append, only_denied=True),
    )
    Doc = _secret_type(authz, _clearing_at(authz, 3))

    @strawberry.type
    class Query:
        @authz.rule(True)
        @strawberry.field
        def docs(self) -> list[Doc | None]:  # type: ignore[valid-type]
            return [Doc(id=i, secret=f"SECRET{i}") for i in range(1, 6)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    authz.validate(schema)
    result = _run(schema, is_async, "{ docs { id secret } }")
    assert result.data == {
        "docs": [None, None, None] + [{"id": i, "secret": f"SECRET{i}"} for i in (4, 5)]
    }
    assert sorted(r["path"] for r in records) == [["docs", i] for i in range(3)]
    assert all(r["effect"] == "deny" for r in records)
