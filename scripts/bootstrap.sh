# Sourced by scripts/test and scripts/serve: a project virtualenv with the
# project's own dependencies, created on first use (needs only python3 + pip).
# Arguments: the extras; optionally the virtualenv's directory (default .venv)
# and a pip constraints file pinning versions in it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/${2:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's python3 without python3-venv: fall back to virtualenv from pip.
        "$PYTHON" -m pip install --quiet --user virtualenv
        "$PYTHON" -m virtualenv --quiet "$VENV"
    fi
fi
PY="$VENV/bin/python"
stamp="$VENV/.installed-$1"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "${3:-pyproject.toml}" -nt "$stamp" ]; then
    "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$PY" -m pip install --quiet --disable-pip-version-check -e ".[$1]" ${3:+-c "$3"}
    touch "$stamp"
fi
