"""A role x resource x action registry, and a scope loader built on it.

```python
roles = RoleRegistry()
roles.register("editor", "posts", {"read": True, "update": is_author})
roles.register(WILDCARD, "posts", {"read": True})  # every role, anonymous too
authz = AuthExtension(lambda context: {"can": roles.scope(context["user"])})
```

The semantics are those of vielzeug/permit:

- Role, resource and action names are trimmed and lower-cased.
- A user is a dict or an object with `id` and `roles` (a list or tuple of
  strings).
  `None`, a missing or empty `id`, or `roles` that is not a list of strings
  make the caller `ANONYMOUS`.
- `check` asks the caller's roles in order, then `WILDCARD` (the role every
  caller has). For each role, the permission for the action is taken from
  the specific resource if that resource names the action, else from the
  role's `WILDCARD` resource. The first role whose permission passes allows:
  a `False` from one role never vetoes another role, `WILDCARD` included.
- A permission is `True`, `False` or a function `(user, data) -> bool`. A
  function passes only when `data` is given, the caller is not anonymous and
  it returns exactly `True`; if it raises, it fails (logged on
  `strawberry_authz`).
- Bad configuration (an empty name, an action not in the allowed list, a
  permission that is neither a bool nor callable) raises `ConfigurationError`.

Registration is meant for start-up. Each change swaps in a new table, so a
concurrent `check` sees the registry either before or after the change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

from ._errors import ConfigurationError
from ._outcomes import safe_repr

__all__ = ["ANONYMOUS", "WILDCARD", "RoleRegistry"]

logger = logging.getLogger("strawberry_authz")

WILDCARD = "*"
"""As a role: every caller. As a resource: every resource of that role."""

ANONYMOUS = "anonymous"
"""The only role of a caller without a valid `id` and `roles`."""

DEFAULT_ACTIONS = ("read", "create", "update", "delete")

PermissionFn: TypeAlias = Callable[[Any, Any], bool]
Permission: TypeAlias = bool | PermissionFn
Actions: TypeAlias = dict[str, Permission]
"""action -> permission, for one role and one resource."""
Table: TypeAlias = dict[str, dict[str, Actions]]
"""role -> resource -> action -> permission."""


class RoleRegistry:
    """Which role may do which action on which resource.

    `actions` lists the allowed action names (default: read, create, update,
    delete); naming any other action raises `ConfigurationError`.
    """

    def __init__(self, actions: Iterable[str] | None = None) -> None:
        names = DEFAULT_ACTIONS if actions is None else actions
        if isinstance(names, str):
            raise ConfigurationError("RoleRegistry(actions=...) takes a list of names")
        self._actions = tuple(dict.fromkeys(_name(a, "action") for a in names))
        if not self._actions:
            raise ConfigurationError("RoleRegistry(actions=...) must name an action")
        self._table: Table = {}
        self._write_lock = threading.Lock()

    # -- configuration -------------------------------------------------------

    @property
    def actions(self) -> tuple[str, ...]:
        """The allowed action names, normalised, in declaration order."""
        return self._actions

    def register(
        self, role: str, resource: str, actions: Mapping[str, Permission]
    ) -> None:
        """Add permissions for `role` on `resource`, keeping the other actions."""
        self.set(role, resource, actions)

    def set(
        self,
        role: str,
        resource: str,
        actions: Mapping[str, Permission],
        replace: bool = False,
    ) -> None:
        """Merge `actions` into `role` on `resource`; `replace=True` drops the rest.

        Everything is validated before anything changes. Replacing with an
        empty mapping removes the entry.
        """
        role, resource = _name(role, "role"), _name(resource, "resource")
        checked = self._checked_actions(actions)
        with self._write_lock:
            table = dict(self._table)
            resources = dict(table.get(role, {}))
            merged = {} if replace else dict(resources.get(resource, {}))
            merged.update(checked)
            resources[resource] = merged
            self._table = _pruned(table, role, resources, resource)

    def unregister(self, role: str, resource: str, action: str | None = None) -> None:
        """Remove one action, or the whole resource, of a role.

        Entries left empty are removed. Names that were never registered
        are ignored; an invalid name still raises.
        """
        role, resource = _name(role, "role"), _name(resource, "resource")
        action = None if action is None else self._action(action)
        with self._write_lock:
            table = dict(self._table)
            resources = dict(table.get(role, {}))
            remaining: Actions = {}
            if action is not None:
                remaining = dict(resources.get(resource, {}))
                remaining.pop(action, None)
            resources[resource] = remaining
            self._table = _pruned(table, role, resources, resource)

    def clear(self) -> None:
        """Remove every permission."""
        with self._write_lock:
            self._table = {}

    @property
    def roles(self) -> Table:
        """A copy of role -> resource -> action -> permission.

        Changing the copy changes nothing in the registry (functions are
        shared, the dicts are new).
        """
        return {
            role: {resource: dict(acts) for resource, acts in resources.items()}
            for role, resources in self._table.items()
        }

    # -- decisions -----------------------------------------------------------

    def check(self, user: Any, resource: str, action: str, data: Any = None) -> bool:
        """Whether `user` may do `action` on `resource` (see the module docs).

        Raises `ConfigurationError` for an empty resource or an action that is
        not allowed: such a check could never pass, so it is a bug to surface.
        """
        resource, action = _name(resource, "resource"), self._action(action)
        table = self._table  # one consistent snapshot for the whole check
        for role in _effective_roles(user):
            resources = table.get(role)
            if resources is None:
                continue
            permission = _lookup(resources, resource, action)
            if permission is not None and _passes(permission, user, data):
                return True
        return False

    def has_role(self, user: Any, role: str) -> bool:
        """Whether `user` has `role`; a malformed user only has `ANONYMOUS`."""
        return _name(role, "role") in _user_roles(user)

    def scope(self, user: Any) -> Callable[[object], bool]:
        """A scope loader answering `"resource:action"` for `user`.

        The rule value is `"posts:update"`, or a list/tuple
        `[resource, action]` / `[resource, action, data]`. A malformed value
        is denied (`False`) with a server-side log, never an error text.
        """

        def can(value: object) -> bool:
            try:
                resource, action, data = _parse_scope_value(value)
                return self.check(user, resource, action, data)
            except (ConfigurationError, TypeError, ValueError) as error:
                logger.error(
                    "strawberry-authz: RoleRegistry scope value %s denied: %s",
                    safe_repr(value),
                    error,
                )
                return False

        return can

    def permissions_for(self, user: Any) -> dict[str, bool]:
        """`{"resource:action": allowed}` for hydrating a frontend, sorted.

        Covers every resource registered under any role, times every allowed
        action, each answered by `check` without data: a function permission
        therefore shows as `False` (decide those per object, e.g. with
        `authz.can_field`). The `"*:action"` keys answer for resources that
        are not listed.
        """
        table = self._table
        resources = {res for per_role in table.values() for res in per_role}
        resources.add(WILDCARD)
        return {
            f"{resource}:{action}": self.check(user, resource, action)
            for resource in sorted(resources)
            for action in self._actions
        }

    # -- helpers -------------------------------------------------------------

    def _action(self, action: str) -> str:
        name = _name(action, "action")
        if name not in self._actions:
            allowed = ", ".join(self._actions)
            raise ConfigurationError(
                f"unknown action {action!r} (allowed actions: {allowed})"
            )
        return name

    def _checked_actions(self, actions: Mapping[str, Permission]) -> Actions:
        if not isinstance(actions, Mapping):
            raise ConfigurationError(
                f"actions must map action names to permissions, not {actions!r}"
            )
        checked: Actions = {}
        for action, permission in actions.items():
            if not (isinstance(permission, bool) or callable(permission)):
                raise ConfigurationError(
                    f"permission for action {action!r} must be True, False or "
                    f"a function (user, data) -> bool, not {permission!r}"
                )
            checked[self._action(action)] = permission
        return checked


def _name(value: object, what: str) -> str:
    """A trimmed, lower-cased name; an empty or non-string one raises."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"a {what} name must be a non-empty string, not {value!r}"
        )
    return value.strip().lower()


