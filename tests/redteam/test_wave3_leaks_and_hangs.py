"""Third wave: exception text, hangs and cross-request sharing.

Development aids (error_reasons, explain_denials) never carry an exception's
text; a hanging engine is cut by scope_timeout; a `BatchScope` shared by every
request never batches two requests' values into one call. What held is in
docs/security.md.
"""

import asyncio
import contextvars
from typing import Any

import pytest
import strawberry
from authzkit import authz_logs, codes, dump, owners_schema

from strawberry_authz import AuthExtension, BatchScope

VIEWER: contextvars.ContextVar[str] = contextvars.ContextVar("viewer")


def raising(_value: Any) -> bool:
    raise RuntimeError("LOADER-SECRET-TEXT")


@pytest.mark.parametrize(
    "options",
    [{"error_reasons": True}, {"explain_denials": "response"}, {"debug": True}],
)
async def test_development_aids_never_carry_an_exceptions_text(options, caplog):
    authz = AuthExtension(lambda c: {"flaky": raising, "no": False}, **options)

    @strawberry.type
    class Query:
        @authz.rule({"$or": [{"flaky": 1}, {"no": True}]})
        @strawberry.field
        def secret(self) -> str | None:
            return "DATA"

        @authz.rule({"$not": {"flaky": 1}})
        @strawberry.field
        def other(self) -> str | None:
            return "DATA"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ secret other }")
    assert "LOADER-SECRET-TEXT" not in dump(result)
    assert "DATA" not in dump(result)
    assert set(codes(result)) == {"INTERNAL_SERVER_ERROR"}
    assert "LOADER-SECRET-TEXT" in authz_logs(caplog)  # the server keeps it


async def test_a_capability_whose_scope_fails_answers_false_without_text():
    authz = AuthExtension(lambda c: {"flaky": raising})

    @strawberry.type
    class Doc:
        id: int
        can_edit: bool = authz.can_field(lambda p: {"flaky": p.root.id})
        permissions = authz.permissions_field({"edit": {"flaky": 1}})

    @strawberry.type
    class Query:
        @strawberry.field
        def doc(self) -> Doc:
            return Doc(id=1)

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await schema.execute("{ doc { canEdit permissions { name allowed } } }")
    assert "LOADER-SECRET-TEXT" not in dump(result)
    assert result.data["doc"]["canEdit"] is False
    assert result.data["doc"]["permissions"] == [{"name": "edit", "allowed": False}]


async def test_a_hanging_engine_is_cut_by_scope_timeout_and_never_passes():
    async def hang(values: list[Any]) -> list[bool]:
        await asyncio.Event().wait()
        return [True] * len(values)

    authz = AuthExtension(lambda c: {"can": BatchScope(hang)}, scope_timeout=0.05)

    @authz.type_rule(lambda p: {"can": p.root.id}, on_object=True, drop_denied=True)
    @strawberry.type
    class Doc:
        id: int

    @strawberry.type
    class Query:
        @strawberry.field
        async def docs(self) -> list[Doc]:
            for n in range(3):
                yield Doc(id=n)

        @authz.rule({"$not": {"can": 9}})
        @strawberry.field
        def guarded(self) -> str | None:
            return "DATA"

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await asyncio.wait_for(schema.execute("{ docs { id } guarded }"), 5)
    assert result.data["docs"] == []
    assert result.data["guarded"] is None
    assert "INTERNAL_SERVER_ERROR" in codes(result)


async def test_a_batch_scope_shared_by_every_request_never_mixes_viewers():
    """One module-level BatchScope whose load_fn reads the viewer from a
    contextvar: each request's values are asked in that request's task."""
    calls: list[tuple[str, int]] = []

    async def load_fn(values: list[Any]) -> list[bool]:
        await asyncio.sleep(0)
        viewer = VIEWER.get()
        calls.append((viewer, len(values)))
        return [value == viewer for value in values]

    shared = BatchScope(load_fn)
    authz = AuthExtension(lambda c: {"owns": shared})
    schema = owners_schema(authz, ["alice", "bob", "carol"])

    async def as_viewer(name: str) -> Any:
        VIEWER.set(name)
        return await schema.execute("{ docs { owner } }")

    results = await asyncio.gather(*(as_viewer(n) for n in ["alice", "bob"] * 5))
    for name, result in zip(["alice", "bob"] * 5, results, strict=True):
        assert result.data == {"docs": [{"owner": name}]}
    assert all(size == 3 for _, size in calls)
