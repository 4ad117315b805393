"""Notes on real SQLite through the Django ORM, and a strawberry-django schema.

`tables()` creates the tables of `filterapp` in the in-memory database (once
per process) and empties them; `seed(rows)` fills them. `build(rules,
scopes)` makes an `AuthExtension` and a strawberry-django schema whose
`Note` type filters every queryset of notes with the same rule it checks
objects with (`filtered(authz)`: `authz_queryset` in `get_queryset`): a paginated list
(`notes`) and teams with their notes (`teams { notes }`), or with
`node=True` a relay connection with `totalCount` (`noteConnection`), under
the optimizer.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import strawberry
import strawberry_django
from django.db import connection
from filterapp.models import Note as NoteRow
from filterapp.models import Team as TeamRow
from strawberry import relay
from strawberry_django.optimizer import DjangoOptimizerExtension
from strawberry_django.relay import DjangoListConnection

from strawberry_authz import AuthExtension
from strawberry_authz.django import filtered

_created: set[str] = set()


def tables() -> None:
    """The tables of `filterapp`, created once, emptied for each test."""
    for model in (TeamRow, NoteRow):
        if model._meta.db_table not in _created:
            with connection.schema_editor() as editor:
                editor.create_model(model)
            _created.add(model._meta.db_table)
    NoteRow.objects.all().delete()
    TeamRow.objects.all().delete()


def seed(rows: list[dict[str, Any]]) -> None:
    """`rows` as notes (each `team_id` gets a team)."""
    tables()
    teams = {row["team_id"] for row in rows if row.get("team_id") is not None}
    TeamRow.objects.bulk_create(TeamRow(id=team) for team in sorted(teams))
    NoteRow.objects.bulk_create(NoteRow(**row) for row in rows)


@dataclass
class Built:
    authz: AuthExtension
    schema: strawberry.Schema
    Note: type


def build(
    rules: object,
    scopes: Callable[[Any], Any],
    *,
    recheck: bool = True,
    node: bool = False,
) -> Built:
    """The schema of the module docstring."""
    authz = AuthExtension(scopes)

    @filtered(authz, recheck=recheck)
    @authz.type_rule(rules, on_object=True, drop_denied=True)
    @strawberry_django.type(NoteRow)
    class Note(relay.Node if node else object):  # type: ignore[misc]
        id: relay.NodeID[int] if node else int  # type: ignore[valid-type]
        title: str

    @strawberry_django.type(TeamRow)
    class Team:
        id: int
        notes: list[Note]

    if node:

        @strawberry.type
        class Query:
            note_connection: DjangoListConnection[Note] = strawberry_django.connection()

    else:

        @strawberry.type
        class Query:  # type: ignore[no-redef]
            notes: list[Note] = strawberry_django.field(pagination=True)
            teams: list[Team] = strawberry_django.field()

    schema = strawberry.Schema(
        query=Query, extensions=[authz, DjangoOptimizerExtension]
    )
    return Built(authz, schema, Note)


def ids(result: Any, field: str = "notes") -> list[int]:
    assert result.errors is None, result.errors
    return [int(item["id"]) for item in result.data[field]]


def row_id(node_id: str) -> int:
    """The row id in a relay global id."""
    return int(relay.GlobalID.from_id(node_id).node_id)
