"""The report never calls `protected` a field a viewer without scopes reads.

Checked by executing, not by reading the plan: for each schema below (root
object rules, type rules holding no rule, relay connections, capabilities,
grants, `$not`, post rules, subscriptions; deny by default on and off),
every field is queried along every path from a root as an anonymous viewer
(no scope passes), and every field whose value came back must not be
`protected` in the report.
"""

from collections.abc import AsyncGenerator, Iterable
from typing import Annotated, Any

import pytest
import strawberry
from reachkit import fields_read
from strawberry import relay

from strawberry_authz import AuthExtension
from strawberry_authz.report import build_report

# Strawberry's own relay code matches `info` by name on older releases.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Argument name-based matching of 'info':DeprecationWarning"
)

ANONYMOUS: dict[str, Any] = {}
SCOPES = ("member", "admin", "banned")


def scopes(context: dict[str, Any]) -> dict[str, Any]:
    return {name: context.get(name, False) for name in SCOPES}


def root_object_rules(fallback: Any) -> strawberry.Schema:
    authz = AuthExtension(scopes, fallback_rule=fallback)

    @authz.type_rule({"admin": True}, on_object=True)
    @strawberry.type
    class RootQuery:
        @strawberry.field
        def secret(self) -> str:
            return "secret"

        @authz.rule(True, skip_type_rules=True)
        @strawberry.field
        def status(self) -> str:
            return "ok"

    @authz.type_rule(lambda params: {"admin": True}, on_object=True)
    @strawberry.type
    class RootMutation:
        @strawberry.mutation
        def wipe(self) -> bool:
            return True

    @authz.type_rule({"admin": True}, on_object=True)
    @strawberry.type
    class RootSubscription:
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            yield 1

    return strawberry.Schema(
        query=RootQuery,
        mutation=RootMutation,
        subscription=RootSubscription,
        extensions=[authz],
    )


def empty_type_rules(fallback: Any) -> strawberry.Schema:
    authz = AuthExtension(scopes, fallback_rule=fallback)

    @strawberry.interface
    class Named:
        name: str

    @authz.type_rule(on_object=True, grants=lambda params: ["owner"])
    @strawberry.type
    class Granting(Named):
        code: str

    @authz.type_rule(on_object=True, skip_interface_rules=True)
    @strawberry.type
    class Skipping(Named):
        code: str

    @authz.type_rule(grants=lambda params: ["owner"])
    @strawberry.type
    class Lone:
        code: str

    @strawberry.type
    class Query:
        @authz.rule(True)
        @strawberry.field
        def granting(self) -> list[Granting | None]:
            return [Granting(name="n", code="c")]

        @authz.rule(True)
        @strawberry.field
        def skipping(self) -> Skipping | None:
            return Skipping(name="n", code="c")

        @authz.rule(True)
        @strawberry.field
        def lone(self) -> Lone | None:
            return Lone(code="c")

    return strawberry.Schema(query=Query, extensions=[authz])


def relay_connections(fallback: Any) -> strawberry.Schema:
    authz = AuthExtension(scopes, fallback_rule=fallback)

    @authz.type_rule({"member": True})
    @strawberry.type
    class Fruit(relay.Node):
        code: relay.NodeID[int]
        name: str

    @authz.type_rule(lambda params: {"member": True}, on_object=True)
    @strawberry.type
    class Seed(relay.Node):
        code: relay.NodeID[int]
        weight: int

    @strawberry.type
    class Pit(relay.Node):
        code: relay.NodeID[int]
        size: int

    @strawberry.type
    class Basket(relay.ListConnection[Fruit]):
        @strawberry.field
        def total(self) -> int:
            return 2

    @strawberry.type
    class Query:
        @authz.rule(True)
        @relay.connection(relay.ListConnection[Fruit])
        def fruits(self) -> Iterable[Fruit]:
            return [Fruit(code=1, name="apple")]

        @authz.rule(True)
        @relay.connection(relay.ListConnection[Seed])
        def seeds(self) -> Iterable[Seed]:
            return [Seed(code=1, weight=2)]

        @authz.rule(True)
        @relay.connection(relay.ListConnection[Pit])
        async def pits(self) -> Iterable[Pit]:
            return [Pit(code=1, size=3)]

        @authz.rule({"member": True})
        @relay.connection(Basket)
        def basket(self) -> Iterable[Fruit]:
            return [Fruit(code=2, name="pear")]

        @authz.rule(True)
        @relay.connection(Basket)
        def open_basket(self) -> Iterable[Fruit]:
            return [Fruit(code=3, name="fig")]

    return strawberry.Schema(query=Query, extensions=[authz])


