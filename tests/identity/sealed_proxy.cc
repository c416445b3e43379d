// A stand-in for the API server in the sealed-reveal e2e test
// (sealed_reveal_e2e_test.cc): authenticates over TLS with its own API key,
// forwards one GetSecret for an end user (x-zlayer-act-as-user) with that
// user's seal_to client key id, and hands the answer on as raw serialized
// bytes (to OUT_FILE), never opening it: it has no client secret key.
//
// It deliberately logs everything it holds to stdout (the response in
// protobuf text form and its raw bytes in hex), as a careless proxy might,
// so the test can show that a sealed answer leaks no value even then.
//
//   sealed_proxy ADDRESS CA_FILE API_KEY_FILE USER SEAL_TO SCOPE NAME OUT_FILE
//
// Exit: 0 forwarded; 2 usage; 3 + the gRPC code when the daemon refused.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/strip.h"
#include "client/secrets_client.h"

int main(int argc, char** argv) {
  using namespace zlayer::secrets;  // NOLINT: a tiny test program
  if (argc != 9) {
    std::cerr << "usage: sealed_proxy ADDRESS CA_FILE API_KEY_FILE USER "
                 "SEAL_TO SCOPE NAME OUT_FILE\n";
    return 2;
  }
  std::ifstream key_in(argv[3]);
  std::stringstream key_text;
  key_text << key_in.rdbuf();
  ClientOptions options;
  options.address = argv[1];
  options.tls_ca_file = argv[2];
  options.tls_server_name = "localhost";
  options.api_key = SecretBytes::FromString(
      absl::StripTrailingAsciiWhitespace(key_text.str()));
  options.act_as_user = argv[4];
  options.retry.max_attempts = 1;
  absl::StatusOr<std::unique_ptr<SecretsClient>> client =
      SecretsClient::Connect(std::move(options));
  if (!client.ok()) {
    std::cout << "proxy: connect failed: " << client.status() << "\n";
    return 3;
  }
  v1::GetSecretRequest get;
  get.mutable_target()->set_scope(argv[6]);
  get.set_name(argv[7]);
  CallOptions call;
  call.seal_to = argv[5];
  std::cout << "proxy: forwarding GetSecret " << argv[6] << "/" << argv[7]
            << " for user:" << argv[4] << " seal_to=" << argv[5] << "\n";
  absl::StatusOr<v1::GetSecretResponse> got = (*client)->GetSecret(get, call);
  if (!got.ok()) {
    std::cout << "proxy: refused: " << got.status() << "\n";
    return 3 + static_cast<int>(got.status().code());
  }
  const std::string bytes = got->SerializeAsString();
  // Everything the proxy holds, logged on purpose (see the header).
  std::cout << "proxy: response " << got->ShortDebugString() << "\n";
  std::cout << "proxy: response bytes " << absl::BytesToHexString(bytes)
            << "\n";
  std::ofstream out(argv[8], std::ios::binary);
  out << bytes;
  out.close();
  if (!out) {
    std::cout << "proxy: cannot write " << argv[8] << "\n";
    return 3;
  }
  std::cout << "proxy: forwarded " << bytes.size() << " bytes\n";
  return 0;
}
