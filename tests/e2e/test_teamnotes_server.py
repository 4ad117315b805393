"""End to end: the example server as a real process, over HTTP and WebSocket.

The server runs `python -m examples.teamnotes` on a free loopback port with
a fresh SQLite file; every request below goes through uvicorn. Every test
runs against both engines that answer the relationship checks: `sqlite` and
an embedded SpiceDB (`--engine spicedb`), one server per engine.

`scripts/test` installs the engine and sets `STRAWBERRY_AUTHZ_REQUIRE_SPICEDB=1`:
there, and under `CI`, a missing engine fails the SpiceDB runs; a bare
`pytest` on a machine without it skips them.
"""

import asyncio
import json
import shlex
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from teamnoteskit import (
    CREATE,
    SUBSCRIBE,
    TOKENS,
    Server,
    codes,
    connect_ws,
    create_note,
    free_port,
    next_message,
    send_operation,
    subscribe,
)

# -- startup -------------------------------------------------------------------


def test_startup_prints_a_curl_line_that_returns_data(server: Server) -> None:
    lines = [
        line.strip()
        for line in server.output.read_text().splitlines()
        if line.strip().startswith("curl") and TOKENS["carol"] in line
    ]
    assert lines, server.output.read_text()
    words = shlex.split(lines[0])
    body = json.loads(words[words.index("-d") + 1])
    headers = dict(
        words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H"
    )
    response = httpx.post(words[2], json=body, headers=headers, timeout=10)
    data = response.json()["data"]
    assert data["me"] == {"name": "carol", "role": "user"}
    assert [team["name"] for team in data["myTeams"]] == ["core"]


def test_restart_keeps_the_data_and_who_may_change_it(
    tmp_path: Path, engine: str
) -> None:
    restarted = Server(free_port(), tmp_path / "notes.db", tmp_path / "log", engine)
    restarted.start()
    try:
        created = restarted.query(
            'mutation { createNote(teamId: 1, title: "Kept", body: "b") { id } }',
            "carol",
        )
        assert "errors" not in created
        note_id = created["data"]["createNote"]["id"]
    finally:
        restarted.stop()
    restarted.start()
    try:
        titles = restarted.query("{ publicNotes { title } }")["data"]["publicNotes"]
        assert {"title": "Kept"} in titles
        assert restarted.count("users") == 5  # seeded once, not twice
        # The author still owns it (SpiceDB: relationships reloaded at start).
        update = 'mutation($id: Int!) { updateNote(id: $id, body: "c") { body } }'
        kept = restarted.query(update, "carol", id=note_id)
        assert kept == {"data": {"updateNote": {"body": "c"}}}
        assert codes(restarted.query(update, "dave", id=note_id)) == ["FORBIDDEN"]
    finally:
        restarted.stop()


# -- queries -------------------------------------------------------------------


def test_anonymous_needs_login_except_on_the_public_field(server: Server) -> None:
    public = server.query("{ publicNotes { title } }")
    assert "errors" not in public
    assert {"title": "Roadmap"} in public["data"]["publicNotes"]

    private = server.query("{ me { name } }")
    assert private["data"] == {"me": None}
    assert codes(private) == ["UNAUTHENTICATED"]


def test_each_user_reads_the_notes_of_their_own_teams_only(server: Server) -> None:
    query = "{ myTeams { name notes { title body } } }"
    carol = server.query(query, "carol")["data"]["myTeams"]
    dave = server.query(query, "dave")["data"]["myTeams"]
    assert [team["name"] for team in carol] == ["core"]
    assert {"title": "Roadmap", "body": "Ship the authz layer."} in carol[0]["notes"]
    assert [team["name"] for team in dave] == ["growth"]
    assert all(note["title"] != "Roadmap" for note in dave[0]["notes"])


def test_team_by_id_is_for_members_or_admins(server: Server) -> None:
    query = "query($id: Int!) { team(id: $id) { name notes { title } } }"
    assert server.query(query, "alice", id=2)["data"]["team"]["name"] == "growth"
    denied = server.query(query, "carol", id=2)
    assert denied["data"] == {"team": None}
    assert codes(denied) == ["FORBIDDEN"]


