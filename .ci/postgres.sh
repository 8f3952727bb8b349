#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on a loopback port for the tests and prints its URL:
#   .ci/postgres.sh DIR PORT      (stop it with: su postgres -c "pg_ctl -D DIR stop -m immediate")
# Installs Debian's postgresql package when no initdb is found. Run as root (the cluster runs as postgres).
set -euo pipefail
dir="$1"
port="$2"
bin="$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)")"
if [ ! -x "$bin/initdb" ]; then
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql) \
    >"${TMPDIR:-/tmp}/legion-apt-postgresql.log" 2>&1 || { cat "${TMPDIR:-/tmp}/legion-apt-postgresql.log" >&2; exit 1; }
  bin="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")"
fi
id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
rm -rf "$dir"
mkdir -p "$dir"
chown postgres "$dir"
su postgres -s /bin/sh -c "'$bin/initdb' -D '$dir' -A trust -U postgres" >"$dir.initdb.log" 2>&1 \
  || { cat "$dir.initdb.log" >&2; exit 1; }
su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir' -l '$dir/log' -w \
  -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start" >/dev/null \
  || { cat "$dir/log" >&2; exit 1; }
echo "postgres://postgres@127.0.0.1:$port/postgres"
