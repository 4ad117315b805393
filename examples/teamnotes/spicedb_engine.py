"""The `can` scope answered by an embedded SpiceDB (`--engine spicedb`).

SpiceDB holds the relationships the policy asks about, in the shape of
`teamnotes.zed`: team members, each note's owner and team, and a marker on
drafts. SQLite stays the source of the data; at start every relationship is
written from it (the embedded engine keeps nothing across restarts), and
each mutation that changes one writes it to SpiceDB as well, before its SQL
transaction (see `schema.py` for the order and why).

Every call runs on an engine thread with a deadline (`calls.py`): the
embedded client is synchronous, and a hung call must not hold up the event
loop.

Read after write: SpiceDB answers from a snapshot, which may predate a write
of the last moments. Every write returns a ZedToken; the mutation keeps it on
its request's context (`context["zedtoken"]`) and the engine keeps the newest
one, and every check asks for a snapshot at least as fresh as the newer of
the two. So the checks after a write see it, in the same request (a
subscriber's check of the note just created) and in every later one; and a
token left on a WebSocket connection by a mutation sent over it never holds
that connection's later checks back to an older snapshot. Tokens are opaque,
so "newer" is the order of the writes, which this engine serializes. This
server is the only writer; a server with several processes would carry the
token in the user's session instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authzed.api.v1 import (
    CheckBulkPermissionsRequest,
    DeleteRelationshipsRequest,
    LookupResourcesRequest,
    ObjectReference,
    Relationship,
    RelationshipFilter,
    RelationshipUpdate,
    SubjectReference,
    WriteRelationshipsRequest,
    ZedToken,
)
from spicedb_embedded import EmbeddedSpiceDB

from strawberry_authz.spicedb import EmbeddedClient, SpiceDB

from .calls import EngineCalls, EngineUnavailable
from .db import Database, NoteRow
from .engine import EngineName

SCHEMA = (Path(__file__).parent / "teamnotes.zed").read_text()
CONTEXT_TOKEN = "zedtoken"
# SpiceDB's default limit of updates in one WriteRelationships call.
WRITE_CHUNK = 1000
REPAIR_ATTEMPTS = 5

log = logging.getLogger("examples.teamnotes.spicedb")
TOUCH = RelationshipUpdate.Operation.OPERATION_TOUCH
DELETE = RelationshipUpdate.Operation.OPERATION_DELETE


@dataclass(frozen=True)
class Written:
    """A write's ZedToken and its place in this engine's order of writes."""

    order: int
    token: ZedToken


class SpiceDBEngine:
    """Relationships in an embedded SpiceDB, checked in bulk per request."""

    name: EngineName = "spicedb"

    def __init__(self, db: Database, calls: EngineCalls) -> None:
        self.calls = calls
        self._embedded = EmbeddedSpiceDB.start(SCHEMA, [])
        self._client = EmbeddedClient(self._embedded)
        self.spicedb = SpiceDB(
            _ChecksOnThreads(self._client, calls),
            subject=_subject,
            consistency=self._consistency,
        )
        # Writes one at a time, so the order of their tokens is known.
        self._writing = threading.Lock()
        self._db = db
        self._repairs: set[asyncio.Future[Any]] = set()
        self._newest: Written | None = None
        count = self._load(db)
        log.info("SpiceDB: %d relationships written from %s", count, db.path)

    def can(self, context: dict[str, Any]) -> object:
        return self.spicedb.scope(context)

    async def note_created(self, context: dict[str, Any], note: NoteRow) -> None:
        updates = [(TOUCH, r) for r in _note_relationships(note)]
        await self._run(context, note.id, lambda: self._write(updates))

    async def note_published(self, context: dict[str, Any], note: NoteRow) -> None:
        # The draft marker goes; the owner and team stay.
        draft = _relationship("note", note.id, "draft", "user", "*")
        await self._run(context, note.id, lambda: self._write([(DELETE, draft)]))

    async def note_deleted(self, context: dict[str, Any], note_id: int) -> None:
        # Every relationship of the note goes (ids are never reused, but a
        # note that is gone must not keep its owner's rights either).
        await self._run(context, note_id, lambda: self._delete_note(note_id))

    def close(self) -> None:
        self.calls.close()
        self._embedded.close()

    def _consistency(self, context: dict[str, Any]) -> ZedToken | None:
        """The newer of the request's own last write and this engine's."""
        own: Written | None = context.get(CONTEXT_TOKEN)
        newest = self._newest
        if own is None or (newest is not None and newest.order > own.order):
            own = newest
        return None if own is None else own.token

    def _load(self, db: Database) -> int:
        """Write every relationship `db` implies; how many were written."""
        relationships = list(_all_relationships(db))
        for start in range(0, len(relationships), WRITE_CHUNK):
            chunk = relationships[start : start + WRITE_CHUNK]
            self._write([(TOUCH, r) for r in chunk])
        return len(relationships)

    async def _run(
        self, context: dict[str, Any], note_id: int, write: Callable[[], Written]
    ) -> None:
        context[CONTEXT_TOKEN] = await self.calls.run(
            "write", write, on_late=lambda: self._put_back_later(note_id)
        )

    def _put_back_later(self, note_id: int) -> None:
        """A write its mutation reported as failed happened after all: write
        the note's relationships again from its row (if it has one)."""
        repair = asyncio.ensure_future(self._put_back_soon(note_id))
        self._repairs.add(repair)
        repair.add_done_callback(self._repairs.discard)

    async def _put_back_soon(self, note_id: int) -> None:
        for attempt in range(REPAIR_ATTEMPTS):
            try:
                await self.calls.run("write", lambda: self._put_back(note_id))
                return
            except EngineUnavailable as error:
                failure = error
            await asyncio.sleep(attempt + 1)
        # Until then its author is denied their note (fail closed); the
        # next start loads every relationship from SQLite again.
        log.error("SpiceDB: note %d's relationships not put back: %s", note_id, failure)

    def _put_back(self, note_id: int) -> Written | None:
        # Under the write lock, so a delete of the note waits, or went first.
        with self._writing:
            note = self._db.note(note_id)
            if note is None:
                return None  # gone: what is left grants nothing (ids not reused)
            request = WriteRelationshipsRequest(
                updates=[
                    RelationshipUpdate(operation=TOUCH, relationship=relationship)
                    for relationship in _note_relationships(note)
                ]
            )
            token = self._client.WriteRelationships(request).written_at
            order = self._newest.order + 1 if self._newest else 1
            self._newest = Written(order, token)
            return self._newest

    def _write(self, updates: list[tuple[Any, Relationship]]) -> Written:
        request = WriteRelationshipsRequest(
            updates=[
                RelationshipUpdate(operation=operation, relationship=relationship)
                for operation, relationship in updates
            ]
        )
        return self._serialized(
            lambda: self._client.WriteRelationships(request).written_at
        )

    def _delete_note(self, note_id: int) -> Written:
        request = DeleteRelationshipsRequest(
            relationship_filter=RelationshipFilter(
                resource_type="note", optional_resource_id=str(note_id)
            )
        )
        return self._serialized(
            lambda: self._client.DeleteRelationships(request).deleted_at
        )

    def _serialized(self, write: Callable[[], ZedToken]) -> Written:
        """`write()` alone, its token remembered as the newest.

        A write that waited for the lock longer than its caller did is not
        made: the caller already answered that nothing changed.
        """
        if not self._writing.acquire(timeout=self.calls.timeout):
            raise TimeoutError("another SpiceDB write did not finish")
        try:
            if not self.calls.still_wanted():
                raise TimeoutError("abandoned while waiting for another write")
            order = self._newest.order + 1 if self._newest else 1
            self._newest = Written(order, write())
            return self._newest
        finally:
            self._writing.release()


