#!/usr/bin/env bash
# Load benchmark: the todo server (bahamut) against a bare hyper server answering the same
# bytes, for GET one, GET a list of 100 and POST create, driven by wrk from a second process.
#
#   bench/load.sh [SECONDS_PER_RUN] [CONNECTIONS]
#   TODO_BIN=/path/to/todo bench/load.sh ...    # a todo binary built elsewhere (an A/B run)
#
# Needs wrk (Debian package `wrk`). Prints requests/s, p50 and p99 for both servers and the
# ratios todo/bare. Everything listens on 127.0.0.1 and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-10}"
CONNECTIONS="${2:-64}"
THREADS=1
TODO_ADDR=127.0.0.1:18380
BARE_ADDR=127.0.0.1:18381
. bench/common.sh

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

echo "building (release)..." >&2
TARGET="${CARGO_TARGET_DIR:-target}/release"
if [ -z "${TODO_BIN:-}" ]; then
  CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo build --quiet --release -p todo --bin todo
  TODO_BIN="$TARGET/todo"
fi
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" cargo build --quiet --release -p bahamut --example bare_hyper

wait_for() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://$1/" && return 0; sleep 0.1; done; echo "$1 did not start" >&2; exit 1; }

RUST_LOG=warn "$TODO_BIN" --listen "$TODO_ADDR" --health none >"$WORK/todo.log" 2>&1 &
PIDS+=($!)
wait_for "$TODO_ADDR"

# Seed 100 lists and record the exact bytes of the three answers.
for i in $(seq 1 100); do
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d "{\"name\":\"list-$i\",\"description\":\"benchmark list number $i\",\"slice\":[\"a\",\"b\"]}" "http://$TODO_ADDR/lists"
done
curl -s "http://$TODO_ADDR/lists" >"$WORK/many.json"
ID="$(head -c 200 "$WORK/many.json" | sed -E 's/^\[\{"ID":"([0-9a-f]{24})".*/\1/')"
curl -s "http://$TODO_ADDR/lists/$ID" >"$WORK/one.json"
CREATE_BODY='{"name":"created","description":"made by the benchmark","slice":["x"]}'
curl -s -X POST -H 'Content-Type: application/json' -d "$CREATE_BODY" "http://$TODO_ADDR/lists" >"$WORK/create.json"

"$TARGET/examples/bare_hyper" "$BARE_ADDR" "$WORK" >"$WORK/bare.log" 2>&1 &
PIDS+=($!)
wait_for "$BARE_ADDR"

cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$CREATE_BODY'
wrk.headers["Content-Type"] = "application/json"
LUA

# run NAME URL [wrk args...] -> "rps p50_ms p99_ms"
run() {
  local out
  out="$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency "${@:2}" "$1")"
  local rps p50 p99
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n = n / 1000; else if (u == "s") n = n * 1000; else if (u == "m") n = n * 60000;
    printf "%.3f", n }'
}

printf '\n%-14s %12s %10s %10s   %12s %10s %10s   %9s %9s %9s\n' endpoint "todo req/s" "p50 ms" "p99 ms" "bare req/s" "p50 ms" "p99 ms" "rps x" "p50 x" "p99 x"
for case in "GET one|/lists/$ID|" "GET list(100)|/lists|" "POST create|/lists|-s $WORK/post.lua"; do
  IFS='|' read -r name path extra <<<"$case"
  # shellcheck disable=SC2086
  read -r t_rps t_p50 t_p99 <<<"$(run "http://$TODO_ADDR$path" $extra)"
  # shellcheck disable=SC2086
  read -r b_rps b_p50 b_p99 <<<"$(run "http://$BARE_ADDR$path" $extra)"
  awk -v n="$name" -v tr="$t_rps" -v t5="$t_p50" -v t9="$t_p99" -v br="$b_rps" -v b5="$b_p50" -v b9="$b_p99" 'BEGIN {
    printf "%-14s %12.0f %10.3f %10.3f   %12.0f %10.3f %10.3f   %9.2f %9.2f %9.2f\n", n, tr, t5, t9, br, b5, b9, tr / br, t5 / b5, t9 / b9 }'
done
echo
echo "ratios are todo / bare (req/s: higher is better for todo; latency: lower is better)"
