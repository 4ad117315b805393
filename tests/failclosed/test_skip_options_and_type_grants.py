"""Issue 8.5 and 8.6 — skip options on interfaces; type grants per object and field."""

from typing import Any

import strawberry
from authzkit import codes

from strawberry_authz import AuthExtension


def build(
    field_options: dict[str, Any],
    *,
    interface_field_options=None,
    draft_grant: str = "from_memo",
):
    """Memo implements Document; both types carry a type rule and type grants."""
    checked: list[str] = []

    def scope(name: str):
        def loader(value: Any) -> bool:
            checked.append(name)
            return name in ALLOWED

        return loader

    authz = AuthExtension(
        lambda _: {name: scope(name) for name in ("document_rule", "memo_rule")}
    )

    @authz.type_rule({"document_rule": True}, grants=lambda p: ["from_document"])
    @strawberry.interface
    class Document:
        @authz.rule({"$granted": "from_document"}, **(interface_field_options or {}))
        @strawberry.field
        def secret(self) -> str | None:
            return "secret"

    @authz.type_rule({"memo_rule": True}, grants=lambda p: ["from_memo"])
    @strawberry.type
    class Memo(Document):
        @authz.rule({"$granted": draft_grant}, **field_options)
        @strawberry.field
        def draft(self) -> str | None:
            return "draft"

        @strawberry.field
        def title(self) -> str | None:
            return "title"

    @strawberry.type
    class Query:
        @strawberry.field
        def memo(self) -> Memo:
            return Memo()

    return strawberry.Schema(query=Query, extensions=[authz]), checked


ALLOWED: set[str] = set()


def run(schema: strawberry.Schema, query: str) -> Any:
    return schema.execute_sync(query)


def test_skip_type_rules_removes_only_the_own_type_rule_not_the_interface_one():
    ALLOWED.clear()
    ALLOWED.add("memo_rule")  # the interface's type rule denies
    schema, checked = build({"skip_type_rules": True})
    result = run(schema, "{ memo { draft } }")
    assert result.data == {"memo": {"draft": None}}
    assert codes(result) == ["FORBIDDEN"]
    assert "document_rule" in checked and "memo_rule" not in checked


def test_skip_interface_rules_removes_the_interface_type_rule_only():
    ALLOWED.clear()
    ALLOWED.add("memo_rule")
    schema, checked = build({"skip_interface_rules": True})
    result = run(schema, "{ memo { draft } }")
    assert result.data == {"memo": {"draft": "draft"}}
    assert "document_rule" not in checked and "memo_rule" in checked


def test_an_interface_field_with_skip_type_rules_keeps_the_implementer_type_rule():
    ALLOWED.clear()
    ALLOWED.add("document_rule")  # the implementer's own type rule denies
    schema, checked = build({}, interface_field_options={"skip_type_rules": True})
    result = run(schema, "{ memo { secret } }")
    assert result.data == {"memo": {"secret": None}}
    assert codes(result) == ["FORBIDDEN"]
    assert "memo_rule" in checked


def test_field_order_never_changes_type_grant_answers():
    ALLOWED.clear()
    ALLOWED.update({"document_rule", "memo_rule"})
    schema, _ = build({"skip_interface_rules": True})
    one = run(schema, "{ memo { draft secret } }")
    other = run(schema, "{ memo { secret draft } }")
    assert one.data == {"memo": {"draft": "draft", "secret": "secret"}}
    assert other.data == {"memo": {"secret": "secret", "draft": "draft"}}
    assert not one.errors and not other.errors


def test_a_field_that_opted_out_of_interface_rules_gets_no_interface_type_grants():
    ALLOWED.clear()
    ALLOWED.update({"document_rule", "memo_rule"})
    # draft asks for the interface's grant although it opted out of its rules.
    schema, _ = build({"skip_interface_rules": True}, draft_grant="from_document")
    for query in ("{ memo { secret draft } }", "{ memo { draft secret } }"):
        result = run(schema, query)
        assert result.data["memo"] == {"secret": "secret", "draft": None}
        assert codes(result) == ["FORBIDDEN"]


def test_type_grant_functions_run_once_per_object_whatever_fields_ask():
    calls: list[Any] = []
    authz = AuthExtension(lambda _: {})

    def grant(params: Any) -> list[str]:
        calls.append((params.root.id, dict(params.args)))
        return ["read"]

    @authz.type_rule(grants=grant)
    @strawberry.type
    class Doc:
        id: int

        @authz.rule({"$granted": "read"})
        @strawberry.field
        def body(self, upper: bool = False) -> str | None:
            return "BODY" if upper else "body"

        @authz.rule({"$granted": "read"})
        @strawberry.field
        def summary(self) -> str | None:
            return "summary"

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc]:
            return [Doc(id=1), Doc(id=2)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ docs { body(upper: true) summary again: body } }")
    assert not result.errors
    assert sorted(calls) == [(1, {}), (2, {})]