class _ChecksOnThreads:
    """The client `SpiceDB` checks and filters through: each call on an
    engine thread, with its deadline."""

    def __init__(self, client: EmbeddedClient, calls: EngineCalls) -> None:
        self._client = client
        self._calls = calls

    def CheckBulkPermissions(self, request: CheckBulkPermissionsRequest) -> Any:
        subject = request.items[0].subject.object if request.items else None
        who = f"{subject.object_type}:{subject.object_id}" if subject else None
        return self._calls.run(
            "check", lambda: self._client.CheckBulkPermissions(request), who
        )

    def LookupResources(self, request: LookupResourcesRequest) -> Any:
        # The `notes` filter: the whole stream is read on the engine thread
        # (a hung stream times out like a hung check, and denies every row).
        subject = request.subject.object
        who = f"{subject.object_type}:{subject.object_id}"
        return self._calls.run(
            "check", lambda: list(self._client.LookupResources(request)), who
        )


def _subject(context: dict[str, Any]) -> str | None:
    user = context["user"]
    return None if user is None else f"user:{user.id}"


def _all_relationships(db: Database) -> Iterator[Relationship]:
    for team_id, user_id in db.memberships():
        yield _relationship("team", team_id, "member", "user", user_id)
    for note in db.all_notes():
        yield from _note_relationships(note)


def _note_relationships(note: NoteRow) -> list[Relationship]:
    relationships = [
        _relationship("note", note.id, "owner", "user", note.owner_id),
        _relationship("note", note.id, "team", "team", note.team_id),
    ]
    if note.draft:
        relationships.append(_relationship("note", note.id, "draft", "user", "*"))
    return relationships


def _relationship(
    kind: str, object_id: int, relation: str, subject_kind: str, subject_id: object
) -> Relationship:
    """`note:5#owner@user:3` as a `Relationship`."""
    return Relationship(
        resource=ObjectReference(object_type=kind, object_id=str(object_id)),
        relation=relation,
        subject=SubjectReference(
            object=ObjectReference(object_type=subject_kind, object_id=str(subject_id))
        ),
    )
