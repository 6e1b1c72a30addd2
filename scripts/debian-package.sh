#!/usr/bin/env bash
# Make sure a Debian package's program is on this machine (the system parts `make test` needs: Chromium,
# Prometheus). When BIN is missing: install PACKAGE... from Debian's archive (root only; otherwise one line
# saying what to run). With --no-service, the package's postinst may not start or enable its own service
# (policy-rc.d answering 101 for the duration of the install): the tests run the binary themselves on 127.0.0.1.
# usage: scripts/debian-package.sh [--no-service] NAME BIN PACKAGE...   # prints BIN
set -euo pipefail
no_service=0
if [ "${1:-}" = "--no-service" ]; then no_service=1; shift; fi
NAME="$1" BIN="$2"; shift 2

if [ ! -x "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "$NAME: missing at $BIN; run as root or: sudo apt-get install -y $*" >&2
    exit 1
  fi
  echo "$NAME: installing Debian package(s) $*" >&2
  export DEBIAN_FRONTEND=noninteractive
  had_policy=1
  if [ $no_service = 1 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    had_policy=0
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  fi
  status=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } || status=$?
  [ $had_policy = 1 ] || rm -f /usr/sbin/policy-rc.d
  [ $status = 0 ] || exit $status
fi
[ -x "$BIN" ] || { echo "$NAME: $BIN still missing after the install" >&2; exit 1; }
echo "$BIN"
