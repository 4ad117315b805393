"""One schema for the observability tests (issue 10, points 4 and 5).

- `Query.notes`: rule `is_logged_in` (raises `UnauthenticatedError` for an
  anonymous request), a sync loader: answered without waiting.
- `Note.secret`: rule `is_admin`, denied (`FORBIDDEN`) for anyone but "admin".
- `Query.team`: rule `is_member`, an async loader: the check waits.
- `Query.me`: a post rule (`source == "post"`).
- `Mutation.rename`: the default scopes of `Mutation` (`is_logged_in`).
"""

# No `from __future__ import annotations`: the types are local classes whose
# annotations Strawberry must resolve where they are defined.

import asyncio
from typing import Any

import strawberry

from strawberry_authz import AuthExtension, UnauthenticatedError

NOTES_QUERY = "query Notes { notes { text secret } }"


def load_scopes(context: dict[str, Any]) -> dict[str, Any]:
    user = context.get("user")

    def is_logged_in(_: bool) -> bool:
        if user is None:
            raise UnauthenticatedError()
        return True

    async def is_member(team: str) -> bool:
        await asyncio.sleep(0.001)
        return user == "ann" and team == "blue"

    return {
        "is_logged_in": is_logged_in,
        "is_admin": lambda _: user == "admin",
        "is_member": is_member,
    }


def build_schema(on_decision: Any) -> strawberry.Schema:
    authz = AuthExtension(
        load_scopes,
        default_scopes={"Mutation": {"is_logged_in": True}},
        on_decision=on_decision,
    )

    @strawberry.type
    class Note:
        text: str

        @authz.rule({"is_admin": True})
        @strawberry.field
        def secret(self) -> str | None:
            return f"secret of {self.text}"

    @strawberry.type
    class Query:
        @authz.rule({"is_logged_in": True})
        @strawberry.field
        def notes(self) -> list[Note]:
            return [Note(text="a"), Note(text="b")]

        @authz.rule({"is_member": "blue"})
        @strawberry.field
        async def team(self) -> str | None:
            return "blue"

        @authz.post_rule(lambda params, name: name == params.context.get("user"))
        @strawberry.field
        def me(self, name: str) -> str | None:
            return name

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def rename(self, name: str) -> str:
            return name

    return strawberry.Schema(query=Query, mutation=Mutation, extensions=[authz])
