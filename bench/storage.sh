#!/usr/bin/env bash
# Storage benchmark: the apiserver on SQLite (and on PostgreSQL when APISERVER_BENCH_POSTGRES_URL
# is set) against the same apiserver on the in-memory store, for GET by id and POST create of
# external networks, driven by wrk from a second process.
#
#   bench/storage.sh [SECONDS_PER_RUN] [CONNECTIONS] [APISERVER_BINARY]
#
# Needs wrk (Debian package `wrk`). Without a binary it builds this checkout in release mode.
# Prints requests/s, p50 and p99 for each store and the ratios store/memory. Everything
# listens on 127.0.0.1, the database lives in a temporary folder, and all stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-10}"
CONNECTIONS="${2:-64}"
BINARY="${3:-}"
. bench/common.sh

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
if [ -z "$BINARY" ]; then
  echo "building (release)..." >&2
  CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo build --quiet --release -p apiserver --bin apiserver
  BINARY="${CARGO_TARGET_DIR:-target}/release/apiserver"
fi

BODY='{"name":"bench","description":"made by the storage benchmark","entries":["10.0.0.0/8","192.168.0.0/16"]}'
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Namespace"] = "/bench"
LUA

# Each run writes to a schema of its own, dropped at the end (with psql, when it is installed):
# tables left from an earlier run, with its rows and the indexes of its build, would be part of
# the next run's figures.
PG_SCHEMA="bench_storage_$$_$(date +%s)"
drop_schema() {
  [ -n "${APISERVER_BENCH_POSTGRES_URL:-}" ] && command -v psql >/dev/null || return 0
  psql -q "$APISERVER_BENCH_POSTGRES_URL" -c "DROP SCHEMA IF EXISTS \"$PG_SCHEMA\" CASCADE" \
    >/dev/null 2>&1 || true
}
trap 'cleanup; drop_schema' EXIT

# launch STORE PORT -> runs the apiserver in the background
launch() {
  local store=$1 port=$2 schema=()
  [ "${store%%:*}" = postgres ] && schema=(--postgres-schema "$PG_SCHEMA")
  RUST_LOG=warn "$BINARY" --listen "127.0.0.1:$port" --health "127.0.0.1:$((port + 1))" \
    --store "$store" "${schema[@]}" --access-log false --log-level warn \
    >"$WORK/server-$port.log" 2>&1 &
  PIDS+=($!)
}

# seed PORT -> waits for the server, creates /bench and one network; prints the network id
seed() {
  local port=$1
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
  done
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -H 'X-Namespace: /' \
    -d '{"name":"bench"}' "http://127.0.0.1:$port/namespaces"
  curl -s -X POST -H 'Content-Type: application/json' -H 'X-Namespace: /bench' -d "$BODY" \
    "http://127.0.0.1:$port/externalnetworks" | sed -E 's/^\{"ID":"([^"]+)".*/\1/'
}

# run URL [wrk args...] -> "rps p50_ms p99_ms"
run() {
  local out
  out="$(wrk -t 1 -c "$CONNECTIONS" -d "${DURATION}s" --latency -H 'X-Namespace: /bench' "${@:2}" "$1")"
  awk '/Requests\/sec/ {rps = $2}
       $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2}
       function ms(v,  n) { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/) n *= 1000; return n }
       END {printf "%s %.3f %.3f\n", rps, ms(p50), ms(p99)}' <<<"$out"
}

STORES=("memory" "sqlite:$WORK/bench.db")
[ -n "${APISERVER_BENCH_POSTGRES_URL:-}" ] && STORES+=("postgres:$APISERVER_BENCH_POSTGRES_URL")

printf '%-10s %-12s %10s %9s %9s %8s %8s %8s\n' store request "req/s" "p50 ms" "p99 ms" "rps x" "p50 x" "p99 x"
declare -A BASE
port=18480
for store in "${STORES[@]}"; do
  launch "$store" "$port"
  id="$(seed "$port")"
  name="${store%%:*}"
  for case in "GET by id|/externalnetworks/$id|" "POST create|/externalnetworks|-s $WORK/post.lua"; do
    IFS='|' read -r request path extra <<<"$case"
    # shellcheck disable=SC2086
    read -r rps p50 p99 <<<"$(run "http://127.0.0.1:$port$path" $extra)"
    [ "$name" = memory ] && BASE[$request]="$rps $p50 $p99"
    read -r b_rps b_p50 b_p99 <<<"${BASE[$request]}"
    awk -v s="$name" -v r="$request" -v rps="$rps" -v p50="$p50" -v p99="$p99" \
      -v br="$b_rps" -v b5="$b_p50" -v b9="$b_p99" 'BEGIN {
      printf "%-10s %-12s %10.0f %9.3f %9.3f %8.2f %8.2f %8.2f\n", s, r, rps, p50, p99, rps / br, p50 / b5, p99 / b9 }'
  done
  kill "${PIDS[-1]}" 2>/dev/null || true
  port=$((port + 2))
done
echo
echo "ratios are store / memory (req/s: higher is better; latency: lower is better)"
