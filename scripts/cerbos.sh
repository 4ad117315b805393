# The Cerbos policy decision point for the tests and the docs examples.
#
# Sourced by scripts/test after bootstrap.sh (or run on its own: it then prints
# the binary's path). Idempotent: the server binary comes from the npm package
# @cerbos/cerbos-<platform> at ONE version, is cached under
# .venv/cerbos/<version>/ and downloaded only when missing (the package has no
# postinstall step: the binary is taken straight from its tarball).
#
# Needs npm. Exports CERBOS_BINARY and STRAWBERRY_AUTHZ_REQUIRE_CERBOS=1, so the
# Cerbos tests fail loudly instead of skipping when the server is missing. The
# Python side (the `cerbos` SDK, the `[cerbos]` extra) is installed by
# bootstrap.sh.
set -euo pipefail
CERBOS_VERSION=0.55.0
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
VENV="${VENV:-$ROOT/.venv}"

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64 | Linux-amd64) cerbos_platform=linux-x64 ;;
    Linux-aarch64 | Linux-arm64) cerbos_platform=linux-arm64 ;;
    Darwin-arm64) cerbos_platform=darwin-arm64 ;;
    Darwin-x86_64) cerbos_platform=darwin-x64 ;;
    *)
        echo "scripts/cerbos.sh: no Cerbos build for $(uname -sm)" >&2
        exit 1
        ;;
esac
cerbos_dir="$VENV/cerbos/$CERBOS_VERSION"
CERBOS_BINARY="$cerbos_dir/cerbos"

if [ ! -x "$CERBOS_BINARY" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "scripts/cerbos.sh: npm is needed to fetch @cerbos/cerbos-$cerbos_platform" >&2
        exit 1
    fi
    cerbos_tmp="$(mktemp -d)"
    (cd "$cerbos_tmp" && npm pack --silent \
        "@cerbos/cerbos-$cerbos_platform@$CERBOS_VERSION" >/dev/null)
    tar -xzf "$cerbos_tmp"/*.tgz -C "$cerbos_tmp" "package/cerbos-$cerbos_platform"
    mkdir -p "$cerbos_dir"
    # Move into place last: an interrupted download never leaves a partial file.
    mv "$cerbos_tmp/package/cerbos-$cerbos_platform" "$CERBOS_BINARY.partial"
    chmod +x "$CERBOS_BINARY.partial"
    mv "$CERBOS_BINARY.partial" "$CERBOS_BINARY"
    rm -rf "$cerbos_tmp"
fi

export CERBOS_BINARY
export STRAWBERRY_AUTHZ_REQUIRE_CERBOS=1
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "$CERBOS_BINARY"
fi
