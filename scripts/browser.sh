# A headless Chromium for the browser test (tests/e2e/test_teamnotes_page.py).
#
# Sourced by scripts/test after bootstrap.sh (or run on its own: it then prints
# the browser's path). Idempotent: Debian's `chromium` package is installed
# with apt-get only when no `chromium` is on the PATH (needs root, as in CI).
# Playwright (the `test` extra) drives it through `executable_path`; its own
# browser download is never used.
#
# Exports TEAMNOTES_CHROMIUM (the browser's path) and
# STRAWBERRY_AUTHZ_REQUIRE_BROWSER=1, so the browser test fails loudly instead
# of skipping when the browser is missing.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "scripts/browser.sh: install Chromium (Debian: apt-get install chromium)" >&2
        exit 1
    fi
    echo "scripts/browser.sh: installing Debian's chromium package" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-liberation >/dev/null
fi

TEAMNOTES_CHROMIUM="$(command -v chromium)"
export TEAMNOTES_CHROMIUM
export STRAWBERRY_AUTHZ_REQUIRE_BROWSER=1
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "$TEAMNOTES_CHROMIUM"
fi
