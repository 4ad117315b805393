"""The GraphQL schema and, next to each field, who may read it.

The policy uses every capability of strawberry-authz:

- default scopes: every query and mutation needs a logged-in user, every
  subscription too; `publicNotes` skips them (`skip_defaults=True`);
- deny by default (`fallback_rule=False`) with a type-wide rule on every
  type its root fields return (`Photo`, `User`, `Team`, `Note`, `Comment`;
  `PublicNote` is an explicit allow), a type-level grant (`Note`: its
  author);
- `$or`, `$and`, `$chain`, `$race`; relationship checks (team membership,
  what the viewer may do to a note) through one scope, `can`, answered by
  SQLite queries or by SpiceDB (`engine.py`), once per request and value;
  role checks through another, `role_can`, answered by a `RoleRegistry`
  (`roles.py`);
- capability fields (`Note.viewerCanEdit`, `viewerCanDelete`,
  `viewerCanPublish`) answered by the very rules of the mutations they
  announce, and the viewer's permissions (`viewer { permissions }`, also
  served as JSON by `GET /permissions`, see `app.py`);
- grants from a list to its items' fields (`Team.notes` lets each note's
  `body` be read), a post rule on a fetched record (`note`: drafts for their
  author only), an `on_error` hook (`note` answers "not found" and
  "forbidden" alike, so ids cannot be probed), a fallback value (`myDrafts`
  is empty for guests), a subscription filtered per subscriber, and the
  decision log written to the server log;
- one rule checked two ways: `Note`'s read rule (`NOTE_READ`, with
  `Column`s) checks each note and, as a SQL `WHERE` (`filtering.py`), pages
  the `notes` connection, so every page is full and `totalCount` counts only
  what the viewer may read.

What it promises when the engine (`engine.py`) fails, raises or hangs:

- a check that fails or outlives `scope_timeout` denies (fail closed), and
  no engine call ever runs on the event loop (`calls.py`);
- a mutation whose engine write fails answers one plain error
  (`UNAVAILABLE`) and changes nothing: each writes the engine first and
  SQLite second, in the order that keeps any half-done write closed
  (`create_note`, `publish_note`, `delete_note` say how);
- a draft is its author's alone, to read and to change: its checks ask for
  the author (`edit`), never for the draft marker, so a marker removed by a
  publish that then failed opens nothing;
- each subscription event is read from the database and checked when it is
  delivered, with fresh answers.

Any other unexpected exception reaches the client as "Unexpected error."
(`MaskUnexpectedErrors`), never with its own text.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncGenerator, Awaitable
from typing import Any, Literal

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.extensions import MaskErrors

from strawberry_authz import AuthExtension, AuthParams, Column, Decision, Permission
from strawberry_authz.audit import AuditLog

from .auth import Scopes, load_scopes
from .calls import ENGINE_TIMEOUT, EngineUnavailable
from .db import Database, NoteRow, UserRow
from .engine import Engine, note_ids, on_note, team_member
from .events import NoteEvents
from .filtering import where_sql
from .roles import VIEWER_CHECKS

log = logging.getLogger("examples.teamnotes.authz")


def log_decision(decision: Decision) -> None:
    log.info(
        "%s %s.%s at %s: %s%s",
        decision.phase,
        decision.type_name,
        decision.field_name,
        ".".join(map(str, decision.path)),
        "allowed" if decision.allowed else "DENIED",
        "" if decision.allowed else f" ({decision.reason})",
    )


class AuditFile:
    """Audit records as JSON lines, appended to a file chosen at start.

    `create_app` points it at `<database>.audit.jsonl`, next to the database;
    until then (a schema used in tests without the app) nothing is written.
    """

    def __init__(self) -> None:
        self.path: str | None = None
        self._lock = threading.Lock()

    def __call__(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        line = json.dumps(record) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as file:
            file.write(line)


audit_file = AuditFile()
audit = AuditLog(
    audit_file, principal=lambda context: getattr(context.get("user"), "name", None)
)


authz = AuthExtension(
    load_scopes,
    scopes=Scopes,
    grants=Literal["read_note_body", "read_photos", "author"],
    default_scopes={
        "Query": {"is_logged_in": True},
        "Mutation": {"is_logged_in": True},
        "Subscription": {"subscribe": {"is_logged_in": True}},
    },
    on_decision=[log_decision, audit],
    # An engine check that takes longer denies. The engine calls give up on
    # their own after ENGINE_TIMEOUT (`calls.py`); this is the safety net.
    scope_timeout=ENGINE_TIMEOUT + 0.5,
    # Deny by default: a field nobody wrote a rule for is refused, and
    # `strawberry-authz report ... --fail-on-unprotected` exits 0 on this
    # schema (every field is covered by some rule).
    fallback_rule=False,
)


def db_of(info: strawberry.Info) -> Database:
    database: Database = info.context["db"]
    return database


def engine_of(info: strawberry.Info) -> Engine:
    engine: Engine = info.context["engine"]
    return engine


def viewer(info: strawberry.Info) -> UserRow | None:
    user: UserRow | None = info.context["user"]
    return user


@authz.type_rule({"is_logged_in": True})
@strawberry.type
class Photo:
    id: int
    url: str


@authz.type_rule({"is_logged_in": True})
@strawberry.type
class User:
    id: int
    name: str
    role: str

    @authz.rule({"$or": [{"$granted": "read_photos"}, {"role_can": "photo:read"}]})
    @strawberry.field
    def photos(self, info: strawberry.Info) -> list[Photo]:
        return [Photo(id=i, url=url) for i, url in db_of(info).photo_urls(self.id)]

    @staticmethod
    def of(row: UserRow) -> User:
        return User(id=row.id, name=row.name, role=row.role)


@authz.type_rule({"is_logged_in": True})
@strawberry.type
class Comment:
    id: int
    body: str
    author_id: strawberry.Private[int]

    @strawberry.field
    def author(self, info: strawberry.Info) -> User | None:
        row = db_of(info).user(self.author_id)
        return User.of(row) if row else None


def is_author(note_id: int) -> object:
    """The viewer wrote the note (the engine's `edit` is its owner's alone)."""
    return {"can": on_note(note_id, "edit")}


def may_edit(note_id: int, draft: bool) -> object:
    """Who may change a note's body (`updateNote`): its author, or an admin
    if it is published. A draft is its author's alone."""
    if draft:
        return is_author(note_id)
    return {"$or": [is_author(note_id), {"role_can": "note:update"}]}