def test_a_fetched_note_is_returned_only_to_owner_team_or_moderator(
    server: Server,
) -> None:
    query = "query($id: Int!) { note(id: $id) { title body } }"
    assert server.query(query, "carol", id=1)["data"]["note"]["title"] == "Roadmap"
    assert server.query(query, "bob", id=1)["data"]["note"]["body"] == (
        "Ship the authz layer."
    )
    denied = server.query(query, "dave", id=1)
    assert denied["data"] == {"note": None}
    assert codes(denied) == ["NOT_FOUND"]
    assert "Roadmap" not in json.dumps(denied)


NOTE_BY_ID = "query($id: Int!) { note(id: $id) { id title draft body } }"


def test_a_draft_fetched_by_id_is_for_its_author_only(server: Server) -> None:
    # Note 2 is carol's draft in "core" (alice: teammate and admin); note 4
    # is dave's draft in "growth" (bob: teammate and moderator).
    own = server.query(NOTE_BY_ID, "carol", id=2)
    assert own == {
        "data": {
            "note": {
                "id": 2,
                "title": "Salary bands",
                "draft": True,
                "body": "Draft: not for the team yet.",
            }
        }
    }
    for reader, note_id, owner in (("alice", 2, "carol"), ("bob", 4, "dave")):
        denied = server.post(NOTE_BY_ID, reader, id=note_id)
        assert denied.json()["data"] == {"note": None}, (reader, note_id)
        assert codes(denied.json()) == ["NOT_FOUND"]
        assert "Draft" not in denied.text
        assert own["data"]["note"]["title"] not in denied.text
        assert server.query(NOTE_BY_ID, owner, id=note_id)["data"]["note"]["draft"]


def test_a_forbidden_note_reads_byte_for_byte_like_a_missing_one(
    server: Server,
) -> None:
    missing = server.post(NOTE_BY_ID, "dave", id=999_999)
    assert missing.json() == {
        "data": {"note": None},
        "errors": [
            {
                "message": "No note with this id is visible to you.",
                "locations": [{"line": 1, "column": 20}],
                "path": ["note"],
                "extensions": {"code": "NOT_FOUND"},
            }
        ],
    }
    other_team = server.post(NOTE_BY_ID, "dave", id=1)
    teammates_draft = server.post(NOTE_BY_ID, "alice", id=2)
    guest = server.post(NOTE_BY_ID, "gus", id=5)
    for forbidden in (other_team, teammates_draft, guest):
        assert forbidden.status_code == missing.status_code
        assert forbidden.content == missing.content

    # Anonymous: refused before the note is looked up, whether it exists or not.
    anonymous_existing = server.post(NOTE_BY_ID, None, id=1)
    assert codes(anonymous_existing.json()) == ["UNAUTHENTICATED"]
    assert anonymous_existing.content == server.post(NOTE_BY_ID, None, id=999).content


def test_drafts_fall_back_to_an_empty_list_for_guests(server: Server) -> None:
    query = "{ myDrafts { title body } }"
    guest = server.query(query, "gus")
    assert guest == {"data": {"myDrafts": []}}
    carol = server.query(query, "carol")["data"]["myDrafts"]
    assert carol == [{"title": "Salary bands", "body": "Draft: not for the team yet."}]


def test_photos_are_granted_to_me_but_not_through_team_members(server: Server) -> None:
    own = server.query("{ me { photos { url } } }", "carol")
    assert own["data"]["me"]["photos"] == [{"url": "https://photos.example/carol.jpg"}]
    query = "{ myTeams { members { name photos { url } } } }"
    member = server.query(query, "carol")
    assert "FORBIDDEN" in codes(member)
    assert "alice.jpg" not in json.dumps(member)
    admin = server.query(query, "alice")
    assert "errors" not in admin


def test_user_list_is_for_moderators(server: Server) -> None:
    assert codes(server.query("{ users { name } }", "carol")) == ["FORBIDDEN"]
    names = [
        u["name"] for u in server.query("{ users { name } }", "bob")["data"]["users"]
    ]
    assert names == ["alice", "bob", "carol", "dave", "gus"]


# -- mutations -----------------------------------------------------------------


