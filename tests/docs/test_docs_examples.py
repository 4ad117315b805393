"""Every ```python block of the documentation runs here, so the docs cannot rot.

One test per page (`docs/**/*.md` and `README.md`). A page's blocks run in
written order in one fresh module namespace, so a later block can use what an
earlier one defined. Blocks run synchronously; a block that needs the event
loop defines `async def main()` and ends with `asyncio.run(main())`.

Every example asserts on its own output (`assert result.data == {...}`).

Not run:

- blocks in another fence language (```bash, ```text, ```graphql, ...);
- a ```python block directly preceded by the line `<!-- docs-test: skip -->`
  (keep these rare: a fragment that cannot run on its own).
"""

from __future__ import annotations

import logging
import re
import sys
import textwrap
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_MARKER = "<!-- docs-test: skip -->"
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")
PYTHON = {"python", "py", "python3"}


def pages() -> list[Path]:
    found = sorted((ROOT / "docs").rglob("*.md"))
    readme = ROOT / "README.md"
    if readme.exists():
        found.append(readme)
    return found


class Block:
    def __init__(self, page: Path, line: int, source: str) -> None:
        self.page = page
        self.line = line
        self.source = source


def python_blocks(page: Path) -> list[Block]:
    """The ```python blocks of a page, in order, minus the explicitly skipped."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening["fence"]
        indent = opening["indent"]
        words = opening["info"].strip().lstrip("{").split()
        language = words[0].lstrip(".").lower() if words else ""
        previous = lines[index - 1].strip() if index else ""
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            line = lines[end]
            closing = line.strip()
            if closing.startswith(fence) and not closing.strip(fence[0]):
                break
            body.append(line[len(indent) :] if line.startswith(indent) else line)
            end += 1
        else:
            raise AssertionError(f"{page}:{index + 1}: unclosed code fence")
        if language in PYTHON and previous != SKIP_MARKER:
            # Leading blank lines keep tracebacks on the page's own line numbers.
            source = "\n" * (index + 1) + textwrap.dedent("\n".join(body))
            blocks.append(Block(page, index + 2, source))
        index = end + 1
    return blocks


PAGES = [page for page in pages() if python_blocks(page)]


@pytest.mark.parametrize(
    "page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES]
)
def test_page_examples_run(page: Path) -> None:
    name = "docs_example_" + re.sub(r"\W", "_", str(page.relative_to(ROOT)))
    module = types.ModuleType(name)
    module.__file__ = str(page)
    sys.modules[name] = module  # Strawberry and dataclasses look types up here
    authz_logger = logging.getLogger("strawberry_authz")
    level = authz_logger.level
    try:
        for block in python_blocks(page):
            code = compile(block.source, str(page), "exec")
            exec(code, module.__dict__)
    finally:
        del sys.modules[name]
        authz_logger.setLevel(level)


def test_block_parser(tmp_path: Path) -> None:
    """Only ```python blocks run, in order, and the skip marker is honoured."""
    page = tmp_path / "page.md"
    page.write_text(
        "\n".join(
            [
                "```python",
                "a = 1",
                "```",
                "```bash",
                "exit 1",
                "```",
                SKIP_MARKER,
                "```python",
                "raise SystemExit",
                "```",
                "!!! note",
                '    ```python title="x.py"',
                "    b = a + 1",
                "    ```",
            ]
        ),
        encoding="utf-8",
    )
    blocks = python_blocks(page)
    assert [block.source.strip() for block in blocks] == ["a = 1", "b = a + 1"]
    assert [block.line for block in blocks] == [2, 13]


def test_every_concept_page_has_examples() -> None:
    """Concept pages document behaviour: each must prove it with a run."""
    concepts = sorted((ROOT / "docs" / "concepts").glob("*.md"))
    assert concepts
    assert [page.name for page in concepts if not python_blocks(page)] == []