def may_update(params: AuthParams) -> object:
    """`updateNote`'s rule, from the note as it is now (published is final)."""
    note_id = params.args["id"]
    note = params.context["db"].note(note_id)
    return may_edit(note_id, note is None or note.draft)


def may_delete(note_id: int) -> object:
    """Who may delete a note (`deleteNote`): its author or an admin."""
    return {"$or": [{"can": on_note(note_id, "delete")}, {"role_can": "note:delete"}]}


def may_publish(note_id: int) -> object:
    """Who may publish a draft (`publishNote`): its author alone.

    No role may publish someone else's draft: until it is published nobody
    else may even read it.
    """
    return is_author(note_id)


def note_author_grants(params: AuthParams) -> list[str]:
    """The viewer wrote this note: they may read all of it."""
    user = params.context["user"]
    return ["author"] if user is not None and params.root.owner_id == user.id else []


# Who may read a note, wherever one is returned: its author (the engine's
# `view`), its team unless it is a draft (`view` again), or a role that reads
# published notes. The same rule, read as a query filter, is the `WHERE` of
# the `notes` connection (`Query.notes`): `Column` is the note's own column
# when one note is checked, the table's column when the query is filtered.
NOTE_READ = {
    "$or": [
        {"$and": [{"role_can": "note:read"}, {"published": Column("draft")}]},
        {"can": note_ids("view")},
    ]
}


