"""Who is asking, and the scopes the policy is written in.

Authentication is a demo bearer token per seeded user (printed at startup).
Authorization scopes are computed lazily, at most once per request. Every
relationship check (team membership, what the viewer may do to a note) is
one scope, `can`, answered by the server's engine (`engine.py`: SQLite
queries, or SpiceDB); strawberry-authz asks it at most once per request per
value, as it caches every `(scope, value)` for the request.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from strawberry_authz import UnauthenticatedError

from .db import ROLES, Database, UserRow
from .engine import Engine

Role = Literal["guest", "user", "moderator", "admin"]


class Scopes(TypedDict, total=False):
    """Every scope a rule may name, with the type of its value."""

    is_public: bool
    is_logged_in: bool
    has_role: Role
    can: str  # "team:1#member", "note:5#view": see engine.py


def user_from_authorization(db: Database, header: str | None) -> UserRow | None:
    """The user of an `Authorization: Bearer <token>` header (None: anonymous)."""
    if not header or not header.lower().startswith("bearer "):
        return None
    return db.user_by_token(header[7:].strip())


def load_scopes(context: dict[str, Any]) -> dict[str, object]:
    """`{scope: loader}` for the request's user (`context["user"]`)."""
    engine: Engine = context["engine"]
    user: UserRow | None = context["user"]

    def is_logged_in(_: bool) -> bool:
        if user is None:
            raise UnauthenticatedError()
        return True

    def has_role(role: str) -> bool:
        if user is None:
            raise UnauthenticatedError()
        return ROLES.index(user.role) >= ROLES.index(role)

    return {
        "is_public": True,
        "is_logged_in": is_logged_in,
        "has_role": has_role,
        "can": engine.can(context),
    }
