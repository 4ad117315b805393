"""Red team, third wave: two viewers at once against one SpiceDB adapter.

One `SpiceDB` adapter and one schema serve every request; the requests run
concurrently (`asyncio.gather`), through the filter (LookupResources, ids
remembered for the rows' check) and through per-object checks
(CheckBulkPermissions). No viewer ever gets another's answers.
"""

import asyncio
from typing import Any

import pytest
import spicedbkit
import strawberry
from spicedbkit import VISIBLE
from test_spicedb_filter import documents, schema_over

from strawberry_authz import AuthExtension
from strawberry_authz.spicedb import SpiceDB


def checking_schema(spicedb: SpiceDB) -> strawberry.Schema:
    authz = AuthExtension(lambda context: {"can": spicedb.scope(context)})

    @authz.type_rule(
        lambda p: {"can": ["document", p.root.id, "view"]},
        on_object=True,
        drop_denied=True,
    )
    @strawberry.type
    class Document:
        id: str

    @strawberry.type
    class Query:
        @strawberry.field
        async def documents(self) -> list[Document]:
            await asyncio.sleep(0)
            for n in spicedbkit.DOCUMENTS:
                yield Document(id=n)

    return strawberry.Schema(query=Query, extensions=[authz])


@pytest.mark.parametrize("path", ["filter", "check"])
async def test_concurrent_viewers_never_share_spicedb_answers(db: Any, path: str):
    spicedb = SpiceDB.from_embedded(
        db, subject=lambda c: c.get("user"), consistency=spicedbkit.FRESH
    )
    if path == "filter":
        schema, _, _ = schema_over(spicedb, documents())
    else:
        schema = checking_schema(spicedb)
    viewers = [*sorted(VISIBLE), None] * 3
    results = await asyncio.gather(
        *(
            schema.execute(
                "{ documents { id } }",
                context_value={"user": f"user:{v}"} if v else {},
            )
            for v in viewers
        )
    )
    for viewer, result in zip(viewers, results, strict=True):
        assert result.errors is None
        seen = {str(d["id"]) for d in result.data["documents"]}
        assert seen == (VISIBLE[viewer] if viewer else set()), viewer
