"""Project macros: common C++ options and protobuf/gRPC code generation."""

# Warnings are errors everywhere in the project's own code.
ZS_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
]

def zs_cc_library(name, copts = [], **kwargs):
    native.cc_library(name = name, copts = ZS_COPTS + copts, **kwargs)

def zs_cc_binary(name, copts = [], **kwargs):
    native.cc_binary(name = name, copts = ZS_COPTS + copts, **kwargs)

def zs_cc_test(name, copts = [], deps = [], **kwargs):
    native.cc_test(
        name = name,
        copts = ZS_COPTS + copts,
        deps = deps + ["@system_gtest//:lib"],
        **kwargs
    )

def zs_proto_library(name, srcs, deps = [], grpc = True, visibility = None):
    """Generates C++ (and gRPC) code for `srcs` with the system protoc.

    Creates `name` (a cc_library with the generated code). `deps` are other
    zs_proto_library targets whose .proto files are imported.
    """
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    pkg = native.package_name()
    gen_srcs = ["%s/%s" % (pkg, s) if pkg else s for s in srcs]
    cmd = ("$(location @protoc_tools//:protoc) --proto_path=. --proto_path=/usr/include " +
           "--cpp_out=$(GENDIR) ")
    tools = ["@protoc_tools//:protoc"]
    if grpc:
        cmd += ("--grpc_out=$(GENDIR) " +
                "--plugin=protoc-gen-grpc=$(location @protoc_tools//:grpc_cpp_plugin) ")
        tools.append("@protoc_tools//:grpc_cpp_plugin")
    cmd += " ".join(gen_srcs)
    native.genrule(
        name = name + "_codegen",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = cmd,
        tools = tools,
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = srcs + [d + "_srcs" for d in deps],
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["@system_grpc//:lib"],
        visibility = visibility,
    )

def zs_fuzz_test(name, srcs, deps = [], corpus = None, **kwargs):
    """A libFuzzer target that is also an ordinary regression test.

    `name` is a cc_test that replays every file of the corpus directory
    (`corpus`, default "corpus/<name>") through LLVMFuzzerTestOneInput with a
    small driver, so gcc builds check the corpus on every `bazel test`.
    `name + "_fuzzer"` is the real libFuzzer binary; it needs clang and
    `--config=fuzz` (see tools/fuzz.sh) and is tagged manual.
    """
    corpus = corpus or ("corpus/" + name)
    native.cc_test(
        name = name,
        srcs = srcs,
        copts = ZS_COPTS,
        deps = deps + ["//tools:fuzz_replay_main"],
        data = native.glob([corpus + "/**"]),
        args = [native.package_name() + "/" + corpus],
        **kwargs
    )
    native.cc_binary(
        name = name + "_fuzzer",
        srcs = srcs,
        copts = ZS_COPTS,
        deps = deps,
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
    )