@authz.type_rule({"is_logged_in": True}, grants=note_author_grants)
@authz.type_rule(NOTE_READ, on_object=True)
@strawberry.type
class Note:
    id: int
    title: str
    draft: bool
    team_id: strawberry.Private[int]
    owner_id: strawberry.Private[int]
    body_text: strawberry.Private[str]

    # What the viewer may do to this note, for a page to enable its buttons:
    # the same rules as the mutations, so the answers cannot drift apart.
    viewer_can_edit: bool = authz.can_field(
        lambda params: may_edit(params.root.id, params.root.draft),
        description="Whether `updateNote` would accept this note from the viewer.",
    )
    viewer_can_delete: bool = authz.can_field(
        lambda params: may_delete(params.root.id),
        description="Whether `deleteNote` would accept this note from the viewer.",
    )
    viewer_can_publish: bool = authz.can_field(
        lambda params: may_publish(params.root.id) if params.root.draft else False,
        description="Whether this is a draft that `publishNote` would accept.",
    )

    @authz.rule(
        {
            "$or": [
                {"$granted": "read_note_body"},
                {"$granted": "author"},
                {"role_can": "note:read"},
            ]
        }
    )
    @strawberry.field
    def body(self) -> str:
        return self.body_text

    @strawberry.field
    def owner(self, info: strawberry.Info) -> User | None:
        row = db_of(info).user(self.owner_id)
        return User.of(row) if row else None

    @strawberry.field
    def comments(self, info: strawberry.Info) -> list[Comment]:
        return [
            Comment(id=i, author_id=author, body=body)
            for i, author, body in db_of(info).comments(self.id)
        ]

    @staticmethod
    def of(row: NoteRow) -> Note:
        return Note(
            id=row.id,
            title=row.title,
            draft=row.draft,
            team_id=row.team_id,
            owner_id=row.owner_id,
            body_text=row.body,
        )


@authz.type_rule({"is_logged_in": True})
@strawberry.type
class Team:
    id: int
    name: str

    @authz.rule(
        lambda params: {
            "$or": [{"can": team_member(params.root.id)}, {"role_can": "team:read"}]
        },
        grants=["read_note_body"],
    )
    @strawberry.field
    def notes(self, info: strawberry.Info) -> list[Note]:
        return [Note.of(row) for row in db_of(info).notes_of_team(self.id)]

    @authz.rule(lambda params: {"can": team_member(params.root.id)})
    @strawberry.field
    def members(self, info: strawberry.Info) -> list[User]:
        return [User.of(row) for row in db_of(info).members(self.id)]


@authz.type_rule(True)  # the titles of published notes are public
@strawberry.type
class PublicNote:
    title: str


@strawberry.type(description="The logged-in viewer.")
class Viewer:
    permissions: list[Permission] = authz.permissions_field(
        VIEWER_CHECKS,
        description="What the viewer's roles allow (`roles.py`), for a page to "
        "shape its menus. The server still checks every operation.",
    )


class NoteNotFoundError(GraphQLError):
    """`note(id)`'s one answer for "no such note" and "not yours to read"."""

    def __init__(self) -> None:
        super().__init__(
            "No note with this id is visible to you.",
            extensions={"code": "NOT_FOUND"},
        )


def may_read_note(params: AuthParams, note: Note | None) -> object:
    """Who may read a note fetched by id, decided on the fetched record.

    `view` is its author's, and its team's unless it is a draft: a draft
    belongs to its author alone (as in `myDrafts` and `noteCreated`),
    teammates, moderators and admins included. A published note may also be
    read by a moderator. No note at all is denied like a note the viewer may
    not read (see `note_not_found`).
    """
    if note is None:
        return False
    if note.draft:
        return is_author(note.id)
    return {"$or": [{"can": on_note(note.id, "view")}, {"role_can": "note:read"}]}


def note_not_found(error: Exception, path: list[str | int]) -> Exception:
    """No existence oracle: "forbidden" reads exactly like "does not exist".

    The "hide as missing" pattern (docs/concepts/post-rules.md). A client
    that could tell the two apart could probe ids for notes it may not read.
    Both give `null` and the same `NOT_FOUND` error, byte for byte: this hook
    replaces every denial of the post rule (and the reasons of a failed
    `$or`) with one fixed error. It sees only its own rule's denials, so the
    default scopes' `UNAUTHENTICATED` (decided before the resolver runs, it
    says nothing about the id) reaches the client as it is. The answers are
    equal, not equally fast (an existing note costs a few more queries); a
    server that must hide timing too needs more than this.
    """
    return NoteNotFoundError()


