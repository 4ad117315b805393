"""Django filter tests (issue 18): real SQLite through the Django ORM.

Settings are configured once in tests/conftest.py; this folder's helpers
(`ormkit`) and its app (`filterapp`) are importable from here.
"""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
