"""A type rule on a subclass of `relay.ListConnection` stays on that class:
Strawberry shares `edges` / `pageInfo` field objects between connection
classes, and a marker put on a shared one would deny every other schema's
connections ("Authorization is not active")."""

import strawberry
from strawberry import relay

from strawberry_authz import AuthExtension


def test_a_rule_on_one_connection_subclass_leaves_other_schemas_connections_alone():
    first = AuthExtension(lambda context: {"ok": True})

    @first.type_rule({"ok": True})
    @strawberry.type
    class Fruit:
        name: str

    @first.type_rule({"ok": True})
    @strawberry.type
    class FruitConnection(relay.ListConnection[Fruit]):
        pass

    @strawberry.type
    class FruitQuery:
        @relay.connection(FruitConnection)
        def fruits(self) -> list[Fruit]:
            return [Fruit(name="a")]

    fruits = strawberry.Schema(query=FruitQuery, extensions=[first])

    second = AuthExtension(lambda context: {"ok": True})

    @second.type_rule({"ok": True})
    @strawberry.type
    class Seed:
        weight: int

    @strawberry.type
    class SeedQuery:
        @relay.connection(relay.ListConnection[Seed])
        def seeds(self) -> list[Seed]:
            return [Seed(weight=1)]

    seeds = strawberry.Schema(query=SeedQuery, extensions=[second])

    result = seeds.execute_sync(
        "{ seeds { edges { node { weight } } pageInfo { hasNextPage } } }"
    )
    assert result.errors is None
    assert result.data == {
        "seeds": {
            "edges": [{"node": {"weight": 1}}],
            "pageInfo": {"hasNextPage": False},
        }
    }
    result = fruits.execute_sync("{ fruits { edges { node { name } } } }")
    assert result.errors is None
    assert result.data == {"fruits": {"edges": [{"node": {"name": "a"}}]}}
