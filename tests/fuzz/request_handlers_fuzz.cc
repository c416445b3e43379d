// Fuzzes the gRPC request handlers (SecretsService and AdminService) in
// process, without a network: no libprotobuf-mutator is available, so the
// input is decoded into requests here.
//
// Input: byte 0 selects one of the 22 RPCs; the rest is that request's
// protobuf wire format (ParseFromArray). When it does not parse, a
// structured fallback fills the request field by field through reflection
// from the same bytes (strings, which may be invalid UTF-8 or over the
// limits, numbers, enums, nested messages, maps and repeated fields), so
// every input reaches a handler.
//
// Each input runs against a fresh MemorySecretStore and environment
// registry, seeded through the handlers themselves with a few secrets (one
// holding JSON) and an environment, with an allow-all authorizer and a
// fixed admin identity. Violations abort (libFuzzer reports a crash; the
// corpus replay test fails):
//   * a status of UNKNOWN or INTERNAL (handlers map every error), or
//     DATA_LOSS (nothing is tampered with here);
//   * a successful SetSecret/RotateSecret whose value does not read back.
// ASan/UBSan (--config=fuzz) catch memory and undefined-behaviour errors.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/base/clock.h"
#include "core/env/memory_environment_registry.h"
#include "core/identity/access.h"
#include "core/store/memory_secret_store.h"
#include "daemon/rpc/admin_service.h"
#include "daemon/rpc/secrets_service.h"
#include "daemon/rpc/service_context.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/server_context.h"
#include "proto/secrets.pb.h"
#include "spdlog/spdlog.h"

namespace zlayer::secrets {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

void Fail(const std::string& what) {
  std::fprintf(stderr, "request_handlers_fuzz: %s\n", what.c_str());
  std::abort();
}

class AdminIdentifier final : public CallerIdentifier {
 public:
  absl::StatusOr<Principal> Identify(
      const grpc::ServerContextBase&) const override {
    Principal p;
    p.transport = Transport::kUnix;
    p.uid = 0;
    p.gid = 0;
    p.pid = 1;
    p.roles = {"admin"};
    return p;
  }
};

class AllowAll final : public Authorizer {
 public:
  absl::Status Check(const Principal&, const Resource&,
                     AccessLevel) const override {
    return absl::OkStatus();
  }
  absl::Status CheckAdmin(const Principal&) const override {
    return absl::OkStatus();
  }
};

// Reads the fuzzer's bytes for the structured fallback; returns zeros and
// empty strings once they run out.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = v << 8 | Byte();
    return v;
  }
  std::string Chunk() {
    uint8_t len = Byte();
    if (len == 0xff) {
      // Now and then something large: over the value or name limits.
      uint8_t c = Byte();
      return std::string((size_t{1} << 20) + (c % 3), static_cast<char>(c));
    }
    size_t n = std::min<size_t>(len, size_ - std::min(pos_, size_));
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

void Fill(Reader* r, Message* m, int depth);

void FillOne(Reader* r, Message* m, const FieldDescriptor* f, int depth) {
  const Reflection* refl = m->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      rep ? refl->AddString(m, f, r->Chunk())
          : refl->SetString(m, f, r->Chunk());
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      rep ? refl->AddUInt32(m, f, r->U32()) : refl->SetUInt32(m, f, r->U32());
      break;
    case FieldDescriptor::CPPTYPE_INT32:
      refl->SetInt32(m, f, static_cast<int32_t>(r->U32()));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      refl->SetUInt64(m, f, r->U32());
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      refl->SetInt64(m, f, static_cast<int32_t>(r->U32()));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      refl->SetBool(m, f, r->Byte() & 1);
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      // Open enums: unknown numbers are legal on the wire.
      refl->SetEnumValue(m, f, r->Byte() % 5);
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (depth < 4) {
        Fill(r, rep ? refl->AddMessage(m, f) : refl->MutableMessage(m, f),
             depth + 1);
      }
      break;
    default:
      break;
  }
}

