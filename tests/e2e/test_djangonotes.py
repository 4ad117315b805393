"""The strawberry-django example (examples/djangonotes), end to end on SQLite.

For every demo user: every page of the notes connection is full,
`totalCount` is what that user may see, paging through it yields exactly
those notes, each page costs at most 2 queries, and each team's nested
notes are filtered by the same rule in one prefetch.
"""

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from authzkit import codes
from django.db import connection
from django.test.utils import CaptureQueriesContext
from strawberry import relay

from examples.djangonotes import models
from examples.djangonotes.__main__ import main
from examples.djangonotes.data import USERS, seed, visible
from examples.djangonotes.schema import schema

PAGE = 7
NOTES = """
query($after: String) {
  notes(first: 7, after: $after) {
    totalCount
    edges { node { id title } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture(autouse=True)
def demo_data() -> None:
    seed()


def execute(query: str, user: str | None, **variables: Any) -> tuple[Any, int]:
    # async_to_sync: strawberry-django's database work comes back to this
    # thread, whose connection CaptureQueriesContext watches.
    with CaptureQueriesContext(connection) as queries:
        result = async_to_sync(schema.execute)(
            query, variable_values=variables, context_value={"user": user}
        )
    return result, len(queries)


@pytest.mark.parametrize("user", USERS)
def test_every_page_is_full_and_the_total_is_what_the_user_may_see(user):
    expected = visible(user)
    seen: list[int] = []
    after = None
    while True:
        result, queries = execute(NOTES, user, after=after)
        assert result.errors is None, result.errors
        page = result.data["notes"]
        assert page["totalCount"] == len(expected)
        nodes = [
            int(relay.GlobalID.from_id(e["node"]["id"]).node_id) for e in page["edges"]
        ]
        seen += nodes
        # load_scopes' membership query, the page with its count (window).
        assert queries <= 3
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(nodes) == PAGE  # every page but the last is full
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(expected)


@pytest.mark.parametrize("user", USERS)
def test_each_teams_notes_are_filtered_by_the_same_rule_in_one_prefetch(user):
    result, queries = execute("{ teams { name notes { title } } }", user)
    assert result.errors is None, result.errors
    expected = visible(user)
    for team in result.data["teams"]:
        titles = {
            n.title
            for n in models.Note.objects.filter(team__name=team["name"])
            if n.id in expected
        }
        assert {note["title"] for note in team["notes"]} == titles
    assert queries <= 3  # membership, teams, their notes


def test_an_anonymous_visitor_is_refused():
    result, _ = execute(NOTES, None)
    assert codes(result) == ["FORBIDDEN"]


def test_the_command_line_demo_prints_a_users_first_page(capsys):
    main(["carol"])
    printed = capsys.readouterr().out
    assert f'"totalCount": {len(visible("carol"))}' in printed
