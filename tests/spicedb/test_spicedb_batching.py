"""Batches counted against a real embedded SpiceDB (issue 9.1, 9.5).

A list of N documents under a per-object type rule costs
ceil(N / max_batch_size) `CheckBulkPermissions` calls, however many fields
each document selects: the engine batches the `BatchScope` values a list
needs (one loop tick with `execute`, rounds of the pre-decision with
`execute_sync`).
"""

import math
from typing import Any

import pytest
import spicedbkit
import strawberry
from spicedbkit import Counting

from strawberry_authz import AuthExtension
from strawberry_authz.spicedb import SpiceDB


def as_user(context: Any) -> str | None:
    return context.get("user")


def make_schema(spicedb: SpiceDB, count: int) -> strawberry.Schema:
    authz = AuthExtension(lambda context: {"can": spicedb.scope(context)})

    @authz.type_rule(lambda p: {"can": ["document", p.root.id, "view"]})
    @strawberry.type
    class Document:
        id: strawberry.ID
        title: str

    @strawberry.type
    class Query:
        @strawberry.field
        def documents(self) -> list[Document | None]:
            return [
                Document(id=strawberry.ID(str(n)), title=f"Doc {n}")
                for n in range(1, count + 1)
            ]

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize(
    ("count", "max_batch_size"), [(5, 1000), (7, 3), (250, 100), (1, 1)]
)
@pytest.mark.parametrize("execution", ["async", "sync"])
async def test_a_list_of_n_documents_is_ceil_n_over_batch_size_calls(
    db: Any, count: int, max_batch_size: int, execution: str
) -> None:
    spicedb = SpiceDB.from_embedded(
        db,
        subject=as_user,
        max_batch_size=max_batch_size,
        consistency=spicedbkit.FRESH,
    )
    counting = Counting(spicedb.client)
    spicedb.client = counting
    schema = make_schema(spicedb, count)
    query = "{ documents { id title } }"
    context = {"user": "user:alice"}

    if execution == "sync":
        result = schema.execute_sync(query, context_value=context)
    else:
        result = await schema.execute(query, context_value=context)

    # alice owns document 1 and, through team eng, views document 2.
    visible = {"1", "2"}
    assert result.data == {
        "documents": [
            {"id": str(n), "title": f"Doc {n}"} if str(n) in visible else None
            for n in range(1, count + 1)
        ]
    }
    assert counting.calls() == math.ceil(count / max_batch_size)
    sizes = [len(r.items) for r in counting.requests["CheckBulkPermissions"]]
    assert sum(sizes) == count
    assert max(sizes) <= max_batch_size
