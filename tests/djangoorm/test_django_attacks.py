"""Attacks on the Django filter: every failure selects fewer rows, never more.

Issue 18's attack list on the Django side (NULLs and `$not`, empty id sets,
engine errors, a viewer switching mid-request, injection through values,
a `where` that raises or returns the wrong thing, a column the model lacks),
and filtered rows keeping their per-object check (point 7).
"""

from typing import Any

import pytest
import strawberry
from asgiref.sync import async_to_sync, sync_to_async
from authzkit import authz_logs, codes, dump
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from filterapp.models import Note as NoteRow
from ormkit import build, ids, seed

from strawberry_authz import (
    AuthExtension,
    BatchScope,
    Column,
    ConfigurationError,
    FilterScope,
)

ROWS = [
    {"id": 1, "title": "a", "owner_id": 1, "label": "a"},
    {"id": 2, "title": "b", "owner_id": None, "label": None},
    {"id": 3, "title": "c", "owner_id": 2, "label": "x' OR '1'='1"},
]
OWN = {"owner": Column("owner_id")}
LIST = "{ notes { id title } }"


@pytest.fixture(autouse=True)
def rows() -> None:
    seed(ROWS)


def owner(context: dict[str, Any]) -> dict[str, object]:
    return {"owner": FilterScope.equals(context.get("user"))}


def test_not_lets_null_owned_rows_through_exactly_as_the_check_does():
    built = build({"$not": OWN}, owner)
    result = built.schema.execute_sync(LIST, context_value={"user": 1})
    assert ids(result) == [2, 3]


def test_an_anonymous_viewer_matches_no_null_owned_row():
    built = build(OWN, owner)
    assert ids(built.schema.execute_sync(LIST, context_value={})) == []


def test_an_empty_id_set_selects_nothing_without_a_query():
    built = build(OWN, lambda context: {"owner": FilterScope.one_of([])})
    with CaptureQueriesContext(connection) as queries:
        result = built.schema.execute_sync(LIST, context_value={})
    assert ids(result) == []
    assert len(queries) == 0  # queryset.none()


def test_text_that_django_would_convert_to_the_number_matches_nothing():
    # Django turns "1" into 1 for an integer column; the check finds 1 != "1".
    built = build(OWN, owner)
    assert ids(built.schema.execute_sync(LIST, context_value={"user": "1"})) == []


def test_values_are_query_parameters_never_sql_text():
    injected = "x' OR '1'='1"
    built = build(
        {"label": Column("label")},
        lambda context: {"label": FilterScope.equals(context["label"])},
    )
    sent: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        result = built.schema.execute_sync(LIST, context_value={"label": injected})
    assert ids(result) == [3]  # only the row whose label is that very text
    [(sql, params)] = sent
    assert injected not in sql
    assert injected in params
    assert NoteRow.objects.count() == 3


def test_an_engine_error_selects_no_row_and_says_nothing(caplog):
    def listing(value: object) -> list[str]:
        raise RuntimeError("engine at 10.0.0.7 refused")

    scope = BatchScope(lambda values: [True for _ in values], passing=listing)
    built = build({"can": ["note", Column("id")]}, lambda context: {"can": scope})
    result = built.schema.execute_sync(LIST, context_value={})
    assert ids(result) == []
    assert "10.0.0.7" not in dump(result)
    assert "10.0.0.7 refused; denying (fail closed)" in authz_logs(caplog)


def test_an_engine_listing_ids_as_text_selects_those_rows():
    scope = BatchScope(
        lambda values: [True for _ in values], passing=lambda v: ["1", "03"]
    )
    built = build({"can": ["note", Column("id")]}, lambda context: {"can": scope})
    # "03" is not the spelling of 3: the check would ask for note:3, not 03.
    assert ids(built.schema.execute_sync(LIST, context_value={})) == [1]


def test_a_where_that_raises_selects_no_row_and_says_nothing(caplog):
    def where(column: object) -> object:
        raise RuntimeError("secret connection string")

    built = build(
        OWN, lambda context: {"owner": FilterScope(check=lambda v: v == 1, where=where)}
    )
    result = built.schema.execute_sync(LIST, context_value={})
    assert ids(result) == []
    assert "secret" not in dump(result)
    assert "fail closed" in authz_logs(caplog)


