"""Every test `docs/security.md` names as the one pinning a guarantee exists.

A row naming a test file or a test that was renamed or deleted would claim
a guarantee nothing checks any more.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECURITY = ROOT / "docs" / "security.md"

# `tests/x/test_y.py`, `tests/x/test_y.py::test_z`, or `::test_z` (in the
# file named last before it, in its row or a row above, as the page writes).
NAMED = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?(?:\[[^\]`]*\])?`")


def named_tests() -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    current: str | None = None
    for line in SECURITY.read_text().splitlines():
        if line.startswith("#"):
            current = None
        if not line.startswith("|"):
            continue
        for path, name in NAMED.findall(line):
            if path:
                current = path
            if not path and not name:
                continue
            assert current is not None, f"a test named without its file: {line}"
            found.append((current, name or None))
    return found


def test_every_test_the_security_page_names_exists() -> None:
    named = named_tests()
    assert len(named) > 100  # the page was read
    missing = []
    for path, name in named:
        source = ROOT / path
        if not source.is_file():
            missing.append(path)
        elif name and not re.search(
            rf"^(async )?def {name}\(", source.read_text(), re.MULTILINE
        ):
            missing.append(f"{path}::{name}")
    assert missing == []
