#!/usr/bin/env bash
# Reproduces docs/benchmarks.md: for each database and line count, a fresh database with
# N bench lines, a release `simrenew serve`, and simrenew-loadgen (HTTP floor, line
# lookups, renewals, database floor, server RSS) in one run.
#
#   bench/run.sh [LINES...]            default: 100000
#   DBS="sqlite postgres" SECONDS_PER=10 CONNS=64 WRITERS=16 REPEAT=1 bench/run.sh 10000 100000 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=("${@:-100000}")
DBS=${DBS:-"sqlite postgres"}
SECS=${SECONDS_PER:-10}
CONNS=${CONNS:-64}
WRITERS=${WRITERS:-16}
# Each database and size measured REPEAT times against the same server (the machine is
# noisy: report the medians).
REPEAT=${REPEAT:-1}
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}
# The server reaches PostgreSQL over the local Unix socket by default (PG_TRANSPORT=tcp for
# 127.0.0.1), as in the runs recorded in docs/benchmarks.md.
PG_TRANSPORT=${PG_TRANSPORT:-socket}
PG_SOCKET_DIR=${PG_SOCKET_DIR:-/var/run/postgresql}
PG_BENCH=${PG_ADMIN%/*}/simrenew_bench
[ "$PG_TRANSPORT" = socket ] && PG_BENCH="$PG_BENCH?host=$PG_SOCKET_DIR"
PORT=${PORT:-18099}
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release -q -p simrenew -p simrenew-loadgen
BIN=target/release/simrenew
LOADGEN=target/release/simrenew-loadgen
echo "machine: $(nproc) cores, $(uname -r); $(date -u +%F)"

for db in $DBS; do
  for n in "${LINES[@]}"; do
    if [ "$db" = sqlite ]; then
      url="sqlite://$WORK/bench.db"
      rm -f "$WORK"/bench.db*
    else
      psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS simrenew_bench" -qc "CREATE DATABASE simrenew_bench"
      url="$PG_BENCH"
    fi
    export SIMRENEW_DATABASE_URL="$url" SIMRENEW_HTTP_ADDR="127.0.0.1:$PORT" SIMRENEW_LOG=warn
    gen_start=$(date +%s)
    $BIN demo --lines "$n" 2>&1 | tail -n 1
    echo
    echo "### $db${PG_TRANSPORT:+ ($([ "$db" = postgres ] && echo "$PG_TRANSPORT" || echo file))}, $n lines (generated in $(( $(date +%s) - gen_start ))s)"
    echo
    $BIN serve >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
    sleep 1
    for rep in $(seq 1 "$REPEAT"); do
      [ "$REPEAT" -gt 1 ] && echo "run $rep of $REPEAT" && echo
      $LOADGEN --base "http://127.0.0.1:$PORT" --lines "$n" --connections "$CONNS" --writers "$WRITERS" \
        --seconds "$SECS" --db-floor "$url" --pid "$SERVER"
      echo
    done
    kill $SERVER; wait $SERVER 2>/dev/null || true
  done
done
