#include "client/cli/value_input.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "core/format/json.h"
#include "sodium.h"

namespace zlayer::secrets::cli {
namespace {

constexpr absl::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// Reads all of `in` into secure memory via a wiped std::string. Text loses
// one trailing newline unless `exact`; binary content (not UTF-8) is kept
// byte for byte.
absl::StatusOr<SecretBytes> Slurp(std::istream& in, absl::string_view what,
                                  bool exact) {
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (in.bad()) {
    WipeString(&text);
    return absl::UnavailableError(
        absl::StrCat("Failed to read ", what, ": I/O error"));
  }
  if (!exact && IsValidUtf8(text)) StripOneTrailingNewline(&text);
  SecretBytes value = SecretBytes::FromString(text);
  WipeString(&text);
  return value;
}

absl::StatusOr<SecretBytes> SlurpFile(const std::string& path, bool exact) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    absl::string_view reason = std::strerror(err);
    std::string message = absl::StrCat("Failed to read ", path, ": ", reason);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::NotFoundError(message);
  }
  return Slurp(in, path, exact);
}

}  // namespace

void StripOneTrailingNewline(std::string* text) {
  if (text->empty() || text->back() != '\n') return;
  text->pop_back();
  if (!text->empty() && text->back() == '\r') text->pop_back();
}

SecretBytes RandomAlphanumeric(size_t length) {
  if (sodium_init() < 0) std::abort();
  SecretBytes out(length);
  uint8_t* data = out.MutableData();
  for (size_t i = 0; i < length; ++i) {
    data[i] = static_cast<uint8_t>(kAlphabet[randombytes_uniform(
        static_cast<uint32_t>(kAlphabet.size()))]);
  }
  return out;
}

absl::StatusOr<SecretBytes> ReadValue(const ValueSource& source,
                                      std::istream& in) {
  switch (source.kind) {
    case ValueSource::Kind::kValue:
      return SecretBytes::FromString(source.text);
    case ValueSource::Kind::kFile:
      return SlurpFile(source.text, source.exact);
    case ValueSource::Kind::kStdin:
      return Slurp(in, "stdin", source.exact);
    case ValueSource::Kind::kRandom:
      return RandomAlphanumeric(source.random_length);
  }
  return absl::InternalError("unknown value source");
}

absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path) {
  absl::StatusOr<SecretBytes> value = SlurpFile(path, /*exact=*/false);
  if (value.ok() && value->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is empty"));
  }
  return value;
}

}  // namespace zlayer::secrets::cli
