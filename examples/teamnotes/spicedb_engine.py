"""The `can` scope answered by an embedded SpiceDB (`--engine spicedb`).

SpiceDB holds the relationships the policy asks about, in the shape of
`teamnotes.zed`: team members, each note's owner and team, and a marker on
drafts. SQLite stays the source of the data; at start every relationship is
written from it (the embedded engine keeps nothing across restarts), and
each mutation that changes one writes it to SpiceDB as well, right after its
SQL transaction.

Read after write: SpiceDB answers from a snapshot, which may predate a write
of the last moments. Every write returns a ZedToken; the mutation keeps it on
its request's context (`context["zedtoken"]`) and the engine keeps the newest
one, and every check asks for a snapshot at least as fresh as the request's
own token, else the newest write of this process. So the checks after a
write see it, in the same request (a subscriber's check of the note just
created) and in every later one. This server is the only writer; a server
with several processes would carry the token in the user's session instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from authzed.api.v1 import (
    DeleteRelationshipsRequest,
    ObjectReference,
    Relationship,
    RelationshipFilter,
    RelationshipUpdate,
    SubjectReference,
    WriteRelationshipsRequest,
    ZedToken,
)
from spicedb_embedded import EmbeddedSpiceDB

from strawberry_authz.spicedb import SpiceDB

from .db import Database, NoteRow
from .engine import EngineName

SCHEMA = (Path(__file__).parent / "teamnotes.zed").read_text()
CONTEXT_TOKEN = "zedtoken"
# SpiceDB's default limit of updates in one WriteRelationships call.
WRITE_CHUNK = 1000

log = logging.getLogger("examples.teamnotes.spicedb")


class SpiceDBEngine:
    """Relationships in an embedded SpiceDB, checked in bulk per request."""

    name: EngineName = "spicedb"

    def __init__(self, db: Database) -> None:
        self._embedded = EmbeddedSpiceDB.start(SCHEMA, [])
        self.spicedb = SpiceDB.from_embedded(
            self._embedded, subject=_subject, consistency=self._consistency
        )
        self._newest: ZedToken | None = None
        count = self._load(db)
        log.info("SpiceDB: %d relationships written from %s", count, db.path)

    def can(self, context: dict[str, Any]) -> object:
        return self.spicedb.scope(context)

    def note_created(self, context: dict[str, Any], note: NoteRow) -> None:
        self._write(context, _note_relationships(note))

    def note_published(self, context: dict[str, Any], note: NoteRow) -> None:
        # The draft marker goes; the owner and team stay.
        draft = _relationship("note", note.id, "draft", "user", "*")
        self._write(context, [draft], RelationshipUpdate.Operation.OPERATION_DELETE)

    def note_deleted(self, context: dict[str, Any], note_id: int) -> None:
        # Every relationship of the note goes: SQLite may give a later note
        # the same id, and it must not inherit this note's owner.
        deleted = self.spicedb.client.DeleteRelationships(
            DeleteRelationshipsRequest(
                relationship_filter=RelationshipFilter(
                    resource_type="note", optional_resource_id=str(note_id)
                )
            )
        )
        self._remember(context, deleted.deleted_at)

    def close(self) -> None:
        self._embedded.close()

    def _consistency(self, context: dict[str, Any]) -> ZedToken | None:
        token: ZedToken | None = context.get(CONTEXT_TOKEN) or self._newest
        return token

    def _load(self, db: Database) -> int:
        """Write every relationship `db` implies; how many were written."""
        relationships = list(_all_relationships(db))
        for start in range(0, len(relationships), WRITE_CHUNK):
            self._write({}, relationships[start : start + WRITE_CHUNK])
        return len(relationships)

    def _write(
        self,
        context: dict[str, Any],
        relationships: list[Relationship],
        operation: Any = RelationshipUpdate.Operation.OPERATION_TOUCH,
    ) -> None:
        written = self.spicedb.client.WriteRelationships(
            WriteRelationshipsRequest(
                updates=[
                    RelationshipUpdate(
                        operation=operation,
                        relationship=relationship,
                    )
                    for relationship in relationships
                ]
            )
        )
        self._remember(context, written.written_at)

    def _remember(self, context: dict[str, Any], token: ZedToken) -> None:
        context[CONTEXT_TOKEN] = token
        self._newest = token


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
