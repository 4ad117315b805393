"""Authorization for Strawberry GraphQL: scopes, rule trees and grants.

```python
authz = AuthExtension(load_scopes, default_scopes={"Query": {"is_logged_in": True}})
schema = strawberry.Schema(query=Query, extensions=[authz])
```
"""

from ._batch import BatchAnswers, BatchScope
from ._capabilities import Permission
from ._columns import Column, FilterScope
from ._decisions import CountingHook, Decision, DecisionPhase
from ._errors import (
    AuthorizationFailedError,
    ConfigurationError,
    ForbiddenError,
    UnauthenticatedError,
)
from ._extension import AuthExtension
from ._params import AuthParams, PostRuleFunction, RuleFunction, RuleResult, RuleSet
from ._scopes import LoadScopes, ScopeLoader
from .conditions import Plan
from .roles import ANONYMOUS, WILDCARD, RoleRegistry

__all__ = [
    "ANONYMOUS",
    "WILDCARD",
    "AuthExtension",
    "AuthParams",
    "AuthorizationFailedError",
    "BatchAnswers",
    "BatchScope",
    "Column",
    "ConfigurationError",
    "CountingHook",
    "Decision",
    "DecisionPhase",
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
