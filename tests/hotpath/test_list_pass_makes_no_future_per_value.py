"""A list pass asks its values without a future per value: they wait in the
scope cache under the pass's `AskedTogether`, and the pass waits once."""

import asyncio
from typing import Any

from authzkit import ids_schema

from strawberry_authz import AuthExtension, BatchScope


class CountingLoop(asyncio.SelectorEventLoop):
    made = 0

    def create_future(self) -> asyncio.Future[Any]:
        type(self).made += 1
        return super().create_future()


def test_a_list_of_forty_makes_fewer_futures_than_chunks():
    def scopes(context: Any) -> dict[str, Any]:
        async def load(values: list[Any]) -> list[bool]:
            await asyncio.sleep(0)
            return [value % 2 == 0 for value in values]

        return {"can": BatchScope(load, max_batch_size=7)}

    authz = AuthExtension(scopes)
    schema = ids_schema(authz, lambda p: {"can": p.root.id}, range(40), on_object=True)
    loop = CountingLoop()
    try:
        result = loop.run_until_complete(schema.execute("{ docs { id } }"))
    finally:
        loop.close()
    assert result.data == {
        "docs": [{"id": i} if i % 2 == 0 else None for i in range(40)]
    }
    assert CountingLoop.made < 40 // 7  # the pass's one wait, not one per value
