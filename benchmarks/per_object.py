"""Per-object authorization at scale, against the same schema without it.

Run: ``python benchmarks/per_object.py [--items N] [--rounds R] [--check]``.

Every variant builds the same `Document` type (5 scalar fields) from its own
Python classes, runs ``{ documents { id name score active rank } }`` over a
list, and is timed side by side with the others in one process: each round
runs every variant once, each case's two variants back to back (which one
goes first alternates from round to round, the cases' order rotates), and
each case's figure is the median of the per-round ratios (the house style of
`benchmarks/overhead.py`). This machine's speed changes from one second to
the next; a case's two runs a few variants apart would take that change
into their ratio.

The authorized variants put a per-object type rule on `Document`: a type rule
function returning ``{"can": ["document", root.id, "view"]}``. Cases (the
targets come from issue #9, "Performance"):

1. ``--items`` documents, the ``can`` scope a sync `BatchScope` answered from
   memory, ``execute_sync``: ours / no authorization, target <= 1.5x, and
   ``load_fn`` called ceil(N / max_batch_size) times.
2. ``--items / 10`` and ``--items`` documents, an async `BatchScope` whose
   every call waits a simulated 1 ms round trip, ``await schema.execute``:
   ours / (no authorization + ceil(N / max_batch_size) round trips of 1 ms,
   one after the other), target <= 2x. The reference is a real variant: the
   unauthorized schema whose list resolver awaits those round trips.
3. ``--items`` documents, the same rule function answered by a plain
   (non-batch) sync loader from memory, ``execute_sync``: target <= 1.3x.
4. ``--items`` documents against embedded SpiceDB (`SpiceDB.from_embedded`,
   its sync client, ``execute_sync``), 3 in 4 documents visible to the
   user: time, engine calls and ratio to no authorization (no target).
   Skipped, with the reason printed, when the engine is not installed
   (``bash scripts/test`` installs it).

Cases from issue #16, "Per-object speed, against the peers":

5. ``--items`` documents, a type rule function returning a rule set of
   another shape, ``{"$or": [{"role": "admin"}, {"role": "user"}]}``, a plain
   sync loader: ours / no authorization, target <= 1.3x (any shape as cheap
   as the one-key ``{scope: value}``).
6. ``--items`` documents, ``type_rule(fn, on_object=True)`` with a
   `BatchScope` (1 in 4 denied), against the same output written by hand in
   the resolver (the same batch calls, a `ForbiddenError` in place of each
   denied document), sync and async (1 ms per call): target <= 1.2x.
7. The same with ``drop_denied=True`` against a resolver that leaves the
   denied documents out: target <= 1.4x.

Cases from issue #20, "A policy decision point":

8. ``--items`` documents (id, owner, status) decided by Cedar in process
   (`strawberry_authz.cedar.Cedar`, ``execute_sync``), a type rule
   ``{"can": documents.check(root, "view")}`` with a declared `Resource`:
   ours / the same schema without authorization, target <= 3x (issue 20),
   exactly ceil(N / 1000) ``is_authorized_batch`` calls. Its policies read
   only attributes, so documents with equal attribute maps share one Cedar
   request; reported beside it, the same with one more policy naming a
   resource (``forbid ... resource == document::"none"``), where Cedar is
   asked about every document.
9. The same against a real Cerbos server (`strawberry_authz.cerbos.Cerbos`,
   its async gRPC client, ``await schema.execute``): exactly ceil(N / 500)
   ``CheckResources`` calls of at most 500 resources; the library's share,
   (total - the wall time during which an engine call was in flight) / no
   authorization, target <= 1.5x, i.e. the library adds at most 0.5x of the
   unauthorized run beyond the engine's time (issue 20). Cases 8 and 9 are
   skipped, with the reason printed, when an engine is not installed.

Besides wall time, each run's CPU time (``time.process_time``) is kept and
its ratios printed: on a shared machine they move less. For Cerbos the CPU
time is this process's (the library, graphql-core and the gRPC client), not
the server's.

Every run's result is checked (the same data as the unauthorized schema, or
for SpiceDB exactly the visible documents and one FORBIDDEN per hidden one)
and every run's ``load_fn`` / engine call count too, so a broken variant
cannot look fast. ``--check`` is a quick mode (small sizes, one round) that
only verifies all that.
"""

# No `from __future__ import annotations`: the types are local classes whose
# annotations Strawberry must resolve where they are defined.

import argparse
import asyncio
import gc
import logging
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import strawberry
from strawberry.types import ExecutionResult

from strawberry_authz import AuthExtension, BatchScope, ForbiddenError

QUERY = "{ documents { id name score active rank } }"
DEFAULT_ITEMS = 10_000
DEFAULT_ROUNDS = 9
MIN_ROUNDS = 7
CHECK_ITEMS = 250
MAX_BATCH_SIZE = 1000
ROUND_TRIP = 0.001  # seconds: the simulated latency of one async load_fn call
USER = "user:alice"


@dataclass(frozen=True)
class Row:
    """One stored document; every variant's `Document` type is built from these."""

    id: int
    name: str
    score: float
    active: bool
    rank: int


def make_rows(items: int) -> list[Row]:
    return [
        Row(id=i, name=f"doc-{i}", score=i * 0.5, active=i % 2 == 0, rank=i % 7)
        for i in range(items)
    ]


def row_data(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "score": row.score,
        "active": row.active,
        "rank": row.rank,
    }


