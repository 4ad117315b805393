"""A `BatchScope` queue filled before a clear never answers values after it.

With an event loop, values wait in their scope's queue until the loop
turns. A resolver that switches the viewer and clears the cache in that
same turn makes the scopes load afresh: values asked afterwards must go to
the new viewer's `load_fn`, never join the queue of the old one's (which
would answer them as the old viewer and cache that as fresh).
"""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import dump

from strawberry_authz import AuthExtension, BatchScope


@pytest.mark.parametrize("on_object", [False, True], ids=["type_rule", "on_object"])
async def test_values_asked_after_a_clear_in_the_same_turn_go_to_the_new_loader(
    on_object,
):
    asked: list[tuple[str, list[Any]]] = []

    def scopes(context: Any) -> dict[str, Any]:
        user = context["user"]

        async def load(values: list[Any]) -> list[bool]:
            asked.append((user, list(values)))
            return [user == "admin" for _ in values]

        return {"can": BatchScope(load)}

    authz = AuthExtension(scopes)

    @authz.type_rule(lambda p: {"can": p.root.id}, on_object=on_object)
    @strawberry.type
    class Doc:
        id: int
        text: str

    mine = [Doc(id=i, text="public") for i in range(3)]
    secret = [Doc(id=i, text=f"SECRET{i}") for i in range(10, 13)]

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return mine

        @strawberry.field
        def logout(self, info: strawberry.Info) -> bool:
            info.context["user"] = "guest"
            authz.clear_cache(info)
            return True

        @strawberry.field
        def later(self) -> list[Doc | None]:
            return secret

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await asyncio.wait_for(
        schema.execute(
            "{ docs { id } logout later { id text } }",
            context_value={"user": "admin"},
        ),
        timeout=10,
    )
    assert result.data["logout"] is True
    assert "SECRET" not in dump(result)
    assert all(
        item is None or item.get("text") is None for item in result.data["later"]
    )
    by_user = {
        user: {v for u, chunk in asked if u == user for v in chunk} for user, _ in asked
    }
    assert {10, 11, 12} <= by_user["guest"]
    assert not {10, 11, 12} & by_user.get("admin", set())
