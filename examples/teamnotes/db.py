"""The SQLite database: schema, first-start seed, and the queries the API uses.

One connection shared by the server's threads, serialized by a lock
(`sqlite3` objects are not safe to use from two threads at once).

Note ids are never reused: each is taken from `note_ids` (`AUTOINCREMENT`)
before its row is written, so nothing said about a deleted note (an
engine's relationship, a subscriber's cached answer) can apply to a later
one, and a note's relationships can be written before its row is visible.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Lowest first: each role has everything the roles before it have.
ROLES = ("guest", "user", "moderator", "admin")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('guest', 'user', 'moderator', 'admin')),
    token TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memberships (
    team_id INTEGER NOT NULL REFERENCES teams(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (team_id, user_id)
);
CREATE TABLE IF NOT EXISTS note_ids (id INTEGER PRIMARY KEY AUTOINCREMENT);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY REFERENCES note_ids(id),
    team_id INTEGER NOT NULL REFERENCES teams(id),
    owner_id INTEGER NOT NULL REFERENCES users(id),
    title TEXT NOT NULL, body TEXT NOT NULL, draft INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY,
    note_id INTEGER NOT NULL REFERENCES notes(id),
    author_id INTEGER NOT NULL REFERENCES users(id),
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    url TEXT NOT NULL
);
"""

SEED_USERS = [
    ("alice", "admin"),
    ("bob", "moderator"),
    ("carol", "user"),
    ("dave", "user"),
    ("gus", "guest"),
]
SEED_TEAMS = {"core": ["alice", "carol"], "growth": ["bob", "dave"]}
SEED_NOTES = [
    ("core", "carol", "Roadmap", "Ship the authz layer.", False),
    ("core", "carol", "Salary bands", "Draft: not for the team yet.", True),
    ("growth", "dave", "Launch plan", "Landing page on Monday.", False),
    ("growth", "dave", "Pricing ideas", "Draft: maybe a free tier.", True),
    ("core", "alice", "Welcome", "Read the handbook first.", False),
]


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: str
    token: str

    @property
    def roles(self) -> tuple[str, ...]:
        """Their role and every role below it, highest first.

        This is the `roles` a `RoleRegistry` reads (`roles.py`): a moderator
        is `("moderator", "user", "guest")`, so a role has whatever the roles
        below it have.
        """
        return ROLES[ROLES.index(self.role) :: -1]


@dataclass(frozen=True)
class NoteRow:
    id: int
    team_id: int
    owner_id: int
    title: str
    body: str
    draft: bool


