"""Who answers the policy's relationship checks: SQLite or SpiceDB.

The policy asks one scope, `can`, for every relationship: `"team:1#member"`
(the viewer is in team 1) and `"note:5#view"` / `"#edit"` / `"#delete"`
(what the viewer may do to note 5: its author views, edits and deletes it;
its team's members view it unless it is a draft). An engine answers that
scope and hears of every write that changes a relationship:

- `sqlite` (the default): the answers are queries on the app's own tables;
  the writes need nothing more.
- `spicedb`: an embedded SpiceDB holds the relationships (schema in
  `teamnotes.zed`), written from the database at start and on every
  mutation; see `spicedb_engine.py`. Needs the `spicedb` extra and the
  native library (`bash scripts/serve --engine spicedb` installs both).
- `cerbos`: a Cerbos server, started by the engine, decides from the YAML
  policies in `cerbos/` and the rows' attributes (`cerbos_engine.py`).
  Needs the `cerbos` extra and the binary (`bash scripts/serve --engine
  cerbos` fetches both).

All three are blocking code: every call goes through `EngineCalls` (`calls.py`),
on a thread and with a deadline, so a slow or hung engine never holds up the
event loop. A check that fails or times out denies; a write that does raises
`EngineUnavailable`, and the mutation changes nothing (see `schema.py`).

`open_engine` is the one place that picks an engine.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from strawberry_authz import BatchScope, Column
from strawberry_authz.conditions import And, Condition, Equals, OneOf, Or

from .calls import EngineCalls
from .db import Database, NoteRow

EngineName = Literal["sqlite", "spicedb", "cerbos"]
ENGINES: tuple[EngineName, ...] = ("sqlite", "spicedb", "cerbos")
NotePermission = Literal["view", "edit", "delete"]
# What `--engine spicedb` imports beyond the example's own dependencies.
SPICEDB_PACKAGES = ("authzed", "spicedb_embedded", "grpc")
# What `--engine cerbos` imports beyond them (it also needs the binary).
CERBOS_PACKAGES = ("cerbos", "grpc", "google")


def team_member(team_id: int) -> str:
    """The `can` value "the viewer is a member of team `team_id`"."""
    return f"team:{team_id}#member"


def on_note(note_id: int, permission: NotePermission) -> str:
    """The `can` value "the viewer may `permission` note `note_id`"."""
    return f"note:{note_id}#{permission}"


def note_ids(permission: NotePermission) -> list[object]:
    """The `can` value "the viewer may `permission` this note", for a type
    rule: `Column("id")` is the note's id when one note is checked, and the
    notes that pass when a query is filtered (`notes` in `schema.py`)."""
    return ["note", Column("id"), permission]


class Engine(Protocol):
    """Answers the `can` scope; told of every write that changes its answers."""

    name: EngineName

    def can(self, context: dict[str, Any]) -> object:
        """The request's loader for the `can` scope (call once per request)."""
        ...

    async def note_created(self, context: dict[str, Any], note: NoteRow) -> None:
        """`note` is about to be inserted (its id is reserved, its row not yet
        visible); later checks, in this request too, see its relationships.

        Raises:
            EngineUnavailable: the write failed or timed out.
        """
        ...

    async def note_published(self, context: dict[str, Any], note: NoteRow) -> None:
        """The draft `note` is about to be published: its team may view it.

        Raises:
            EngineUnavailable: the write failed or timed out.
        """
        ...

    async def note_deleted(self, context: dict[str, Any], note_id: int) -> None:
        """Note `note_id` is about to be deleted; nobody may act on it any more.

        Raises:
            EngineUnavailable: the write failed or timed out.
        """
        ...

    def close(self) -> None:
        """Release the engine when the server stops."""
        ...


