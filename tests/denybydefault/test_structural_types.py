"""Types that hold no data of their own under deny by default: Strawberry's
relay `Connection` / `ListConnection` / `Edge` / `PageInfo` fields and the
library's own `Permission` follow the field that returned them; the objects
inside (`Edge.node`) and fields a user adds keep their own rules."""

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest
import strawberry
from authzkit import codes, dump
from strawberry import relay

from strawberry_authz import AuthExtension
from strawberry_authz.report import build_report

# Strawberry's own relay code matches `info` by name on older releases.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Argument name-based matching of 'info':DeprecationWarning"
)

CONNECTION = """{ fruits(first: 1) {
  edges { cursor node { name } }
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
} }"""


def build(fallback: Any = False) -> tuple[strawberry.Schema, AuthExtension]:
    authz = AuthExtension(
        lambda context: {"member": context.get("member", False)},
        fallback_rule=fallback,
    )

    @authz.type_rule({"member": True})
    @strawberry.type
    class Fruit(relay.Node):
        code: relay.NodeID[int]
        name: str

    @strawberry.type
    class Pit(relay.Node):  # no rule: deny by default holds for its fields
        code: relay.NodeID[int]
        weight: int

    @strawberry.type
    class FruitBasket(relay.ListConnection[Fruit]):
        @strawberry.field
        def total(self) -> int:  # data a user added: not structure
            return 2

    @strawberry.type
    class Query:
        @authz.rule({"member": True})
        @relay.connection(relay.ListConnection[Fruit])
        def fruits(self) -> Iterable[Fruit]:
            return [Fruit(code=1, name="apple"), Fruit(code=2, name="pear")]

        @authz.rule({"member": True})
        @relay.connection(FruitBasket)
        async def basket(self) -> Iterable[Fruit]:
            return [Fruit(code=1, name="apple"), Fruit(code=2, name="pear")]

        @authz.rule({"member": True})
        @relay.connection(relay.ListConnection[Pit])
        def pits(self) -> Iterable[Pit]:
            return [Pit(code=1, weight=3)]

        permissions = authz.permissions_field({"fruit:read": {"member": True}})

    return strawberry.Schema(query=Query, extensions=[authz]), authz


MEMBER = {"member": True}


@pytest.mark.parametrize("fallback", [False, None])
def test_relay_connection_structure_follows_the_connection_field(fallback):
    schema, _ = build(fallback)
    result = schema.execute_sync(CONNECTION, context_value=MEMBER)
    assert result.errors is None
    assert result.data == {
        "fruits": {
            "edges": [
                {"cursor": "YXJyYXljb25uZWN0aW9uOjA=", "node": {"name": "apple"}}
            ],
            "pageInfo": {
                "hasNextPage": True,
                "hasPreviousPage": False,
                "startCursor": "YXJyYXljb25uZWN0aW9uOjA=",
                "endCursor": "YXJyYXljb25uZWN0aW9uOjA=",
            },
        }
    }


def test_the_connection_field_still_decides_for_its_structure():
    schema, _ = build()
    result = schema.execute_sync(CONNECTION, context_value={})
    assert result.data is None
    assert codes(result) == ["FORBIDDEN"]


def test_a_connection_subclass_under_async_keeps_structure_and_denies_added_data():
    schema, _ = build()
    query = "{ basket { edges { node { name } } pageInfo { hasNextPage } total } }"
    result = asyncio.run(schema.execute(query, context_value=MEMBER))
    assert codes(result) == ["FORBIDDEN"]
    assert [error.path for error in result.errors] == [["basket", "total"]]
    structure = "{ basket { edges { cursor node { name } } pageInfo { endCursor } } }"
    result = asyncio.run(schema.execute(structure, context_value=MEMBER))
    assert result.errors is None
    assert [edge["node"] for edge in result.data["basket"]["edges"]] == [
        {"name": "apple"},
        {"name": "pear"},
    ]


def test_the_nodes_of_a_connection_keep_deny_by_default():
    schema, _ = build()
    result = schema.execute_sync(
        "{ pits { edges { cursor node { id weight } } } }", context_value=MEMBER
    )
    assert "weight" not in dump(result).replace("'weight']", "")
    assert set(codes(result)) == {"FORBIDDEN"}
    assert {tuple(error.path[-1:]) for error in result.errors} <= {("id",), ("weight",)}


@pytest.mark.parametrize("member", [True, False])
def test_permissions_field_answers_under_deny_by_default(member):
    schema, _ = build()
    result = schema.execute_sync(
        "{ permissions { name allowed } }", context_value={"member": member}
    )
    assert result.errors is None
    assert result.data == {"permissions": [{"name": "fruit:read", "allowed": member}]}


@pytest.mark.parametrize("fallback", [False, None])
def test_the_report_says_structure_follows_its_field(fallback):
    schema, authz = build(fallback)
    authz.validate(schema)
    rows = {row.coordinate: row for row in build_report(schema).fields}
    for coordinate in (
        "FruitConnection.edges",
        "FruitConnection.pageInfo",
        "FruitEdge.cursor",
        "FruitEdge.node",
        "PageInfo.hasNextPage",
        "PageInfo.endCursor",
        "FruitBasket.edges",
    ):
        assert rows[coordinate].status == "follows", coordinate
    # The library's answers are part of the capability field that returned them.
    assert rows["Permission.name"].status == "capability"
    assert rows["Permission.allowed"].status == "capability"
    expected = "open" if fallback is None else "protected"
    assert rows["FruitBasket.total"].status == expected
    assert rows["Pit.weight"].status == expected
    assert rows["Pit.id"].status == expected
