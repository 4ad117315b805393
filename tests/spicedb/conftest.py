"""SpiceDB tests (issue 9): a real embedded SpiceDB, started per test.

`scripts/test` installs the engine (scripts/spicedb.sh) and sets
`STRAWBERRY_AUTHZ_REQUIRE_SPICEDB=1`: there, and under `CI`, a missing engine
fails every test here. Anywhere else (a bare `pytest` on a machine that never
ran scripts/test) they are skipped with the command that installs it.
"""

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import spicedbkit  # noqa: E402

REQUIRED = bool(
    os.environ.get("STRAWBERRY_AUTHZ_REQUIRE_SPICEDB") or os.environ.get("CI")
)


def _engine_missing() -> str | None:
    """Why the embedded engine cannot start here, or None."""
    try:
        import authzed.api.v1  # noqa: F401
        import spicedb_embedded  # noqa: F401
    except ImportError as error:
        return f"{error} (pip install -e '.[spicedb]' spicedb-embedded==0.7.1)"
    library = os.environ.get("SPICEDB_LIBRARY_PATH")
    if not library or not Path(library).is_file():
        return f"SPICEDB_LIBRARY_PATH={library!r} is not the libspicedb file"
    return None


MISSING = _engine_missing()


@pytest.fixture(autouse=True)
def _require_engine() -> None:
    if MISSING is None:
        return
    if REQUIRED:
        pytest.fail(f"embedded SpiceDB is required here but missing: {MISSING}")
    pytest.skip(f"embedded SpiceDB not installed ({MISSING}); run bash scripts/test")


@pytest.fixture
def db() -> Iterator[Any]:
    """An embedded SpiceDB holding the test schema and relationships."""
    engine = spicedbkit.start()
    try:
        yield engine
    finally:
        spicedbkit.stop(engine)
