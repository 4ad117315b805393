"""A Strawberry schema authorized by a real embedded SpiceDB (issue 9.5, 9.6).

`load_scopes` returns `{"can": spicedb.scope(context)}` and `Document` carries
`type_rule(lambda p: {"can": ["document", p.root.id, "view"]})`: each user
sees the documents SpiceDB lets them view, the others come back `null` with
`FORBIDDEN`, and no failure of the engine ever lets a document through.
"""

import logging
from typing import Any

import pytest
import spicedbkit
import strawberry
from authzkit import codes, dump
from spicedbkit import DOCUMENTS, VISIBLE, AsyncUnary, Broken, Counting, stop

from strawberry_authz import AuthExtension
from strawberry_authz.spicedb import SpiceDB

QUERY = "{ documents { id title } }"


def as_user(context: Any) -> str | None:
    user = context.get("user")
    return f"user:{user}" if user else None


def read_token(context: Any) -> Any:
    return context.get("token")


def make_schema(spicedb: SpiceDB) -> strawberry.Schema:
    authz = AuthExtension(lambda context: {"can": spicedb.scope(context)})

    @authz.type_rule(lambda p: {"can": ["document", p.root.id, "view"]})
    @strawberry.type
    class Document:
        id: strawberry.ID
        title: str

    def document(document_id: str) -> Document:
        return Document(id=strawberry.ID(document_id), title=f"Doc {document_id}")

    @strawberry.type
    class Query:
        @strawberry.field
        def documents(self) -> list[Document | None]:
            return [document(n) for n in DOCUMENTS]

        @strawberry.field
        async def visible_documents(self, info: strawberry.Info) -> list[Document]:
            ids = await spicedb.lookup_resources(info.context, "document", "view")
            return [document(n) for n in DOCUMENTS if n in ids]

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def share(self, info: strawberry.Info, document_id: str, user: str) -> Document:
            from spicedbkit import write

            token = write(spicedb.client, f"document:{document_id}", "viewer", user)
            # Read-after-write: checks later in this request, and in any
            # request that carries this token, see the new relationship.
            info.context["token"] = token
            return document(document_id)

    return strawberry.Schema(query=Query, mutation=Mutation, extensions=[authz])


def counted(db: Any, **options: Any) -> tuple[SpiceDB, Counting]:
    options.setdefault("consistency", spicedbkit.FRESH)
    spicedb = SpiceDB.from_embedded(db, subject=as_user, **options)
    counting = Counting(spicedb.client)
    spicedb.client = counting
    return spicedb, counting


def expected(user: str) -> list[Any]:
    return [
        {"id": n, "title": f"Doc {n}"} if n in VISIBLE[user] else None
        for n in DOCUMENTS
    ]


@pytest.mark.parametrize("user", sorted(VISIBLE))
async def test_each_user_sees_what_spicedb_allows_and_null_elsewhere(
    db: Any, user: str
) -> None:
    spicedb, counting = counted(db)
    schema = make_schema(spicedb)

    result = await schema.execute(QUERY, context_value={"user": user})

    assert result.data == {"documents": expected(user)}
    denied = [n for n in DOCUMENTS if n not in VISIBLE[user]]
    assert codes(result) and set(codes(result)) == {"FORBIDDEN"}
    assert {error.path[1] for error in result.errors or []} == {
        DOCUMENTS.index(n) for n in denied
    }
    # Two fields per document, yet each document is checked once per request.
    assert 1 <= counting.calls() <= len(DOCUMENTS)
    assert sum(len(r.items) for r in counting.requests["CheckBulkPermissions"]) == 5


def test_a_sync_client_works_under_execute_sync(db: Any) -> None:
    spicedb, _ = counted(db)
    schema = make_schema(spicedb)
    result = schema.execute_sync(QUERY, context_value={"user": "bob"})
    assert result.data == {"documents": expected("bob")}


async def test_an_async_client_answers_the_same(db: Any) -> None:
    client = AsyncUnary(db)
    try:
        schema = make_schema(
            SpiceDB(client, subject=as_user, consistency=spicedbkit.FRESH)
        )
        result = await schema.execute(QUERY, context_value={"user": "carol"})
        assert result.data == {"documents": expected("carol")}
    finally:
        await client.channel.close()


async def test_anonymous_sees_nothing_and_the_engine_is_not_called(db: Any) -> None:
    spicedb, counting = counted(db)
    schema = make_schema(spicedb)

    result = await schema.execute(QUERY, context_value={})

    assert result.data == {"documents": [None] * len(DOCUMENTS)}
    assert set(codes(result)) == {"FORBIDDEN"}
    assert counting.requests == {}


@pytest.mark.parametrize("broken", ["stopped engine", "unreachable engine"])
async def test_an_engine_failure_denies_every_document_without_leaking(
    db: Any, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    if broken == "stopped engine":
        spicedb = SpiceDB.from_embedded(
            db, subject=as_user, consistency=spicedbkit.FRESH
        )
        stop(db)
    else:
        spicedb = SpiceDB(Broken(), subject=as_user)
    schema = make_schema(spicedb)

    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await schema.execute(
            "{ documents { id title } visibleDocuments { id } }",
            context_value={"user": "alice"},
        )

    assert result.data is None or result.data["documents"] == [None] * 5
    assert set(codes(result)) == {"INTERNAL_SERVER_ERROR"}  # a failure, not a no
    leaked = dump(result)
    for engine_text in (Broken.SECRET, "ArgumentError", "wrong type", "Traceback"):
        assert engine_text not in leaked
    assert any(r.name == "strawberry_authz" for r in caplog.records)


async def test_a_write_is_seen_by_the_same_request_and_the_next_with_its_token(
    db: Any,
) -> None:
    spicedb, counting = counted(db, consistency=read_token)
    schema = make_schema(spicedb)
    # A token at least as fresh as the test's own setup: without one the first
    # read may come from before the engine was filled (minimize_latency).
    setup = spicedbkit.write(spicedb.client, "document:99", "viewer", "user:nobody")
    carol: dict[str, Any] = {"user": "carol", "token": setup}
    before = await schema.execute("{ documents { id } }", context_value=dict(carol))
    assert before.data == {"documents": [None, None, {"id": "3"}, None, None]}

    shared = await schema.execute(
        'mutation { share(documentId: "5", user: "user:carol") { id title } }',
        context_value=carol,
    )

    assert shared.errors is None
    assert shared.data == {"share": {"id": "5", "title": "Doc 5"}}
    token = carol["token"]
    after = await schema.execute("{ documents { id } }", context_value=carol)
    assert after.data == {"documents": [None, None, {"id": "3"}, None, {"id": "5"}]}
    sent = counting.requests["CheckBulkPermissions"][-1]
    assert sent.consistency.at_least_as_fresh == token


async def test_lookup_resources_prefilters_a_list_with_no_denials(db: Any) -> None:
    spicedb, counting = counted(db)
    schema = make_schema(spicedb)

    result = await schema.execute(
        "{ visibleDocuments { id title } }", context_value={"user": "bob"}
    )

    assert result.errors is None
    assert result.data == {
        "visibleDocuments": [
            {"id": "2", "title": "Doc 2"},
            {"id": "4", "title": "Doc 4"},
        ]
    }
    assert counting.calls("LookupResources") == 1


async def test_lookup_resources_for_anonymous_is_an_empty_list(db: Any) -> None:
    spicedb, counting = counted(db)
    schema = make_schema(spicedb)
    result = await schema.execute("{ visibleDocuments { id } }", context_value={})
    assert result.data == {"visibleDocuments": []}
    assert counting.requests == {}
