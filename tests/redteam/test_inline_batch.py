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


def test_check_sync_on_an_async_batch_scope_leaves_the_value_to_be_asked_later():
    """`check_sync` cannot wait for an async `load_fn`: it fails closed for
    its own call, and a later field asking the same value (under
    `execute`, which can wait) gets the loader's answer, not that failure."""
    calls: list[list[object]] = []

    async def load(values: list[object]) -> list[bool]:
        calls.append(list(values))
        return [True for _ in values]

    authz = AuthExtension(lambda c: {"can": BatchScope(load)})

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def first(self, info: strawberry.Info) -> bool:
            return authz.check_sync(info, {"can": 1})

        @authz.rule({"can": 1})
        @strawberry.mutation
        def second(self) -> str:
            return "allowed"

    @strawberry.type
    class Q:
        x: int = 0

    schema = strawberry.Schema(query=Q, mutation=Mutation, extensions=[authz])
    result = asyncio.run(
        asyncio.wait_for(schema.execute("mutation { first second }"), 10)
    )
    assert result.data == {"first": False, "second": "allowed"}, dump(result)
    assert calls == [[1]]
