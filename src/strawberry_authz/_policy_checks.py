"""Checks of a policy against the whole schema, run while planning.

Each appends a problem (a message naming type, field and key) instead of
enforcing a rule that could never apply or never pass.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLInputObjectType, GraphQLObjectType, GraphQLSchema

from ._compat import strawberry_field_of
from ._output_fields import _Planned, _TypeRules, possible_object_types
from ._policy import Policy, TypeMarker, is_marker
from ._rules import Granted, Node


def _check_root_type_rules(
    gtype: GraphQLObjectType, rules: _TypeRules, problems: list[str]
) -> None:
    """`drop_denied=True` on a root type has nothing to drop: reported.

    Its object rule is checked on each root field (no field returns the
    root object), and a denied root field gets `null` and the error.
    """
    for found in (*rules.own, *rules.interfaces):
        if found.drop_denied:
            problems.append(
                f"{gtype.name}: {found.where} has drop_denied=True, but "
                f"{gtype.name} is the {rules.operation} root type: no list "
                "returns it, so nothing would be dropped (its object rule is "
                "checked on each of its fields); remove drop_denied=True"
            )


def _check_input_types(
    policy: Policy, gschema: GraphQLSchema, problems: list[str]
) -> None:
    """Rules on input fields are reported: nothing ever resolves an input field.

    Left alone they would be silently ignored, so the policy would promise a
    check that never runs.
    """
    for name, gtype in gschema.type_map.items():
        if not isinstance(gtype, GraphQLInputObjectType):
            continue
        for field_name, gfield in gtype.fields.items():
            field = strawberry_field_of(gfield)
            ours = [
                ext
                for ext in getattr(field, "extensions", ())
                if is_marker(ext) and ext.policy is policy
            ]
            if not ours:
                continue
            kind = (
                "a type rule of its type"
                if all(isinstance(ext, TypeMarker) for ext in ours)
                else "authz.rule / post_rule"
            )
            problems.append(
                f"{name}.{field_name}: {kind} on a field of an input type is "
                "never checked (input fields are not resolved); put the rule on "
                "the field that takes the input and read the value from "
                "params.args"
            )


def _check_grants_reachable(
    gschema: GraphQLSchema,
    planned: list[_Planned],
    problems: list[str],
) -> None:
    """Every `$granted` name must be given by some field returning its type.

    A rule asking for a grant nobody gives can never pass: that is almost
    always a typo or a forgotten `grants=`, so it is reported, not enforced
    silently. Grants computed by a function count as giving anything.
    """
    given: dict[str, set[str] | None] = {}
    functions: set[str] = set()  # types whose grants a function computes
    for entry in planned:
        plan = entry.plan
        if plan.site.type_grants:
            functions.add(entry.output.gtype.name)
        spec = plan.grants
        if spec is None:
            continue
        for target in possible_object_types(gschema, entry.gfield.type):
            names = given.setdefault(target, set())
            if callable(spec):
                given[target] = None
            elif names is not None:
                names.update(spec)
    given.update(dict.fromkeys(functions))
    needed: dict[int, tuple[str, ...]] = {}  # nodes are shared across fields
    for entry in planned:
        plan = entry.plan
        parent = entry.output.gtype.name
        for node in (plan.pre, plan.post):
            if node is None:
                continue
            names_needed = needed.get(id(node))
            if names_needed is None:
                names_needed = needed[id(node)] = tuple(_granted_names(node))
            for name in names_needed:
                names = given.get(parent, set())
                if names is not None and name not in names:
                    problems.append(
                        f"{entry.coordinate}: key '$granted': grant {name!r} is "
                        f"given by no field returning {parent} and by no "
                        "type grants of it, so this rule can never pass"
                    )


def _granted_names(node: Node | None) -> Iterator[str]:
    if node is None:
        return
    if isinstance(node, Granted):
        yield node.name
    for child in getattr(node, "children", ()):
        yield from _granted_names(child)
    child = getattr(node, "child", None)
    if isinstance(child, Node):
        yield from _granted_names(child)
