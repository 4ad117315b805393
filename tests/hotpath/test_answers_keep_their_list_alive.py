"""After a clear mid-pass, a list's answers still keep their list alive.

Per-object answers are keyed by the id of their list's path, which the
request keeps alive so no other list can take that id (white box: whether
an id is reused depends on the allocator, so the test reads the state).
"""

import asyncio
from typing import Any

import pytest
import strawberry

from strawberry_authz import AuthExtension, BatchScope
from strawberry_authz._request import RequestState


@pytest.mark.parametrize("on_object", [False, True], ids=["type_rule", "on_object"])
async def test_answers_written_after_a_clear_keep_their_list_alive(
    on_object, monkeypatch
):
    """Per-object answers are keyed by the id of their list's path, which
    the request keeps alive so no other list can take that id. A clear
    drops what it keeps; the answers the pass writes after it must keep
    their list alive again, or a later list reusing the id would read them
    (white box: the reuse itself depends on the allocator)."""
    cleared: list[Any] = []
    clear = RequestState.clear

    def recording_clear(self: Any, scope: Any = None) -> None:
        cleared.append(self)
        clear(self, scope)

    monkeypatch.setattr(RequestState, "clear", recording_clear)

    def scopes(context: Any) -> dict[str, Any]:
        async def load(values: list[Any]) -> list[bool]:
            await asyncio.sleep(0)
            return [True for _ in values]

        return {"can": BatchScope(load, max_batch_size=3)}

    authz = AuthExtension(scopes)

    @authz.type_rule(lambda p: {"can": p.root.id}, on_object=on_object)
    @strawberry.type
    class Doc:
        id: int

    docs = [Doc(id=i) for i in range(31)]

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return docs

        @strawberry.field
        async def logout(self, info: strawberry.Info) -> bool:
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            authz.clear_cache(info)
            return True

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await asyncio.wait_for(
        schema.execute("{ docs { id } logout }"), timeout=10
    )
    assert result.data["logout"] is True
    (state,) = cleared
    assert state.per_object, "the pass wrote no answer after the clear"
    alive = {id(kept) for kept in state.kept}
    assert {key[0] for key in state.per_object} <= alive