def capabilities_and_grants(fallback: Any) -> strawberry.Schema:
    authz = AuthExtension(
        scopes,
        fallback_rule=fallback,
        default_scopes={"Mutation": {"member": True}},
    )

    @strawberry.type
    class Shelf:
        @authz.rule({"$granted": "shelf"})
        @strawberry.field
        def label(self) -> str:
            return "label"

        @authz.rule({"$or": [{"$granted": "locked"}, {"admin": True}]})
        @strawberry.field
        def key(self) -> str:
            return "key"

        @authz.rule({"$not": {"banned": True}})
        @strawberry.field
        def notice(self) -> str:
            return "notice"

        @authz.rule({"$not": {"$not": {"admin": True}}})
        @strawberry.field
        def odd(self) -> str:
            return "odd"

        can_edit: bool = authz.can_field({"admin": True})

    @authz.type_rule({"member": True})
    @strawberry.type
    class Account:
        email: str = "a@example.com"

    @authz.type_rule(lambda params: {"member": True}, on_object=True)
    @strawberry.type
    class Invoice:
        total: int = 3

    @strawberry.type
    class Query:
        @authz.rule(True, grants=["shelf"])
        @strawberry.field
        def open_shelf(self) -> Shelf:
            return Shelf()

        @authz.rule({"member": True}, grants=["locked"])
        @strawberry.field
        def locked_shelf(self) -> Shelf | None:
            return Shelf()

        @authz.post_rule(lambda params, result: {"member": True})
        @strawberry.field
        def account(self) -> Account | None:
            return Account()

        @authz.rule(True)
        @strawberry.field
        def billing(
            self,
        ) -> list[Annotated[Invoice | Account, strawberry.union("Bill")] | None]:
            return [Invoice(), Account()]

        @strawberry.field
        def plain(self) -> str:
            return "plain"

        permissions = authz.permissions_field({"shelf:edit": {"admin": True}})

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def touch(self) -> bool:
            return True

        @authz.rule(True, skip_defaults=True)
        @strawberry.mutation
        def ping(self) -> bool:
            return True

    @strawberry.type
    class Subscription:
        @authz.post_rule(lambda params, event: {"member": True})
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            yield 1

        @authz.rule(True)
        @strawberry.subscription
        async def beats(self) -> AsyncGenerator[int, None]:
            yield 1

    return strawberry.Schema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=[authz]
    )


SCHEMAS = {
    "root object rules": root_object_rules,
    "empty type rules": empty_type_rules,
    "relay connections": relay_connections,
    "capabilities and grants": capabilities_and_grants,
}


@pytest.mark.parametrize("fallback", [None, False, True])
@pytest.mark.parametrize("name", SCHEMAS)
def test_no_field_the_report_calls_protected_is_read_by_a_viewer_without_scopes(
    name, fallback
):
    schema = SCHEMAS[name](fallback)
    status = {row.coordinate: row.status for row in build_report(schema).fields}
    read, tried = fields_read(schema, ANONYMOUS)
    protected = {c for c, s in status.items() if s == "protected"}
    assert protected <= set(tried), "every protected field is queried"
    assert read, "the viewer reads something: the queries work"
    wrongly = {coordinate: status[coordinate] for coordinate in read & protected}
    assert wrongly == {}


@pytest.mark.parametrize("name", SCHEMAS)
def test_a_member_admin_reads_the_fields_the_anonymous_viewer_cannot(name):
    """The queries reach the protected fields: someone allowed does read them."""
    schema = SCHEMAS[name](None)
    status = {row.coordinate: row.status for row in build_report(schema).fields}
    read, _ = fields_read(schema, {"member": True, "admin": True})
    protected = {c for c, s in status.items() if s == "protected"}
    assert protected - read == set()


def test_the_report_says_why_fields_a_viewer_without_scopes_reads_are_not_protected():
    status = {
        row.coordinate: row.status
        for row in build_report(capabilities_and_grants(False)).fields
    }
    assert status["Shelf.label"] == "public"  # granted by a public field
    assert status["Shelf.key"] == "protected"  # granted by a member field only
    assert status["Shelf.notice"] == "public"  # $not of a scope
    assert status["Shelf.odd"] == "protected"
    assert status["Query.plain"] == "protected"  # the fallback, False
    assert status["Mutation.ping"] == "public"
    assert status["Mutation.touch"] == "protected"  # default scopes
    assert status["Permission.name"] == "capability"
    assert status["Shelf.canEdit"] == "capability"
    root = {row.coordinate: row for row in build_report(root_object_rules(None)).fields}
    assert root["RootQuery.secret"].status == "protected"
    assert [(c.phase, c.source) for c in root["RootQuery.secret"].checks] == [
        ("before", "type")
    ]
