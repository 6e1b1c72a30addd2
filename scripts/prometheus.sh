#!/usr/bin/env bash
# Make sure Debian's Prometheus server is on this machine for the exporter tests (tests/serving/test_prometheus.py
# start it on a loopback port with a temporary config and query `increase()` over its HTTP API). Installs the Debian
# package `prometheus` when it is missing; the package's own service is never started (--no-service: the tests run
# the binary themselves, with their own config and data folder, on 127.0.0.1; nothing listens on :9090).
# usage: scripts/prometheus.sh   # prints the server binary's path
set -euo pipefail
exec "$(dirname "$0")/debian-package.sh" --no-service prometheus.sh "${WATTLENS_PROMETHEUS:-/usr/bin/prometheus}" prometheus
