#!/usr/bin/env bash
# Start (or stop) a throw-away PostgreSQL server on loopback for the store's tests.
# Installs the Debian server package first when this machine has none.
# usage: scripts/pg.sh start|stop|url
set -euo pipefail
PORT="${WATTLENS_PG_PORT:-55432}"
DATA="${WATTLENS_PG_DATA:-/tmp/wattlens-pg-$PORT}"
DB=wattlens_test
URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_pg() {  # PostgreSQL refuses to run as root: use the postgres account when we are root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  url) echo "$URL" ;;
  stop)
    BIN=$(find_bin); [ -n "$BIN" ] && [ -d "$DATA" ] && as_pg "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true ;;
  start)
    BIN=$(find_bin)
    if [ -z "$BIN" ]; then
      if [ "$(id -u)" != 0 ]; then echo "pg.sh: PostgreSQL server missing; run as root or: sudo apt-get install -y postgresql" >&2; exit 1; fi
      echo "pg.sh: installing the PostgreSQL server (Debian package postgresql)" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
      BIN=$(find_bin)
    fi
    if [ "$(id -u)" = 0 ]; then id postgres >/dev/null 2>&1 || useradd -r -m postgres; fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
      rm -rf "$DATA"; mkdir -p "$DATA"
      [ "$(id -u)" = 0 ] && chown postgres "$DATA"
      as_pg "$BIN/initdb" -D "$DATA" -U postgres -A trust >/dev/null
    fi
    if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl" -D "$DATA" -w -l "$DATA/server.log" \
        -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    fi
    as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 \
      || as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
    echo "$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