def expected_data(
    rows: list[Row], hidden: frozenset[int] = frozenset(), *, drop: bool = False
) -> Any:
    """The response data: every document, `None` for each hidden one (or,
    with `drop`, without the hidden ones)."""
    if drop:
        return {"documents": [row_data(row) for row in rows if row.id not in hidden]}
    return {"documents": [None if row.id in hidden else row_data(row) for row in rows]}


def quarter_hidden(rows: list[Row]) -> frozenset[int]:
    """The documents the side-by-side cases deny: one in four."""
    return frozenset(row.id for row in rows if row.id % 4 == 3)


def batch_calls(items: int, max_batch_size: int = MAX_BATCH_SIZE) -> int:
    """The `load_fn` calls a list of `items` documents must cost."""
    return math.ceil(items / max_batch_size)


@dataclass
class Variant:
    """One way of building the schema, how to run its query, what it must return.

    `calls` counts the loader (or engine) calls of the current run; every
    timed run must make exactly `expected_calls` (None: not counted).
    """

    name: str
    schema: strawberry.Schema
    is_async: bool
    expected: Any
    hidden: frozenset[int] = frozenset()
    dropped: bool = False  # hidden documents are left out, without errors
    expected_calls: int | None = None
    calls: list[int] = field(default_factory=lambda: [0])
    context: Callable[[], Any] = dict
    engine_seconds: list[float] = field(default_factory=lambda: [0.0])
    # CPU time inside the engine calls, for an engine in this process.
    engine_cpu: list[float] | None = None
    query: str = QUERY
    # Reads the engine calls of the run that used this context (engines
    # that count by request rather than through `calls`).
    count: Callable[[Any], int] | None = None
    before: Callable[[], None] | None = None

    def run(self, loop: asyncio.AbstractEventLoop) -> ExecutionResult:
        self.calls[0] = 0
        self.engine_seconds[0] = 0.0
        if self.engine_cpu is not None:
            self.engine_cpu[0] = 0.0
        if self.before is not None:
            self.before()
        context = self.context()
        if self.is_async:
            result = loop.run_until_complete(
                self.schema.execute(self.query, context_value=context)
            )
        else:
            result = self.schema.execute_sync(self.query, context_value=context)
        if self.count is not None:
            self.calls[0] = self.count(context)
        return result


def check_result(variant: Variant, result: ExecutionResult) -> None:
    """Raise AssertionError unless the run returned what it must."""
    assert result.data == variant.expected, f"{variant.name}: returned different data"
    errors = result.errors or []
    if variant.hidden and not variant.dropped:
        assert len(errors) == len(variant.hidden), (
            f"{variant.name}: {len(errors)} errors for {len(variant.hidden)} hidden"
        )
        assert all((e.extensions or {}).get("code") == "FORBIDDEN" for e in errors), (
            f"{variant.name}: an error other than FORBIDDEN"
        )
    else:
        assert not errors, f"{variant.name}: errors {errors[:3]!r}"
    if variant.expected_calls is not None:
        assert variant.calls[0] == variant.expected_calls, (
            f"{variant.name}: {variant.calls[0]} loader calls, "
            f"expected {variant.expected_calls}"
        )


# -- schemas --------------------------------------------------------------------


def _documents_type(
    authz: AuthExtension | None, document_rule: Callable[[Any], Any] | None = None
) -> Any:
    """A fresh `Document` type, under the per-object type rule when `authz`
    (or under `document_rule`, a `type_rule(...)` decorator, when given)."""

    @strawberry.type
    class Document:
        id: int
        name: str
        score: float
        active: bool
        rank: int

    if authz is None:
        return Document
    if document_rule is not None:
        return document_rule(Document)
    return authz.type_rule(lambda p: {"can": ["document", p.root.id, "view"]})(Document)


def _schema(
    rows: list[Row],
    authz: AuthExtension | None,
    *,
    round_trips: int = 0,
    document_rule: Callable[[Any], Any] | None = None,
) -> strawberry.Schema:
    Document = _documents_type(authz, document_rule)
    objects = [Document(**row_data(row)) for row in rows]

    if round_trips:

        @strawberry.type
        class Query:
            @strawberry.field
            async def documents(self) -> list[Document | None]:  # type: ignore[valid-type]
                # The round trips a batched check would cost, one after the other.
                for _ in range(round_trips):
                    await asyncio.sleep(ROUND_TRIP)
                return objects

    else:

        @strawberry.type
        class Query:  # type: ignore[no-redef]
            @strawberry.field
            def documents(self) -> list[Document | None]:  # type: ignore[valid-type]
                return objects

    if authz is None:
        return strawberry.Schema(query=Query)
    schema = strawberry.Schema(query=Query, extensions=[authz])
    authz.validate(schema)
    return schema


def build_plain(rows: list[Row], *, is_async: bool, round_trips: int = 0) -> Variant:
    """The reference: the same schema without any authorization."""
    mode = "async" if is_async else "sync"
    name = f"plain {mode} {len(rows)}"
    if round_trips:
        name = f"plain+{round_trips}rt {mode} {len(rows)}"
    return Variant(
        name,
        _schema(rows, None, round_trips=round_trips),
        is_async,
        expected_data(rows),
    )


