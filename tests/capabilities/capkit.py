"""A notes schema with capability fields, and counted loaders, for these tests."""

import asyncio
from collections.abc import Callable
from typing import Any

import strawberry

from strawberry_authz import AuthExtension

OWNERS = 7
"""Note `i` belongs to `u{i % OWNERS}`: a long list asks few distinct values."""


def owner_of(index: int) -> str:
    return f"u{index % OWNERS}"


class Loads:
    """Scope loaders that record every call, sync or async."""

    def __init__(self, *, slow: bool = False) -> None:
        self.slow = slow
        self.calls: list[tuple[str, Any]] = []

    def load_scopes(self, context: Any) -> dict[str, Any]:
        user = (context or {}).get("user")
        roles = (context or {}).get("roles", ())
        return {
            "owns_note": self._loader("owns_note", lambda owner: owner == user),
            "has_role": self._loader("has_role", lambda role: role in roles),
            "is_logged_in": self._loader("is_logged_in", lambda _: user is not None),
        }

    async def load_scopes_async(self, context: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return self.load_scopes(context)

    def _loader(self, name: str, decide: Callable[[Any], bool]) -> Any:
        calls = self.calls

        def loader(value: Any) -> bool:
            calls.append((name, value))
            return decide(value)

        async def slow_loader(value: Any) -> bool:
            calls.append((name, value))
            await asyncio.sleep(0)
            return decide(value)

        return slow_loader if self.slow else loader

    def count(self, name: str) -> int:
        return sum(1 for called, _ in self.calls if called == name)


def notes_schema(
    authz: AuthExtension,
    can_edit: object,
    *,
    count: int = 5,
    type_rule: object = None,
    extension: bool = True,
) -> strawberry.Schema:
    """`notes { id owner viewerCanEdit }`, `viewerCanEdit` answering `can_edit`."""

    @strawberry.type
    class Note:
        id: int
        owner: str
        viewer_can_edit: bool = authz.can_field(can_edit)

    if type_rule is not None:
        Note = authz.type_rule(type_rule)(Note)

    @strawberry.type
    class Query:
        @strawberry.field
        def notes(self) -> list[Note]:
            return [Note(id=i, owner=owner_of(i)) for i in range(count)]

    return strawberry.Schema(query=Query, extensions=[authz] if extension else [])


def owns(params: Any) -> dict[str, str]:
    """The rule function of the tests: the viewer owns this note."""
    return {"owns_note": params.root.owner}


def can_edit_column(result: Any) -> list[bool]:
    return [note["viewerCanEdit"] for note in result.data["notes"]]
