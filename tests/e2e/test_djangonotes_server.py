"""The strawberry-django example as a real ASGI server (uvicorn, Django's view).

`python -m examples.djangonotes --port N` serves `POST /graphql`; over HTTP,
each demo user's connection pages are full and `totalCount` is what that
user may see, nested team notes follow the same rule, and an anonymous
request is refused.
"""

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from teamnoteskit import ROOT, free_port

from examples.djangonotes import models
from examples.djangonotes.data import USERS, seed, visible

NOTES = """
query($after: String) {
  notes(first: 6, after: $after) {
    totalCount
    edges { node { title } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("djangonotes") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "examples.djangonotes", "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    address = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(address, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text()) from None
                time.sleep(0.1)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def titles_of(ids: set[int]) -> set[str]:
    return set(models.Note.objects.filter(id__in=ids).values_list("title", flat=True))


def post(url: str, query: str, user: str | None, **variables: Any) -> dict[str, Any]:
    headers = {"X-User": user} if user else {}
    response = httpx.post(
        url, json={"query": query, "variables": variables}, headers=headers, timeout=10
    )
    found: dict[str, Any] = response.json()
    return found


@pytest.mark.parametrize("user", USERS)
def test_over_http_every_page_is_full_and_counts_only_what_the_user_sees(url, user):
    seed()  # the same demo data here, to know what each user may see
    expected = titles_of(visible(user))
    titles: list[str] = []
    after = None
    while True:
        result = post(url, NOTES, user, after=after)
        assert "errors" not in result, result
        page = result["data"]["notes"]
        assert page["totalCount"] == len(expected)
        nodes = [edge["node"]["title"] for edge in page["edges"]]
        titles += nodes
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(nodes) == 6
        after = page["pageInfo"]["endCursor"]
    assert set(titles) == expected and len(titles) == len(expected)


def test_over_http_nested_team_notes_follow_the_same_rule(url):
    seed()
    result = post(url, "{ teams { notes { title } } }", "carol")
    shown = {n["title"] for team in result["data"]["teams"] for n in team["notes"]}
    assert shown == titles_of(visible("carol"))


def test_over_http_an_anonymous_request_is_refused(url):
    result = post(url, NOTES, None)
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]