def build_batch(
    rows: list[Row],
    *,
    is_async: bool,
    hidden: frozenset[int] = frozenset(),
    max_batch_size: int = MAX_BATCH_SIZE,
) -> Variant:
    """Cases 1 and 2: the `can` scope is a `BatchScope` answered from memory.

    Async, each `load_fn` call first waits one simulated round trip.
    """
    calls = [0]

    def check_many(values: list[Any]) -> list[bool]:
        calls[0] += 1
        return [value[1] not in hidden for value in values]

    async def check_many_async(values: list[Any]) -> list[bool]:
        await asyncio.sleep(ROUND_TRIP)
        return check_many(values)

    load_fn = check_many_async if is_async else check_many

    def load_scopes(context: object) -> Mapping[str, object]:
        return {"can": BatchScope(load_fn, max_batch_size=max_batch_size)}

    mode = "async" if is_async else "sync"
    return Variant(
        f"batch {mode} {len(rows)}",
        _schema(rows, AuthExtension(load_scopes)),
        is_async,
        expected_data(rows, hidden),
        hidden=hidden,
        expected_calls=batch_calls(len(rows), max_batch_size),
        calls=calls,
    )


def build_rule_function(
    rows: list[Row], *, hidden: frozenset[int] = frozenset()
) -> Variant:
    """Case 3: the same rule function, a plain sync loader answering from memory.

    The loader runs once per distinct value (one per document, per request).
    """
    calls = [0]

    def can(value: Any) -> bool:
        calls[0] += 1
        return value[1] not in hidden

    def load_scopes(context: object) -> Mapping[str, object]:
        return {"can": can}

    return Variant(
        f"rulefn sync {len(rows)}",
        _schema(rows, AuthExtension(load_scopes)),
        False,
        expected_data(rows, hidden),
        hidden=hidden,
        expected_calls=len(rows),
        calls=calls,
    )


def build_rule_set_function(rows: list[Row]) -> Variant:
    """Case 5: a type rule function returning a rule set of any shape.

    ``{"$or": [{"role": "admin"}, {"role": "user"}]}`` for every document,
    the `role` scope a plain sync loader from memory (the viewer is a user).
    """
    calls = [0]

    def role(value: str) -> bool:
        calls[0] += 1
        return value == "user"

    def load_scopes(context: object) -> Mapping[str, object]:
        return {"role": role}

    authz = AuthExtension(load_scopes)
    rule = authz.type_rule(lambda p: {"$or": [{"role": "admin"}, {"role": "user"}]})
    return Variant(
        f"ruleset sync {len(rows)}",
        _schema(rows, authz, document_rule=rule),
        False,
        expected_data(rows),
        expected_calls=2,  # once per scope value and request
        calls=calls,
    )


# -- cases 6 and 7: object rules against the same output written by hand --------


def _load_fns(hidden: frozenset[int], calls: list[int], is_async: bool) -> Any:
    """The batch check both sides call: one answer per value, from memory.

    Async, every call first waits one simulated round trip.
    """

    def check_many(values: list[Any]) -> list[bool]:
        calls[0] += 1
        return [value[1] not in hidden for value in values]

    async def check_many_async(values: list[Any]) -> list[bool]:
        await asyncio.sleep(ROUND_TRIP)
        return check_many(values)

    return check_many_async if is_async else check_many


def build_object_rule(
    rows: list[Row], *, is_async: bool, drop: bool, hidden: frozenset[int]
) -> Variant:
    """`type_rule(fn, on_object=True, drop_denied=drop)` with a `BatchScope`."""
    calls = [0]
    load_fn = _load_fns(hidden, calls, is_async)

    def load_scopes(context: object) -> Mapping[str, object]:
        return {"can": BatchScope(load_fn, max_batch_size=MAX_BATCH_SIZE)}

    authz = AuthExtension(load_scopes)
    rule = authz.type_rule(
        lambda p: {"can": ["document", p.root.id, "view"]},
        on_object=True,
        drop_denied=drop,
    )
    kind = "drop" if drop else "onobject"
    return Variant(
        f"{kind} {'async' if is_async else 'sync'} {len(rows)}",
        _schema(rows, authz, document_rule=rule),
        is_async,
        expected_data(rows, hidden, drop=drop),
        hidden=hidden,
        dropped=drop,
        expected_calls=batch_calls(len(rows)),
        calls=calls,
    )


def build_by_hand(
    rows: list[Row], *, is_async: bool, drop: bool, hidden: frozenset[int]
) -> Variant:
    """The same output written by hand in the resolver, same batch calls.

    The resolver asks the batch check for every document (one call per
    chunk of `MAX_BATCH_SIZE`, concurrently when async, as `BatchScope`
    does) and returns the allowed documents, with a `ForbiddenError` in
    place of each denied one (graphql-core reports it at that item), or
    without them when `drop`.
    """
    calls = [0]
    load_fn = _load_fns(hidden, calls, is_async)
    Document = _documents_type(None)
    objects = [Document(**row_data(row)) for row in rows]

    def values(chunk: list[Any]) -> list[Any]:
        return [["document", document.id, "view"] for document in chunk]

    def chunks() -> list[list[Any]]:
        return [
            objects[start : start + MAX_BATCH_SIZE]
            for start in range(0, len(objects), MAX_BATCH_SIZE)
        ]

    def served(answers: list[bool]) -> list[Any]:
        if drop:
            return [d for d, ok in zip(objects, answers, strict=True) if ok]
        return [
            d if ok else ForbiddenError()
            for d, ok in zip(objects, answers, strict=True)
        ]

    if is_async:

        @strawberry.type
        class Query:
            @strawberry.field
            async def documents(self) -> list[Document | None]:  # type: ignore[valid-type]
                answered = await asyncio.gather(
                    *(load_fn(values(chunk)) for chunk in chunks())
                )
                return served([ok for answers in answered for ok in answers])

    else:

        @strawberry.type
        class Query:  # type: ignore[no-redef]
            @strawberry.field
            def documents(self) -> list[Document | None]:  # type: ignore[valid-type]
                answers: list[bool] = []
                for chunk in chunks():
                    answers.extend(load_fn(values(chunk)))
                return served(answers)

    kind = "handdrop" if drop else "hand"
    return Variant(
        f"{kind} {'async' if is_async else 'sync'} {len(rows)}",
        strawberry.Schema(query=Query),
        is_async,
        expected_data(rows, hidden, drop=drop),
        hidden=hidden,
        dropped=drop,
        expected_calls=batch_calls(len(rows)),
        calls=calls,
    )


