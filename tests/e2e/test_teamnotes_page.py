"""End to end in a real browser: the example's page at `/`, in headless Chromium.

The page (examples/teamnotes/page.html) lists the signed-in demo user's notes
and enables each note's Edit / Delete / Publish button from the note's
`viewerCanEdit` / `viewerCanDelete` / `viewerCanPublish` fields. These tests
drive it like a user: pick a user, look at the buttons, click one, switch
user. One server (the sqlite engine: the page does not depend on it).

The browser is Debian's `chromium`, driven by Playwright through
`executable_path` (Playwright's own browser download is never used).
`scripts/test` installs it (scripts/browser.sh) and sets
`STRAWBERRY_AUTHZ_REQUIRE_BROWSER=1`: there, and under `CI`, a missing browser
fails these tests; a bare `pytest` on a machine without it skips them.
"""

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from teamnoteskit import TOKENS, Server

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError as error:  # the `test` extra not installed
    PLAYWRIGHT_MISSING: str | None = f"{error} (pip install -e '.[test]')"
else:
    PLAYWRIGHT_MISSING = None

REQUIRED = bool(
    os.environ.get("STRAWBERRY_AUTHZ_REQUIRE_BROWSER") or os.environ.get("CI")
)


@pytest.fixture(scope="module")
def engine() -> str:
    """One server for this module: the page is the same on every engine."""
    return "sqlite"


def chromium_missing() -> str | None:
    """Why the browser cannot start here, or None."""
    if PLAYWRIGHT_MISSING is not None:
        return PLAYWRIGHT_MISSING
    if chromium_path() is None:
        return "no `chromium` on the PATH (Debian: apt-get install chromium)"
    return None


def chromium_path() -> str | None:
    return os.environ.get("TEAMNOTES_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = chromium_missing()
    if missing is not None:
        if REQUIRED:
            pytest.fail(f"headless Chromium is required here but missing: {missing}")
        pytest.skip(f"headless Chromium not installed ({missing}); run scripts/test")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path())
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator["Page"]:
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    opened.goto(f"{server.base_url}/")
    yield opened
    context.close()


def sign_in(page: "Page", user: str) -> None:
    """Pick `user` in the page's user picker and wait for their notes."""
    page.get_by_label("Signed in as").select_option(value=TOKENS[user])
    expect(page.locator(f'body[data-signed-in="{user}"]')).to_be_attached()


def note(page: "Page", section: str, title: str) -> Any:
    return page.get_by_role("region", name=section).get_by_role("article", name=title)


def expect_buttons(card: Any, *, edit: bool, delete: bool, publish: bool) -> None:
    for label, enabled in (("Edit", edit), ("Delete", delete), ("Publish", publish)):
        button = card.get_by_role("button", name=label)
        if enabled:
            expect(button).to_be_enabled()
        else:
            expect(button).to_be_disabled()


def test_the_buttons_follow_what_each_user_may_do_and_clicks_take_effect(
    page: "Page",
) -> None:
    sign_in(page, "carol")
    # Her own published note; alice's note in the same team; her own draft.
    expect_buttons(
        note(page, "Team core", "Roadmap"), edit=True, delete=True, publish=False
    )
    expect_buttons(
        note(page, "Team core", "Welcome"), edit=False, delete=False, publish=False
    )
    draft = note(page, "My drafts", "Salary bands")
    expect_buttons(draft, edit=True, delete=True, publish=True)
    # The badges come from GET /permissions: a user may list their drafts.
    expect(page.locator(".badge.allowed")).to_have_text(["draft:read"])

    # Publishing moves the draft into the team's notes, for everyone in it.
    draft.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("region", name="My drafts")).to_contain_text(
        "Nothing here."
    )
    published = note(page, "Team core", "Salary bands")
    expect_buttons(published, edit=True, delete=True, publish=False)

    # Editing asks for the new text, then shows what the server stored.
    page.once("dialog", lambda dialog: dialog.accept("Ship it in May."))
    note(page, "Team core", "Roadmap").get_by_role("button", name="Edit").click()
    expect(note(page, "Team core", "Roadmap")).to_contain_text("Ship it in May.")

    # alice is an admin: every note of her team is hers to edit and delete,
    # carol's just-published one included; nobody else's draft to publish.
    sign_in(page, "alice")
    for title in ("Roadmap", "Welcome", "Salary bands"):
        expect_buttons(
            note(page, "Team core", title), edit=True, delete=True, publish=False
        )
    expect(page.locator(".badge:not(.allowed)")).to_have_count(0)

    # dave sees his own team only, and his own draft.
    sign_in(page, "dave")
    expect(page.get_by_role("region", name="Team core")).to_have_count(0)
    expect_buttons(
        note(page, "Team growth", "Launch plan"), edit=True, delete=True, publish=False
    )
    expect_buttons(
        note(page, "My drafts", "Pricing ideas"), edit=True, delete=True, publish=True
    )


def test_a_button_forced_on_in_the_page_is_still_refused_by_the_server(
    page: "Page", server: Server
) -> None:
    sign_in(page, "carol")
    welcome = note(page, "Team core", "Welcome")
    delete = welcome.get_by_role("button", name="Delete")
    expect(delete).to_be_disabled()
    # What a user with the browser's developer tools can do.
    delete.evaluate("button => { button.disabled = false; }")
    delete.click()
    expect(page.get_by_role("status")).to_have_text(
        "You are not allowed to access this field."
    )
    expect(note(page, "Team core", "Welcome")).to_be_visible()
    assert server.count("notes") == 5