class NoteWindow:
    """The notes a filter's `WHERE` selects, paged in SQL.

    `relay.ListConnection` slices what its resolver returns
    (`window[start:stop]`): the slice becomes `LIMIT` / `OFFSET`, so every
    page is full, and `totalCount` is a `COUNT` with the same `WHERE`.
    """

    def __init__(self, db: Database, where: str, params: list[object]) -> None:
        self.db, self.where, self.params = db, where, params

    def __getitem__(self, window: slice) -> list[Note]:
        start = window.start or 0
        limit = None if window.stop is None else max(window.stop - start, 0)
        rows = self.db.notes_where(self.where, self.params, start, limit)
        return [Note.of(row) for row in rows]

    def count(self) -> int:
        return self.db.count_notes_where(self.where, self.params)


# No type rule here: `edges` and `pageInfo` are the fields of Strawberry's
# own connection classes, shared with every other connection (a type rule
# would reach them too); they follow the `notes` field. `totalCount` is
# this class's own field, with its own rule.
@strawberry.type
class NoteConnection(relay.ListConnection[Note]):
    window: strawberry.Private[NoteWindow | None] = None

    @authz.rule({"is_logged_in": True})
    @strawberry.field(description="How many notes the viewer may read in all.")
    def total_count(self) -> int:
        return 0 if self.window is None else self.window.count()

    @classmethod
    def resolve_connection(
        cls, nodes: Any, *, info: strawberry.Info, **kwargs: Any
    ) -> NoteConnection:
        connection = super().resolve_connection(nodes, info=info, **kwargs)
        connection.window = nodes
        return connection


@strawberry.type
class Query:
    @relay.connection(
        NoteConnection,
        description="Every note the viewer may read, by id, a page at a time.",
    )
    async def notes(self, info: strawberry.Info) -> list[Note]:
        # `Note`'s own read rule (`NOTE_READ`) as a WHERE, before LIMIT and
        # COUNT. Each note still gets its object check (defense in depth).
        where, params = where_sql(await authz.plan(info, Note))
        return NoteWindow(db_of(info), where, params)  # type: ignore[return-value]

    @authz.rule({"is_public": True}, skip_defaults=True)
    @strawberry.field
    def public_notes(self, info: strawberry.Info) -> list[PublicNote]:
        return [PublicNote(title=row.title) for row in db_of(info).published_notes()]

    @authz.rule({"is_logged_in": True}, grants=["read_photos"])
    @strawberry.field
    def me(self, info: strawberry.Info) -> User | None:
        user = viewer(info)
        return User.of(user) if user else None

    @strawberry.field
    def my_teams(self, info: strawberry.Info) -> list[Team]:
        user = viewer(info)
        if user is None:
            return []
        return [Team(id=i, name=name) for i, name in db_of(info).teams_of(user.id)]

    @authz.rule(
        lambda params: {
            "$race": [
                {"role_can": "team:read"},
                {"can": team_member(params.args["id"])},
            ]
        }
    )
    @strawberry.field
    def team(self, info: strawberry.Info, id: int) -> Team | None:
        found = db_of(info).team(id)
        return Team(id=found[0], name=found[1]) if found else None

    @authz.post_rule(may_read_note, grants=["read_note_body"], on_error=note_not_found)
    @strawberry.field
    def note(self, info: strawberry.Info, id: int) -> Note | None:
        row = db_of(info).note(id)
        return Note.of(row) if row else None

    @authz.rule(
        {"$chain": [{"is_logged_in": True}, {"role_can": "draft:read"}]},
        on_denied=[],
    )
    @strawberry.field
    def my_drafts(self, info: strawberry.Info) -> list[Note]:
        user = viewer(info)
        assert user is not None
        return [Note.of(row) for row in db_of(info).drafts_of(user.id)]

    @authz.rule({"$and": {"is_logged_in": True, "role_can": "user:read"}})
    @strawberry.field
    def users(self, info: strawberry.Info) -> list[User]:
        return [User.of(row) for row in db_of(info).users()]

    @strawberry.field
    def viewer(self) -> Viewer:
        return Viewer()


class NotesUnavailableError(GraphQLError):
    """A mutation's engine write failed: nothing was changed (reason logged)."""

    def __init__(self) -> None:
        super().__init__(
            "The notes service is unavailable; nothing was changed. Try again.",
            extensions={"code": "UNAVAILABLE"},
        )


async def engine_write(what: str, write: Awaitable[None]) -> None:
    """Await an engine write; its failure becomes `NotesUnavailableError`."""
    try:
        await write
    except EngineUnavailable as error:
        log.warning("%s: engine write failed, nothing changed: %s", what, error)
        raise NotesUnavailableError() from None


