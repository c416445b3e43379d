// A minimal client for the audit/grant attack tests, run as a second local
// user (setpriv): one RPC per invocation, printing "<code>\t<message>" and
// then, for successes, what matters to the test (never a value).
//
//   audit_peer SOCKET resolve [--project P] KEY=REF...
//   audit_peer SOCKET check KEY=REF...
//   audit_peer SOCKET get-secrets SCOPE NAME...
//   audit_peer SOCKET get SCOPE NAME
//   audit_peer SOCKET registry-by-id ID | registry-by-host HOST
//   audit_peer SOCKET git-by-id ID | git-by-host HOST
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "proto/secrets.grpc.pb.h"

namespace {

namespace v1 = ::zlayer::secrets::v1;

// `extra` is built after the call returned (callers evaluate it then).
int Print(const grpc::Status& status, const std::string& extra = "") {
  std::cout << static_cast<int>(status.error_code()) << "\t"
            << status.error_message() << "\n";
  if (status.ok() && !extra.empty()) std::cout << extra << "\n";
  return 0;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(20));
  return context;
}

void FillEnv(const std::vector<std::string>& pairs,
             google::protobuf::Map<std::string, std::string>* env) {
  for (const std::string& pair : pairs) {
    const size_t eq = pair.find('=');
    (*env)[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: audit_peer SOCKET COMMAND ARGS...\n";
    return 2;
  }
  auto channel = grpc::CreateChannel(std::string("unix:") + argv[1],
                                     grpc::InsecureChannelCredentials());
  auto secrets = v1::Secrets::NewStub(channel);
  auto admin = v1::Admin::NewStub(channel);
  const std::string command = argv[2];
  std::vector<std::string> args(argv + 3, argv + argc);

  if (command == "resolve") {
    v1::ResolveEnvRequest request;
    if (args.size() >= 2 && args[0] == "--project") {
      request.mutable_context()->set_project(args[1]);
      args.erase(args.begin(), args.begin() + 2);
    }
    FillEnv(args, request.mutable_env());
    v1::ResolveEnvResponse response;
    const grpc::Status status =
        secrets->ResolveEnv(Context().get(), request, &response);
    return Print(status, "keys=" + std::to_string(response.env_size()));
  }
  if (command == "check") {
    v1::CheckEnvRequest request;
    FillEnv(args, request.mutable_env());
    v1::CheckEnvResponse response;
    const grpc::Status status =
        secrets->CheckEnv(Context().get(), request, &response);
    return Print(status, std::string("ok=") + (response.ok() ? "1" : "0"));
  }
  if (command == "get-secrets" && !args.empty()) {
    v1::GetSecretsRequest request;
    request.mutable_target()->set_scope(args[0]);
    for (size_t i = 1; i < args.size(); ++i) request.add_names(args[i]);
    v1::GetSecretsResponse response;
    const grpc::Status status =
        secrets->GetSecrets(Context().get(), request, &response);
    return Print(status, "values=" + std::to_string(response.values_size()));
  }
  if (command == "get" && args.size() == 2) {
    v1::GetSecretRequest request;
    request.mutable_target()->set_scope(args[0]);
    request.set_name(args[1]);
    v1::GetSecretResponse response;
    const grpc::Status status =
        secrets->GetSecret(Context().get(), request, &response);
    return Print(status, "version=" + std::to_string(response.version()));
  }
  if ((command == "registry-by-id" || command == "registry-by-host") &&
      args.size() == 1) {
    v1::GetRegistryCredentialRequest request;
    if (command == "registry-by-id") {
      request.set_id(args[0]);
    } else {
      request.set_registry(args[0]);
    }
    v1::GetRegistryCredentialResponse response;
    const grpc::Status status =
        admin->GetRegistryCredential(Context().get(), request, &response);
    return Print(status, "id=" + response.credential().id());
  }
  if ((command == "git-by-id" || command == "git-by-host") &&
      args.size() == 1) {
    v1::GetGitCredentialRequest request;
    if (command == "git-by-id") {
      request.set_id(args[0]);
    } else {
      request.mutable_url()->set_protocol("https");
      request.mutable_url()->set_host(args[0]);
    }
    v1::GetGitCredentialResponse response;
    const grpc::Status status =
        admin->GetGitCredential(Context().get(), request, &response);
    return Print(status, "id=" + response.credential().id());
  }
  std::cerr << "unknown command " << command << "\n";
  return 2;
}
