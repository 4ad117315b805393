"""A module whose policy is refused while it is imported (a malformed rule)."""

from strawberry_authz import AuthExtension

authz = AuthExtension(lambda context: {}, fallback_rule={"$nope": 1})
