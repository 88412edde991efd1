#!/usr/bin/env bash
# Browser suite of the portal: builds kruispunt (debug), installs the two npm
# packages (playwright-core, axe-core; offline from the npm cache when it can),
# makes sure Debian's Chromium is there, then runs the node tests, which start
# `kruispunt serve --demo` on a free port with a fresh SQLite store.
# Usage: tests/browser/run.sh   (from anywhere; CI: add it to .ci/run)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ -z "${KRUISPUNT_BIN:-}" ]; then
    (cd "$root" && cargo build -q -p kruispunt)
    KRUISPUNT_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/kruispunt"
fi
export KRUISPUNT_BIN
cd "$here"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
    npm ci --no-audit --no-fund --prefer-offline || npm install --no-audit --no-fund --prefer-offline
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
node --test --test-concurrency=1 portal.test.mjs