def test_a_non_owner_cannot_change_a_note(server: Server) -> None:
    before = server.note_body(1)
    denied = server.query(
        'mutation { updateNote(id: 1, body: "hacked") { body } }', "dave"
    )
    assert codes(denied) == ["FORBIDDEN"]
    assert server.note_body(1) == before


def test_the_owner_can_change_their_note(server: Server) -> None:
    changed = server.query(
        'mutation { updateNote(id: 5, body: "Read it twice.") { body } }', "alice"
    )
    assert changed["data"] == {"updateNote": {"body": "Read it twice."}}
    assert server.note_body(5) == "Read it twice."


def test_creating_a_note_in_another_team_is_denied_and_writes_nothing(
    server: Server,
) -> None:
    before = server.count("notes")
    denied = server.query(
        'mutation { createNote(teamId: 2, title: "x", body: "y") { id } }', "carol"
    )
    assert codes(denied) == ["FORBIDDEN"]
    assert server.count("notes") == before


DELETE = "mutation($id: Int!) { deleteNote(id: $id) }"
UPDATE = 'mutation($id: Int!) { updateNote(id: $id, body: "changed") { body } }'


def test_a_new_draft_is_its_authors_at_once_and_nobody_elses(server: Server) -> None:
    note_id = create_note(server, "carol", 1, "Fresh draft", draft=True)
    # The very next request sees the write (SpiceDB: read after write).
    mine = server.query(NOTE_BY_ID, "carol", id=note_id)["data"]["note"]
    assert mine == {
        "id": note_id,
        "title": "Fresh draft",
        "draft": True,
        "body": "Fresh draft",
    }
    assert server.query(UPDATE, "carol", id=note_id)["data"] == {
        "updateNote": {"body": "changed"}
    }
    for teammate_or_moderator in ("alice", "bob"):
        denied = server.query(NOTE_BY_ID, teammate_or_moderator, id=note_id)
        assert codes(denied) == ["NOT_FOUND"], teammate_or_moderator


def test_a_new_published_note_is_read_by_its_team(server: Server) -> None:
    note_id = create_note(server, "carol", 1, "For the team")
    assert server.query(NOTE_BY_ID, "alice", id=note_id)["data"]["note"]["title"] == (
        "For the team"
    )
    assert codes(server.query(NOTE_BY_ID, "dave", id=note_id)) == ["NOT_FOUND"]
    # Read by the team, changed by its author only.
    assert codes(server.query(UPDATE, "dave", id=note_id)) == ["FORBIDDEN"]


def test_only_the_author_or_an_admin_deletes_a_note(server: Server) -> None:
    note_id = create_note(server, "carol", 1, "Short-lived")
    before = server.count("notes")
    for other in ("dave", "bob"):  # another team; a moderator
        assert codes(server.query(DELETE, other, id=note_id)) == ["FORBIDDEN"]
    assert server.count("notes") == before

    assert server.query(DELETE, "carol", id=note_id) == {"data": {"deleteNote": True}}
    assert server.count("notes") == before - 1
    assert codes(server.query(NOTE_BY_ID, "carol", id=note_id)) == ["NOT_FOUND"]

    by_admin = create_note(server, "carol", 1, "Removed by an admin")
    assert server.query(DELETE, "alice", id=by_admin)["data"] == {"deleteNote": True}


def test_a_deleted_notes_id_is_never_handed_out_again(server: Server) -> None:
    gone = create_note(server, "carol", 1, "Deleted")
    assert server.query(DELETE, "carol", id=gone)["data"] == {"deleteNote": True}
    # AUTOINCREMENT: dave's next note gets a new id, never carol's old one,
    # so nothing said about the old note (a relationship, a cached answer)
    # can apply to his.
    daves = create_note(server, "dave", 2, "Dave's, new id")
    assert daves > gone
    assert codes(server.query(UPDATE, "carol", id=daves)) == ["FORBIDDEN"]
    assert codes(server.query(DELETE, "carol", id=daves)) == ["FORBIDDEN"]
    assert codes(server.query(NOTE_BY_ID, "carol", id=daves)) == ["NOT_FOUND"]
    assert codes(server.query(NOTE_BY_ID, "carol", id=gone)) == ["NOT_FOUND"]
    assert server.query(UPDATE, "dave", id=daves)["data"] == {
        "updateNote": {"body": "changed"}
    }