void Fill(Reader* r, Message* m, int depth) {
  const google::protobuf::Descriptor* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count() && !r->empty(); ++i) {
    const FieldDescriptor* f = d->field(i);
    uint8_t control = r->Byte();
    if (control % 4 == 0) continue;  // leave unset
    if (f->is_repeated()) {
      // Mostly a few entries; sometimes past the batch limits (1000).
      int n = control >= 0xf0 ? 1001 : control % 6;
      for (int k = 0; k < n && !r->empty(); ++k) FillOne(r, m, f, depth);
    } else {
      FillOne(r, m, f, depth);
    }
  }
}

struct Env {
  FakeClock clock;
  MemorySecretStore store{&clock};
  MemoryEnvironmentRegistry environments{&clock};
  AllowAll authorizer;
  AdminIdentifier identifier;
  ServiceContext context;
  std::unique_ptr<SecretsService> secrets;
  std::unique_ptr<AdminService> admin;

  Env() {
    context.store = &store;
    context.environments = &environments;
    context.authorizer = &authorizer;
    context.identifier = &identifier;
    context.clock = &clock;
    secrets = std::make_unique<SecretsService>(&context);
    admin = std::make_unique<AdminService>(&context);
    Seed("prod", "db", "{\"user\":\"app\",\"password\":\"pw\",\"port\":5432}");
    Seed("prod", "api_key", "k-123");
    Seed("prod/web", "token", "t-456");
    v1::CreateEnvironmentRequest env;
    env.set_name("staging");
    v1::Environment created;
    grpc::ServerContext ctx;
    if (!admin->CreateEnvironment(&ctx, &env, &created).ok()) {
      Fail("seeding the environment failed");
    }
    Seed(created.scope(), "db_url", "postgres://staging");
  }

  void Seed(const std::string& scope, const std::string& name,
            const std::string& value) {
    v1::SetSecretRequest req;
    req.mutable_target()->set_scope(scope);
    req.set_name(name);
    req.set_value(value);
    v1::SetSecretResponse resp;
    grpc::ServerContext ctx;
    if (!secrets->SetSecret(&ctx, &req, &resp).ok()) Fail("seeding failed");
  }
};

void CheckStatus(const grpc::Status& status, const char* rpc) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::DATA_LOSS:
      Fail(std::string(rpc) + " returned code " +
           std::to_string(status.error_code()) + ": " + status.error_message());
    default:
      break;
  }
}

// A successful write reads back (same target, name, version).
void CheckReadBack(Env* env, const v1::Target& target, const std::string& name,
                   uint32_t version, const std::string& value) {
  v1::GetSecretRequest get;
  *get.mutable_target() = target;
  get.set_name(name);
  get.set_version(version);
  v1::GetSecretResponse got;
  grpc::ServerContext ctx;
  grpc::Status s = env->secrets->GetSecret(&ctx, &get, &got);
  if (!s.ok())
    Fail("a successful write does not read back: " + s.error_message());
  if (got.value() != value) Fail("a successful write reads back differently");
}

template <typename Service, typename Req, typename Resp>
using Handler = grpc::Status (Service::*)(grpc::ServerContextBase*, const Req*,
                                          Resp*);

// Decodes `req` from the bytes: the wire format, else the structured
// fallback.
template <typename Req>
void Decode(const uint8_t* data, size_t size, Req* req) {
  if (!req->ParseFromArray(data, static_cast<int>(size))) {
    req->Clear();
    Reader reader(data, size);
    Fill(&reader, req, 0);
  }
}

// Calls the handler and checks its status.
template <typename Service, typename Req, typename Resp>
grpc::Status Call(Service* service, Handler<Service, Req, Resp> handler,
                  const char* rpc, Req* req, Resp* resp) {
  grpc::ServerContext ctx;
  grpc::Status status = (service->*handler)(&ctx, req, resp);
  CheckStatus(status, rpc);
  return status;
}

template <typename Service, typename Req, typename Resp>
grpc::Status Run(Service* service, Handler<Service, Req, Resp> handler,
                 const uint8_t* data, size_t size, const char* rpc, Req* req,
                 Resp* resp) {
  Decode(data, size, req);
  return Call(service, handler, rpc, req, resp);
}

