"""A type rule declaration that holds no rule (only `grants=`, only
`skip_interface_rules=True`, with or without `on_object=True`) never opts a
field out of `fallback_rule`: it decides nothing, so the fallback still does."""

from typing import Any

import pytest
import strawberry
from authzkit import codes, dump

from strawberry_authz import AuthExtension

EMPTY_DECLARATIONS = {
    "object grants": {"on_object": True, "grants": lambda params: ["owner"]},
    "object skip_interface_rules": {"on_object": True, "skip_interface_rules": True},
    "grants": {"grants": lambda params: ["owner"]},
    "skip_interface_rules": {"skip_interface_rules": True},
}


def build(options: dict[str, Any], fallback: Any = False) -> strawberry.Schema:
    authz = AuthExtension(lambda context: {"member": False}, fallback_rule=fallback)

    @strawberry.interface
    class Named:
        name: str

    @authz.type_rule(**options)
    @strawberry.type
    class Secret(Named):
        code: str

    @authz.type_rule(**options)
    @strawberry.type
    class Lone:
        code: str

    @strawberry.type
    class Query:
        @authz.rule(True)
        @strawberry.field
        def secret(self) -> Secret | None:
            return Secret(name="EMPTY-RULE-NAME", code="EMPTY-RULE-CODE")

        @authz.rule(True)
        @strawberry.field
        def secrets(self) -> list[Secret | None]:
            return [Secret(name="EMPTY-RULE-NAME", code="EMPTY-RULE-CODE")]

        @authz.rule(True)
        @strawberry.field
        def lone(self) -> Lone | None:
            return Lone(code="EMPTY-RULE-CODE")

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("declaration", EMPTY_DECLARATIONS)
@pytest.mark.parametrize(
    "query",
    ["{ secret { name code } }", "{ secrets { name code } }", "{ lone { code } }"],
)
def test_a_type_rule_without_a_rule_leaves_the_fallback_on(declaration, query):
    schema = build(EMPTY_DECLARATIONS[declaration])
    result = schema.execute_sync(query)
    assert "EMPTY-RULE" not in dump(result)
    assert codes(result) and set(codes(result)) == {"FORBIDDEN"}


@pytest.mark.parametrize("declaration", EMPTY_DECLARATIONS)
def test_the_fallback_it_leaves_on_may_also_allow(declaration):
    schema = build(EMPTY_DECLARATIONS[declaration], fallback=True)
    result = schema.execute_sync("{ secret { name code } lone { code } }")
    assert result.errors is None
    assert result.data == {
        "secret": {"name": "EMPTY-RULE-NAME", "code": "EMPTY-RULE-CODE"},
        "lone": {"code": "EMPTY-RULE-CODE"},
    }
