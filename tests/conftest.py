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

# Django settings, configured once for every test folder (tests/djangoorm,
# the Django example's tests, docs/concepts/filtering.md): an in-memory
# SQLite database and the apps whose models the tests create.
try:
    import django
    from django.conf import settings
except ImportError:  # the Django extra is not installed: those tests skip
    django = None  # type: ignore[assignment]
if django is not None and not settings.configured:
    sys.path.insert(0, str(Path(HERE) / "djangoorm"))
    if str(Path(HERE).parent) not in sys.path:  # `examples` is a package there
        sys.path.append(str(Path(HERE).parent))
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": "file:strawberry_authz?mode=memory&cache=shared",
            }
        },
        INSTALLED_APPS=["filterapp", "examples.djangonotes"],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
    )
    django.setup()
