"""Who is asking, and the scopes the policy is written in.

Authentication is a demo bearer token per seeded user (printed at startup).
Authorization scopes are computed lazily, at most once per request. Every
relationship check (team membership, what the viewer may do to a note) is
one scope, `can`, answered by the server's engine (`engine.py`: SQLite
queries, or SpiceDB); every role check is one scope, `role_can`, answered by
the role registry (`roles.py`). strawberry-authz asks each at most once per
request per value, as it caches every `(scope, value)` for the request.
"""

from __future__ import annotations

from typing import Any, TypedDict

from strawberry_authz import FilterScope, UnauthenticatedError

from .db import Database, UserRow
from .engine import Engine
from .roles import roles


class Scopes(TypedDict, total=False):
    """Every scope a rule may name, with the type of its value."""

    is_public: bool
    is_logged_in: bool
    role_can: str  # "user:read", "note:update": see roles.py
    can: str | list[object]  # "team:1#member", "note:5#view": see engine.py
    published: bool  # `Column("draft")`: the note is not a draft


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

    return {
        "is_public": True,
        "is_logged_in": is_logged_in,
        "role_can": roles.scope(user),
        "can": engine.can(context),
        # A note's `draft` flag is False: checked on a note, or `draft = 0`
        # in a query filter (`notes`, see schema.py).
        "published": FilterScope.equals(False),
    }
