"""Take the docs' screenshot of the example's page: docs/images/teamnotes-page.png.

Run from the repository, after `bash scripts/test` installed the browser:

    .venv/bin/python tests/e2e/screenshot_page.py

Starts the example server on a fresh database, opens `/` in the same headless
Chromium the browser test uses, signs in as carol and saves the page.
"""

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from teamnoteskit import ROOT, TOKENS, Server, free_port

OUTPUT = ROOT / "docs" / "images" / "teamnotes-page.png"


def main() -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("no chromium on the PATH: run bash scripts/browser.sh")
    with tempfile.TemporaryDirectory() as folder:
        server = Server(free_port(), Path(folder) / "notes.db", Path(folder) / "log")
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium)
                page = browser.new_page(viewport={"width": 820, "height": 520})
                page.goto(f"{server.base_url}/")
                page.get_by_label("Signed in as").select_option(TOKENS["carol"])
                page.locator('body[data-signed-in="carol"]').wait_for(state="attached")
                OUTPUT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=OUTPUT, full_page=True)
                browser.close()
        finally:
            server.stop()
    print(OUTPUT)


if __name__ == "__main__":
    main()
