"""Interfaces and unions (issue 3, point 2).

The user holds a set of permissions (`context["has"]`); the scope `has`
passes for a value in that set, so each test can switch single rules on and
off and see exactly which ones a field needs.
"""

from typing import Annotated, Any

import strawberry
from featurekit import codes

from strawberry_authz import AuthExtension


def load_scopes(context: dict[str, Any]) -> dict[str, Any]:
    has = context["has"]
    return {"has": lambda value: value in has}


async def run(schema: strawberry.Schema, query: str, *has: str) -> Any:
    return await schema.execute(query, context_value={"has": set(has)})


def field_schema() -> strawberry.Schema:
    """`Node.secret` carries an interface rule; `Redeclared` adds its own."""
    authz = AuthExtension(load_scopes)

    @strawberry.interface
    class Node:
        id: strawberry.ID

        @authz.rule({"has": "iface"})
        @strawberry.field
        def secret(self) -> str | None:
            return f"secret of {self.id}"

    @strawberry.type
    class Inherits(Node):
        pass

    @strawberry.type
    class Redeclared(Node):
        @authz.rule({"has": "own"})
        @strawberry.field
        def secret(self) -> str | None:
            return f"own secret of {self.id}"

    @strawberry.type
    class OptedOut(Node):
        @authz.rule({"has": "own"}, skip_interface_rules=True)
        @strawberry.field
        def secret(self) -> str | None:
            return f"opted-out secret of {self.id}"

    @strawberry.type
    class Query:
        @strawberry.field
        def nodes(self) -> list[Node]:
            return [Inherits(id="i"), Redeclared(id="r"), OptedOut(id="o")]

        @strawberry.field
        def inherits(self) -> Inherits:
            return Inherits(id="i")

        @strawberry.field
        def redeclared(self) -> Redeclared:
            return Redeclared(id="r")

    return strawberry.Schema(
        query=Query, types=[Inherits, Redeclared, OptedOut], extensions=[authz]
    )


NODES = "{ nodes { __typename id secret } }"


async def test_interface_field_rule_applies_to_every_implementer():
    schema = field_schema()
    result = await run(schema, NODES, "own")
    assert result.data == {
        "nodes": [
            {"__typename": "Inherits", "id": "i", "secret": None},
            {"__typename": "Redeclared", "id": "r", "secret": None},
            {"__typename": "OptedOut", "id": "o", "secret": "opted-out secret of o"},
        ]
    }
    assert sorted(e.path for e in result.errors) == [
        ["nodes", 0, "secret"],
        ["nodes", 1, "secret"],
    ]
    assert codes(result) == ["FORBIDDEN", "FORBIDDEN"]


async def test_redeclared_field_needs_both_the_interface_rule_and_its_own():
    schema = field_schema()
    only_iface = await run(schema, NODES, "iface")
    assert [n["secret"] for n in only_iface.data["nodes"]] == [
        "secret of i",
        None,
        None,
    ]
    both = await run(schema, NODES, "iface", "own")
    assert both.errors is None
    assert [n["secret"] for n in both.data["nodes"]] == [
        "secret of i",
        "own secret of r",
        "opted-out secret of o",
    ]


async def test_interface_field_rule_applies_when_querying_the_concrete_type():
    schema = field_schema()
    query = "{ inherits { secret } redeclared { secret } }"
    denied = await run(schema, query, "own")
    assert denied.data == {"inherits": {"secret": None}, "redeclared": {"secret": None}}
    assert codes(denied) == ["FORBIDDEN", "FORBIDDEN"]
    allowed = await run(schema, query, "own", "iface")
    assert allowed.data == {
        "inherits": {"secret": "secret of i"},
        "redeclared": {"secret": "own secret of r"},
    }


async def test_skip_interface_rules_on_a_field_keeps_its_own_rule():
    schema = field_schema()
    result = await run(schema, NODES, "iface")
    # OptedOut ignores the interface rule but still needs its own.
    assert result.data["nodes"][2]["secret"] is None
    assert [e.path for e in result.errors if e.path[1] == 2] == [["nodes", 2, "secret"]]