def test_checks_are_answered_by_the_chosen_engine(server: Server) -> None:
    # A membership written behind the server's back, in SQLite only: the
    # sqlite engine sees it, and so does Cerbos (each request's principal is
    # read from SQLite); SpiceDB holds only what was loaded at start and
    # written by mutations, so it does not.
    with sqlite3.connect(server.db_path) as db:
        team_id = db.execute("INSERT INTO teams (name) VALUES ('side')").lastrowid
        db.execute("INSERT INTO memberships VALUES (?, 5)", (team_id,))  # gus
    try:
        answer = server.query(
            "query($id: Int!) { team(id: $id) { name } }", "gus", id=team_id
        )
        if server.engine in ("sqlite", "cerbos"):
            assert answer == {"data": {"team": {"name": "side"}}}
            if server.engine == "cerbos":
                assert "Cerbos: serving the policies" in server.output.read_text()
        else:
            assert answer["data"] == {"team": None}
            assert codes(answer) == ["FORBIDDEN"]
    finally:
        with sqlite3.connect(server.db_path) as db:
            db.execute("DELETE FROM memberships WHERE team_id = ?", (team_id,))
            db.execute("DELETE FROM teams WHERE id = ?", (team_id,))


# -- subscriptions -------------------------------------------------------------


async def create(
    server: Server, user: str, team: int, title: str, *, draft: bool = False
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            server.url,
            json={
                "query": CREATE,
                "variables": {"team": team, "title": title, "draft": draft},
            },
            headers={"Authorization": f"Bearer {TOKENS[user]}"},
        )
    assert "errors" not in response.json(), response.json()


async def test_subscribers_receive_only_the_notes_they_may_see(server: Server) -> None:
    carol = await subscribe(server, "carol")
    dave = await subscribe(server, "dave")
    try:
        await asyncio.sleep(0.3)  # both subscriptions are registered
        await create(server, "carol", 1, "For core")
        await create(server, "dave", 2, "For growth")

        carols = await next_message(carol, 5)
        assert carols["type"] == "next"
        assert carols["payload"]["data"]["noteCreated"] == {
            "title": "For core",
            "body": "For core",
        }
        daves = await next_message(dave, 5)
        assert daves["payload"]["data"]["noteCreated"]["title"] == "For growth"
        # Neither got the other team's note: their next message never comes.
        for socket_ in (carol, dave):
            with pytest.raises(asyncio.TimeoutError):
                await next_message(socket_, 0.7)
    finally:
        await carol.close()
        await dave.close()


async def test_a_new_draft_reaches_its_author_only(server: Server) -> None:
    carol = await subscribe(server, "carol")
    alice = await subscribe(server, "alice")  # carol's teammate, an admin
    try:
        await asyncio.sleep(0.3)  # both subscriptions are registered
        await create(server, "carol", 1, "Secret draft", draft=True)
        event = await next_message(carol, 5)
        assert event["payload"]["data"]["noteCreated"] == {
            "title": "Secret draft",
            "body": "Secret draft",
        }
        with pytest.raises(asyncio.TimeoutError):
            await next_message(alice, 0.7)
    finally:
        await carol.close()
        await alice.close()


async def test_anonymous_subscription_is_refused(server: Server) -> None:
    anonymous = await subscribe(server, None)
    try:
        message = await next_message(anonymous, 5)
        assert message["type"] == "error" or "errors" in message.get("payload", {})
        assert "UNAUTHENTICATED" in json.dumps(message)
    finally:
        await anonymous.close()


# -- WebSocket authentication ---------------------------------------------------


