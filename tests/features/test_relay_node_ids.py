"""A type rule on a relay node type covers that type's `id`, and only its.

Strawberry 0.287 gives every `relay.Node` type one and the same `id` field
object; a type rule on one node type must still apply to that type's `id`
alone, and only in the schema of the extension that declared it.
"""

import asyncio
from typing import Any

import pytest
import strawberry
from authzkit import codes, dump, messages
from strawberry import relay

from strawberry_authz import AuthExtension

# Strawberry's own relay code matches `info` by name on older releases.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Argument name-based matching of 'info':DeprecationWarning"
)


def scopes(context: dict[str, Any]) -> dict[str, bool]:
    return {"member": bool(context.get("member"))}


authz_a = AuthExtension(scopes)
authz_b = AuthExtension(scopes)


@authz_a.type_rule({"member": True})
@strawberry.type
class Apple(relay.Node):
    code: relay.NodeID[int]
    name: str


@strawberry.type
class Crab(Apple):  # inherits Apple's type rule
    claws: int


@authz_a.type_rule({"member": True})
@strawberry.type
class Date(relay.Node):  # a second node type under the same extension's rule
    code: relay.NodeID[int]
    name: str


@authz_a.type_rule({"member": True})
@strawberry.interface
class Plant(relay.Node):
    name: str


@strawberry.type
class Fig(Plant):  # implements a type-ruled interface
    code: relay.NodeID[int]


@strawberry.type
class Berry(relay.Node):  # no rule of any extension
    code: relay.NodeID[int]
    name: str


@authz_b.type_rule({"member": True})
@strawberry.type
class Cherry(relay.Node):  # a rule of the other extension
    code: relay.NodeID[int]
    name: str


@strawberry.type
class QueryA:
    @strawberry.field
    def apple(self) -> Apple | None:
        return Apple(code=1, name="apple")

    @strawberry.field
    def crab(self) -> Crab | None:
        return Crab(code=4, name="crab", claws=2)

    @strawberry.field
    def date(self) -> Date | None:
        return Date(code=5, name="date")

    @strawberry.field
    def fig(self) -> Fig | None:
        return Fig(code=6, name="fig")

    @strawberry.field
    def berry(self) -> Berry | None:
        return Berry(code=2, name="berry")

    @relay.connection(relay.ListConnection[Apple])
    def apples(self) -> list[Apple]:
        return [Apple(code=1, name="apple")]


@strawberry.type
class QueryB:
    @strawberry.field
    def berry(self) -> Berry | None:
        return Berry(code=2, name="berry")

    @strawberry.field
    def cherry(self) -> Cherry | None:
        return Cherry(code=3, name="cherry")

    @strawberry.field
    def apple(self) -> Apple | None:
        return Apple(code=1, name="apple")


schema_a = strawberry.Schema(query=QueryA, extensions=[authz_a])
schema_b = strawberry.Schema(query=QueryB, extensions=[authz_b])
# Forgot the extension: whatever has a rule must fail closed.
schema_without = strawberry.Schema(query=QueryA)

APPLE_ID = relay.to_base64("Apple", 1)
CRAB_ID = relay.to_base64("Crab", 4)
BERRY_ID = relay.to_base64("Berry", 2)
CHERRY_ID = relay.to_base64("Cherry", 3)
DATE_ID = relay.to_base64("Date", 5)
FIG_ID = relay.to_base64("Fig", 6)


def run(schema: strawberry.Schema, query: str, member: bool, mode: str) -> Any:
    context = {"member": member}
    if mode == "async":
        return asyncio.run(schema.execute(query, context_value=context))
    return schema.execute_sync(query, context_value=context)


MODES = pytest.mark.parametrize("mode", ["sync", "async"])
NOT_ACTIVE = "Authorization is not active for this field; access denied."


@MODES
def test_the_type_rule_serves_its_node_id_to_a_viewer_who_passes(mode):
    query = """{ apple { id name } crab { id } date { id } fig { id }
        apples(first: 1) { edges { node { id } } } }"""
    result = run(schema_a, query, True, mode)
    assert result.errors is None, result.errors
    assert result.data == {
        "apple": {"id": APPLE_ID, "name": "apple"},
        "crab": {"id": CRAB_ID},
        "date": {"id": DATE_ID},
        "fig": {"id": FIG_ID},
        "apples": {"edges": [{"node": {"id": APPLE_ID}}]},
    }


@MODES
def test_the_type_rule_denies_its_node_id_to_a_viewer_who_fails(mode):
    query = "{ apple { id } crab { id } date { id } fig { id } }"
    result = run(schema_a, query, False, mode)
    assert result.data == {"apple": None, "crab": None, "date": None, "fig": None}
    assert codes(result) == ["FORBIDDEN"] * 4
    for node_id in (APPLE_ID, CRAB_ID, DATE_ID, FIG_ID):
        assert node_id not in dump(result)


@MODES
def test_the_type_rule_denies_its_node_ids_inside_a_connection(mode):
    query = "{ apples(first: 1) { edges { node { id } } } }"
    result = run(schema_a, query, False, mode)
    assert result.data is None  # the denied id is non-null up to the root
    assert codes(result) == ["FORBIDDEN"]
    assert APPLE_ID not in dump(result)


@MODES
def test_a_node_type_without_a_rule_serves_its_id(mode):
    result = run(schema_a, "{ berry { id name } }", False, mode)
    assert result.errors is None, result.errors
    assert result.data == {"berry": {"id": BERRY_ID, "name": "berry"}}


@MODES
def test_another_extensions_schema_serves_node_ids_by_its_own_rules(mode):
    member = run(schema_b, "{ berry { id } cherry { id name } }", True, mode)
    assert member.errors is None, member.errors
    assert member.data == {
        "berry": {"id": BERRY_ID},
        "cherry": {"id": CHERRY_ID, "name": "cherry"},
    }
    other = run(schema_b, "{ berry { id } cherry { id } }", False, mode)
    assert other.data == {"berry": {"id": BERRY_ID}, "cherry": None}
    assert codes(other) == ["FORBIDDEN"]


@MODES
def test_a_rule_of_an_extension_the_schema_does_not_use_still_denies_the_id(mode):
    result = run(schema_b, "{ apple { id } }", True, mode)
    assert result.data == {"apple": None}
    assert messages(result) == [NOT_ACTIVE]


@MODES
def test_a_schema_without_the_extension_denies_only_the_ruled_node_ids(mode):
    query = "{ apple { id } crab { id } date { id } fig { id } berry { id } }"
    result = run(schema_without, query, True, mode)
    assert result.data == {
        "apple": None,
        "crab": None,
        "date": None,
        "fig": None,
        "berry": {"id": BERRY_ID},
    }
    assert messages(result) == [NOT_ACTIVE] * 4


@MODES
def test_a_schema_without_the_extension_denies_every_field_of_each_ruled_node(mode):
    query = "{ apple { name } crab { name claws } date { name } fig { name } }"
    result = run(schema_without, query, True, mode)
    assert result.data == {"apple": None, "crab": None, "date": None, "fig": None}
    assert messages(result) == [NOT_ACTIVE] * 4