def type_rule_schema() -> strawberry.Schema:
    """`Owned` has a type rule; implementers add fields and rules of their own."""
    authz = AuthExtension(load_scopes)

    @authz.type_rule({"has": "iface_type"})
    @strawberry.interface
    class Owned:
        owner: str

    @strawberry.type
    class Note(Owned):
        text: str

    @authz.type_rule({"has": "photo_type"})
    @strawberry.type
    class Photo(Owned):
        url: str

    @authz.type_rule(skip_interface_rules=True)
    @strawberry.type
    class PublicPost(Owned):
        title: str

    @authz.type_rule({"has": "doc_type"}, skip_interface_rules=True)
    @strawberry.type
    class Doc(Owned):
        name: str

    @strawberry.type
    class Query:
        @strawberry.field
        def note(self) -> Note | None:
            return Note(owner="ann", text="note text")

        @strawberry.field
        def photo(self) -> Photo | None:
            return Photo(owner="ann", url="photo url")

        @strawberry.field
        def post(self) -> PublicPost | None:
            return PublicPost(owner="ann", title="post title")

        @strawberry.field
        def doc(self) -> Doc | None:
            return Doc(owner="ann", name="doc name")

        @strawberry.field
        def everything(self) -> list[Owned | None]:
            return [
                Note(owner="n", text="t"),
                Photo(owner="p", url="u"),
                PublicPost(owner="q", title="x"),
                Doc(owner="d", name="m"),
            ]

    return strawberry.Schema(query=Query, types=[Note, Photo], extensions=[authz])


async def test_interface_type_rule_applies_to_every_field_of_every_implementer():
    schema = type_rule_schema()
    query = "{ note { owner text } }"
    denied = await run(schema, query)
    assert denied.data == {"note": None}
    assert codes(denied) == ["FORBIDDEN"]
    # The implementer's own field (not on the interface) is covered too.
    denied_text = await run(schema, "{ note { text } }")
    assert denied_text.data == {"note": None}
    allowed = await run(schema, query, "iface_type")
    assert allowed.data == {"note": {"owner": "ann", "text": "note text"}}
    assert allowed.errors is None


async def test_interface_type_rule_ands_with_the_implementer_type_rule():
    schema = type_rule_schema()
    query = "{ photo { url owner } }"
    for has in (("iface_type",), ("photo_type",)):
        result = await run(schema, query, *has)
        assert result.data == {"photo": None}, has
        assert codes(result) == ["FORBIDDEN"]
    both = await run(schema, query, "iface_type", "photo_type")
    assert both.data == {"photo": {"url": "photo url", "owner": "ann"}}


async def test_skip_interface_rules_on_a_type_rule_opts_the_whole_type_out():
    schema = type_rule_schema()
    post = await run(schema, "{ post { owner title } }")
    assert post.errors is None
    assert post.data == {"post": {"owner": "ann", "title": "post title"}}

    doc = await run(schema, "{ doc { owner name } }")
    assert doc.data == {"doc": None}
    doc = await run(schema, "{ doc { owner name } }", "doc_type")
    assert doc.errors is None
    assert doc.data == {"doc": {"owner": "ann", "name": "doc name"}}


async def test_objects_reached_through_an_interface_are_checked_by_their_own_type():
    schema = type_rule_schema()
    query = "{ everything { __typename owner } }"
    result = await run(schema, query, "iface_type")
    # Photo needs photo_type as well; Doc needs doc_type and not iface_type.
    assert result.data == {
        "everything": [
            {"__typename": "Note", "owner": "n"},
            None,
            {"__typename": "PublicPost", "owner": "q"},
            None,
        ]
    }
    assert sorted(e.path for e in result.errors) == [
        ["everything", 1, "owner"],
        ["everything", 3, "owner"],
    ]


