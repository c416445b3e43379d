"""Who may depend on each core/ package.

Dependencies inside core/ point one way, down this list:

    ops -> audit -> identity -> resolve/env -> watch -> store/sqlite -> store
        -> format, crypto -> base

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
    "//core/env:__pkg__",
    "//core/identity:__pkg__",
    "//core/ops:__pkg__",
    "//core/store/sqlite:__pkg__",
] + _OUTSIDE

FORMAT_USERS = [
    "//core/audit:__pkg__",
    "//core/identity:__pkg__",
    "//core/ops:__pkg__",
    "//core/resolve:__pkg__",
] + _OUTSIDE

STORE_USERS = [
    "//core/audit:__pkg__",
    "//core/env:__pkg__",
    "//core/identity:__pkg__",
    "//core/ops:__pkg__",
    "//core/resolve:__pkg__",
    "//core/store/sqlite:__pkg__",
    "//core/watch:__pkg__",
] + _OUTSIDE

SQLITE_STORE_USERS = [
    "//core/env:__pkg__",
    "//core/ops:__pkg__",
] + _OUTSIDE

ENV_USERS = [
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
    "//core/audit:__pkg__",
    "//core/ops:__pkg__",
] + _OUTSIDE

AUDIT_USERS = ["//core/ops:__pkg__"] + _OUTSIDE

OPS_USERS = _OUTSIDE