# -- case 4: embedded SpiceDB ---------------------------------------------------

SPICEDB_SCHEMA = """
definition user {}

definition team {
    relation member: user
}

definition folder {
    relation viewer: user | team#member
    permission view = viewer
}

definition document {
    relation folder: folder
    relation owner: user
    relation viewer: user | team#member
    permission view = owner + viewer + folder->view
}
"""


def spicedb_hidden(rows: list[Row]) -> frozenset[int]:
    """Documents alice may not view: one in four (no relationship at all)."""
    return frozenset(row.id for row in rows if row.id % 4 == 3)


def _spicedb_relationships(rows: list[Row]) -> list[tuple[str, str, str]]:
    """alice owns 1/4 of the documents, sees 1/4 via team eng, 1/4 via a folder."""
    found = [
        ("team:eng", "member", USER),
        ("folder:shared", "viewer", "team:eng#member"),
    ]
    for row in rows:
        document = f"document:{row.id}"
        if row.id % 4 == 0:
            found.append((document, "owner", USER))
        elif row.id % 4 == 1:
            found.append((document, "viewer", "team:eng#member"))
        elif row.id % 4 == 2:
            found.append((document, "folder", "folder:shared"))
    return found


def spicedb_missing() -> str | None:
    """Why the embedded SpiceDB cannot start here, or None.

    Like tests/conftest.py, `SPICEDB_LIBRARY_PATH` defaults to the library
    `scripts/spicedb.sh` caches in the project's virtualenv.
    """
    try:
        from importlib.metadata import version

        import authzed.api.v1  # noqa: F401
        import spicedb_embedded  # noqa: F401
    except ImportError as error:
        return f"{error} (run bash scripts/test, or pip install -e '.[spicedb]')"
    if not os.environ.get("SPICEDB_LIBRARY_PATH"):
        cached = [
            base / "spicedb" / version("spicedb-embedded")
            for base in (
                Path(__file__).resolve().parents[1] / ".venv",
                Path(sys.prefix),
            )
        ]
        for folder in cached:
            libraries = sorted(folder.glob("libspicedb.*"))
            if libraries:
                os.environ["SPICEDB_LIBRARY_PATH"] = str(libraries[0])
                break
    library = os.environ.get("SPICEDB_LIBRARY_PATH")
    if not library or not Path(library).is_file():
        return (
            f"SPICEDB_LIBRARY_PATH={library!r} is not the libspicedb file "
            "(run bash scripts/test once to install it)"
        )
    return None


class _Timed:
    """A PermissionsService client counting `CheckBulkPermissions` calls and time."""

    def __init__(self, client: Any, calls: list[int], seconds: list[float]) -> None:
        self._client = client
        self._calls = calls
        self._seconds = seconds

    def CheckBulkPermissions(self, request: Any) -> Any:
        self._calls[0] += 1
        started = time.perf_counter()
        try:
            return self._client.CheckBulkPermissions(request)
        finally:
            self._seconds[0] += time.perf_counter() - started

    def __getattr__(self, method: str) -> Any:
        return getattr(self._client, method)


def start_spicedb(rows: list[Row]) -> tuple[Any, Any]:
    """A started embedded SpiceDB holding the relationships; (db, last ZedToken)."""
    from authzed.api.v1 import (
        ObjectReference,
        Relationship,
        RelationshipUpdate,
        SubjectReference,
        WriteRelationshipsRequest,
    )
    from spicedb_embedded import EmbeddedSpiceDB

    from strawberry_authz.spicedb import EmbeddedClient

    def relationship(resource: str, relation: str, subject: str) -> Any:
        kind, _, object_id = resource.partition(":")
        head, _, subject_relation = subject.partition("#")
        subject_kind, _, subject_id = head.partition(":")
        return Relationship(
            resource=ObjectReference(object_type=kind, object_id=object_id),
            relation=relation,
            subject=SubjectReference(
                object=ObjectReference(object_type=subject_kind, object_id=subject_id),
                optional_relation=subject_relation,
            ),
        )

    db = EmbeddedSpiceDB.start(SPICEDB_SCHEMA, [])
    client = EmbeddedClient(db)
    token = None
    updates = [
        RelationshipUpdate(
            operation=RelationshipUpdate.Operation.OPERATION_TOUCH,
            relationship=relationship(*row),
        )
        for row in _spicedb_relationships(rows)
    ]
    for start in range(0, len(updates), 500):  # under SpiceDB's per-write limit
        response = client.WriteRelationships(
            WriteRelationshipsRequest(updates=updates[start : start + 500])
        )
        token = response.written_at
    return db, token