#define ZS_RPC(service, Name, Req, Resp)                                     \
  {                                                                          \
    v1::Req req;                                                             \
    v1::Resp resp;                                                           \
    Run(env.service.get(), &decltype(env.service)::element_type::Name, data, \
        size, #Name, &req, &resp);                                           \
    break;                                                                   \
  }

int OneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0] % 22;
  ++data;
  --size;
  Env env;
  switch (selector) {
    case 0:
      ZS_RPC(secrets, GetSecret, GetSecretRequest, GetSecretResponse)
    case 1:
      ZS_RPC(secrets, GetSecrets, GetSecretsRequest, GetSecretsResponse)
    case 2:
      ZS_RPC(secrets, ListSecrets, ListSecretsRequest, ListSecretsResponse)
    case 3:
      ZS_RPC(secrets, SecretExists, SecretExistsRequest, SecretExistsResponse)
    case 4: {
      v1::SetSecretRequest req;
      v1::SetSecretResponse resp;
      Decode(data, size, &req);
      // The handler wipes the request's value once it has taken it.
      const std::string value = req.value();
      grpc::Status s = Call(env.secrets.get(), &SecretsService::SetSecret,
                            "SetSecret", &req, &resp);
      if (s.ok()) {
        CheckReadBack(&env, req.target(), req.name(), resp.metadata().version(),
                      value);
      }
      break;
    }
    case 5:
      ZS_RPC(secrets, DeleteSecret, DeleteSecretRequest, DeleteSecretResponse)
    case 6:
      ZS_RPC(secrets, UndeleteSecret, UndeleteSecretRequest,
             UndeleteSecretResponse)
    case 7:
      ZS_RPC(secrets, DestroySecret, DestroySecretRequest,
             DestroySecretResponse)
    case 8: {
      v1::RotateSecretRequest req;
      v1::RotateSecretResponse resp;
      Decode(data, size, &req);
      const std::string value = req.value();
      grpc::Status s = Call(env.secrets.get(), &SecretsService::RotateSecret,
                            "RotateSecret", &req, &resp);
      if (s.ok()) {
        CheckReadBack(&env, req.target(), req.name(), resp.new_version(),
                      value);
      }
      break;
    }
    case 9:
      ZS_RPC(secrets, ListVersions, ListVersionsRequest, ListVersionsResponse)
    case 10:
      ZS_RPC(secrets, RollbackSecret, RollbackSecretRequest,
             RollbackSecretResponse)
    case 11:
      ZS_RPC(secrets, ResolveEnv, ResolveEnvRequest, ResolveEnvResponse)
    case 12:
      ZS_RPC(secrets, CheckEnv, CheckEnvRequest, CheckEnvResponse)
    case 13:
      ZS_RPC(secrets, ImportSecrets, ImportSecretsRequest,
             ImportSecretsResponse)
    case 14:
      ZS_RPC(secrets, ExportSecrets, ExportSecretsRequest,
             ExportSecretsResponse)
    case 15:
      ZS_RPC(admin, CreateEnvironment, CreateEnvironmentRequest, Environment)
    case 16:
      ZS_RPC(admin, GetEnvironment, GetEnvironmentRequest, Environment)
    case 17:
      ZS_RPC(admin, ListEnvironments, ListEnvironmentsRequest,
             ListEnvironmentsResponse)
    case 18:
      ZS_RPC(admin, UpdateEnvironment, UpdateEnvironmentRequest, Environment)
    case 19:
      ZS_RPC(admin, DeleteEnvironment, DeleteEnvironmentRequest,
             DeleteEnvironmentResponse)
    case 20:
      ZS_RPC(admin, RotateMasterKey, RotateMasterKeyRequest,
             RotateMasterKeyResponse)
    case 21:
      ZS_RPC(admin, WhoAmI, WhoAmIRequest, WhoAmIResponse)
  }
  return 0;
}

}  // namespace
}  // namespace zlayer::secrets

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Handlers log at debug level; keep the fuzzer's output readable.
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)quiet;
  return zlayer::secrets::OneInput(data, size);
}
