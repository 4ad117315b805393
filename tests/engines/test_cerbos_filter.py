"""Filtering through PlanResources: one Cerbos rule checks and filters (issue 20.2).

Against a real Cerbos server and real SQLite (SQLAlchemy). A type rule
`{"can": REPORTS.each(action)}` is checked per object with `CheckResources`
and planned for a query with `PlanResources`; the rows the filter selects
must be exactly those the check allows (`assert_filter_matches_check`), for
every viewer, NULLs and values of the wrong kind included, and never more.
"""

import itertools
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cerboskit
import pytest
import strawberry
from cerbos.sdk.grpc.client import CerbosClient
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from strawberry_authz import AuthExtension
from strawberry_authz._filter_testing import check_row, plan_for_context
from strawberry_authz.cerbos import Cerbos
from strawberry_authz.conditions import Plan
from strawberry_authz.engines import Resource
from strawberry_authz.sqlalchemy import apply
from strawberry_authz.testing import assert_filter_matches_check

FILTERING = str(Path(__file__).resolve().parent.parent / "filtering")
if FILTERING not in sys.path:
    sys.path.insert(0, FILTERING)

from filterkit import NOTES_QUERY, NoteRow, StatementLog, build, ids, total  # noqa: E402
from filterkit import sqlite_engine as notes_engine  # noqa: E402


@pytest.fixture
def server(shared_cerbos_server: cerboskit.CerbosServer) -> cerboskit.CerbosServer:
    """One server for the tests that only read from it."""
    return shared_cerbos_server


class Base(DeclarativeBase):
    pass


class ReportRow(Base):
    """Every attribute of the kind the policy compares it with (or NULL)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str | None]
    status: Mapped[str | None]
    pages: Mapped[float | None]
    secret: Mapped[bool | None]


class OddRow(Base):
    """Every attribute of another kind than the policy's constants."""

    __tablename__ = "odd_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[int | None]  # compared with the principal's (text) id
    status: Mapped[str | None]
    pages: Mapped[str | None]  # ordered against numbers: a CEL error
    secret: Mapped[int | None]  # `secret == true`: 1 is not true


REPORTS = Resource("report", attributes=["owner", "status", "pages", "secret"])

REPORT_ROWS = [
    {"owner": o, "status": s, "pages": p, "secret": x}
    for o, s, p, x in itertools.product(
        ["alice", "bob", None],
        ["draft", "archived", "published", None],
        [0, 2, 10, 11.5, None],
        [True, False, None],
    )
]
ODD_ROWS = [
    {"owner": o, "status": s, "pages": p, "secret": x}
    for o, s, p, x in itertools.product(
        [7, None], ["draft", None], ["3", "12", None], [1, 0, None]
    )
]

# Every operator a plan holds, with `not` both ways (`none:` and `!`).
EXACT = [
    "eq",
    "ne",
    "lt",
    "ge",
    "in",
    "not",
    "all",
    "any",
    "deny_some",
    "not_expr",
    "not_order_expr",
]
VIEWERS = [{"user": "alice"}, {"user": "bob"}, {"user": None}]


def database(model: type[Base], rows: list[dict[str, Any]]) -> Engine:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(model(id=n, **row) for n, row in enumerate(rows, 1))
        session.commit()
    return engine


def principal(context: dict[str, Any]) -> dict[str, Any] | None:
    user = context["user"]
    if user is None:
        return None
    return {"id": user, "roles": ["user"], "attributes": context.get("attr", {})}


def report_schema(cerbos: Cerbos, value: object) -> tuple[AuthExtension, type]:
    authz = AuthExtension(lambda context: {"can": cerbos.scope(context)})

    @authz.type_rule({"can": value}, on_object=True)
    @strawberry.type
    class Report:
        id: int

    return authz, Report


def fetcher(engine: Engine) -> Callable[[Any], list[Any]]:
    def fetch(query: Any) -> list[Any]:
        with Session(engine) as session:
            rows = list(session.scalars(query))
            session.expunge_all()
        return rows

    return fetch


@pytest.mark.parametrize("action", EXACT)
@pytest.mark.parametrize(
    ("model", "rows"),
    [(ReportRow, REPORT_ROWS), (OddRow, ODD_ROWS)],
    ids=["typed", "odd"],
)
async def test_the_filter_selects_exactly_what_cerbos_allows(
    server: cerboskit.CerbosServer,
    action: str,
    model: type[Base],
    rows: list[dict[str, Any]],
) -> None:
    engine = database(model, rows)
    cerbos = Cerbos(cerboskit.async_client(server), principal=principal)
    authz, report = report_schema(cerbos, REPORTS.each(action))
    await assert_filter_matches_check(
        authz, report, select(model), viewers=VIEWERS, fetch=fetcher(engine)
    )
    # The same plan evaluated in Python (`Plan.matches`) agrees with the SQL.
    fetch = fetcher(engine)
    for context in VIEWERS:
        plan, _ = await plan_for_context(authz, report, context)
        in_python = {row.id for row in fetch(select(model)) if plan.matches(row)}
        assert in_python == {row.id for row in fetch(apply(plan, select(model)))}


