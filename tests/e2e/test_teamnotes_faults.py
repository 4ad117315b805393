"""End to end: the example keeps its data and its promises when its engine fails.

The server runs with `--fault-switch`, which lets these tests make every
engine call (a relationship check or a relationship write) raise, or hang
until switched back, through `POST /_faults` (`examples/teamnotes/faults.py`).
Each test switches the faults off when it ends. Both engines: SQLite and an
embedded SpiceDB, one real uvicorn server each, real WebSockets.

What must hold: an engine failure answers a plain error and changes
nothing; SQLite and the engine never disagree after a failed write; a hung
engine times out and never holds up other requests; a subscriber never
receives another user's draft, and each event is read and checked when it
is delivered; ids are never reused; malformed request bodies get HTTP 400.
"""

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from teamnoteskit import (
    CREATE,
    WRITING_ENGINES,
    Server,
    codes,
    connect_ws,
    create_note,
    free_port,
    headers_of,
    next_message,
    send_operation,
    subscribe,
)

# The example's engine time-out (examples/teamnotes/calls.py), plus slack.
ENGINE_TIMEOUT = 2.0
UNAVAILABLE = "The notes service is unavailable; nothing was changed. Try again."
# A check that failed (not a policy's "no"): the library's plain answer.
FAILED = "INTERNAL_SERVER_ERROR"
# Text of the fault an engine raises (as the issue saw it): never sent.
RAW = ("TypeError", "wrong type", "Traceback", "engine hung")

UPDATE = "mutation($id: Int!, $b: String!) { updateNote(id: $id, body: $b) { body } }"
PUBLISH = "mutation($id: Int!) { publishNote(id: $id) { draft } }"
DELETE = "mutation($id: Int!) { deleteNote(id: $id) }"
NOTE = "query($id: Int!) { note(id: $id) { title draft body viewerCanEdit } }"
EVENTS = "subscription { noteCreated { id title draft body } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp(f"teamnotes-faults-{engine}")
    running = Server(
        free_port(),
        folder / "notes.db",
        folder / "server.log",
        engine,
        args=("--fault-switch",),
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def faults_off(server: Server) -> Iterator[None]:
    server.faults("off")
    yield
    server.faults("off")


def needs_writes(server: Server) -> None:
    """Skip for Cerbos: its checks fail and hang like the others' (it runs
    every other test here), but it keeps no data, so it has no write to fail."""
    if server.engine not in WRITING_ENGINES:
        pytest.skip(f"{server.engine} keeps no data: there is no write to fail")


def assert_plain(response: httpx.Response | dict[str, Any]) -> None:
    """No text produced by the engine or by Python reached the client."""
    text = (
        response.text if isinstance(response, httpx.Response) else json.dumps(response)
    )
    for raw in RAW:
        assert raw not in text, text


def owner_has_every_right(server: Server, user: str, note_id: int) -> None:
    """SQLite's row and the engine's relationships agree: the author may act.

    Asked for up to 3 s: after a time-out the engine is presumed hung, and
    calls fail at once until one answers (examples/teamnotes/calls.py).
    """
    deadline = time.monotonic() + 3
    while True:
        note = server.query(NOTE, user, id=note_id)
        if "errors" not in note or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "errors" not in note, note
    assert note["data"]["note"]["viewerCanEdit"] is True


async def post(server: Server, query: str, user: str, **variables: Any) -> Any:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            server.url,
            json={"query": query, "variables": variables},
            headers=headers_of(user),
        )
    return response


