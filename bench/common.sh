# Sourced by the bench scripts: a work folder removed at exit, and the background processes
# whose pids a script adds to PIDS stopped at exit.
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
