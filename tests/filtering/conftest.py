"""Filter-in-the-query tests (issue 18): real SQLite through SQLAlchemy."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
