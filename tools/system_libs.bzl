"""Repository rules that wrap Debian's system libraries and code generators.

`system_library` runs `pkg-config --cflags --libs` for the given modules and
writes a `cc_library` named `lib` carrying the resulting defines and linkopts
(headers live in /usr/include, already on the toolchain's include path).
`protoc_tools` exposes the system `protoc` and `grpc_cpp_plugin`.
Nothing here downloads anything.
"""

def _pkg_config(rctx, args):
    result = rctx.execute(["pkg-config"] + args + rctx.attr.modules)
    if result.return_code != 0:
        fail("pkg-config %s %s failed (is the Debian -dev package installed? run ./x setup): %s" %
             (" ".join(args), " ".join(rctx.attr.modules), result.stderr))
    return result.stdout.strip().split(" ") if result.stdout.strip() else []

def _system_library_impl(rctx):
    defines = []
    copts = []
    for flag in _pkg_config(rctx, ["--cflags"]):
        if flag.startswith("-D"):
            defines.append(flag[2:])
        elif flag.startswith("-I"):
            # System include paths are already searched; anything else is kept.
            if not flag.startswith("-I/usr/include"):
                copts.append(flag)
        elif flag:
            copts.append(flag)
    linkopts = [f for f in _pkg_config(rctx, ["--libs"]) if f]
    linkopts = rctx.attr.extra_linkopts + linkopts
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)
    rctx.file("BUILD.bazel", """\
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "lib",
    defines = {defines},
    copts = {copts},
    linkopts = {linkopts},
)
""".format(defines = repr(defines), copts = repr(copts), linkopts = repr(linkopts)))

system_library = repository_rule(
    implementation = _system_library_impl,
    attrs = {
        "modules": attr.string_list(mandatory = True),
        "extra_linkopts": attr.string_list(default = []),
    },
    local = True,
)

def _protoc_tools_impl(rctx):
    for tool in ["protoc", "grpc_cpp_plugin"]:
        path = rctx.which(tool)
        if path == None:
            fail("%s not found on PATH (run ./x setup)" % tool)
        rctx.symlink(path, tool)
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)
    rctx.file("BUILD.bazel", """\
package(default_visibility = ["//visibility:public"])

exports_files(["protoc", "grpc_cpp_plugin"])
""")

protoc_tools = repository_rule(
    implementation = _protoc_tools_impl,
    local = True,
)
