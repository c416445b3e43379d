#!/usr/bin/env bash
# systemd-analyze security --offline=yes on the shipped units, with
# thresholds (exposure x10, as --threshold takes it):
#   zlayer-secretsd.service      (Unix only, socket-activated)  <= 0.5
#   zlayer-secretsd-tls.service  (Unix + TLS TCP)               <= 1.4
#   zlayer-secretsd-cluster.service (Unix + TCP to etcd only)    <= 1.4
# and a check that the threshold bites: the Unix unit without its network
# lockdown (PrivateNetwork=, IPAddressDeny=, AF_UNIX only, PrivateMounts=)
# scores worse and fails it.
set -euo pipefail

analyze=$(command -v systemd-analyze || true)
if [ -z "$analyze" ]; then
  echo "FAIL: systemd-analyze missing (./x setup installs Debian's systemd)" >&2
  exit 1
fi

unit_dir=$(mktemp -d /tmp/zs-units-XXXXXX)
trap 'rm -rf "$unit_dir"' EXIT
for f in zlayer-secretsd.service zlayer-secretsd-tls.service zlayer-secretsd.socket \
         zlayer-secretsd-cluster.service; do
  src=$(find -L . -path "*deploy/$f" -o -path "*deploy/cluster/$f" | head -n 1)
  [ -n "$src" ] || { echo "FAIL: deploy/$f not in runfiles" >&2; exit 1; }
  cp "$src" "$unit_dir/$f"
done

check() {  # unit threshold expected_rc
  local unit=$1 threshold=$2 want=$3 rc=0 out
  out=$("$analyze" security --offline=yes --threshold="$threshold" \
        "$unit_dir/$unit" 2>&1) || rc=$?
  echo "$out" | grep 'Overall exposure level' || true
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: $unit at threshold $threshold: exit $rc, want $want" >&2
    echo "$out" >&2
    exit 1
  fi
}

check zlayer-secretsd.service 5 0
check zlayer-secretsd-tls.service 14 0
check zlayer-secretsd-cluster.service 14 0

sed -e '/^PrivateNetwork=/d' -e '/^IPAddressDeny=/d' -e '/^PrivateMounts=/d' \
    -e 's/^RestrictAddressFamilies=.*/RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6/' \
    "$unit_dir/zlayer-secretsd.service" > "$unit_dir/loose.service"
check loose.service 5 1

# The units say Type=notify and the socket unit hands over a stream socket.
grep -q '^Type=notify$' "$unit_dir/zlayer-secretsd.service"
grep -q '^Type=notify$' "$unit_dir/zlayer-secretsd-tls.service"
grep -q '^ListenStream=/run/zlayer-secrets/zlayer-secretsd.sock$' \
  "$unit_dir/zlayer-secretsd.socket"
grep -q -- '--socket /run/zlayer-secrets/zlayer-secretsd.sock' \
  "$unit_dir/zlayer-secretsd.service"
# The cluster unit runs the etcd store with TLS to etcd, on every node.
for flag in '--store etcd' '--etcd-cacert ' '--etcd-cert ' '--etcd-key '; do
  grep -q -- "$flag" "$unit_dir/zlayer-secretsd-cluster.service"
done
echo "units_security_test: OK"
