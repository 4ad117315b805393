"""Who is asking, and the scopes the policy is written in.

Authentication is a demo bearer token per seeded user (printed at startup).
Authorization scopes are computed lazily, at most once per request, and each
relationship check (team membership, note ownership) hits the database at
most once per request per value: strawberry-authz caches every
`(scope, value)` for the request.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from strawberry_authz import UnauthenticatedError

from .db import ROLES, Database, UserRow

Role = Literal["guest", "user", "moderator", "admin"]


class Scopes(TypedDict, total=False):
    """Every scope a rule may name, with the type of its value."""

    is_public: bool
    is_logged_in: bool
    has_role: Role
    is_team_member: int
    owns_note: int


def user_from_authorization(db: Database, header: str | None) -> UserRow | None:
    """The user of an `Authorization: Bearer <token>` header (None: anonymous)."""
    if not header or not header.lower().startswith("bearer "):
        return None
    return db.user_by_token(header[7:].strip())


def load_scopes(context: dict[str, Any]) -> dict[str, object]:
    """`{scope: loader}` for the request's user (`context["user"]`)."""
    db: Database = context["db"]
    user: UserRow | None = context["user"]

    def is_logged_in(_: bool) -> bool:
        if user is None:
            raise UnauthenticatedError()
        return True

    def has_role(role: str) -> bool:
        if user is None:
            raise UnauthenticatedError()
        return ROLES.index(user.role) >= ROLES.index(role)

    def is_team_member(team_id: int) -> bool:
        return user is not None and db.is_member(team_id, user.id)

    def owns_note(note_id: int) -> bool:
        return user is not None and db.owns_note(note_id, user.id)

    return {
        "is_public": True,
        "is_logged_in": is_logged_in,
        "has_role": has_role,
        "is_team_member": is_team_member,
        "owns_note": owns_note,
    }