class Database:
    """The API's data access; every method is one short transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._connection = sqlite3.connect(self.path, check_same_thread=False)
        self._connection.row_factory = sqlite3.Row
        self._connection.execute("PRAGMA foreign_keys = ON")
        # Readers never wait for a writer, and a commit is not an fsync (a
        # crash of the process loses nothing; a power cut, the last moments).
        self._connection.execute("PRAGMA journal_mode = WAL")
        self._connection.execute("PRAGMA synchronous = NORMAL")
        self._lock = threading.Lock()
        self.queries = 0
        with self._transaction() as db:
            db.executescript(SCHEMA)
            # A file from before `note_ids`: its notes' ids are taken.
            db.execute("INSERT OR IGNORE INTO note_ids (id) SELECT id FROM notes")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._connection:
            self.queries += 1
            yield self._connection

    def seed_if_empty(self) -> bool:
        """Create the demo data on first start; keep existing data otherwise."""
        with self._transaction() as db:
            if db.execute("SELECT COUNT(*) FROM users").fetchone()[0]:
                return False
            for name, role in SEED_USERS:
                db.execute(
                    "INSERT INTO users (name, role, token) VALUES (?, ?, ?)",
                    (name, role, f"demo-{name}-token"),
                )
            ids = {
                row["name"]: row["id"]
                for row in db.execute("SELECT id, name FROM users")
            }
            for team, members in SEED_TEAMS.items():
                team_id = db.execute(
                    "INSERT INTO teams (name) VALUES (?)", (team,)
                ).lastrowid
                for member in members:
                    db.execute(
                        "INSERT INTO memberships VALUES (?, ?)", (team_id, ids[member])
                    )
            teams = {
                row["name"]: row["id"] for row in db.execute("SELECT * FROM teams")
            }
            for team, owner, title, body, draft in SEED_NOTES:
                note_id = db.execute("INSERT INTO note_ids DEFAULT VALUES").lastrowid
                db.execute(
                    "INSERT INTO notes (id, team_id, owner_id, title, body, draft) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (note_id, teams[team], ids[owner], title, body, int(draft)),
                )
                db.execute(
                    "INSERT INTO comments (note_id, author_id, body) VALUES (?, ?, ?)",
                    (note_id, ids["alice"], f"Comment on {title}"),
                )
            for name, user_id in ids.items():
                db.execute(
                    "INSERT INTO photos (owner_id, url) VALUES (?, ?)",
                    (user_id, f"https://photos.example/{name}.jpg"),
                )
            return True

    # -- users -----------------------------------------------------------------

    def users(self) -> list[UserRow]:
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM users ORDER BY id").fetchall()
        return [UserRow(**dict(row)) for row in rows]

    def user(self, user_id: int) -> UserRow | None:
        with self._transaction() as db:
            row = db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return UserRow(**dict(row)) if row else None

    def user_by_token(self, token: str) -> UserRow | None:
        with self._transaction() as db:
            row = db.execute("SELECT * FROM users WHERE token = ?", (token,)).fetchone()
        return UserRow(**dict(row)) if row else None

    def photo_urls(self, user_id: int) -> list[tuple[int, str]]:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, url FROM photos WHERE owner_id = ? ORDER BY id", (user_id,)
            ).fetchall()
        return [(row["id"], row["url"]) for row in rows]

    # -- teams -----------------------------------------------------------------

    def teams_of(self, user_id: int) -> list[tuple[int, str]]:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT t.id, t.name FROM teams t JOIN memberships m "
                "ON m.team_id = t.id WHERE m.user_id = ? ORDER BY t.id",
                (user_id,),
            ).fetchall()
        return [(row["id"], row["name"]) for row in rows]

    def team(self, team_id: int) -> tuple[int, str] | None:
        with self._transaction() as db:
            row = db.execute(
                "SELECT id, name FROM teams WHERE id = ?", (team_id,)
            ).fetchone()
        return (row["id"], row["name"]) if row else None

    def is_member(self, team_id: int, user_id: int) -> bool:
        with self._transaction() as db:
            row = db.execute(
                "SELECT 1 FROM memberships WHERE team_id = ? AND user_id = ?",
                (team_id, user_id),
            ).fetchone()
        return row is not None

    def memberships(self) -> list[tuple[int, int]]:
        """Every `(team_id, user_id)` pair."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT team_id, user_id FROM memberships ORDER BY team_id, user_id"
            ).fetchall()
        return [(row["team_id"], row["user_id"]) for row in rows]

    def members(self, team_id: int) -> list[UserRow]:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT u.* FROM users u JOIN memberships m ON m.user_id = u.id "
                "WHERE m.team_id = ? ORDER BY u.id",
                (team_id,),
            ).fetchall()
        return [UserRow(**dict(row)) for row in rows]

    # -- notes -----------------------------------------------------------------

    def notes_of_team(self, team_id: int) -> list[NoteRow]:
        return self._notes("WHERE team_id = ? AND draft = 0", (team_id,))

    def drafts_of(self, owner_id: int) -> list[NoteRow]:
        return self._notes("WHERE owner_id = ? AND draft = 1", (owner_id,))

    def published_notes(self) -> list[NoteRow]:
        return self._notes("WHERE draft = 0", ())

    def all_notes(self) -> list[NoteRow]:
        return self._notes("", ())

    def notes_where(
        self, where: str, params: list[object], offset: int, limit: int | None
    ) -> list[NoteRow]:
        """The notes `where` (a filter's SQL, `?` placeholders) selects, by id,
        from `offset`, at most `limit` of them (None: all)."""
        window = (-1 if limit is None else limit, offset)
        return self._notes(f"WHERE {where}", tuple(params), "LIMIT ? OFFSET ?", window)

    def count_notes_where(self, where: str, params: list[object]) -> int:
        with self._transaction() as db:
            row = db.execute(f"SELECT count(*) FROM notes WHERE {where}", params)
            count: int = row.fetchone()[0]
        return count

    def note(self, note_id: int) -> NoteRow | None:
        found = self._notes("WHERE id = ?", (note_id,))
        return found[0] if found else None

    def _notes(
        self,
        where: str,
        params: tuple[object, ...],
        window: str = "",
        window_params: tuple[object, ...] = (),
    ) -> list[NoteRow]:
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT * FROM notes {where} ORDER BY id {window}",
                (*params, *window_params),
            ).fetchall()
        return [NoteRow(**{**dict(row), "draft": bool(row["draft"])}) for row in rows]

    def new_note(
        self, team_id: int, owner_id: int, title: str, body: str, draft: bool
    ) -> NoteRow:
        """A note with a fresh id, not stored yet (`insert_note` stores it).

        The id is used up even if the note is never inserted.
        """
        with self._transaction() as db:
            note_id = db.execute("INSERT INTO note_ids DEFAULT VALUES").lastrowid
        return NoteRow(int(note_id or 0), team_id, owner_id, title, body, draft)

    def insert_note(self, note: NoteRow) -> NoteRow:
        """Store a note made by `new_note`: from now on it is visible."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO notes (id, team_id, owner_id, title, body, draft) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    note.id,
                    note.team_id,
                    note.owner_id,
                    note.title,
                    note.body,
                    int(note.draft),
                ),
            )
        return note

    def update_note_body(self, note_id: int, body: str) -> NoteRow | None:
        with self._transaction() as db:
            db.execute("UPDATE notes SET body = ? WHERE id = ?", (body, note_id))
        return self.note(note_id)

    def publish_note(self, note_id: int) -> NoteRow | None:
        """Clear the note's draft flag (a published note stays published)."""
        with self._transaction() as db:
            db.execute("UPDATE notes SET draft = 0 WHERE id = ?", (note_id,))
        return self.note(note_id)

    def delete_note(self, note_id: int) -> bool:
        """Delete a note and its comments; False if there was no such note."""
        with self._transaction() as db:
            db.execute("DELETE FROM comments WHERE note_id = ?", (note_id,))
            deleted = db.execute("DELETE FROM notes WHERE id = ?", (note_id,))
        return deleted.rowcount > 0

    def comments(self, note_id: int) -> list[tuple[int, int, str]]:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, author_id, body FROM comments "
                "WHERE note_id = ? ORDER BY id",
                (note_id,),
            ).fetchall()
        return [(row["id"], row["author_id"], row["body"]) for row in rows]
