"""authz.check_sync with a *sync* BatchScope under async execution."""

import asyncio

import strawberry
from authzkit import dump

from strawberry_authz import AuthExtension, BatchScope

authz = AuthExtension(
    lambda c: {"can": BatchScope(lambda values: [v == 1 for v in values])}
)


@strawberry.type
class Query:
    @strawberry.field
    def doc(self, info: strawberry.Info, id: int) -> str | None:
        if not authz.check_sync(info, {"can": id}):
            return None
        return f"doc {id}"


schema = strawberry.Schema(query=Query, extensions=[authz])


def test_check_sync_with_a_sync_batch_scope_works_under_execute_sync():
    r = schema.execute_sync("{ a: doc(id: 1) b: doc(id: 2) }")
    assert r.errors is None and r.data == {"a": "doc 1", "b": None}


def test_check_sync_with_a_sync_batch_scope_works_under_async_execute():
    r = asyncio.run(schema.execute("{ a: doc(id: 1) b: doc(id: 2) }"))
    assert "RuntimeError" not in dump(r) and "check_sync" not in dump(r), dump(r)
    assert r.data == {"a": "doc 1", "b": None}, dump(r)
