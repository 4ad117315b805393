"""on_object rules picked by Python class for unions/interfaces."""

from typing import Annotated

import strawberry

from strawberry_authz import AuthExtension


def load_scopes(context):
    return {"owns": lambda owner: owner == "me", "is_admin": False}


authz = AuthExtension(load_scopes)


@authz.type_rule(lambda p: {"owns": p.root.owner}, on_object=True)
@strawberry.type
class Doc:
    owner: strawberry.Private[str]
    text: str


@authz.type_rule({"is_admin": True}, on_object=True)  # stricter: admins only
@strawberry.type
class AdminDoc(Doc):
    note: str


@strawberry.type
class Other:
    x: int


# A type whose objects are plain dicts (is_type_of), as with ORM rows.
@authz.type_rule(lambda p: {"owns": p.root["owner"]}, on_object=True)
@strawberry.type
class Row:
    @classmethod
    def is_type_of(cls, obj, info):
        return isinstance(obj, dict) and "row" in obj

    @strawberry.field
    def text(self, root: strawberry.Parent[dict]) -> str:  # type: ignore[type-arg]
        return root["row"]


@strawberry.type
class Query:
    @strawberry.field
    def union_docs(
        self,
    ) -> list[Annotated[Doc | AdminDoc, strawberry.union("DU")]]:
        return [AdminDoc(owner="me", text="t", note="ADMIN-ONLY-LEAK")]

    @strawberry.field
    def one(self) -> Annotated[Doc | AdminDoc, strawberry.union("DU1")]:
        return AdminDoc(owner="me", text="t", note="ADMIN-ONLY-LEAK")

    @strawberry.field
    def rows(self) -> list[Annotated[Row | Other, strawberry.union("RU")]]:
        return [{"row": "mine", "owner": "me"}, {"row": "ROW-LEAK", "owner": "other"}]

    @strawberry.field
    def rows_concrete(self) -> list[Row]:
        return [{"row": "mine", "owner": "me"}, {"row": "ROW-LEAK", "owner": "other"}]


schema = strawberry.Schema(query=Query, extensions=[authz], types=[AdminDoc])


def test_control_admin_doc_direct():
    @strawberry.type
    class Q2:
        @strawberry.field
        def d(self) -> AdminDoc:
            return AdminDoc(owner="me", text="t", note="ADMIN-ONLY-LEAK")

    s = strawberry.Schema(query=Q2, extensions=[authz])
    r = s.execute_sync("{ d { note } }")
    assert r.data is None or "ADMIN-ONLY-LEAK" not in repr(r.data)


def test_subclass_in_union_gets_its_own_stricter_rule():
    r = schema.execute_sync("{ unionDocs { ... on AdminDoc { note } } }")
    assert "ADMIN-ONLY-LEAK" not in repr(r.data), r.data


def test_single_subclass_in_union_gets_its_own_stricter_rule():
    r = schema.execute_sync("{ one { ... on AdminDoc { note } } }")
    assert "ADMIN-ONLY-LEAK" not in repr(r.data), r.data


def test_union_items_typed_by_is_type_of_are_checked():
    r = schema.execute_sync("{ rows { ... on Row { text } } }")
    assert "ROW-LEAK" not in repr(r.data), r.data


def test_control_concrete_rows():
    r = schema.execute_sync("{ rowsConcrete { text } }")
    assert "ROW-LEAK" not in repr(r.data), r.data
