#!/bin/bash
# Peak RSS of a daemon and the CLI during one `zlayer-secret backup` (issue 14;
# docs/operations.md, "Backup and restore"). The key file is /tmp/zs-rss/k.key.
# Usage: measure.sh BIN_DIR DATA_DIR LABEL [daemon args...]
set -u
mkdir -p /tmp/zs-rss
BIN=$1; D=$2; L=$3; shift 3
S=/tmp/zs-rss/$L.sock; rm -f $S /tmp/zs-rss/$L.zsb
$BIN/zlayer-secretsd --data-dir $D --key-file /tmp/zs-rss/k.key --socket $S "$@" 2>/tmp/zs-rss/$L.log &
P=$!
for i in $(seq 1 600); do [ -S $S ] && break; sleep 0.1; done
sleep 1
echo "$L before: $(grep -E 'VmRSS|VmHWM' /proc/$P/status | tr -s ' \n' ' ')"
peak=0
( while kill -0 $P 2>/dev/null; do r=$(awk '/VmRSS/{print $2}' /proc/$P/status); echo $r; sleep 0.05; done ) > /tmp/zs-rss/$L.samples &
SP=$!
/usr/bin/time -f "$L cli: %e s, cli maxrss %M KB" $BIN/zlayer-secret --socket $S --timeout 600s backup /tmp/zs-rss/$L.zsb | grep -E "written|file_bytes|revision"
echo "$L after: $(grep -E 'VmRSS|VmHWM' /proc/$P/status | tr -s ' \n' ' ')"
kill $P; wait $P 2>/dev/null; kill $SP 2>/dev/null
echo "$L sampled peak VmRSS: $(sort -n /tmp/zs-rss/$L.samples | tail -1) KB"
ls -la /tmp/zs-rss/$L.zsb
