"""Report tests: make `reachkit` and the policy modules next to them importable.

pytest runs with `--import-mode=importlib`, which puts no test folder on
`sys.path`.
"""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