async def test_skip_interface_rules_on_a_field_skips_the_interface_type_rule_too():
    authz = AuthExtension(load_scopes)

    @authz.type_rule({"has": "iface_type"})
    @strawberry.interface
    class Owned:
        owner: str

    @strawberry.type
    class Card(Owned):
        @authz.rule({"has": "own"}, skip_interface_rules=True)
        @strawberry.field
        def title(self) -> str:
            return "card title"

    @strawberry.type
    class Query:
        @strawberry.field
        def card(self) -> Card | None:
            return Card(owner="ann")

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = await run(schema, "{ card { title } }", "own")
    assert result.errors is None, [e.message for e in result.errors]
    assert result.data == {"card": {"title": "card title"}}

    # The interface's type rule still guards the fields that did not opt out.
    owner = await run(schema, "{ card { owner } }", "own")
    assert owner.data == {"card": None}
    assert codes(owner) == ["FORBIDDEN"]


def union_schema() -> strawberry.Schema:
    authz = AuthExtension(load_scopes)

    @authz.type_rule({"has": "read_users"})
    @strawberry.type
    class User:
        name: str

        @authz.rule({"has": "read_emails"})
        @strawberry.field
        def email(self) -> str | None:
            return f"{self.name}@example.com"

    @strawberry.type
    class Article:
        title: str

    SearchResult = Annotated[User | Article, strawberry.union("SearchResult")]

    @strawberry.type
    class Query:
        @strawberry.field
        def search(self) -> list[SearchResult | None]:
            return [Article(title="hello"), User(name="ann")]

        @strawberry.field
        def first(self) -> SearchResult:
            return User(name="bob")

    return strawberry.Schema(query=Query, extensions=[authz])


SEARCH = """
{
  search {
    __typename
    ... on Article { title }
    ... on User { name email }
  }
}
"""


async def test_objects_reached_through_a_union_are_checked_by_their_concrete_type():
    schema = union_schema()
    denied = await run(schema, SEARCH)
    assert denied.data == {
        "search": [{"__typename": "Article", "title": "hello"}, None]
    }
    assert codes(denied) == ["FORBIDDEN"]
    assert "ann" not in repr(denied.data)

    no_email = await run(schema, SEARCH, "read_users")
    assert no_email.data == {
        "search": [
            {"__typename": "Article", "title": "hello"},
            {"__typename": "User", "name": "ann", "email": None},
        ]
    }
    assert [e.path for e in no_email.errors] == [["search", 1, "email"]]

    full = await run(schema, SEARCH, "read_users", "read_emails")
    assert full.errors is None
    assert full.data["search"][1] == {
        "__typename": "User",
        "name": "ann",
        "email": "ann@example.com",
    }


async def test_single_union_field_is_checked_by_the_concrete_type():
    schema = union_schema()
    result = await run(schema, "{ first { ... on User { name } } }")
    assert result.data is None
    assert codes(result) == ["FORBIDDEN"]
    allowed = await run(schema, "{ first { ... on User { name } } }", "read_users")
    assert allowed.data == {"first": {"name": "bob"}}


async def test_rules_of_inherited_interfaces_and_resolverless_fields_apply():
    authz = AuthExtension(load_scopes)

    @strawberry.interface
    class Base:
        secret: str | None = strawberry.field(extensions=[authz.rule({"has": "base"})])

    @authz.type_rule({"has": "mid"})
    @strawberry.interface
    class Mid(Base):
        other: str | None = "other"

    @strawberry.type
    class Leaf(Mid):
        own: str | None = "own"

    @strawberry.type
    class Query:
        @strawberry.field
        def leaf(self) -> Leaf | None:
            return Leaf(secret="s")

    schema = strawberry.Schema(query=Query, extensions=[authz])
    query = "{ leaf { secret other own } }"
    only_mid = await run(schema, query, "mid")
    assert only_mid.data == {"leaf": {"secret": None, "other": "other", "own": "own"}}
    assert [e.path for e in only_mid.errors] == [["leaf", "secret"]]

    only_base = await run(schema, query, "base")
    assert only_base.data == {"leaf": {"secret": None, "other": None, "own": None}}
    assert codes(only_base) == ["FORBIDDEN"] * 3

    both = await run(schema, query, "base", "mid")
    assert both.errors is None
    assert both.data == {"leaf": {"secret": "s", "other": "other", "own": "own"}}
