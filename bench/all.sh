#!/usr/bin/env bash
# The whole performance program in one run, each row a ratio to the baseline measured in the
# same run:
#
#   server   todo (bahamut)        / bare hyper      bench/load.sh
#   storage  apiserver on SQLite   / on memory       bench/storage.sh
#   lists    SQLite, PostgreSQL    / memory          cargo bench -p manipsql --bench retrieve_many
#   push     1,000 sessions        / one session     cargo bench -p apiserver --bench push_load
#
#   bench/all.sh [SECONDS_PER_RUN]          # default 8; push runs 3x as long
#
# Needs wrk. PostgreSQL rows need APISERVER_TEST_POSTGRES_URL (lists) and
# APISERVER_BENCH_POSTGRES_URL (storage). Each part's full output is kept in a temporary folder
# named at the end; the summary keeps the ratio columns.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${1:-8}"
OUT="$(mktemp -d)"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

part() {
  local name=$1
  shift
  echo "=== $name: $*" >&2
  "$@" >"$OUT/$name.txt" 2>"$OUT/$name.err" || {
    echo "$name failed; see $OUT/$name.err" >&2
    exit 1
  }
}

part server bench/load.sh "$SECONDS_PER_RUN"
part storage bench/storage.sh "$SECONDS_PER_RUN"
part lists cargo bench --quiet -p manipsql --bench retrieve_many
export PUSH_SECONDS=$((SECONDS_PER_RUN * 3))
part push cargo bench --quiet -p apiserver --bench push_load

echo
echo "server: todo / bare hyper (req/s, p50, p99)"
awk '/^(GET|POST)/ {printf "  %-16s %6s %6s %6s\n", $1 " " $2, $(NF - 2), $(NF - 1), $NF}' "$OUT/server.txt"
echo "storage: apiserver store / memory (req/s, p50, p99)"
awk '$1 != "memory" && /(GET|POST)/ {
  request = $2; for (i = 3; i <= NF - 6; i++) request = request " " $i
  printf "  %-8s %-12s %6s %6s %6s\n", $1, request, $(NF - 2), $(NF - 1), $NF }' "$OUT/storage.txt"
echo "lists: backend p50 / memory p50 (100k objects)"
grep 'memory p50 =' "$OUT/lists.txt" | sed 's/^/  /'
echo "push: 1,000 sessions / one session (and the load run's own figures)"
grep 'ratio' "$OUT/push.txt" | sed 's/^/  /'
grep '^load' "$OUT/push.txt" | sed 's/^/  /'
echo
echo "full outputs: $OUT"
