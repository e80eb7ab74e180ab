#!/usr/bin/env bash
# Headless Chromium for the browser-tier tests (tests/report/test_browser.py). Idempotent and quiet:
# does nothing when chromium is already installed, prints apt's output only if it fails.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
echo "installed chromium"
