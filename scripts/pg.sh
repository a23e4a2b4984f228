#!/usr/bin/env bash
# The PostgreSQL server the store's tests use: 127.0.0.1:${PAGERD_TEST_PG_PORT:-5432}, user postgres, trust
# authentication on loopback (tests/contract/conftest.py makes a database per test and drops it).
#
#   scripts/pg.sh start   a no-op when a server answers there; otherwise a cluster of pagerd's own (Debian's
#                         postgresql, installed by `scripts/peers.sh install`) in /var/tmp/pagerd-test-pg-PORT,
#                         run as user postgres, listening on 127.0.0.1 only
#   scripts/pg.sh stop    stops that cluster if this script started it; a server it did not start is left alone
#
# Idempotent and quiet (one line). `make test` starts it before the suite and stops it afterwards.
set -euo pipefail

PORT="${PAGERD_TEST_PG_PORT:-5432}"
DATA="/var/tmp/pagerd-test-pg-$PORT"
MARK="$DATA/started-by-pagerd"

die() { echo "pg.sh: $*" >&2; exit 1; }

bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$dir" && -x "$dir/$1" ]] || die "no PostgreSQL server programs ($1); run scripts/peers.sh install"
  echo "$dir/$1"
}

ready() { pg_isready -q -h 127.0.0.1 -p "$PORT" -t 2 2>/dev/null; }

as_postgres() {
  if [[ "$(id -un)" == postgres ]]; then
    "$@"
  else
    [[ "$(id -u)" == 0 ]] || die "must run as root or postgres to start a server"
    runuser -u postgres -- "$@"
  fi
}

start() {
  if ready; then
    echo "pg: a server answers on 127.0.0.1:$PORT"
    return 0
  fi
  local initdb pg_ctl
  initdb="$(bin initdb)"; pg_ctl="$(bin pg_ctl)"
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    install -d -o postgres -g postgres -m 0700 "$DATA"
    as_postgres "$initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"/tmp/pagerd-pg-initdb.log" 2>&1 \
      || { tail -n 20 /tmp/pagerd-pg-initdb.log >&2; die "initdb failed"; }
  fi
  as_postgres "$pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA" start >/dev/null \
    || { tail -n 20 "$DATA/server.log" >&2; die "the server did not start"; }
  touch "$MARK"
  ready || die "the server started but does not answer on 127.0.0.1:$PORT"
  echo "pg: started a server in $DATA on 127.0.0.1:$PORT"
}

stop() {
  [[ -f "$MARK" ]] || return 0
  if [[ -f "$DATA/postmaster.pid" ]]; then
    as_postgres "$(bin pg_ctl)" -D "$DATA" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed"
  fi
  rm -f "$MARK"
  echo "pg: stopped the server in $DATA"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
