#!/usr/bin/env bash
# Make sure Debian's headless Chromium is on this machine for the browser tests of `wattlens serve`
# (tests/web/test_browser.py drive it with Playwright's Python package, pointed at this binary; Playwright's
# own browser download is never used). Installs the Debian package `chromium` when it is missing.
# usage: scripts/chromium.sh [path]   # prints the browser's path
set -euo pipefail
BIN="${WATTLENS_CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "chromium.sh: Chromium missing at $BIN; run as root or: sudo apt-get install -y chromium" >&2
    exit 1
  fi
  echo "chromium.sh: installing the Chromium browser (Debian package chromium)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
[ -x "$BIN" ] || { echo "chromium.sh: $BIN still missing after the install" >&2; exit 1; }
echo "$BIN"
