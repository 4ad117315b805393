"""Makes `authzkit` (helpers shared by every test folder) importable.

pytest runs with `--import-mode=importlib`, which puts no test folder on
`sys.path`; the shared helpers live next to this file.
"""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
