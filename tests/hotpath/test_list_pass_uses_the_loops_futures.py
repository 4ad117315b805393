"""A list pass makes its futures without `loop.create_future`'s frame per
object, unless the loop makes futures of its own: then it asks the loop."""

import asyncio
from typing import Any

import strawberry

from strawberry_authz import AuthExtension, BatchScope


class CountingLoop(asyncio.SelectorEventLoop):
    made = 0

    def create_future(self) -> asyncio.Future[Any]:
        type(self).made += 1
        return super().create_future()


def test_a_loop_that_makes_its_own_futures_makes_the_list_passs():
    def scopes(context: Any) -> dict[str, Any]:
        async def load(values: list[Any]) -> list[bool]:
            await asyncio.sleep(0)
            return [value % 2 == 0 for value in values]

        return {"can": BatchScope(load, max_batch_size=7)}

    authz = AuthExtension(scopes)

    @authz.type_rule(lambda p: {"can": p.root.id}, on_object=True)
    @strawberry.type
    class Doc:
        id: int

    @strawberry.type
    class Query:
        @strawberry.field
        def docs(self) -> list[Doc | None]:
            return [Doc(id=i) for i in range(40)]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    loop = CountingLoop()
    try:
        result = loop.run_until_complete(schema.execute("{ docs { id } }"))
    finally:
        loop.close()
    assert result.data == {
        "docs": [{"id": i} if i % 2 == 0 else None for i in range(40)]
    }
    assert CountingLoop.made >= 40  # one per value the pass asked
