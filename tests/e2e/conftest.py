"""The example server for the end-to-end tests, one per test module and engine.

Makes `teamnoteskit` importable (pytest's `--import-mode=importlib` puts no
test folder on `sys.path`). `server` is parametrised over both engines that
answer the relationship checks; a module that needs one engine only
overrides the `engine` fixture.
"""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from teamnoteskit import ENGINES, Server, free_port, require_engine  # noqa: E402


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    require_engine(name)
    return name


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[Server]:
    """One server per engine, shared by the module's tests."""
    folder = tmp_path_factory.mktemp(f"teamnotes-{engine}")
    running = Server(free_port(), folder / "notes.db", folder / "server.log", engine)
    running.start()
    yield running
    running.stop()
