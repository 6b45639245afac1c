#!/usr/bin/env bash
# Lighthouse (npm `lighthouse`, Debian's Chromium) on the home page and a line's page of a
# release `simrenew serve --demo`: performance, accessibility and best practices, mobile
# (Lighthouse's default: a mid-range phone, throttled 4G), RUNS runs each, medians.
#
#   bench/lighthouse.sh            RUNS=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
PORT=${PORT:-18098}
LH_DIR=${LH_DIR:-$HOME/.cache/simrenew-lighthouse}
CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
export CHROME_PATH
[ -x "$LH_DIR/node_modules/.bin/lighthouse" ] || npm install --silent --no-audit --no-fund --prefix "$LH_DIR" lighthouse@12 >/dev/null
LH="$LH_DIR/node_modules/.bin/lighthouse"
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release -q -p simrenew
(cd "$WORK" && SIMRENEW_HTTP_ADDR="127.0.0.1:$PORT" SIMRENEW_LOG=warn "$OLDPWD/target/release/simrenew" serve --demo >"$WORK/server.log" 2>&1) &
SERVER=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done

# Sign in as the demo account through the form, for the line's page.
JAR="$WORK/jar"
CSRF=$(curl -s -c "$JAR" "$BASE/account/sign-in" | grep -o 'name="csrf" value="[^"]*"' | head -n1 | cut -d'"' -f4)
curl -s -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "csrf=$CSRF" \
  --data-urlencode "email=demo@simrenew.example" --data-urlencode "password=simrenew-demo" "$BASE/account/sign-in"
# (curl writes HttpOnly cookies as comment-like lines starting with #HttpOnly_.)
COOKIE=$(sed 's/^#HttpOnly_//' "$JAR" | awk '!/^#/ && NF >= 7 {printf "%s=%s; ", $6, $7}')

echo "lighthouse $("$LH" --version), $("$CHROME_PATH" --version 2>/dev/null | head -n1); $(nproc) cores; $(date -u +%F)"
echo
echo "| page | performance | accessibility | best practices | runs |"
echo "|---|---|---|---|---|"
for page in "/" "/lines/79161234561"; do
  perf=(); a11y=(); bp=()
  for i in $(seq 1 "$RUNS"); do
    "$LH" "$BASE$page" --quiet --output=json --output-path="$WORK/lh.json" \
      --only-categories=performance,accessibility,best-practices \
      --extra-headers="{\"Cookie\": \"$COOKIE\"}" \
      --chrome-flags="--headless --no-sandbox --disable-gpu" >/dev/null 2>&1
    # Scored the page itself, not a redirect to the sign-in form.
    python3 -c 'import json,sys; u=json.load(open(sys.argv[1]))["finalDisplayedUrl"]; sys.exit(0 if u.endswith(sys.argv[2]) else "landed on " + u)' "$WORK/lh.json" "$page"
    read -r p a b < <(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["categories"]; print(*(round(c[k]["score"]*100) for k in ("performance","accessibility","best-practices")))' "$WORK/lh.json")
    perf+=("$p"); a11y+=("$a"); bp+=("$b")
  done
  median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  echo "| \`$page\` | $(median "${perf[@]}") | $(median "${a11y[@]}") | $(median "${bp[@]}") | $RUNS |"
  # The audits below 0.9 in the last run, to act on (printed to stderr).
  python3 - "$WORK/lh.json" "$page" >&2 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for cat in r["categories"].values():
    for ref in cat["auditRefs"]:
        a = r["audits"][ref["id"]]
        if a.get("score") is not None and a["score"] < 0.9 and ref.get("weight", 0) > 0:
            print(f"  {sys.argv[2]} below 0.9 ({cat['title']}): {a['id']}: {a['title']}")
PY
done
