"""Capability field tests (issue 11): make `capkit` (shared helpers) importable.

pytest runs with `--import-mode=importlib`, which puts no test folder on
`sys.path`; the helpers module lives next to this file.
"""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
