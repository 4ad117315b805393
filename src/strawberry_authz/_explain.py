"""Why was I denied: the failing path of a rule, without its values.

A development aid (`AuthExtension(explain_denials=...)`): when a field is
denied, the parts of its rule that failed are named by their keys and
scopes (`"$or/has_role"`, `"$or/$granted read_photos"`, `"owns_note()"`),
never by the values checked, so the text can go to a log, or to the client
while developing. Computed only for a denied field, from the answers the
request already holds: nothing is evaluated again, and the request path
pays nothing when the option is off.
"""

from __future__ import annotations

from typing import Any

from ._outcomes import Denial
from ._params import FieldCall
from ._per_object import PerObject
from ._plan import FieldPlan
from ._rule_compiler import RuleFunction
from ._rules import (
    AllOf,
    AnyOf,
    Chain,
    Constant,
    Granted,
    Node,
    Not,
    Race,
    ScopeCheck,
    SourceTag,
)

__all__ = ["failing_paths", "why_denied"]


def why_denied(
    denial: Denial, plan: FieldPlan, call: FieldCall | None
) -> dict[str, Any]:
    """`{"rule": source, "failed": [paths]}` for a denied field."""
    source = denial.source
    parts = (*plan.pre_parts, *plan.post_parts)
    node = next((part for owner, part in parts if owner == source), None)
    failed: list[str] = []
    if node is not None and call is not None:
        failed = failing_paths(node, call)
    if not failed:
        failed = ["failed" if denial.failed else "denied"]
    return {"rule": source or "rule", "failed": failed}


def failing_paths(node: Node, call: FieldCall, at: str = "") -> list[str]:
    """The paths to the parts of `node` that failed for `call` (no values)."""
    if isinstance(node, (SourceTag, PerObject)):
        return failing_paths(node.child, call, at)
    if isinstance(node, ScopeCheck):
        outcome = call.state.scopes.results.get(node.key)
        return [_join(at, node.name)] if isinstance(outcome, Denial) else []
    if isinstance(node, Granted):
        return [_join(at, f"$granted {node.name}")]
    if isinstance(node, Constant):
        return [] if node.allow else [_join(at, "False")]
    if isinstance(node, RuleFunction):
        name = getattr(node.fn, "__name__", "rule function")
        return [_join(at, f"{name}()")]
    if isinstance(node, Not):
        return [_join(at, "$not")] if not failing_paths(node.child, call) else []
    if isinstance(node, (AllOf, Chain)):
        keyword = "" if type(node) is AllOf else "$chain"
        for child in node.children:
            found = failing_paths(child, call, _join(at, keyword))
            if found:
                return found
        return []
    if isinstance(node, (AnyOf, Race)):
        keyword = "$or" if type(node) is AnyOf else "$race"
        found = [
            path
            for child in node.children
            for path in failing_paths(child, call, _join(at, keyword))
        ]
        return found
    return [_join(at, type(node).__name__)]


def _join(at: str, part: str) -> str:
    if not part:
        return at
    return f"{at}/{part}" if at else part
