"""Who may depend on each core/ package.

Dependencies inside core/ point one way, down this list:

    ops, migrate, backup -> audit -> identity -> resolve/env -> watch
        -> store/sqlite, store/etcd, store/vault -> store -> format, crypto -> base

Only the etcd backend links gRPC (etcd's API is gRPC, through
//third_party/etcd_proto): core/store/etcd, core/env:etcd_environment_registry
and core/backup:cluster_backup.
Nothing else in core/ may. Only core/store/vault links libcurl (Vault's HTTP
API); nothing in core/ depends on it (the daemon wires it in).

Each package's default_visibility names the packages above it, so a target
that reaches up (store depending on identity, say) fails to build. Outside
core/, the daemon, the client, tests, benchmarks and tools may use any of them.
"""

_OUTSIDE = [
    "//bench:__subpackages__",
    "//client:__subpackages__",
    "//daemon:__subpackages__",
    "//tests:__subpackages__",
    "//tools:__subpackages__",
]

BASE_USERS = ["//core:__subpackages__"] + _OUTSIDE

CRYPTO_USERS = [
    "//core/backup:__pkg__",
    "//core/migrate:__pkg__",
    "//core/env:__pkg__",
    "//core/identity:__pkg__",
    "//core/ops:__pkg__",
    "//core/store/etcd:__pkg__",
    "//core/store/sqlite:__pkg__",
] + _OUTSIDE

FORMAT_USERS = [
    "//core/migrate:__pkg__",
    "//core/audit:__pkg__",
    "//core/identity:__pkg__",
    "//core/ops:__pkg__",
    "//core/resolve:__pkg__",
    "//core/store/vault:__pkg__",
] + _OUTSIDE

STORE_USERS = [
    "//core/backup:__pkg__",
    "//core/migrate:__pkg__",
    "//core/audit:__pkg__",
    "//core/env:__pkg__",
    "//core/identity:__pkg__",
    "//core/ops:__pkg__",
    "//core/resolve:__pkg__",
    "//core/store/etcd:__pkg__",
    "//core/store/sqlite:__pkg__",
    "//core/store/vault:__pkg__",
    "//core/watch:__pkg__",
] + _OUTSIDE

SQLITE_STORE_USERS = [
    "//core/backup:__pkg__",
    "//core/backup:__pkg__",
    "//core/migrate:__pkg__",
    "//core/env:__pkg__",
    "//core/ops:__pkg__",
] + _OUTSIDE

ETCD_STORE_USERS = [
    "//core/backup:__pkg__",
    "//core/env:__pkg__",
    "//core/ops:__pkg__",
] + _OUTSIDE

# HashiCorp Vault KV v2 (a resolver source the daemon maps scopes to).
VAULT_STORE_USERS = _OUTSIDE

ENV_USERS = [
    "//core/migrate:__pkg__",
    "//core/identity:__pkg__",
    "//core/ops:__pkg__",
    "//core/resolve:__pkg__",
] + _OUTSIDE

# The change feed and the consumer graph (store changes, never values).
WATCH_USERS = [
    "//core/audit:__pkg__",
    "//core/env:__pkg__",
    "//core/identity:__pkg__",
    "//core/ops:__pkg__",
    "//core/resolve:__pkg__",
] + _OUTSIDE

RESOLVE_USERS = ["//core/ops:__pkg__"] + _OUTSIDE

IDENTITY_USERS = [
    "//core/migrate:__pkg__",
    "//core/audit:__pkg__",
    "//core/ops:__pkg__",
] + _OUTSIDE

AUDIT_USERS = ["//core/ops:__pkg__"] + _OUTSIDE

OPS_USERS = _OUTSIDE

MIGRATE_USERS = _OUTSIDE

BACKUP_USERS = _OUTSIDE
