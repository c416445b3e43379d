#!/bin/sh
# WatchEnv with an independent client: buf curl (npm @bufbuild/buf) opens a
# Secrets/WatchEnv stream on the real zlayer-secretsd over its Unix socket
# (schema from server reflection), receives the receipt (no value), sees a
# rotation made by another client (the CLI), and is ended with OK by the
# daemon's drain at SIGTERM.
#
# usage: buf_curl_watch_test.sh DAEMON_BINARY CLI_BINARY
# buf is found as in buf_curl_test.sh ($ZS_BUF or tools/node_modules/.bin/buf).
set -eu

fail() {
  echo "FAIL: $*" >&2
  if [ -n "${LOG:-}" ] && [ -f "$LOG" ]; then
    echo "--- daemon log ---" >&2
    cat "$LOG" >&2
  fi
  exit 1
}

DAEMON=$(readlink -f "$1")
CLI=$(readlink -f "$2")
BUF=${ZS_BUF:-}
if [ -z "$BUF" ]; then
  ROOT=$(dirname "$(dirname "$(dirname "$(readlink -f "$0")")")")
  BUF="$ROOT/tools/node_modules/.bin/buf"
fi
[ -x "$BUF" ] || fail "buf not found at '$BUF': run ./x setup or set ZS_BUF"

WORK=$(mktemp -d /tmp/zs-XXXXXX)
SOCK="$WORK/d.sock"
LOG="$WORK/daemon.log"
mkdir -m 700 "$WORK/data"
export HOME="$WORK/home" XDG_CACHE_HOME="$WORK/cache"
mkdir -p "$HOME" "$XDG_CACHE_HOME"

"$DAEMON" --data-dir "$WORK/data" --key-dir "$WORK/data" --socket "$SOCK" >"$LOG" 2>&1 &
DPID=$!
cleanup() {
  kill "$DPID" 2>/dev/null || true
  wait "$DPID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cli() { "$CLI" --socket "$SOCK" --wait-for-ready --timeout 30s "$@"; }
cli whoami >/dev/null || fail "daemon did not come up"
printf 'canary-watch-value' | cli set db --from-stdin --deployment bw >/dev/null ||
  fail "set failed"

echo "== WatchEnv stream (buf curl)"
mkfifo "$WORK/watch"
timeout 60 "$BUF" curl --protocol grpc --http2-prior-knowledge \
  --unix-socket "$SOCK" \
  -d '{"env":{"DB":"$S:db"},"context":{"deployment":"bw"},"consumer":"buf/test/1"}' \
  http://localhost/zlayer.secrets.v1.Secrets/WatchEnv >"$WORK/watch" 2>&1 &
WPID=$!
exec 3<"$WORK/watch"
SEEN=""
# One JSON object per message; the first carries the receipt at version 1.
while IFS= read -r line <&3; do
  SEEN="$SEEN$line
"
  case "$line" in *'"version": 1'*) break ;; esac
done
echo "$SEEN"
echo "$SEEN" | grep -q '"reference": "\$S:db"' || fail "no receipt: $SEEN"
echo "$SEEN" | grep -q 'canary-watch-value' && fail "a value was streamed"

echo "== rotation by another client"
printf 'canary-watch-value-2' | cli rotate db --from-stdin --deployment bw >/dev/null ||
  fail "rotate failed"
SEEN=""
while IFS= read -r line <&3; do
  SEEN="$SEEN$line
"
  case "$line" in *'CHANGE_KIND_ROTATE'*) break ;; esac
done
echo "$SEEN"
echo "$SEEN" | grep -q 'CHANGE_KIND_ROTATE' || fail "rotation not streamed: $SEEN"

echo "== zlayer-secret watch and consumers"
printf 'DB=$S:db\nMODE=plain\n' >"$WORK/app.env"
mkfifo "$WORK/cliwatch"
"$CLI" --socket "$SOCK" --deployment bw watch --env-file "$WORK/app.env" \
  --consumer cli/test/1 >"$WORK/cliwatch" 2>"$WORK/cliwatch.err" &
CPID=$!
exec 4<"$WORK/cliwatch"
SEEN=""
while IFS= read -r line <&4; do
  SEEN="$SEEN$line
"
  case "$line" in position*) break ;; esac
done
echo "$SEEN"
# The receipt line ends with the version's incarnation (hex; client/cli/commands.cc).
echo "$SEEN" | grep -qxE 'receipt DB bw/db 2( [0-9a-f]+)?' || fail "CLI watch receipt: $SEEN"
printf 'canary-watch-value-3' | cli rotate db --from-stdin --deployment bw >/dev/null ||
  fail "rotate failed"
SEEN=""
while IFS= read -r line <&4; do
  SEEN="$SEEN$line
"
  case "$line" in position*) break ;; esac
done
echo "$SEEN"
echo "$SEEN" | grep -qx 'change rotate bw/db 3 2' || fail "CLI watch change: $SEEN"
echo "$SEEN" | grep -q 'canary' && fail "the CLI printed a value"
# The buf curl stream above is still open; both consumers are watching.
OUT=$(cli --deployment bw consumers db) || fail "consumers failed: $OUT"
echo "$OUT"
echo "$OUT" | grep -q '^buf/test/1	1	no	yes' || fail "buf consumer missing: $OUT"
echo "$OUT" | grep -q '^cli/test/1	2	no	yes' || fail "cli consumer missing: $OUT"
kill "$CPID"
wait "$CPID" 2>/dev/null || true
exec 4<&-

echo "== SIGTERM ends the stream with OK"
kill -TERM "$DPID"
REST=$(cat <&3)
exec 3<&-
echo "$REST"
WATCH_RC=0
wait "$WPID" || WATCH_RC=$?
[ "$WATCH_RC" -eq 0 ] || fail "WatchEnv did not end cleanly (exit $WATCH_RC): $REST"
echo "$REST" | grep -q 'canary-watch-value' && fail "a value was streamed"
DAEMON_RC=0
wait "$DPID" || DAEMON_RC=$?
[ "$DAEMON_RC" -eq 0 ] || fail "daemon exited $DAEMON_RC after SIGTERM"
grep -q 'event=drained.*watch_streams=[1-9]' "$LOG" || fail "drain did not count the stream"
grep -q 'event=drain_deadline_reached' "$LOG" && fail "the drain ran into its deadline"
echo "PASS"