async def test_the_token_in_the_connection_init_payload_logs_the_socket_in(
    server: Server,
) -> None:
    # A browser cannot set headers on a WebSocket: the token travels in the
    # graphql-transport-ws `connection_init` message instead.
    payload = {"Authorization": f"Bearer {TOKENS['carol']}"}
    carol = await connect_ws(server.ws_url, {}, payload)
    try:
        await send_operation(carol, "me", "{ me { name } }")
        answer = await next_message(carol, 5)
        assert answer == {
            "id": "me",
            "type": "next",
            "payload": {"data": {"me": {"name": "carol"}}},
        }
        assert (await next_message(carol, 5))["type"] == "complete"

        await send_operation(carol, "1", SUBSCRIBE)
        await asyncio.sleep(0.3)  # the subscription is registered
        await create(server, "carol", 1, "Via payload")
        event = await next_message(carol, 5)
        assert event["payload"]["data"]["noteCreated"] == {
            "title": "Via payload",
            "body": "Via payload",
        }
    finally:
        await carol.close()


async def test_an_unknown_token_in_the_connection_init_payload_is_anonymous(
    server: Server,
) -> None:
    stranger = await connect_ws(
        server.ws_url, {}, {"Authorization": "Bearer not-a-token"}
    )
    try:
        await send_operation(stranger, "1", SUBSCRIBE)
        message = await next_message(stranger, 5)
        assert message["type"] == "error", message
        assert [error["extensions"]["code"] for error in message["payload"]] == [
            "UNAUTHENTICATED"
        ]
    finally:
        await stranger.close()


async def test_a_token_in_the_url_neither_authenticates_nor_reaches_the_log(
    server: Server,
) -> None:
    token = TOKENS["carol"]
    mark = server.log_size()

    in_url = await connect_ws(f"{server.ws_url}?token={token}", {}, {})
    try:
        await send_operation(in_url, "me", "{ me { name } }")
        refused = await next_message(in_url, 5)
        assert refused["payload"]["data"] == {"me": None}
        assert "UNAUTHENTICATED" in json.dumps(refused)
    finally:
        await in_url.close()
    async with httpx.AsyncClient(timeout=10) as client:
        page = await client.get(f"{server.url}?token={token}")
    assert page.status_code == 200

    log = server.log_since(mark, until='"GET /graphql')
    # Both requests were logged, without their query strings.
    assert '"WebSocket /graphql?[query string not logged]" [accepted]' in log, log
    assert '"GET /graphql?[query string not logged] HTTP/1.1" 200' in log, log
    assert token not in log


# -- what the viewer may do ------------------------------------------------------

PERMISSIONS = "{ viewer { permissions { name allowed } } }"
ALL_PERMISSIONS = [
    "draft:read",
    "note:read",
    "note:update",
    "note:delete",
    "team:read",
    "user:read",
    "photo:read",
]


def viewer_permissions(server: Server, user: str) -> dict[str, bool]:
    result = server.query(PERMISSIONS, user)
    assert "errors" not in result, result
    entries = result["data"]["viewer"]["permissions"]
    return {entry["name"]: entry["allowed"] for entry in entries}


def test_get_permissions_answers_like_viewer_permissions_for_each_token(
    server: Server,
) -> None:
    allowed = {}
    for user in TOKENS:
        response = server.permissions(user)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert list(response.json()) == ALL_PERMISSIONS
        assert response.json() == viewer_permissions(server, user), user
        allowed[user] = sorted(name for name, ok in response.json().items() if ok)
    # Each role has what the roles below it have (examples/teamnotes/roles.py).
    assert allowed == {
        "alice": sorted(ALL_PERMISSIONS),
        "bob": ["draft:read", "note:read", "user:read"],
        "carol": ["draft:read"],
        "dave": ["draft:read"],
        "gus": [],
    }


def test_permissions_without_a_known_token_are_all_false(server: Server) -> None:
    nobody = dict.fromkeys(ALL_PERMISSIONS, False)
    assert server.permissions(None).json() == nobody
    unknown = httpx.get(
        f"{server.base_url}/permissions",
        headers={"Authorization": "Bearer not-a-token"},
        timeout=10,
    )
    assert unknown.json() == nobody
    # GraphQL's `viewer` needs a login, like every query but `publicNotes`.
    anonymous = server.query(PERMISSIONS)
    assert anonymous["data"] is None or anonymous["data"]["viewer"] is None
    assert codes(anonymous) == ["UNAUTHENTICATED"]


