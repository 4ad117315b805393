"""Relay's `node` field under deny-by-default: a rule on it works, type rules hold."""

from typing import Any

import pytest
import strawberry
from authzkit import codes
from strawberry import relay

from strawberry_authz import AuthExtension

# Strawberry's own relay code matches `info` by name on older releases.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Argument name-based matching of 'info':DeprecationWarning"
)


def build(member: bool):
    authz = AuthExtension(lambda _: {"member": member}, fallback_rule=False)

    @authz.type_rule({"member": True})
    @strawberry.type
    class Fruit(relay.Node):
        code: relay.NodeID[int]
        name: str

        @classmethod
        def resolve_nodes(
            cls, *, info: strawberry.Info, node_ids: Any, required: bool = False
        ) -> list["Fruit"]:
            return [Fruit(code=int(i), name=f"fruit {i}") for i in node_ids]

    @strawberry.type
    class Query:
        node: relay.Node = relay.node(extensions=[authz.rule(True)])

    return strawberry.Schema(query=Query, types=[Fruit], extensions=[authz])


QUERY = '{ node(id: "RnJ1aXQ6MQ==") { ... on Fruit { name } } }'


def test_a_rule_on_relay_node_keeps_it_working():
    result = build(member=True).execute_sync(QUERY)
    assert not result.errors
    assert result.data == {"node": {"name": "fruit 1"}}


def test_type_rules_still_protect_objects_fetched_through_node():
    result = build(member=False).execute_sync(QUERY)
    assert result.data is None  # node is non-null: the denial reaches the root
    assert codes(result) == ["FORBIDDEN"]
    assert "fruit" not in str(result)
