#include "client/helper_common.h"

#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/secret_bytes.h"

namespace zlayer::secrets {
namespace {

absl::StatusOr<SecretBytes> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  SecretBytes key = SecretBytes::FromString(absl::StripAsciiWhitespace(text));
  WipeString(&text);
  if (key.empty()) return absl::InvalidArgumentError(path + " is empty");
  return key;
}

}  // namespace

absl::StatusOr<HelperArgs> ParseHelperArgs(int argc, char** argv) {
  HelperArgs out;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::StartsWith(arg, "--")) {
      if (!out.operation.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument '", arg, "'"));
      }
      out.operation = std::string(arg);
      continue;
    }
    std::string name(arg.substr(2));
    std::string value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("option '--", name, "' needs a value"));
    }
    if (name == "socket") {
      out.client.address = absl::StartsWith(value, "unix:")
                               ? value
                               : absl::StrCat("unix:", value);
    } else if (name == "address") {
      out.client.address = value;
    } else if (name == "tls-ca") {
      out.client.tls_ca_file = value;
    } else if (name == "tls-server-name") {
      out.client.tls_server_name = value;
    } else if (name == "api-key-file") {
      absl::StatusOr<SecretBytes> key = ReadKeyFile(value);
      if (!key.ok()) return key.status();
      out.client.api_key = *std::move(key);
    } else if (name == "timeout") {
      int seconds = 0;
      if (!absl::SimpleAtoi(value, &seconds) || seconds <= 0) {
        return absl::InvalidArgumentError("--timeout expects seconds > 0");
      }
      out.client.default_deadline = absl::Seconds(seconds);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option '--", name, "'"));
    }
  }
  if (out.operation.empty()) {
    return absl::InvalidArgumentError("missing operation");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<SecretsClient>> ConnectHelper(HelperArgs args) {
  return SecretsClient::Connect(std::move(args.client));
}

}  // namespace zlayer::secrets
