"""Authorization for Strawberry GraphQL: scopes, rule trees and grants.

```python
authz = AuthExtension(load_scopes, default_scopes={"Query": {"is_logged_in": True}})
schema = strawberry.Schema(query=Query, extensions=[authz])
```
"""

from .batch import BatchScope
from .capabilities import Permission
from .columns import Column, FilterScope
from .conditions import Plan
from .decisions import Decision
from .errors import (
    AuthorizationFailedError,
    ConfigurationError,
    ForbiddenError,
    UnauthenticatedError,
)
from .extension import AuthExtension
from .params import AuthParams, PostRuleFunction, RuleFunction, RuleResult, RuleSet
from .roles import ANONYMOUS, WILDCARD, RoleRegistry
from .scopes import LoadScopes, ScopeLoader

__all__ = [
    "ANONYMOUS",
    "WILDCARD",
    "AuthExtension",
    "AuthParams",
    "AuthorizationFailedError",
    "BatchScope",
    "Column",
    "ConfigurationError",
    "Decision",
    "FilterScope",
    "ForbiddenError",
    "LoadScopes",
    "Permission",
    "Plan",
    "PostRuleFunction",
    "RoleRegistry",
    "RuleFunction",
    "RuleResult",
    "RuleSet",
    "ScopeLoader",
    "UnauthenticatedError",
]