async def selected_and_allowed(
    server: cerboskit.CerbosServer,
    action: str,
    model: type[Base],
    rows: list[dict[str, Any]],
    context: dict[str, Any],
) -> tuple[Plan, set[int], set[int]]:
    engine = database(model, rows)
    cerbos = Cerbos(cerboskit.async_client(server), principal=principal)
    authz, report = report_schema(cerbos, REPORTS.each(action))
    plan, state = await plan_for_context(authz, report, context)
    fetch = fetcher(engine)
    selected = {row.id for row in fetch(apply(plan, select(model)))}
    allowed = {
        row.id
        for row in fetch(select(model))
        if await check_row(authz, report, row, state)
    }
    return plan, selected, allowed


@pytest.mark.parametrize(
    ("model", "rows"),
    [(ReportRow, REPORT_ROWS), (OddRow, ODD_ROWS)],
    ids=["typed", "odd"],
)
async def test_none_over_an_ordering_that_errs_hides_rows_but_never_shows_more(
    server: cerboskit.CerbosServer, model: type[Base], rows: list[dict[str, Any]]
) -> None:
    # `none: [pages < 10]` plans as `not(lt)`, but the check turns the CEL
    # error on a NULL (or text) `pages` into false before `none`: it allows
    # those rows. The filter reads the error strictly and leaves them out.
    _, selected, allowed = await selected_and_allowed(
        server, "not_order", model, rows, {"user": "alice"}
    )
    assert selected <= allowed
    hidden = allowed - selected
    with Session(database(model, rows)) as session:
        pages = {session.get(model, n).pages for n in hidden}  # type: ignore[union-attr]
    assert hidden and all(p is None or isinstance(p, str) for p in pages)


async def test_always_allowed_and_always_denied_fold_to_every_row_and_none(
    server: cerboskit.CerbosServer,
) -> None:
    everything, expected = select(ReportRow), str(select(ReportRow))
    for action, context, kind in [
        ("always", {"user": "alice"}, "allow_all"),
        ("nothing", {"user": "alice"}, "deny_all"),
        ("principal_only", {"user": "alice"}, "deny_all"),
        ("principal_only", {"user": "dave", "attr": {"reviewer": True}}, "allow_all"),
        ("eq", {"user": None}, "deny_all"),  # anonymous: no call at all
    ]:
        plan, selected, allowed = await selected_and_allowed(
            server, action, ReportRow, REPORT_ROWS, context
        )
        assert (action, plan.kind, plan.reason) == (action, kind, None)
        assert selected == allowed
        if kind == "allow_all":
            assert str(apply(plan, everything)) == expected  # no WHERE added
            assert len(selected) == len(REPORT_ROWS)
        else:
            assert selected == set()


async def test_an_id_condition_matches_integer_keys_by_their_text(
    server: cerboskit.CerbosServer,
) -> None:
    rows = [{"id": n, "title": f"n{n}", "owner_id": n} for n in range(1, 5)]
    engine = notes_engine(rows)
    notes = Resource("note", attributes={"owner": "owner_id", "public": "public"})
    cerbos = Cerbos(cerboskit.async_client(server), principal=principal)
    authz, note = report_schema(cerbos, notes.each("by_id"))
    await assert_filter_matches_check(
        authz, note, select(NoteRow), viewers=VIEWERS, fetch=fetcher(engine)
    )
    plan, _ = await plan_for_context(authz, note, {"user": "alice"})
    with Session(engine) as session:
        assert [r.id for r in session.scalars(apply(plan, select(NoteRow)))] == [2]


@pytest.mark.parametrize(
    ("resource", "action", "why"),
    [
        (REPORTS, "unknown", "startsWith"),  # an operator it cannot translate
        (Resource("report", attributes=["owner"]), "all", "'pages'"),  # unmapped
        (  # an attribute read by a function has no column
            Resource("report", attributes={"owner": "owner", "pages": len}),
            "any",
            "'pages'",
        ),
        (Resource("report", id=str, attributes=["owner"]), "by_id", "id"),
    ],
    ids=["operator", "unmapped", "function", "id"],
)
async def test_a_plan_it_cannot_translate_denies_every_row(
    server: cerboskit.CerbosServer,
    caplog: pytest.LogCaptureFixture,
    resource: Resource,
    action: str,
    why: str,
) -> None:
    cerbos = Cerbos(cerboskit.async_client(server), principal=principal)
    authz, report = report_schema(cerbos, resource.each(action))
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        plan, _ = await plan_for_context(authz, report, {"user": "alice"})
    assert plan.deny_all and plan.reason is not None
    assert why in caplog.text
    # Under `$not` too: a plan that failed never becomes "every row".
    authz = AuthExtension(lambda context: {"can": cerbos.scope(context)})

    @authz.type_rule({"$not": {"can": resource.each(action)}}, on_object=True)
    @strawberry.type
    class Negated:
        id: int

    plan, _ = await plan_for_context(authz, Negated, {"user": "alice"})
    assert plan.deny_all