def test_a_where_returning_sqlalchemy_or_text_is_refused_not_ignored(caplog):
    built = build(
        OWN,
        lambda context: {
            "owner": FilterScope(check=lambda v: v == 1, where=lambda c: "1=1")
        },
    )
    result = built.schema.execute_sync(LIST, context_value={})
    assert codes(result) == ["FORBIDDEN"]
    assert "1=1" not in dump(result)
    assert "expected a Django Q" in authz_logs(caplog)


@pytest.mark.parametrize(
    ("column", "said"),
    [("nothing", "not a concrete field"), ("team", "Column('team_id')")],
)
def test_a_column_the_model_lacks_or_a_relation_is_refused(column, said, caplog):
    built = build({"owner": Column(column)}, owner)
    result = built.schema.execute_sync(LIST, context_value={"user": 1})
    assert codes(result) == ["FORBIDDEN"]
    assert said in authz_logs(caplog)


def test_a_rule_function_is_refused_when_the_type_is_declared_filtered():
    with pytest.raises(ConfigurationError, match=r"\$function"):
        build(lambda params: params.root.owner_id == 1, owner)


def too_broad(context: object) -> dict[str, object]:
    # A `where` half that disagrees with its check: every row in SQL, only
    # owner 1 for an object. The per-object check is the second line.
    return {"owner": FilterScope(check=lambda value: value == 1, where=lambda c: True)}


def test_rows_that_came_through_the_filter_are_still_checked_one_by_one():
    built = build(OWN, too_broad)
    assert ids(built.schema.execute_sync(LIST, context_value={})) == [1]


def test_recheck_false_trusts_the_filter_for_that_type():
    built = build(OWN, too_broad, recheck=False)
    assert ids(built.schema.execute_sync(LIST, context_value={})) == [1, 2, 3]


def test_authz_filter_takes_a_queryset_and_a_viewer_switching_gets_a_new_plan():
    authz = AuthExtension(owner)

    @authz.type_rule(OWN, on_object=True)
    @strawberry.type
    class Note:
        id: int

    async def rows(info: strawberry.Info) -> list[Note]:
        queryset = await authz.filter(info, Note, NoteRow.objects.order_by("id"))
        return await sync_to_async(list)(queryset)  # type: ignore[arg-type]

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        async def before(self, info: strawberry.Info) -> list[Note]:
            return await rows(info)

        @strawberry.mutation
        def switch(self, info: strawberry.Info) -> bool:
            info.context["user"] = 2
            authz.clear_cache(info)
            return True

        @strawberry.mutation
        async def after(self, info: strawberry.Info) -> list[Note]:
            return await rows(info)

        @strawberry.mutation
        def after_sync(self, info: strawberry.Info) -> list[Note]:
            queryset = authz.filter_sync(info, Note, NoteRow.objects.order_by("id"))
            return list(queryset)  # type: ignore[arg-type]

    @strawberry.type
    class Query:
        x: int = 0

    schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=[authz])
    result = async_to_sync(schema.execute)(
        "mutation { before { id } switch after { id } } ",
        context_value={"user": 1},
    )
    assert result.errors is None, result.errors
    assert result.data["before"] == [{"id": 1}]
    assert result.data["after"] == [{"id": 3}]
    result = schema.execute_sync(
        "mutation { afterSync { id } }", context_value={"user": 2}
    )
    assert result.data == {"afterSync": [{"id": 3}]}


class OwnQuerySet(QuerySet):
    """An application's own QuerySet class, defined outside Django."""


def test_authz_filter_takes_an_applications_own_queryset_class():
    authz = AuthExtension(owner)

    @authz.type_rule(OWN, on_object=True)
    @strawberry.type
    class Note:
        id: int

    @strawberry.type
    class Query:
        @strawberry.field
        def notes(self, info: strawberry.Info) -> list[Note]:
            rows = OwnQuerySet(model=NoteRow).order_by("id")
            return list(authz.filter_sync(info, Note, rows))  # type: ignore[arg-type]

    schema = strawberry.Schema(query=Query, extensions=[authz])
    result = schema.execute_sync("{ notes { id } }", context_value={"user": 2})
    assert result.errors is None, result.errors
    assert result.data == {"notes": [{"id": 3}]}
