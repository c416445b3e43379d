#!/usr/bin/env bash
# Runs the benchmarks (bench/) from the -c opt build; `./x bench` builds them
# first (bazel build -c opt //bench/..., which also builds the daemon).
#
#   tools/run_bench.sh [--quick] [--scale] [--cluster] [--runs N] [--seconds S]
#
#   --quick    one run of 0.3 s per figure (iterating; noisy), and with
#              --scale one run of the scale figures.
#   (default)  floors (echo RPC, raw SQLite FULL insert, raw AEAD) and the
#              daemon side by side: GetSecret, GetSecrets(20), ResolveEnv(20),
#              SetSecret at 1/4(/8) clients; ratios; daemon memory; targets.
#   --scale    also the 1,000,000-secret store (generated once into
#              /tmp/zs-scale, a few minutes; reused while it matches).
#   --cluster  also cluster mode at the daemon level (bench/cluster_bench.cc:
#              --store etcd on 1 and 3 local etcd members vs the raw etcd
#              floor and the SQLite daemon; issue 17's targets; needs
#              /usr/bin/etcd, ~2 minutes).
# Output: a table per section, then one `BENCH key=value ...` line per figure.
set -euo pipefail
cd "$(dirname "$0")/.."

scale=0
cluster=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale=1 ;;
    --cluster) cluster=1 ;;
    --quick) args+=("$1") ;;
    --runs|--seconds) args+=("$1" "$2"); shift ;;
    *) echo "usage: tools/run_bench.sh [--quick] [--scale] [--cluster] [--runs N] [--seconds S]" >&2; exit 2 ;;
  esac
  shift
done

# The -c opt outputs (bazel-bin follows the last build's configuration).
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
if [ ! -x "$bin/daemon/zlayer-secretsd" ] || [ ! -x "$bin/bench/zs_bench" ]; then
  bazel build -c opt //bench/...
fi

echo "host: $(nproc) cores, $(uname -r); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/bench/zs_bench" --daemon "$bin/daemon/zlayer-secretsd" "${args[@]}"
if [ "$scale" = 1 ]; then
  "$bin/bench/scale_bench" --daemon "$bin/daemon/zlayer-secretsd" "${args[@]}"
fi
if [ "$cluster" = 1 ]; then
  "$bin/bench/cluster_bench" --daemon "$bin/daemon/zlayer-secretsd" "${args[@]}"
fi
