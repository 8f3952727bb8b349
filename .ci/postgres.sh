#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a loopback port for the tests:
#   .ci/postgres.sh start DIR PORT   starts one in DIR (emptied first) and prints its URL
#   .ci/postgres.sh stop DIR         stops it
# Installs Debian's postgresql package when no initdb is found. Run as root: the cluster runs as the
# postgres user.
set -euo pipefail
find_bin() {
  dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || echo /nonexistent/initdb)"
}
as_postgres() { su postgres -s /bin/sh -c "$1"; }
bin="$(find_bin)"
case "$1" in
  stop)
    as_postgres "'$bin/pg_ctl' -D '$2' stop -m immediate" >/dev/null 2>&1 || true
    exit 0
    ;;
  start) dir="$2"; port="$3" ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
if [ ! -x "$bin/initdb" ]; then
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql) \
    >"${TMPDIR:-/tmp}/legion-apt-postgresql.log" 2>&1 || { cat "${TMPDIR:-/tmp}/legion-apt-postgresql.log" >&2; exit 1; }
  bin="$(find_bin)"
fi
id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
as_postgres "'$bin/pg_ctl' -D '$dir' stop -m immediate" >/dev/null 2>&1 || true
rm -rf "$dir"
mkdir -p "$dir"
chown postgres "$dir"
as_postgres "'$bin/initdb' -D '$dir' -A trust -U postgres" >"$dir.initdb.log" 2>&1 || { cat "$dir.initdb.log" >&2; exit 1; }
# fsync=off: the tests kill Legion, never the machine; max_connections: each instance pools 16.
as_postgres "'$bin/pg_ctl' -D '$dir' -l '$dir/log' -w \
  -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start" >/dev/null \
  || { cat "$dir/log" >&2; exit 1; }
echo "postgres://postgres@127.0.0.1:$port/postgres"
