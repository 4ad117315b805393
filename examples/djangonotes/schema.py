"""The djangonotes schema: one rule checks a note and filters every list of notes.

A viewer sees a note they own, a note of a team they belong to, or a public
note. `Note`'s type rule says so once, with `Column`s; `filtered(authz)`
makes strawberry-django run it as SQL in every queryset of notes (the
top-level connection, a team's notes through the optimizer's Prefetch), and
each note that comes back is still checked with the same rule.
"""

from __future__ import annotations

from typing import Any

import strawberry
import strawberry_django
from strawberry import relay
from strawberry_django.optimizer import DjangoOptimizerExtension
from strawberry_django.relay import DjangoListConnection

from strawberry_authz import AuthExtension, Column, FilterScope
from strawberry_authz.django import filtered

from . import models

NOTE_RULE = {
    "$or": [
        {"owner": Column("owner")},
        {"member": Column("team_id")},
        {"public": Column("public")},
    ]
}


def viewer(context: Any) -> str | None:
    """The demo user: `context["user"]`, or over HTTP the `X-User` header.

    A demo stand-in for real authentication (a session, a token).
    """
    if isinstance(context, dict):
        return context.get("user")
    user = context.request.headers.get("X-User")
    return user if isinstance(user, str) and user else None


async def load_scopes(context: Any) -> dict[str, object]:
    """The viewer's scopes: who they are and the teams they belong to."""
    user = viewer(context)
    teams = [member.team_id async for member in models.Member.objects.filter(user=user)]
    return {
        "signed_in": user is not None,
        "owner": FilterScope.equals(user),
        "member": FilterScope.one_of(teams),
        "public": FilterScope.equals(True),
    }


authz = AuthExtension(load_scopes)


@filtered(authz)
@authz.type_rule(NOTE_RULE, on_object=True, drop_denied=True)
@strawberry_django.type(models.Note)
class Note(relay.Node):
    id: relay.NodeID[int]
    title: str
    body: str
    owner: str


@strawberry_django.type(models.Team)
class Team(relay.Node):
    id: relay.NodeID[int]
    name: str
    notes: list[Note]


@authz.type_rule({"signed_in": True})
@strawberry.type
class Query:
    notes: DjangoListConnection[Note] = strawberry_django.connection()
    teams: list[Team] = strawberry_django.field()


schema = strawberry.Schema(query=Query, extensions=[authz, DjangoOptimizerExtension])
