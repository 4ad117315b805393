"""The teamnotes policy, tested the way docs/testing.md shows: one line a check.

In process, on a real SQLite database seeded with the demo data:
`run_as_async` runs one operation as a demo user (the example's own
`load_scopes`), or as a viewer whose scopes the test states;
`assert_allowed` / `assert_denied` say which field was allowed, and which
rule denied the others.
"""

from collections.abc import Iterator
from typing import Any

import pytest

from examples.teamnotes.db import Database
from examples.teamnotes.engine import SqliteEngine
from examples.teamnotes.events import NoteEvents
from examples.teamnotes.schema import context_for, schema
from strawberry_authz.testing import assert_allowed, assert_denied, run_as_async


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = Database(tmp_path / "notes.db")
    database.seed_if_empty()
    yield database


def as_user(db: Database, name: str | None) -> dict[str, Any]:
    # The engine answers on threads, asynchronously (examples/teamnotes/calls.py):
    # hence `run_as_async`, not the synchronous `run_as`.
    user = next((u for u in db.users() if u.name == name), None)
    return context_for(db, NoteEvents(), SqliteEngine(db), user)


async def test_a_team_member_reads_the_bodies_the_team_list_grants(db):
    result = await run_as_async(
        schema, "{ myTeams { notes { body } } }", context=as_user(db, "carol")
    )
    assert_allowed(result, "myTeams.notes.body")


async def test_another_team_s_note_by_id_is_denied_by_the_post_rule_as_not_found(db):
    result = await run_as_async(
        schema, "{ note(id: 3) { title } }", context=as_user(db, "carol")
    )
    assert_denied(result, "note", by="post")
    assert [e.extensions["code"] for e in result.errors] == ["NOT_FOUND"]


async def test_an_anonymous_caller_is_turned_away_by_the_default_scopes(db):
    result = await run_as_async(
        schema, "{ note(id: 1) { title } }", context=as_user(db, None)
    )
    assert_denied(result, "note", by="default", code="UNAUTHENTICATED")
    assert [e.extensions["code"] for e in result.errors] == ["UNAUTHENTICATED"]


async def test_a_photo_needs_the_grant_of_me_or_a_role(db):
    # The viewer's scopes stated outright: the shape of the rule, not the data.
    nobody = {
        "is_public": True,
        "is_logged_in": True,
        "role_can": lambda permission: False,
        "can": lambda value: False,
    }
    context = as_user(db, "gus")
    result = await run_as_async(
        schema, "{ me { photos { url } } }", scopes=nobody, context=context
    )
    assert_allowed(result, "me.photos")  # `me` granted read_photos
    assert_allowed(result, "me.photos.url")


ANSWERS = [
    "{ notes(first: 3) { totalCount edges { node { id title } } "
    "pageInfo { hasNextPage endCursor } } }",
    "{ myTeams { name notes { id body } members { name } } }",
    "{ myDrafts { id title } }",
    "{ team(id: 1) { name } }",
    "{ team(id: 2) { name } }",
    *(
        f"{{ note(id: {n}) {{ title body viewerCanEdit viewerCanDelete "
        "viewerCanPublish } }"
        for n in range(1, 7)
    ),
]


async def test_every_engine_gives_every_demo_user_the_same_answers(db):
    # sqlite, embedded SpiceDB and a Cerbos server, each answering the same
    # policy from the same data: every query, every user, the same result.
    from teamnoteskit import ENGINES, require_engine

    from examples.teamnotes.engine import open_engine

    for name in ENGINES:
        require_engine(name)
    engines = {name: open_engine(name, db) for name in ENGINES}
    try:
        for user in db.users():
            for query in ANSWERS:
                results = {}
                for name, engine in engines.items():
                    context = context_for(db, NoteEvents(), engine, user)
                    result = await schema.execute(query, context_value=context)
                    errors = [e.message for e in result.errors or []]
                    results[name] = (result.data, errors)
                assert len(set(map(repr, results.values()))) == 1, (user, results)
    finally:
        for engine in engines.values():
            engine.close()
