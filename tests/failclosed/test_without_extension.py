"""Issue 8.8 — a schema built without the extension serves nothing a rule covers."""

import strawberry
from authzkit import codes

from strawberry_authz import AuthExtension


def build_types(authz: AuthExtension):
    @authz.type_rule({"ok": True})
    @strawberry.type
    class Salary:
        amount: int
        secret_note: str = "base note"

        @strawberry.field
        def doubled(self) -> int:
            return self.amount * 2

    @strawberry.type
    class Bonus(Salary):
        reason: str = "new plain field"
        hidden: strawberry.Private[str] = "never a field"

        @strawberry.field
        def extra(self) -> str:
            return "new resolver field"

    @authz.type_rule({"ok": True})
    @strawberry.interface
    class Confidential:
        label: str

    @strawberry.type
    class Report(Confidential):
        body: str

    @strawberry.type
    class Query:
        @strawberry.field
        def bonus(self) -> Bonus | None:
            return Bonus(amount=1)

        @strawberry.field
        def report(self) -> Report | None:
            return Report(label="l", body="the report body")

    return Query


QUERY = "{ bonus { amount secretNote doubled reason extra } report { label body } }"


def test_subclasses_and_implementers_of_ruled_types_deny_without_the_extension():
    authz = AuthExtension(lambda _: {"ok": True})
    query = build_types(authz)
    for field in ("amount", "secretNote", "doubled", "reason", "extra"):
        result = strawberry.Schema(query=query).execute_sync(
            f"{{ bonus {{ {field} }} }}"
        )
        assert result.data == {"bonus": None}, field
        assert codes(result) == ["FORBIDDEN"], field
    for field in ("label", "body"):
        result = strawberry.Schema(query=query).execute_sync(
            f"{{ report {{ {field} }} }}"
        )
        assert result.data == {"report": None}, field
        assert codes(result) == ["FORBIDDEN"], field


def test_the_same_types_are_served_once_the_extension_is_installed():
    authz = AuthExtension(lambda _: {"ok": True})
    query = build_types(authz)
    result = strawberry.Schema(query=query, extensions=[authz]).execute_sync(QUERY)
    assert not result.errors
    assert result.data == {
        "bonus": {
            "amount": 1,
            "secretNote": "base note",
            "doubled": 2,
            "reason": "new plain field",
            "extra": "new resolver field",
        },
        "report": {"label": "l", "body": "the report body"},
    }


def test_the_type_rule_still_applies_to_subclass_fields_once_installed():
    authz = AuthExtension(lambda _: {"ok": False})
    query = build_types(authz)
    result = strawberry.Schema(query=query, extensions=[authz]).execute_sync(
        "{ bonus { reason extra } report { body } }"
    )
    assert result.data == {"bonus": None, "report": None}
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]


def build_root(authz: AuthExtension):
    @strawberry.type
    class Query:
        plain: str = "plain root value"

        @strawberry.field
        def hello(self) -> str:
            return "hello root value"

        @authz.rule({"ok": True})
        @strawberry.field
        def ruled(self) -> str:
            return "ruled"

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def touch(self) -> str:
            return "touched"

        @authz.rule({"ok": True})
        @strawberry.mutation
        def ruled_touch(self) -> str:
            return "ruled"

    return Query, Mutation


def test_root_fields_covered_only_by_default_scopes_deny_without_the_extension():
    authz = AuthExtension(
        lambda _: {"ok": True},
        default_scopes={"Query": {"ok": True}, "Mutation": {"ok": True}},
    )
    query, mutation = build_root(authz)
    bare = strawberry.Schema(query=query, mutation=mutation)
    for operation in ("{ plain }", "{ hello }", "mutation { touch }"):
        result = bare.execute_sync(operation, root_value=query())
        assert result.data is None or not any(result.data.values()), operation
        assert codes(result) == ["FORBIDDEN"], operation
        assert "root value" not in str(result.data) and "touched" not in str(
            result.data
        )
    installed = strawberry.Schema(query=query, mutation=mutation, extensions=[authz])
    result = installed.execute_sync("{ plain hello ruled }", root_value=query())
    assert not result.errors
    assert result.data == {
        "plain": "plain root value",
        "hello": "hello root value",
        "ruled": "ruled",
    }
    assert installed.execute_sync("mutation { touch }").data == {"touch": "touched"}
