"""Who may depend on each core/ package.

Dependencies inside core/ point one way, down this list:

    ops, migrate, backup -> audit -> identity -> resolve/env -> store/sqlite -> store -> format, crypto -> base

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
    "//core/store/sqlite:__pkg__",
] + _OUTSIDE

FORMAT_USERS = [
    "//core/migrate:__pkg__",
    "//core/audit:__pkg__",
    "//core/identity:__pkg__",
    "//core/ops:__pkg__",
    "//core/resolve:__pkg__",
] + _OUTSIDE

STORE_USERS = [
    "//core/backup:__pkg__",
    "//core/migrate:__pkg__",
    "//core/audit:__pkg__",
    "//core/env:__pkg__",
    "//core/identity:__pkg__",
    "//core/ops:__pkg__",
    "//core/resolve:__pkg__",
    "//core/store/sqlite:__pkg__",
] + _OUTSIDE

SQLITE_STORE_USERS = [
    "//core/backup:__pkg__",
    "//core/backup:__pkg__",
    "//core/migrate:__pkg__",
    "//core/env:__pkg__",
    "//core/ops:__pkg__",
] + _OUTSIDE

ENV_USERS = [
    "//core/migrate:__pkg__",
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
