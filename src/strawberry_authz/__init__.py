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
from .errors import ConfigurationError, ForbiddenError, UnauthenticatedError
from .extension import AuthExtension
from .params import AuthParams
from .roles import ANONYMOUS, WILDCARD, RoleRegistry

__all__ = [
    "ANONYMOUS",
    "WILDCARD",
    "AuthExtension",
    "AuthParams",
    "BatchScope",
    "Column",
    "ConfigurationError",
    "Decision",
    "FilterScope",
    "ForbiddenError",
    "Permission",
    "Plan",
    "RoleRegistry",
    "UnauthenticatedError",
]
