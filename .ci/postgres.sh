# shellcheck shell=bash
# Start a throwaway PostgreSQL server on 127.0.0.1 and export SEGQL_PG_DSN.
#   source .ci/postgres.sh      (from bash; stops and cleans up when the shell exits)
# Installs PostgreSQL with apt-get when it is missing. The server refuses to run as root,
# so it runs as the `postgres` system user (created by the Debian package).

segql_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

if ! SEGQL_PG_BIN=$(segql_pg_bin); then
  echo "== installing PostgreSQL (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
  SEGQL_PG_BIN=$(segql_pg_bin) || { echo "PostgreSQL install failed" >&2; return 1 2>/dev/null || exit 1; }
fi

SEGQL_PG_DIR=$(mktemp -d /tmp/segql-pg.XXXXXX)
chown postgres "$SEGQL_PG_DIR"
SEGQL_PG_PORT=${SEGQL_PG_PORT:-54329}
while (echo > "/dev/tcp/127.0.0.1/$SEGQL_PG_PORT") 2>/dev/null; do
  SEGQL_PG_PORT=$((SEGQL_PG_PORT + 1))
done

segql_pg_as() { runuser -u postgres -- "$@"; }
segql_pg_as "$SEGQL_PG_BIN/initdb" -D "$SEGQL_PG_DIR/data" -A trust -U postgres \
  --locale=C.UTF-8 -E UTF8 >"$SEGQL_PG_DIR/initdb.log" 2>&1 \
  || { cat "$SEGQL_PG_DIR/initdb.log" >&2; return 1 2>/dev/null || exit 1; }
segql_pg_as "$SEGQL_PG_BIN/pg_ctl" -D "$SEGQL_PG_DIR/data" -l "$SEGQL_PG_DIR/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $SEGQL_PG_PORT -k $SEGQL_PG_DIR -c fsync=off" start >/dev/null \
  || { cat "$SEGQL_PG_DIR/server.log" >&2; return 1 2>/dev/null || exit 1; }
segql_pg_as "$SEGQL_PG_BIN/createdb" -h 127.0.0.1 -p "$SEGQL_PG_PORT" -U postgres segql_test

export SEGQL_PG_DSN="postgresql://postgres@127.0.0.1:$SEGQL_PG_PORT/segql_test"
echo "== PostgreSQL on 127.0.0.1:$SEGQL_PG_PORT (SEGQL_PG_DSN=$SEGQL_PG_DSN)"

segql_pg_stop() {
  runuser -u postgres -- "$SEGQL_PG_BIN/pg_ctl" -D "$SEGQL_PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$SEGQL_PG_DIR"
}
trap segql_pg_stop EXIT