def build_spicedb(
    rows: list[Row], db: Any, token: Any, *, max_batch_size: int = MAX_BATCH_SIZE
) -> Variant:
    """Case 4: `SpiceDB.from_embedded`, its sync client, under `execute_sync`.

    Checks read at least as fresh as the relationships written at start
    (the read-after-write pattern), so none can be missed.
    """
    from strawberry_authz.spicedb import SpiceDB

    calls = [0]
    seconds = [0.0]
    spicedb = SpiceDB.from_embedded(
        db,
        subject=lambda context: context["user"],
        consistency=lambda context: token,
        max_batch_size=max_batch_size,
    )
    spicedb.client = _Timed(spicedb.client, calls, seconds)
    authz = AuthExtension(lambda context: {"can": spicedb.scope(context)})
    hidden = spicedb_hidden(rows)
    return Variant(
        f"spicedb sync {len(rows)}",
        _schema(rows, authz),
        False,
        expected_data(rows, hidden),
        hidden=hidden,
        expected_calls=batch_calls(len(rows), max_batch_size),
        calls=calls,
        context=lambda: {"user": USER},
        engine_seconds=seconds,
    )


# -- cases 5 and 6: policy engines (Cedar in process, a real Cerbos server) -----

ENGINE_QUERY = "{ documents { id owner status } }"
CEDAR_POLICIES = """
permit(principal, action == Action::"view", resource)
when { resource.owner == principal.id || resource.status == "published" };
"""
# A policy naming a resource: Cedar must then be asked about each document.
CEDAR_NAMING = 'forbid(principal, action, resource == document::"none");'
CEDAR_BATCH = 1000  # `Cedar`'s default max_batch_size
CERBOS_BATCH = 500  # one CheckResources call carries at most this many
TESTS_ENGINES = Path(__file__).resolve().parents[1] / "tests" / "engines"


@dataclass(frozen=True)
class EngineRow:
    """A stored document with the attributes the policies read."""

    id: int
    owner: str
    status: str


def make_engine_rows(items: int, *, denied: bool = False) -> list[EngineRow]:
    """`items` documents alice may all view; with `denied`, every other one
    is bob's and only the published ones of those (1 in 4) are visible."""
    return [
        EngineRow(
            i,
            "bob" if denied and i % 2 == 0 else "alice",
            "published" if i % 8 == 0 else "draft",
        )
        for i in range(items)
    ]


def engine_hidden(rows: list[EngineRow]) -> frozenset[int]:
    return frozenset(
        row.id for row in rows if row.owner != "alice" and row.status != "published"
    )


def _engine_expected(rows: list[EngineRow]) -> Any:
    hidden = engine_hidden(rows)
    return {
        "documents": [
            None
            if row.id in hidden
            else {"id": row.id, "owner": row.owner, "status": row.status}
            for row in rows
        ]
    }


def _engine_schema(rows: list[EngineRow], scope: Any = None) -> strawberry.Schema:
    """The documents schema; with `scope(context)`, under a per-object type
    rule asking it for `documents.check(root, "view")`."""
    from strawberry_authz.engines import Resource

    documents = Resource("document", attributes=["owner", "status"])

    @strawberry.type
    class Document:
        id: int
        owner: str
        status: str

    authz = None
    if scope is not None:
        authz = AuthExtension(lambda context: {"can": scope(context)})
        Document = authz.type_rule(  # type: ignore[misc]
            lambda p: {"can": documents.check(p.root, "view")}
        )(Document)
    objects = [Document(id=r.id, owner=r.owner, status=r.status) for r in rows]

    @strawberry.type
    class Query:
        @strawberry.field
        def documents(self) -> list[Document | None]:  # type: ignore[valid-type]
            return objects

    if authz is None:
        return strawberry.Schema(query=Query)
    schema = strawberry.Schema(query=Query, extensions=[authz])
    authz.validate(schema)
    return schema


def build_engine_plain(rows: list[EngineRow], *, is_async: bool) -> Variant:
    """The reference of cases 5 and 6: the documents without authorization."""
    mode = "async" if is_async else "sync"
    return Variant(
        f"plain docs {mode} {len(rows)}",
        _engine_schema(rows),
        is_async,
        {
            "documents": [
                {"id": r.id, "owner": r.owner, "status": r.status} for r in rows
            ]
        },
        query=ENGINE_QUERY,
    )


def build_engine_memory(
    rows: list[EngineRow], *, is_async: bool, max_batch_size: int
) -> Variant:
    """The library without an engine: the same rule and `ResourceCheck`
    values, a `BatchScope` answering them from memory (what cases 5 and 6
    cost before any engine work)."""
    calls = [0]
    hidden = engine_hidden(rows)

    def check_many(values: list[Any]) -> list[bool]:
        calls[0] += 1
        return [
            value.attributes["owner"] == "alice"
            or value.attributes["status"] == "published"
            for value in values
        ]

    async def check_many_async(values: list[Any]) -> list[bool]:
        return check_many(values)

    load_fn = check_many_async if is_async else check_many
    mode = "async" if is_async else "sync"
    return Variant(
        f"memory {mode} {len(rows)}",
        _engine_schema(
            rows, lambda context: BatchScope(load_fn, max_batch_size=max_batch_size)
        ),
        is_async,
        _engine_expected(rows),
        hidden=hidden,
        expected_calls=batch_calls(len(rows), max_batch_size),
        calls=calls,
        query=ENGINE_QUERY,
    )


def engine_missing(engine: str) -> str | None:
    """Why `engine` ("cedar" or "cerbos") cannot run here, or None."""
    try:
        if engine == "cedar":
            import cedarpy  # noqa: F401
        else:
            import cerbos.sdk  # noqa: F401
    except ImportError as error:
        return f"{error} (run bash scripts/test, or pip install -e '.[{engine}]')"
    if engine == "cerbos":
        sys.path.insert(0, str(TESTS_ENGINES))
        import cerboskit

        if cerboskit.binary() is None:
            return "no Cerbos binary (run bash scripts/test: scripts/cerbos.sh)"
    return None


