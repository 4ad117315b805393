"""Demo data: three teams, four users, 60 notes (who sees what is in README.md)."""

from __future__ import annotations

from django.db import connection

from . import models

USERS = ["alice", "bob", "carol", "dave"]
MEMBERS = {"alice": ["red"], "bob": ["red", "blue"], "carol": ["green"], "dave": []}
TEAMS = ["red", "blue", "green"]


def create_tables() -> None:
    """The app's tables in the configured database (no migrations needed)."""
    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in (models.Team, models.Member, models.Note):
            if model._meta.db_table not in existing:
                editor.create_model(model)


def seed() -> None:
    """Replace every row with the demo data."""
    create_tables()
    models.Note.objects.all().delete()
    models.Member.objects.all().delete()
    models.Team.objects.all().delete()
    teams = {name: models.Team.objects.create(name=name) for name in TEAMS}
    for user, names in MEMBERS.items():
        for name in names:
            models.Member.objects.create(user=user, team=teams[name])
    models.Note.objects.bulk_create(
        models.Note(
            title=f"note {index}",
            body=f"body of note {index}",
            owner=USERS[index % len(USERS)],
            team=teams[TEAMS[index % len(TEAMS)]],
            public=index % 10 == 0,
        )
        for index in range(60)
    )


def visible(user: str | None) -> set[int]:
    """The ids of the notes `user` may see, computed in Python (for tests)."""
    teams = set(
        models.Member.objects.filter(user=user).values_list("team_id", flat=True)
    )
    return {
        note.id
        for note in models.Note.objects.all()
        if note.owner == user or note.team_id in teams or note.public
    }
