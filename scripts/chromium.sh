#!/usr/bin/env bash
# Make sure Debian's headless Chromium is on this machine for the browser tests of `wattlens serve`
# (tests/web/test_browser.py drive it with Playwright's Python package, pointed at this binary; Playwright's
# own browser download is never used). Installs the Debian package `chromium` when it is missing.
# usage: scripts/chromium.sh   # prints the browser's path
set -euo pipefail
exec "$(dirname "$0")/debian-package.sh" chromium.sh "${WATTLENS_CHROMIUM:-/usr/bin/chromium}" chromium fonts-dejavu-core
