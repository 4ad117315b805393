"""Targets the report command is pointed at by mistake: none is a schema.

`app` is an ASGI app serving a schema, `failing_factory` raises, `authz` is
the extension itself (calling it returns its per-operation part).
"""

import strawberry
from strawberry.asgi import GraphQL

from strawberry_authz import AuthExtension

authz = AuthExtension(lambda context: {"member": True})


@strawberry.type
class Query:
    @authz.rule({"member": True})
    @strawberry.field
    def hello(self) -> str:
        return "hi"


schema = strawberry.Schema(query=Query, extensions=[authz])
app = GraphQL(schema)


def failing_factory() -> strawberry.Schema:
    raise RuntimeError("database is down")
