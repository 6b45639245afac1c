#!/usr/bin/env bash
# Whether the server's memory stays put under repeated load: one release `simrenew serve`
# on a fresh SQLite database with N bench lines, ROUNDS rounds of the load generator's
# scenarios against it, and the server's anonymous memory (RssAnon, /proc/<pid>/status)
# after each round. A server that keeps something per request grows round after round
# (docs/benchmarks.md, 2026-12-06, fourth run).
#
#   bench/memory.sh [LINES]          default: 100000
#   ROUNDS=8 SECONDS_PER=6 ONLY=renewals bench/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
ROUNDS=${ROUNDS:-4}
SECS=${SECONDS_PER:-6}
ONLY=${ONLY:-healthz,reads,renewals}
PORT=${PORT:-18098}
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release -q -p simrenew -p simrenew-loadgen
export SIMRENEW_DATABASE_URL="sqlite://$WORK/bench.db" SIMRENEW_HTTP_ADDR="127.0.0.1:$PORT" SIMRENEW_LOG=warn
target/release/simrenew demo --lines "$N" >/dev/null 2>&1
target/release/simrenew serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
echo "round | scenarios | server RssAnon after the round"
echo "start | - | $(awk '/RssAnon/ {print $2, $3}' /proc/$SERVER/status)"
for i in $(seq 1 "$ROUNDS"); do
  # Each round renews lines no round before it renewed.
  target/release/simrenew-loadgen --base "http://127.0.0.1:$PORT" --lines "$N" --seconds "$SECS" \
    --db-floor "$SIMRENEW_DATABASE_URL" --only "$ONLY" --renew-offset $(( (i - 1) * N / ROUNDS )) >/dev/null
  echo "$i | $ONLY | $(awk '/RssAnon/ {print $2, $3}' /proc/$SERVER/status)"
done