CAPABILITIES = "viewerCanEdit viewerCanDelete viewerCanPublish"
NOTE_CAPABILITIES = f"query($id: Int!) {{ note(id: $id) {{ draft {CAPABILITIES} }} }}"


def capabilities(server: Server, user: str, note_id: int) -> dict[str, Any]:
    result = server.query(NOTE_CAPABILITIES, user, id=note_id)
    assert "errors" not in result, result
    note: dict[str, Any] = result["data"]["note"]
    return note


def test_capability_fields_say_what_the_mutations_then_do(server: Server) -> None:
    # Note 1 is carol's, published in core: carol and alice (an admin) may
    # change it; bob (a moderator) reads it but may not.
    update = "mutation($id: Int!, $b: String!) { updateNote(id: $id, body: $b) { id } }"
    for user, allowed in (("carol", True), ("alice", True), ("bob", False)):
        assert capabilities(server, user, 1) == {
            "draft": False,
            "viewerCanEdit": allowed,
            "viewerCanDelete": allowed,
            "viewerCanPublish": False,  # published already
        }, user
        edited = server.query(update, user, id=1, b=server.note_body(1))
        assert codes(edited) == ([] if allowed else ["FORBIDDEN"]), user

        note_id = create_note(server, "carol", 1, f"For {user} to delete")
        assert capabilities(server, user, note_id)["viewerCanDelete"] is allowed
        deleted = server.query(DELETE, user, id=note_id)
        assert codes(deleted) == ([] if allowed else ["FORBIDDEN"]), user
        gone = server.query(NOTE_BY_ID, "carol", id=note_id)["data"]["note"] is None
        assert gone is allowed, user


PUBLISH = "mutation($id: Int!) { publishNote(id: $id) { draft viewerCanPublish } }"


def test_only_the_author_publishes_a_draft_and_then_the_team_reads_it(
    server: Server,
) -> None:
    note_id = create_note(server, "carol", 1, "Ready soon", draft=True)
    assert capabilities(server, "carol", note_id) == {
        "draft": True,
        "viewerCanEdit": True,
        "viewerCanDelete": True,
        "viewerCanPublish": True,
    }
    # Alice is carol's teammate and an admin: she may edit or delete the
    # draft (admins may, `note:update`), but not publish someone's draft.
    for other in ("alice", "dave"):
        assert codes(server.query(PUBLISH, other, id=note_id)) == ["FORBIDDEN"]
    assert codes(server.query(NOTE_BY_ID, "alice", id=note_id)) == ["NOT_FOUND"]

    published = server.query(PUBLISH, "carol", id=note_id)
    assert published == {
        "data": {"publishNote": {"draft": False, "viewerCanPublish": False}}
    }
    # The very next request sees it published (SpiceDB: the draft marker gone).
    assert server.query(NOTE_BY_ID, "alice", id=note_id)["data"]["note"] == {
        "id": note_id,
        "title": "Ready soon",
        "draft": False,
        "body": "Ready soon",
    }
    assert codes(server.query(NOTE_BY_ID, "dave", id=note_id)) == ["NOT_FOUND"]
    # Publishing again changes nothing.
    again = server.query(PUBLISH, "carol", id=note_id)
    assert again["data"]["publishNote"]["draft"] is False


def test_every_decision_is_appended_to_the_audit_file_next_to_the_database(
    server: Server,
) -> None:
    audit = Path(f"{server.db_path}.audit.jsonl")
    before = len(audit.read_text().splitlines()) if audit.exists() else 0
    assert server.query("{ me { name } }", user="carol")["data"] == {
        "me": {"name": "carol"}
    }
    anonymous = server.query("{ me { name } }")
    assert codes(anonymous) == ["UNAUTHENTICATED"]
    records = [json.loads(line) for line in audit.read_text().splitlines()[before:]]
    me = [r for r in records if r["field"] == "Query.me"]
    assert {(r["principal"], r["effect"], r["code"], r["source"]) for r in me} == {
        ("carol", "allow", None, "field"),
        (None, "deny", "UNAUTHENTICATED", "default"),
    }
    assert all(r["operation_type"] == "query" and r["phase"] == "before" for r in me)
