"""`notes(first, after)`: every page full, `totalCount` what the viewer may read.

Against the real server, for every demo user and every engine: the pages,
read one after another with `after: endCursor`, hold exactly the notes that
the per-object check lets the user read (each note fetched by id with
`note(id)`), in order, each page full but the last; `totalCount` is their
number. The filter is the `Note` type's own read rule, in SQL.
"""

import sqlite3
from typing import Any

import pytest
from teamnoteskit import TOKENS, Server, create_note

USERS = sorted(TOKENS)
PAGE = (
    "query($first: Int!, $after: String) { notes(first: $first, after: $after) "
    "{ totalCount edges { node { id title } } pageInfo { hasNextPage endCursor } } }"
)


@pytest.fixture(scope="module")
def notes(server: Server) -> list[int]:
    """Every note id, after adding drafts and notes beyond the seed."""
    create_note(server, "dave", 2, "Growth draft", draft=True)
    create_note(server, "carol", 1, "Core update")
    create_note(server, "bob", 2, "Growth update")
    create_note(server, "alice", 1, "Admin draft", draft=True)
    with sqlite3.connect(server.db_path) as db:
        return [row[0] for row in db.execute("SELECT id FROM notes ORDER BY id")]


def readable(server: Server, user: str, notes: list[int]) -> list[dict[str, Any]]:
    """The notes `note(id)` (the per-object check) returns to `user`."""
    found = []
    for note_id in notes:
        result = server.query(
            "query($id: Int!) { note(id: $id) { id title } }", user, id=note_id
        )
        if result["data"]["note"] is not None:
            found.append(result["data"]["note"])
    return found


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("size", [1, 2, 3])
def test_every_page_is_full_and_the_count_is_what_the_user_may_read(
    server: Server, notes: list[int], user: str, size: int
) -> None:
    expected = readable(server, user, notes)
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        result = server.query(PAGE, user, first=size, after=after)
        assert "errors" not in result, result
        page = result["data"]["notes"]
        assert page["totalCount"] == len(expected)
        nodes = [edge["node"] for edge in page["edges"]]
        seen += nodes
        if not page["pageInfo"]["hasNextPage"]:
            assert len(nodes) <= size
            break
        assert len(nodes) == size  # a page before the last is full
        after = page["pageInfo"]["endCursor"]
    assert seen == expected


def test_some_user_may_read_some_notes_and_not_others(
    server: Server, notes: list[int]
) -> None:
    # The data is worth the test above: users differ, nobody reads all.
    counts = {user: len(readable(server, user, notes)) for user in USERS}
    assert counts["gus"] == 0
    assert 0 < min(counts[u] for u in ("carol", "dave")) < len(notes)
    assert len(set(counts.values())) > 2


def test_an_anonymous_caller_gets_no_notes(server: Server) -> None:
    result = server.query(PAGE, None, first=5)
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]