def _pruned(
    table: Table, role: str, resources: dict[str, Actions], resource: str
) -> Table:
    """`table` with `role` set to `resources`, dropping whatever is left empty."""
    if not resources.get(resource):
        resources.pop(resource, None)
    if resources:
        table[role] = resources
    else:
        table.pop(role, None)
    return table


def _field(user: Any, name: str) -> Any:
    if isinstance(user, Mapping):
        return user.get(name)
    return getattr(user, name, None)


def _known_roles(user: Any) -> list[str] | None:
    """The normalised roles of a well-formed user; `None` if it is malformed."""
    if user is None:
        return None
    user_id, roles = _field(user, "id"), _field(user, "roles")
    if user_id is None or user_id == "" or not isinstance(roles, list | tuple):
        return None
    if not all(isinstance(role, str) for role in roles):
        return None
    return [role.strip().lower() for role in roles]


def _user_roles(user: Any) -> list[str]:
    """The user's normalised roles, or `[ANONYMOUS]` for a malformed user."""
    roles = _known_roles(user)
    return [ANONYMOUS] if roles is None else roles


def _effective_roles(user: Any) -> list[str]:
    """The roles asked, in order: the user's own, then `WILDCARD` once."""
    ordered = dict.fromkeys(_user_roles(user))
    ordered.pop(WILDCARD, None)
    return [*ordered, WILDCARD]


def _lookup(
    resources: dict[str, Actions], resource: str, action: str
) -> Permission | None:
    """The specific resource's permission for the action, else the wildcard's."""
    specific = resources.get(resource, {})
    if action in specific:
        return specific[action]
    return resources.get(WILDCARD, {}).get(action)


def _passes(permission: Permission, user: Any, data: Any) -> bool:
    if isinstance(permission, bool):
        return permission
    # A function decides about this user and this object: without an object,
    # or without a known user, there is nothing it could safely allow.
    if data is None or _known_roles(user) is None:
        return False
    try:
        return permission(user, data) is True
    except Exception:
        logger.exception(
            "strawberry-authz: role permission %s raised; denying (fail closed)",
            getattr(permission, "__qualname__", type(permission).__qualname__),
        )
        return False


def _parse_scope_value(value: object) -> tuple[str, str, Any]:
    """`"resource:action"` or `[resource, action(, data)]` as a triple."""
    if isinstance(value, str):
        resource, sep, action = value.rpartition(":")
        if not sep:
            raise ValueError('expected "resource:action"')
        return resource, action, None
    if isinstance(value, list | tuple) and len(value) in (2, 3):
        resource, action, *rest = value
        if not isinstance(resource, str) or not isinstance(action, str):
            raise TypeError("resource and action must be strings")
        return resource, action, rest[0] if rest else None
    raise TypeError('expected "resource:action" or [resource, action, data]')