def open_engine(name: str, db: Database, calls: EngineCalls | None = None) -> Engine:
    """The engine called `name`, holding what `db` holds now.

    `calls` runs its calls (default: `EngineCalls()`, no faults).

    Raises:
        ValueError: an unknown name.
        RuntimeError: `spicedb` or `cerbos` without its package, native
            library or binary.
    """
    calls = calls or EngineCalls()
    if name == "sqlite":
        return SqliteEngine(db, calls)
    if name == "spicedb":
        try:
            from .spicedb_engine import SpiceDBEngine
        except ModuleNotFoundError as error:
            if (error.name or "").split(".")[0] not in SPICEDB_PACKAGES:
                raise
            raise RuntimeError(
                f"--engine spicedb needs the spicedb extra ({error}); "
                "start the server with `bash scripts/serve --engine spicedb`"
            ) from error
        return SpiceDBEngine(db, calls)
    if name == "cerbos":
        try:
            from .cerbos_engine import CerbosEngine
        except ModuleNotFoundError as error:
            if (error.name or "").split(".")[0] not in CERBOS_PACKAGES:
                raise
            raise RuntimeError(
                f"--engine cerbos needs the cerbos extra ({error}); "
                "start the server with `bash scripts/serve --engine cerbos`"
            ) from error
        return CerbosEngine(db, calls)
    raise ValueError(f"unknown engine {name!r}; expected one of {ENGINES}")


class SqliteEngine:
    """The `can` scope answered by queries on the app's own tables.

    Each `(can, value)` is queried at most once per request: strawberry-authz
    caches every answer for the request. The values a request needs together
    are answered together (`BatchScope`), in one call on an engine thread.
    """

    name: EngineName = "sqlite"

    def __init__(self, db: Database, calls: EngineCalls | None = None) -> None:
        self.db = db
        self.calls = calls or EngineCalls()

    def can(self, context: dict[str, Any]) -> object:
        user = context["user"]
        db = self.db
        calls = self.calls

        def check_many(values: list[object]) -> Any:
            # All the values a request needs at once, in one engine call.
            if user is None:
                return [False] * len(values)
            return calls.run(
                "check",
                lambda: [answer(user.id, value) for value in values],
                f"user:{user.id}",
            )

        def answer(user_id: int, value: object) -> bool | Exception:
            try:
                kind, object_id, permission = _parse(value)
            except ValueError as error:
                return error
            if kind == "team" and permission == "member":
                return db.is_member(object_id, user_id)
            if kind == "note" and permission in ("view", "edit", "delete"):
                note = db.note(object_id)
                if note is None:
                    return False
                if note.owner_id == user_id:
                    return True
                return (
                    permission == "view"
                    and not note.draft
                    and db.is_member(note.team_id, user_id)
                )
            # An unknown value is a bug in the policy: an exception denies
            # the fields that need it (fail closed) and strawberry-authz logs it.
            return ValueError(f"no such check: can {value!r}")

        async def passing(value: Any) -> Condition | bool:
            # A query filter (`notes`): the rows `["note", Column("id"),
            # "view"]` lets through, as a condition on the notes' own columns
            # (the same rule as `answer`), so the filter stays one SQL query.
            if user is None:
                return False
            kind, _, permission = value
            if kind != "note" or permission not in ("view", "edit", "delete"):
                raise ValueError(f"no such filter: can {value!r}")
            mine = Equals("owner_id", user.id)
            if permission != "view":
                return mine
            teams = await calls.run(
                "check", lambda: db.teams_of(user.id), f"user:{user.id}"
            )
            published = Equals("draft", False)
            team_ids = frozenset(team_id for team_id, _ in teams)
            return Or((mine, And((published, OneOf("team_id", team_ids)))))

        return BatchScope(check_many, passing=passing)

    async def note_created(self, context: dict[str, Any], note: NoteRow) -> None:
        """Nothing to do: the notes table is where the answers come from."""

    async def note_published(self, context: dict[str, Any], note: NoteRow) -> None:
        """Nothing to do: the notes table is where the answers come from."""

    async def note_deleted(self, context: dict[str, Any], note_id: int) -> None:
        """Nothing to do: the notes table is where the answers come from."""

    def close(self) -> None:
        """Stop the engine threads; the database belongs to the app."""
        self.calls.close()


def _parse(value: object) -> tuple[str, int, str]:
    """`"note:5#view"` or `["note", 5, "view"]` -> `("note", 5, "view")`;
    ValueError if malformed."""
    if isinstance(value, (list, tuple)) and len(value) == 3:
        kind, object_id, permission = value
        return str(kind), int(object_id), str(permission)
    if not isinstance(value, str):
        raise ValueError(f"malformed can value {value!r}")
    head, _, permission = value.rpartition("#")
    kind, _, object_id = head.partition(":")
    return kind, int(object_id), permission
