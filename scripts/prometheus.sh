#!/usr/bin/env bash
# Make sure Debian's Prometheus server is on this machine for the exporter tests (tests/serving/test_prometheus.py
# start it on a loopback port with a temporary config and query `increase()` over its HTTP API). Installs the Debian
# package `prometheus` when it is missing; the package's own service is never started by the tests (they run the
# binary themselves, with their own config and data folder, on 127.0.0.1).
# usage: scripts/prometheus.sh   # prints the server binary's path
set -euo pipefail
BIN="${WATTLENS_PROMETHEUS:-/usr/bin/prometheus}"

if [ ! -x "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "prometheus.sh: Prometheus missing at $BIN; run as root or: sudo apt-get install -y prometheus" >&2
    exit 1
  fi
  echo "prometheus.sh: installing the Prometheus server (Debian package prometheus)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d 101: the package's postinst must not start (or enable) its own service on :9090
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.wattlens && chmod +x /usr/sbin/policy-rc.d.wattlens
  had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  [ $had_policy = 1 ] || cp /usr/sbin/policy-rc.d.wattlens /usr/sbin/policy-rc.d
  status=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } || status=$?
  [ $had_policy = 1 ] || rm -f /usr/sbin/policy-rc.d
  rm -f /usr/sbin/policy-rc.d.wattlens
  [ $status = 0 ] || exit $status
fi
[ -x "$BIN" ] || { echo "prometheus.sh: $BIN still missing after the install" >&2; exit 1; }
echo "$BIN"