@strawberry.type
class Mutation:
    @authz.rule(lambda params: {"can": team_member(params.args["team_id"])})
    @strawberry.mutation
    async def create_note(
        self,
        info: strawberry.Info,
        team_id: int,
        title: str,
        body: str,
        draft: bool = False,
    ) -> Note:
        """Relationships first, then the row: nobody sees a note the engine
        does not know. If the engine fails, no row; the id stays unused."""
        user = viewer(info)
        assert user is not None
        db = db_of(info)
        note = db.new_note(team_id, user.id, title, body, draft)
        await engine_write(
            "createNote", engine_of(info).note_created(info.context, note)
        )
        db.insert_note(note)
        events: NoteEvents = info.context["events"]
        events.publish(note.id)
        return Note.of(note)

    @authz.rule(may_update)
    @strawberry.mutation
    def update_note(self, info: strawberry.Info, id: int, body: str) -> Note | None:
        row = db_of(info).update_note_body(id, body)
        return Note.of(row) if row else None

    @authz.rule(lambda params: may_publish(params.args["id"]))
    @strawberry.mutation
    async def publish_note(self, info: strawberry.Info, id: int) -> Note | None:
        """Publish a draft: its team may read it from now on.

        The engine's draft marker goes first, then the row's flag: if the
        engine fails, it stays a draft (drafts are checked by authorship,
        not by the marker, so a marker already gone opens nothing).
        Publishing a published note changes nothing and returns it.
        """
        db = db_of(info)
        row = db.note(id)
        if row is None or not row.draft:
            return Note.of(row) if row else None
        await engine_write(
            "publishNote", engine_of(info).note_published(info.context, row)
        )
        row = db.publish_note(id)
        return Note.of(row) if row else None

    @authz.rule(lambda params: may_delete(params.args["id"]))
    @strawberry.mutation
    async def delete_note(self, info: strawberry.Info, id: int) -> bool:
        """True if the note existed; its comments go with it.

        The relationships go first, then the row: a note is never visible
        with rights the engine no longer has, nor gone with rights left.
        If the engine fails, the note stays as it was.
        """
        db = db_of(info)
        if db.note(id) is None:
            return False
        await engine_write("deleteNote", engine_of(info).note_deleted(info.context, id))
        return db.delete_note(id)


def may_see_created_note(params: AuthParams, note: Note) -> object:
    if note.draft:
        return is_author(note.id)
    return {"$or": [{"can": team_member(note.team_id)}, {"role_can": "team:read"}]}


@strawberry.type
class Subscription:
    @authz.post_rule(may_see_created_note, grants=["read_note_body"], drop_denied=True)
    @strawberry.subscription
    async def note_created(self, info: strawberry.Info) -> AsyncGenerator[Note, None]:
        """Each new note the viewer may see, as it is when it is delivered.

        An event is only a note's id: it is read from the database at
        delivery (a draft published meanwhile arrives published, with its
        current body; a note deleted meanwhile is not delivered), and
        checked then with fresh engine answers, not the ones a previous
        event of this long-lived operation left in its cache.
        """
        events: NoteEvents = info.context["events"]
        db = db_of(info)
        async for note_id in events.stream():
            authz.clear_cache(info, "can")
            row = db.note(note_id)
            if row is not None:
                yield Note.of(row)


class MaskUnexpectedErrors(MaskErrors):
    """ "Unexpected error." for any error no code raised on purpose.

    A `GraphQLError` (a denial, `NOT_FOUND`, `UNAVAILABLE`, a syntax error)
    keeps its message; anything else (an engine's own text, a bug) is
    logged by Strawberry and reaches the client masked.
    """

    def __init__(self, execution_context: object = None) -> None:
        super().__init__(should_mask_error=_unexpected)


def _unexpected(error: GraphQLError) -> bool:
    return error.original_error is not None and not isinstance(
        error.original_error, GraphQLError
    )


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[authz, MaskUnexpectedErrors],
)
authz.validate(schema)


def context_for(
    db: Database, events: NoteEvents, engine: Engine, user: UserRow | None
) -> dict[str, Any]:
    return {"db": db, "events": events, "engine": engine, "user": user}
