"""What each role may do, whatever the relationships: a `RoleRegistry`.

Two kinds of question decide a request. *Relationships* (is the viewer in
team 1, did they write note 5) are the engine's (`engine.py`: SQLite or
SpiceDB), asked through the `can` scope. *Roles* (may a moderator list the
users, may an admin edit any note) are this table's, asked through the
`role_can` scope with `"resource:action"` values: `{"role_can": "user:read"}`.

Roles rank guest < user < moderator < admin, and a role has whatever the
roles below it have: a user's `roles` are their own role and every role below
it (`UserRow.roles`), so each role below lists only what it adds. Anonymous
callers (no token) have the registry's `ANONYMOUS` role, which has nothing.
"""

from __future__ import annotations

from strawberry_authz import RoleRegistry

roles = RoleRegistry()  # actions: read, create, update, delete
# Users have drafts (guests write nothing, so they have none to list).
roles.register("user", "draft", {"read": True})
# Moderators read any published note they reach, and list every user.
roles.register("moderator", "note", {"read": True})
roles.register("moderator", "user", {"read": True})
# Admins read every team and its notes, everyone's photos, and change or
# delete any note.
roles.register("admin", "team", {"read": True})
roles.register("admin", "photo", {"read": True})
roles.register("admin", "note", {"update": True, "delete": True})

# What a page may ask about the viewer (`viewer { permissions }` and
# `GET /permissions`): every permission above, by its `role_can` value.
VIEWER_CHECKS: dict[str, object] = {
    name: {"role_can": name}
    for name in (
        "draft:read",
        "note:read",
        "note:update",
        "note:delete",
        "team:read",
        "user:read",
        "photo:read",
    )
}