# -- bad bodies ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"query": "{ me { name } }"\xff\xfe}', id="undecodable"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="100000-deep"),
        pytest.param(
            b'{"query": "{ me { name } }", "variables": '
            + b'{"a": ' * 100_000
            + b"1"
            + b"}" * 100_001,
            id="100000-deep-variables",
        ),
    ],
)
def test_a_body_that_is_not_json_gets_400_not_500(server: Server, body: bytes) -> None:
    response = httpx.post(
        server.url,
        content=body,
        headers={"Content-Type": "application/json", **headers_of("carol")},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    assert_plain(response)
    assert "RecursionError" not in response.text
    # The server is still up and answering.
    assert server.query("{ publicNotes { title } }")["data"]["publicNotes"]


# -- ids, drafts and subscriptions -------------------------------------------------


async def test_a_subscriber_never_receives_the_draft_that_got_their_old_notes_id(
    server: Server,
) -> None:
    carol = await subscribe(server, "carol", EVENTS)
    try:
        await asyncio.sleep(0.3)  # the subscription is registered
        mine = create_note(server, "carol", 1, "Carol's draft", draft=True)
        event = await next_message(carol, 5)
        assert event["payload"]["data"]["noteCreated"]["id"] == mine
        assert server.query(DELETE, "carol", id=mine)["data"] == {"deleteNote": True}

        daves = create_note(server, "dave", 2, "Dave's draft", draft=True)
        assert daves != mine
        with pytest.raises(asyncio.TimeoutError):
            leaked = await next_message(carol, 1)
            pytest.fail(f"carol received {leaked}")
    finally:
        await carol.close()


async def test_a_delete_raced_against_a_create_hands_no_rights_on(
    server: Server,
) -> None:
    carol = await subscribe(server, "carol", EVENTS)
    seen: set[int] = set()
    try:
        await asyncio.sleep(0.3)
        for round_ in range(8):
            gone = create_note(server, "carol", 1, f"Race {round_}", draft=True)
            deleted, created = await asyncio.gather(
                post(server, DELETE, "carol", id=gone),
                post(server, CREATE, "dave", team=2, title=f"D{round_}", draft=True),
            )
            assert deleted.json() == {"data": {"deleteNote": True}}
            daves = created.json()["data"]["createNote"]["id"]
            assert daves not in seen | {gone}
            seen |= {gone, daves}
            for query, variables in (
                (NOTE, {"id": daves}),
                (UPDATE, {"id": daves, "b": "carol was here"}),
                (DELETE, {"id": daves}),
                (PUBLISH, {"id": daves}),
            ):
                answer = server.query(query, "carol", **variables)
                assert codes(answer) in (["NOT_FOUND"], ["FORBIDDEN"]), answer
            assert server.note_body(daves) == f"D{round_}"
        # Carol heard of her own drafts only (each may have been deleted
        # before it was delivered: then it is not delivered at all).
        while True:
            try:
                event = await next_message(carol, 1)
            except asyncio.TimeoutError:
                break
            assert event["payload"]["data"]["noteCreated"]["title"].startswith("Race")
    finally:
        await carol.close()


async def test_a_mutation_on_the_subscriptions_own_socket_does_not_age_its_checks(
    server: Server,
) -> None:
    # A mutation sent over the socket leaves its write's token on the
    # connection; a later write by another request is newer and must win, or
    # the subscriber's check reads a snapshot that lacks the new note.
    carol = await connect_ws(server.ws_url, headers_of("carol"), {})
    try:
        await send_operation(carol, "1", EVENTS)
        await asyncio.sleep(0.3)
        await send_operation(carol, "2", CREATE, team=1, title="Over WS", draft=True)
        titles = set()
        for _ in range(3):  # the mutation's answer, its completion, the event
            message = await next_message(carol, 5)
            if message["id"] == "1":
                titles.add(message["payload"]["data"]["noteCreated"]["title"])
        assert titles == {"Over WS"}
        for round_ in range(5):
            title = f"Over HTTP {round_}"
            create_note(server, "carol", 1, title, draft=True)
            event = await next_message(carol, 5)
            assert event["payload"]["data"]["noteCreated"]["title"] == title
    finally:
        await carol.close()


def test_an_admin_can_neither_change_nor_read_someone_elses_draft(
    server: Server,
) -> None:
    draft = create_note(server, "carol", 1, "Carol's private draft", draft=True)
    # Alice is carol's teammate and an admin: a draft is still carol's alone.
    answer = server.post(UPDATE, "alice", id=draft, b="overwritten")
    assert answer.json()["data"] == {"updateNote": None}
    assert codes(answer.json()) == ["FORBIDDEN"]
    assert "private draft" not in answer.text
    assert server.note_body(draft) == "Carol's private draft"
    assert server.query(NOTE, "carol", id=draft)["data"]["note"]["viewerCanEdit"]
    # Published, it is the team's and any admin may change it.
    assert server.query(PUBLISH, "carol", id=draft)["data"] == {
        "publishNote": {"draft": False}
    }
    changed = server.query(UPDATE, "alice", id=draft, b="edited by alice")
    assert changed == {"data": {"updateNote": {"body": "edited by alice"}}}


# -- the engine fails --------------------------------------------------------------


def test_an_engine_that_raises_denies_plainly_and_changes_nothing(
    server: Server,
) -> None:
    note = create_note(server, "carol", 1, "Before the fault")
    draft = create_note(server, "carol", 1, "Draft before the fault", draft=True)
    notes, rows = server.count("notes"), server.note_row(note)
    server.faults("raise")
    attempts = [
        server.post(CREATE, "carol", team=1, title="During", draft=False),
        server.post(UPDATE, "carol", id=note, b="during the fault"),
        server.post(PUBLISH, "carol", id=draft),
        server.post(DELETE, "carol", id=note),
        server.post(NOTE, "carol", id=note),
    ]
    for answer in attempts:
        assert answer.status_code == 200
        assert codes(answer.json()) in (
            [FAILED],
            ["NOT_FOUND"],
            ["UNAVAILABLE"],
        ), answer.text
        assert_plain(answer)
    assert server.count("notes") == notes
    assert server.note_row(note) == rows
    assert server.note_row(draft)[4] == 1  # type: ignore[index]

    server.faults("off")
    owner_has_every_right(server, "carol", note)
    owner_has_every_right(server, "carol", draft)
    assert codes(server.query(NOTE, "alice", id=draft)) == ["NOT_FOUND"]


def test_an_engine_write_that_fails_leaves_sqlite_and_the_engine_as_they_were(
    server: Server,
) -> None:
    needs_writes(server)
    if server.engine == "sqlite":
        pytest.skip("the sqlite engine writes nothing of its own")
    draft = create_note(server, "carol", 1, "Publish me later", draft=True)
    keep = create_note(server, "carol", 1, "Delete me later")
    notes = server.count("notes")
    server.faults("raise", on="writes")  # checks still answer

    created = server.post(CREATE, "carol", team=1, title="Never saved", draft=False)
    published = server.post(PUBLISH, "carol", id=draft)
    deleted = server.post(DELETE, "carol", id=keep)
    by_admin = server.post(DELETE, "alice", id=keep)
    for answer in (created, published, deleted, by_admin):
        assert codes(answer.json()) == ["UNAVAILABLE"], answer.text
        assert answer.json()["errors"][0]["message"] == UNAVAILABLE
        assert_plain(answer)
    assert server.count("notes") == notes
    assert server.note_row(draft)[4] == 1  # type: ignore[index]
    assert server.note_row(keep) is not None

    server.faults("off")
    # Nothing half done: the author still has every right, the team still
    # does not see the draft, and the ids of the failed create stay unused.
    owner_has_every_right(server, "carol", draft)
    owner_has_every_right(server, "carol", keep)
    assert codes(server.query(NOTE, "alice", id=draft)) == ["NOT_FOUND"]
    assert server.query(NOTE, "alice", id=keep)["data"]["note"]["title"] == (
        "Delete me later"
    )
    assert server.query(PUBLISH, "carol", id=draft)["data"] == {
        "publishNote": {"draft": False}
    }
    assert server.query(DELETE, "carol", id=keep)["data"] == {"deleteNote": True}


async def test_a_write_whose_answer_came_too_late_is_put_right(
    server: Server,
) -> None:
    needs_writes(server)
    if server.engine == "sqlite":
        pytest.skip("the sqlite engine writes nothing of its own")
    # The engine removes the relationships but its answer comes after the
    # mutation gave up: the mutation answered that nothing changed, so the
    # relationships are written back from the row.
    kept = create_note(server, "carol", 1, "Answer lost")
    server.faults("late", on="writes")
    deleted = await post(server, DELETE, "carol", id=kept)
    assert codes(deleted.json()) == ["UNAVAILABLE"], deleted.text
    assert server.note_row(kept) is not None
    server.faults("off")  # the late answer arrives
    owner_has_every_right(server, "carol", kept)
    assert server.query(NOTE, "alice", id=kept)["data"]["note"]["title"] == (
        "Answer lost"
    )


async def test_a_hung_engine_times_out_and_never_holds_up_other_requests(
    server: Server,
) -> None:
    note = create_note(server, "carol", 1, "Hung")
    notes = server.count("notes")
    server.faults("hang")
    started = time.monotonic()
    hung_read = asyncio.ensure_future(post(server, NOTE, "carol", id=note))
    hung_create = asyncio.ensure_future(
        post(server, CREATE, "carol", team=1, title="Hung create", draft=False)
    )
    await asyncio.sleep(0.2)
    # Requests that need no engine answer at once while the engine hangs.
    for _ in range(5):
        begin = time.monotonic()
        public = await post(server, "{ publicNotes { title } }", "carol")
        assert public.json()["data"]["publicNotes"]
        assert time.monotonic() - begin < 1.0
    read, create = await hung_read, await hung_create
    took = time.monotonic() - started
    assert took < ENGINE_TIMEOUT + 2, took
    assert codes(read.json()) == ["NOT_FOUND"]
    assert codes(create.json()) in ([FAILED], ["UNAVAILABLE"])
    assert_plain(read)
    assert_plain(create)
    assert server.count("notes") == notes

    server.faults("off")
    owner_has_every_right(server, "carol", note)


async def test_an_engine_that_stops_mid_mutation_writes_nothing(
    server: Server,
) -> None:
    needs_writes(server)
    # The sqlite engine's only calls are checks; SpiceDB's also writes.
    on = "checks" if server.engine == "sqlite" else "writes"
    draft = create_note(server, "carol", 1, "Stopped mid-publish", draft=True)
    notes = server.count("notes")
    server.faults("hang", on=on)
    pending = [
        asyncio.ensure_future(post(server, *call, "carol", **variables))
        for *call, variables in (
            (CREATE, {"team": 1, "title": "Stopped mid-create", "draft": False}),
            (PUBLISH, {"id": draft}),
            (DELETE, {"id": draft}),
        )
    ]
    await asyncio.sleep(0.5)  # each is waiting for the engine
    server.faults("raise", on=on)  # the engine is gone: the hung calls fail
    for answer in await asyncio.gather(*pending):
        assert codes(answer.json()) in ([FAILED], ["UNAVAILABLE"]), answer.text
        assert_plain(answer)
    assert server.count("notes") == notes
    assert server.note_row(draft)[4] == 1  # type: ignore[index]

    server.faults("off")
    owner_has_every_right(server, "carol", draft)
    assert codes(server.query(NOTE, "alice", id=draft)) == ["NOT_FOUND"]


async def test_an_event_is_read_and_checked_when_it_is_delivered(
    server: Server,
) -> None:
    # Bob (user 2) is in dave's team. His delivery checks hang, so his stream
    # waits on the first event while dave publishes a draft, edits it, and
    # creates and deletes another note; then the engine answers again.
    bob = await subscribe(server, "bob", EVENTS)
    try:
        await asyncio.sleep(0.3)
        server.faults("hang", on="checks", subject="user:2")
        create_note(server, "dave", 2, "Held up")  # bob's check of it hangs
        draft = create_note(server, "dave", 2, "Draft then published", draft=True)
        assert server.query(UPDATE, "dave", id=draft, b="final body")["data"]
        assert server.query(PUBLISH, "dave", id=draft)["data"]
        gone = create_note(server, "dave", 2, "Deleted before delivery")
        assert server.query(DELETE, "dave", id=gone)["data"] == {"deleteNote": True}
        server.faults("off")

        delivered = []
        while True:
            try:
                message = await next_message(bob, 3)
            except asyncio.TimeoutError:
                break
            delivered.append(message["payload"]["data"]["noteCreated"])
        # The held-up event failed its check and was dropped (fail closed);
        # the draft arrives as what it is now; the deleted note never does.
        assert delivered == [
            {
                "id": draft,
                "title": "Draft then published",
                "draft": False,
                "body": "final body",
            }
        ]
        after = create_note(server, "dave", 2, "After")
        event = await next_message(bob, 5)
        assert event["payload"]["data"]["noteCreated"]["id"] == after
    finally:
        await bob.close()


async def test_a_hung_engine_drops_a_subscribers_backlog_in_moments(
    server: Server,
) -> None:
    # Carol's checks hang. After the first times out, the engine is presumed
    # hung: her other waiting events fail at once (dropped, fail closed)
    # instead of each waiting out its own deadline.
    carol = await subscribe(server, "carol", EVENTS)
    try:
        await asyncio.sleep(0.3)
        server.faults("hang", on="checks", subject="user:3")
        for number in range(5):
            create_note(server, "alice", 1, f"Backlog {number}")
        await asyncio.sleep(ENGINE_TIMEOUT + 1)
        server.faults("off")
        create_note(server, "alice", 1, "After the hang")
        event = await next_message(carol, 5)
        assert event["payload"]["data"]["noteCreated"]["title"] == "After the hang"
    finally:
        await carol.close()


async def test_a_failing_engine_drops_events_and_the_stream_goes_on(
    server: Server,
) -> None:
    carol = await subscribe(server, "carol", EVENTS)
    try:
        await asyncio.sleep(0.3)
        server.faults("raise", on="checks", subject="user:3")
        create_note(server, "alice", 1, "Missed while failing")
        with pytest.raises(asyncio.TimeoutError):
            missed = await next_message(carol, 1)
            pytest.fail(f"delivered without a check: {missed}")
        server.faults("off")
        create_note(server, "alice", 1, "After the fault")
        event = await next_message(carol, 5)
        assert event["payload"]["data"]["noteCreated"]["title"] == "After the fault"
    finally:
        await carol.close()