def build_cedar(rows: list[EngineRow], *, each: bool = False) -> Variant:
    """Case 8: `Cedar` in process, under `execute_sync` (with `each`, one
    more policy names a resource: every document is its own request).

    Each `is_authorized_batch` call is cedarpy's Rust function
    (`strawberry_authz.cedar._RUST_BATCH`), wrapped during the run to count
    the calls and time them: the engine's own time, without the adapter's
    JSON.
    """
    from strawberry_authz import cedar as module
    from strawberry_authz.cedar import Cedar

    calls = [0]
    seconds = [0.0]
    cpu = [0.0]
    name = "_RUST_BATCH" if module._RUST_BATCH is not None else "decide_batch"
    decide = getattr(module, name)

    def timed(*args: Any) -> Any:
        calls[0] += 1
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            return decide(*args)
        finally:
            seconds[0] += time.perf_counter() - started
            cpu[0] += time.process_time() - cpu_started

    def before() -> None:
        setattr(module, name, timed)

    def after(context: Any) -> int:
        setattr(module, name, decide)
        return calls[0]

    entities = [
        {
            "uid": {"type": "user", "id": "alice"},
            "attrs": {"id": "alice"},
            "parents": [],
        }
    ]
    cedar = Cedar(
        CEDAR_POLICIES + CEDAR_NAMING if each else CEDAR_POLICIES,
        entities=entities,
        principal=lambda context: {"type": "user", "id": "alice"},
        max_batch_size=CEDAR_BATCH,
    )
    return Variant(
        f"cedar {'each' if each else 'sync'} {len(rows)}",
        _engine_schema(rows, cedar.scope),
        False,
        _engine_expected(rows),
        hidden=engine_hidden(rows),
        expected_calls=batch_calls(len(rows), CEDAR_BATCH),
        calls=calls,
        query=ENGINE_QUERY,
        count=after,
        before=before,
        engine_seconds=seconds,
        engine_cpu=cpu,
    )


