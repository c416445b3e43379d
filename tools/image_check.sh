#!/usr/bin/env bash
# Builds deploy/Containerfile with podman and checks the image for real:
# the daemon starts on a read-only root filesystem with its master key from
# a podman secret, HEALTHCHECK passes, the CLI inside the image stores and
# reads a secret, the key never reaches the logs, and the build context kept
# .data/ (the dev master key, admin.key, database) out of every layer.
#
#   ./x image-check        (as root; installs podman, runc, mmdebstrap)
#
# Offline base images: when docker.io is out of reach (as on the project's
# build machines, which reach Debian's archive only), the Debian 12 base is
# made from deb.debian.org with mmdebstrap and tagged as the
# docker.io/library/debian:12 and :12-slim the Containerfile names (minbase,
# so close to, but not byte-identical with, Docker's slim image).
# Not part of ./x test: the build stage compiles everything (~15-30 min on
# 2 cores). Prints "image check: ok" and exits 0 only when all checks pass.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=localhost/zlayer-secretsd:check
# Debian's podman under a hybrid cgroup hierarchy: crun refuses it, runc
# works; podman's default rlimits exceed what this host lets a root process
# raise (even RLIMIT_NPROC at the hard limit is refused), so set them lower.
NOFILE=$(ulimit -Hn); NPROC=8192
[ "$NOFILE" = unlimited ] && NOFILE=65536
PODMAN=(podman --runtime runc)
LIMITS=(--ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=$NPROC:$NPROC")

need=()
for p in podman runc mmdebstrap; do command -v "$p" >/dev/null || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! "${PODMAN[@]}" image exists docker.io/library/debian:12; then
  if ! "${PODMAN[@]}" pull -q docker.io/library/debian:12 2>/dev/null ||
     ! "${PODMAN[@]}" pull -q docker.io/library/debian:12-slim 2>/dev/null; then
    echo "image check: docker.io unreachable; making debian:12 with mmdebstrap" >&2
    tmp=$(mktemp -d)
    mmdebstrap --variant=minbase --include=ca-certificates bookworm \
      "$tmp/bookworm.tar" http://deb.debian.org/debian >/dev/null 2>&1
    "${PODMAN[@]}" import -q "$tmp/bookworm.tar" docker.io/library/debian:12 >/dev/null
    "${PODMAN[@]}" tag docker.io/library/debian:12 docker.io/library/debian:12-slim
    rm -rf "$tmp"
  fi
fi

# A planted dev key in .data/ must not reach the build context.
mkdir -p .data
planted=.data/image-check-planted.key
printf 'PLANTED-%s' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" > "$planted"
canary=$(cat "$planted")
trap 'rm -f "$planted"' EXIT

# --format docker: the OCI image format has no HEALTHCHECK; podman drops it.
"${PODMAN[@]}" build --format docker --pull=never --network host "${LIMITS[@]}" \
  -f deploy/Containerfile -t "$IMAGE" .

fail() { echo "image check: FAILED: $*" >&2; exit 1; }

# 1. No layer holds .data/ or the planted key.
"${PODMAN[@]}" save -q "$IMAGE" -o /tmp/zs-image.tar
if tar -xOf /tmp/zs-image.tar 2>/dev/null | grep -aq "$canary"; then
  fail ".data/ reached an image layer"
fi
rm -f /tmp/zs-image.tar

# 2. Runs read-only, as its own user, key from a secret; health passes.
name=zs-image-check
"${PODMAN[@]}" rm -f -i "$name" >/dev/null
# New named volumes take the image's directories (owner 10001, modes).
"${PODMAN[@]}" volume rm -f zs-check-data zs-check-run >/dev/null 2>&1 || true
"${PODMAN[@]}" secret rm zs-check-key >/dev/null 2>&1 || true
key=$(openssl rand -hex 32)
printf '%s' "$key" | "${PODMAN[@]}" secret create zs-check-key - >/dev/null
# (--tmpfs /run/secrets: runc cannot create the secret's mount point on a
# read-only root filesystem; crun can, and needs no such line.)
"${PODMAN[@]}" run -d --name "$name" --read-only --network none "${LIMITS[@]}" \
  --stop-timeout 30 --tmpfs /run/secrets:rw,mode=0755,size=64k \
  --secret zs-check-key,target=/run/secrets/master-key,uid=10001,mode=0400 \
  -v zs-check-data:/var/lib/zlayer/secrets -v zs-check-run:/run/zlayer-secrets \
  "$IMAGE" --key-file /run/secrets/master-key >/dev/null
trap 'rm -f "$planted"; "${PODMAN[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true' EXIT
ok=0
for _ in $(seq 1 60); do
  if "${PODMAN[@]}" exec "$name" zlayer-secret --timeout 3s health >/dev/null 2>&1; then
    ok=1; break
  fi
  sleep 0.5
done
[ $ok = 1 ] || { "${PODMAN[@]}" logs "$name" >&2; fail "health never passed"; }
[ "$("${PODMAN[@]}" exec "$name" id -u)" = 10001 ] || fail "not running as uid 10001"
"${PODMAN[@]}" healthcheck run "$name" >/dev/null || fail "HEALTHCHECK failed"

# 3. The CLI in the image stores and reads a secret.
value="image-check-value-$RANDOM"
"${PODMAN[@]}" exec "$name" zlayer-secret set db-password --value "$value" --deployment check >/dev/null
got=$("${PODMAN[@]}" exec "$name" zlayer-secret get db-password --deployment check --reveal)
[ "$got" = "$value" ] || fail "read back '$got'"

# 4. Neither the key nor the value is in the logs; the stop drains cleanly.
logs=$("${PODMAN[@]}" logs "$name" 2>&1)
case "$logs" in *"$key"*|*"$value"*) fail "key or value in the logs" ;; esac
"${PODMAN[@]}" stop -t 30 "$name" >/dev/null
code=$("${PODMAN[@]}" inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
"${PODMAN[@]}" logs "$name" 2>&1 | grep -q "event=drained" || fail "no drain logged"
"${PODMAN[@]}" secret rm zs-check-key >/dev/null
"${PODMAN[@]}" rm "$name" >/dev/null
"${PODMAN[@]}" volume rm zs-check-data zs-check-run >/dev/null
size=$("${PODMAN[@]}" image inspect -f '{{.Size}}' "$IMAGE")
echo "image check: ok (image $((size / 1000000)) MB)"
