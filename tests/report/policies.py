"""Schemas the report tests load, in process and by name from the command line.

`schema` has a rule of every source kind and one field nothing protects;
`guarded` is the same policy with `fallback_rule=False`; `unreachable_grant`
asks for a grant no field gives (does not validate); `make_schema` is a
factory.
"""

from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from strawberry_authz import AuthExtension, AuthParams


def owns_document(params: AuthParams, document: Any) -> bool:
    return document is not None


def sees_event(params: AuthParams, event: int) -> bool:
    return event % 2 == 0


def visible_document(params: AuthParams) -> bool:
    return True


def build(fallback: Any = None) -> strawberry.Schema:
    authz = AuthExtension(
        lambda context: {"member": True, "admin": True},
        default_scopes={
            "Query": {"member": True},
            "Subscription": {"subscribe": {"member": True}, "resolve": {"admin": True}},
        },
        fallback_rule=fallback,
    )

    @authz.type_rule({"member": True})
    @strawberry.interface
    class Node:
        id: strawberry.ID

        @authz.rule({"admin": True})
        @strawberry.field
        def handle(self) -> str:
            return "@one"

    @authz.type_rule({"admin": True})
    @strawberry.type
    class Account(Node):
        @authz.rule({"$granted": "read_email"})
        @strawberry.field
        def email(self) -> str:
            return "a@example.com"

        can_edit: bool = authz.can_field({"admin": True})

    @authz.type_rule(visible_document, on_object=True)
    @strawberry.type
    class Document:
        title: str

    @strawberry.type
    class Plain:
        label: str

    @strawberry.type
    class Query:
        @authz.rule({"$or": [{"admin": True}, {"member": True}]}, grants=["read_email"])
        @strawberry.field
        def account(self) -> Account:
            return Account(id=strawberry.ID("1"))

        @authz.post_rule(owns_document)
        @strawberry.field
        def document(self) -> Document | None:
            return Document(title="doc")

        @authz.rule(True, skip_defaults=True)
        @strawberry.field
        def plain(self) -> Plain:
            return Plain(label="plain")

    @strawberry.type
    class Subscription:
        @authz.post_rule(sees_event)
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            yield 2

        @authz.rule({"member": True})
        @authz.post_rule(sees_event, drop_denied=True)
        @strawberry.subscription
        async def quiet(self) -> AsyncGenerator[int, None]:
            yield 2

    return strawberry.Schema(query=Query, subscription=Subscription, extensions=[authz])


schema = build()
guarded = build(False)


def make_schema() -> strawberry.Schema:
    return build()


def build_unreachable_grant() -> strawberry.Schema:
    authz = AuthExtension(lambda context: {})

    @strawberry.type
    class Secret:
        @authz.rule({"$granted": "never_given"})
        @strawberry.field
        def value(self) -> str:
            return "secret"

    @strawberry.type
    class Query:
        @strawberry.field
        def secret(self) -> Secret:
            return Secret()

    return strawberry.Schema(query=Query, extensions=[authz])


unreachable_grant = build_unreachable_grant()
not_a_schema = 42