class TimedCerbos:
    """A Cerbos client that times its calls and counts the resources sent.

    Chunks are asked concurrently, so `seconds` is the wall time during
    which at least one call was in flight (the union of their intervals).
    """

    def __init__(self, client: Any, seconds: list[float]) -> None:
        self.client = client
        self.intervals: list[tuple[float, float]] = []
        self.sent: list[int] = []
        self._seconds = seconds

    def reset(self) -> None:
        self.intervals, self.sent = [], []

    def add_up(self) -> None:
        """The union of the intervals, into the variant's engine seconds."""
        total, end = 0.0, float("-inf")
        for start, stop in sorted(self.intervals):
            if stop > end:
                total += stop - max(start, end)
                end = stop
        self._seconds[0] = total

    async def check_resources(self, **request: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self.client.check_resources(**request)
        finally:
            self.intervals.append((started, time.perf_counter()))
            self.sent.append(len(request["resources"]))


def start_cerbos() -> Any:
    """A started Cerbos server serving the policies of tests/engines."""
    sys.path.insert(0, str(TESTS_ENGINES))
    import cerboskit

    return cerboskit.CerbosServer().start()


def build_cerbos(
    rows: list[EngineRow], server: Any, loop: asyncio.AbstractEventLoop
) -> Variant:
    """Case 6: `Cerbos` with its async gRPC client, `await schema.execute`.

    The client is made in `loop` (gRPC's aio channel belongs to one loop);
    each run checks that every call carried at most 500 resources.
    """
    import cerboskit

    from strawberry_authz.cerbos import Cerbos

    seconds = [0.0]

    async def connect() -> Any:
        return cerboskit.async_client(server)

    client = TimedCerbos(loop.run_until_complete(connect()), seconds)
    cerbos = Cerbos(
        client,
        principal=lambda context: {"id": "alice", "roles": ["user"]},
        max_batch_size=CERBOS_BATCH,
    )

    def count(context: Any) -> int:
        client.add_up()
        assert all(sent <= CERBOS_BATCH for sent in client.sent), client.sent
        return len(client.sent)

    return Variant(
        f"cerbos async {len(rows)}",
        _engine_schema(rows, cerbos.scope),
        True,
        _engine_expected(rows),
        hidden=engine_hidden(rows),
        expected_calls=batch_calls(len(rows), CERBOS_BATCH),
        query=ENGINE_QUERY,
        count=count,
        before=client.reset,
        engine_seconds=seconds,
    )


# -- cases ----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    label: str
    numerator: str
    denominator: str
    target: float | None  # None: reported only
    # The numerator without the time its engine calls took (case 9).
    minus_engine: bool = False


def build_variants(
    items: int,
    *,
    spicedb: tuple[Any, Any] | None = None,
    cedar: bool = False,
    cerbos: tuple[Any, asyncio.AbstractEventLoop] | None = None,
    denied: bool = False,
) -> tuple[list[Variant], list[Case]]:
    """Every timed variant, and the cases comparing them."""
    small = max(1, items // 10)
    rows = make_rows(items)
    small_rows = make_rows(small)
    variants = [
        build_plain(rows, is_async=False),
        build_batch(rows, is_async=False),
        build_rule_function(rows),
    ]
    cases = [
        Case(
            f"case 1  sync BatchScope, execute_sync, {items} items  ours/plain",
            f"batch sync {items}",
            f"plain sync {items}",
            1.5,
        ),
    ]
    for size_rows in (small_rows, rows) if small != items else (rows,):
        n = len(size_rows)
        trips = batch_calls(n)
        variants += [
            build_plain(size_rows, is_async=True, round_trips=trips),
            build_batch(size_rows, is_async=True),
        ]
        cases.append(
            Case(
                f"case 2  async BatchScope (1 ms/call), {n} items  "
                f"ours/(plain+{trips} rt)",
                f"batch async {n}",
                f"plain+{trips}rt async {n}",
                2.0,
            )
        )
    cases.append(
        Case(
            f"case 3  rule function + plain sync loader, {items} items  ours/plain",
            f"rulefn sync {items}",
            f"plain sync {items}",
            1.3,
        )
    )
    variants.append(build_rule_set_function(rows))
    cases.append(
        Case(
            f"case 5  rule function returning $or, plain sync loader, {items} items"
            "  ours/plain",
            f"ruleset sync {items}",
            f"plain sync {items}",
            1.3,
        )
    )
    hidden = quarter_hidden(rows)
    for drop, number, kind, target in (
        (False, 6, "onobject", 1.2),
        (True, 7, "drop", 1.4),
    ):
        for is_async in (False, True):
            mode = "async" if is_async else "sync"
            variants += [
                build_object_rule(rows, is_async=is_async, drop=drop, hidden=hidden),
                build_by_hand(rows, is_async=is_async, drop=drop, hidden=hidden),
            ]
            hand = "handdrop" if drop else "hand"
            option = "drop_denied" if drop else "on_object"
            cases.append(
                Case(
                    f"case {number}  {option} {mode}, {items} items, 1 in 4 denied"
                    "  ours/by hand",
                    f"{kind} {mode} {items}",
                    f"{hand} {mode} {items}",
                    target,
                )
            )
    if spicedb is not None:
        variants.append(build_spicedb(rows, *spicedb))
        cases.append(
            Case(
                f"case 4  embedded SpiceDB, execute_sync, {items} items  ours/plain",
                f"spicedb sync {items}",
                f"plain sync {items}",
                None,
            )
        )
    engine_rows = make_engine_rows(items, denied=denied)
    if cedar:
        variants += [
            build_engine_plain(engine_rows, is_async=False),
            build_engine_memory(
                engine_rows, is_async=False, max_batch_size=CEDAR_BATCH
            ),
            build_cedar(engine_rows),
            build_cedar(engine_rows, each=True),
        ]
        cases += [
            Case(
                f"case 8  Cedar in process, execute_sync, {items} items  ours/plain",
                f"cedar sync {items}",
                f"plain docs sync {items}",
                3.0,
            ),
            Case(
                f"case 8  Cedar, (total - cedarpy's calls)/plain, {items} items",
                f"cedar sync {items}",
                f"plain docs sync {items}",
                None,
                minus_engine=True,
            ),
            Case(
                f"case 8  Cedar asked about each document, {items} items",
                f"cedar each {items}",
                f"plain docs sync {items}",
                None,
            ),
            Case(
                f"case 8  the same rule answered from memory, {items} items",
                f"memory sync {items}",
                f"plain docs sync {items}",
                None,
            ),
        ]
    if cerbos is not None:
        variants += [
            build_engine_plain(engine_rows, is_async=True),
            build_engine_memory(
                engine_rows, is_async=True, max_batch_size=CERBOS_BATCH
            ),
            build_cerbos(engine_rows, *cerbos),
        ]
        cases += [
            Case(
                f"case 9  Cerbos server, async client, {items} items  total/plain",
                f"cerbos async {items}",
                f"plain docs async {items}",
                None,
            ),
            Case(
                f"case 9  Cerbos, (total - engine calls)/plain, {items} items",
                f"cerbos async {items}",
                f"plain docs async {items}",
                1.5,
                minus_engine=True,
            ),
            Case(
                f"case 9  the same rule answered from memory, async, {items} items",
                f"memory async {items}",
                f"plain docs async {items}",
                None,
            ),
        ]
    return variants, cases


# -- timing ---------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    calls: int
    engine_seconds: float
    cpu: float = 0.0  # this process's CPU time (`time.process_time`)
    engine_cpu: float = 0.0  # of which inside the engine calls (in process)


def time_once(variant: Variant, loop: asyncio.AbstractEventLoop) -> Sample:
    gc.collect()
    cpu = time.process_time()
    started = time.perf_counter()
    result = variant.run(loop)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    check_result(variant, result)
    engine_cpu = variant.engine_cpu[0] if variant.engine_cpu is not None else 0.0
    return Sample(elapsed, variant.calls[0], variant.engine_seconds[0], cpu, engine_cpu)


def measure(
    variants: list[Variant],
    cases: list[Case],
    rounds: int,
    loop: asyncio.AbstractEventLoop,
) -> list[dict[str, Sample]]:
    """Per round, each variant's sample, in `round_order`."""
    for variant in variants:  # warm-up: installs guards, fills caches
        time_once(variant, loop)
    timings: list[dict[str, Sample]] = []
    for index in range(rounds):
        order = round_order(variants, cases, index)
        timings.append({variant.name: time_once(variant, loop) for variant in order})
    return timings


def round_order(
    variants: list[Variant], cases: list[Case], index: int
) -> list[Variant]:
    """Round `index`'s order: every variant once, each case's numerator and
    denominator back to back where the variant is not already placed (a
    shared denominator sits beside the first of its cases, in the rotated
    order). The cases rotate; which of a pair runs first alternates."""
    by_name = {variant.name: variant for variant in variants}
    shift = index % len(cases) if cases else 0
    names: list[str] = []
    for case in cases[shift:] + cases[:shift]:
        pair = (case.numerator, case.denominator)
        for name in pair[::-1] if index % 2 else pair:
            if name in by_name and name not in names:
                names.append(name)
    names += [variant.name for variant in variants if variant.name not in names]
    return [by_name[name] for name in names]


def report(
    variants: list[Variant], cases: list[Case], timings: list[dict[str, Sample]]
) -> bool:
    for variant in variants:
        samples = [t[variant.name] for t in timings]
        median_ms = statistics.median(s.seconds for s in samples) * 1000
        line = f"  {variant.name:<24} median {median_ms:8.1f} ms"
        if variant.expected_calls is not None:
            line += f"  loader calls {samples[0].calls}"
        if any(s.engine_seconds for s in samples):
            engine_ms = statistics.median(s.engine_seconds for s in samples) * 1000
            line += f" (in the engine: median {engine_ms:.1f} ms)"
        print(line)
    ok = True
    for case in cases:

        def numerator(sample: Sample, case: Case = case) -> float:
            if case.minus_engine:
                return sample.seconds - sample.engine_seconds
            return sample.seconds

        ratios = [
            numerator(t[case.numerator]) / t[case.denominator].seconds for t in timings
        ]
        median = statistics.median(ratios)
        best = min(numerator(t[case.numerator]) for t in timings) / min(
            t[case.denominator].seconds for t in timings
        )
        cpu = statistics.median(
            (
                t[case.numerator].cpu
                - (t[case.numerator].engine_cpu if case.minus_engine else 0.0)
            )
            / t[case.denominator].cpu
            for t in timings
        )
        if case.target is None:
            verdict = "(reported)"
        else:
            passed = median <= case.target
            ok = ok and passed
            verdict = f"(target <= {case.target:.1f}x) {'PASS' if passed else 'FAIL'}"
        print(
            f"{case.label}: median {median:.2f}x {verdict}  [min {min(ratios):.2f}x, "
            f"max {max(ratios):.2f}x, n={len(ratios)}; best-of {best:.2f}x; "
            f"CPU time {cpu:.2f}x]"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--items",
        type=int,
        default=DEFAULT_ITEMS,
        help="documents in the list (case 2 also runs a tenth of it)",
    )
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"quick mode: {CHECK_ITEMS} items, one round; checks results and "
        "loader call counts, not timings",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 if any target is missed"
    )
    parser.add_argument(
        "--cases",
        default="1,2,3,4,5,6,7,8,9",
        help="the cases to run, e.g. 8,9 (default: all)",
    )
    options = parser.parse_args(argv)
    chosen = {part.strip() for part in options.cases.split(",")}
    if options.check:
        options.items, options.rounds = CHECK_ITEMS, 1
    if options.items < 1 or options.rounds < 1:
        parser.error("--items and --rounds must be positive")
    if options.rounds < MIN_ROUNDS and not options.check:
        print(f"note: fewer than {MIN_ROUNDS} rounds; the medians are indicative")

    # Strawberry logs every GraphQL error with its traceback; the SpiceDB case
    # denies one document in four, and formatting those logs would dwarf what
    # is measured here (a production server configures its own logging).
    strawberry_logger = logging.getLogger("strawberry.execution")
    level = strawberry_logger.level
    strawberry_logger.setLevel(logging.CRITICAL)
    missing = spicedb_missing() if "4" in chosen else "not chosen (--cases)"
    skipped = {
        name: engine_missing(name) if number in chosen else "not chosen (--cases)"
        for name, number in (("cedar", "8"), ("cerbos", "9"))
    }
    engine = server = None
    loop = asyncio.new_event_loop()
    try:
        if missing is None:
            try:
                engine = start_spicedb(make_rows(options.items))
            except Exception as error:  # the engine did not start: say so, go on
                missing = f"the embedded engine did not start: {error!r}"
        if skipped["cerbos"] is None:
            try:
                server = start_cerbos()
            except Exception as error:
                skipped["cerbos"] = f"the server did not start: {error!r}"
        variants, cases = build_variants(
            options.items,
            spicedb=engine,
            cedar=skipped["cedar"] is None,
            cerbos=(server, loop) if server is not None else None,
            denied=options.check,
        )
        cases = [case for case in cases if case.label.split()[1] in chosen]
        used = {name for case in cases for name in (case.numerator, case.denominator)}
        variants = [variant for variant in variants if variant.name in used]
        timings = measure(variants, cases, options.rounds, loop)
    finally:
        loop.close()
        strawberry_logger.setLevel(level)
        if engine is not None:
            engine[0].close()
        if server is not None:
            server.close()

    print(
        f"strawberry-authz per-object: {options.items} documents x 5 fields, "
        f"max_batch_size {MAX_BATCH_SIZE}, {options.rounds} interleaved rounds, "
        f"Python {sys.version.split()[0]}"
    )
    ok = report(variants, cases, timings)
    if missing is not None:
        print(f"case 4  embedded SpiceDB: skipped ({missing})")
    for name, number in (("cedar", "8"), ("cerbos", "9")):
        if skipped[name] is not None:
            print(f"case {number}  {name.title()}: skipped ({skipped[name]})")
    if options.check:
        print("check: every variant returned the expected data and loader calls")
        return 0
    return 1 if options.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