# -- through GraphQL: pages, counts, a server that stops -----------------------

NOTES = Resource("note", attributes={"owner": "owner_id", "public": "public"})
NOTE_ROWS = [
    {"id": n, "title": f"note {n}", "owner_id": (n % 3) or None, "public": n % 5 == 0}
    for n in range(1, 31)
]
USERS = {"ann": 1, "ben": 2, "cat": 3}


def viewer(name: str | None, roles: tuple[str, ...] = ("user",)) -> dict[str, Any]:
    if name is None:
        return {"user": None}
    return {"user": name, "roles": list(roles), "attr": {"uid": USERS.get(name, 0)}}


def note_principal(context: dict[str, Any]) -> dict[str, Any] | None:
    if context["user"] is None:
        return None
    return {
        "id": context["user"],
        "roles": context["roles"],
        "attributes": context["attr"],
    }


def visible(context: dict[str, Any]) -> list[int]:
    if context["user"] is None:
        return []
    if "admin" in context["roles"]:
        return [row["id"] for row in NOTE_ROWS]
    uid = context["attr"]["uid"]
    return [r["id"] for r in NOTE_ROWS if r["owner_id"] == uid or r["public"]]


def note_schema(client: Any, *, sync: bool = False) -> tuple[Any, StatementLog]:
    engine = notes_engine(NOTE_ROWS)
    cerbos = Cerbos(client, principal=note_principal)
    built = build(
        {"can": NOTES.each("view")},
        lambda context: {"can": cerbos.scope(context)},
        engine,
        sync=sync,
    )
    return built.schema, StatementLog(engine)


PAGE_VIEWERS = [
    viewer("ann"),
    viewer("ben"),
    viewer("zed"),
    viewer(None),
    viewer("root", ("admin",)),
]


def pages(context: dict[str, Any]) -> Iterator[tuple[dict[str, int], list[int]]]:
    expected = visible(context)
    for offset in range(0, len(expected) + 1, 4):
        yield {"limit": 4, "offset": offset}, expected[offset : offset + 4]


async def test_pages_are_full_and_total_count_counts_what_the_viewer_may_see(
    server: cerboskit.CerbosServer,
) -> None:
    schema, log = note_schema(cerboskit.async_client(server))
    for context in PAGE_VIEWERS:
        for variables, page in pages(context):
            log.statements.clear()
            result = await schema.execute(NOTES_QUERY, variables, context_value=context)
            assert ids(result) == page, context
            assert total(result) == len(visible(context))
            assert len(log.statements) == 2  # the page and its count


def test_pages_and_counts_with_a_sync_client_under_execute_sync(
    server: cerboskit.CerbosServer,
) -> None:
    schema, log = note_schema(cerboskit.sync_client(server), sync=True)
    for context in PAGE_VIEWERS:
        for variables, page in pages(context):
            log.statements.clear()
            result = schema.execute_sync(NOTES_QUERY, variables, context_value=context)
            assert ids(result) == page, context
            assert total(result) == len(visible(context))
            assert len(log.statements) == 2


async def test_a_server_stopped_mid_request_denies_every_row(
    cerbos_server: cerboskit.CerbosServer, caplog: pytest.LogCaptureFixture
) -> None:
    engine = notes_engine(NOTE_ROWS)
    cerbos = Cerbos(cerboskit.async_client(cerbos_server), principal=note_principal)

    def scopes(context: dict[str, Any]) -> dict[str, object]:
        cerbos_server.stop()  # after the request began, before the plan
        return {"can": cerbos.scope(context)}

    built = build({"can": NOTES.each("view")}, scopes, engine)
    with caplog.at_level(logging.ERROR, logger="strawberry_authz"):
        result = await built.schema.execute(
            NOTES_QUERY, {"limit": 10}, context_value=viewer("ann")
        )
    assert ids(result) == [] and total(result) == 0
    assert "passing(Resource('note').each('view'))" in caplog.text
    assert "denying (fail closed)" in caplog.text
    assert "127.0.0.1" not in str(result)


async def test_a_sync_client_filters_too(server: cerboskit.CerbosServer) -> None:
    engine = database(ReportRow, REPORT_ROWS)
    client: CerbosClient = cerboskit.sync_client(server)
    cerbos = Cerbos(client, principal=principal)
    authz, report = report_schema(cerbos, REPORTS.each("all"))
    await assert_filter_matches_check(
        authz, report, select(ReportRow), viewers=VIEWERS, fetch=fetcher(engine)
    )


async def test_the_plan_call_id_is_recorded_with_the_request(
    server: cerboskit.CerbosServer,
) -> None:
    cerbos = Cerbos(cerboskit.async_client(server), principal=principal)
    authz, report = report_schema(cerbos, REPORTS.each("eq"))
    context = {"user": "alice"}
    plan, _state = await plan_for_context(authz, report, context)  # keeps the scope
    assert plan.condition is not None
    (call_id,) = cerbos.call_ids(context)
    assert call_id
