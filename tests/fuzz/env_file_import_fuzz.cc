// Fuzzes the dotenv and JSON importers.
// Properties:
//  * imported names are unique and valid keys; errors are "line N: ..." with
//    no control characters;
//  * export(import(x)) re-imports, with no errors or warnings, to the same
//    map, for dotenv always and for JSON whenever all values are UTF-8 (else
//    the JSON export is refused with InvalidArgument);
//  * the same holds for whatever the JSON importer accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/format/env_file_format.h"
#include "core/format/json.h"

namespace zlayer::secrets {
namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

using SecretMap = std::map<std::string, SecretBytes>;

SecretMap ToMap(const SecretFileImport& imported) {
  SecretMap map;
  for (const ImportedSecret& e : imported.entries) {
    Check(ValidateSecretFileKey(e.name).ok());
    Check(map.emplace(e.name, e.value.Clone()).second);  // names are unique
  }
  return map;
}

bool SameMap(const SecretMap& a, const SecretMap& b) {
  if (a.size() != b.size()) return false;
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    if (ia->first != ib->first) return false;
    if (!ia->second.ConstantTimeEquals(ib->second)) return false;
  }
  return true;
}

void CheckReimport(const SecretMap& map, SecretFileFormat format) {
  absl::StatusOr<SecretBytes> exported = ExportSecrets(map, format);
  if (format == SecretFileFormat::kJson) {
    bool all_utf8 = true;
    for (const auto& [name, value] : map) {
      all_utf8 = all_utf8 && IsValidUtf8(value.InsecureView());
    }
    if (!all_utf8) {
      Check(exported.status().code() == absl::StatusCode::kInvalidArgument);
      return;
    }
  }
  Check(exported.ok());
  absl::StatusOr<SecretFileImport> again =
      ImportSecrets(exported->InsecureView(), format);
  Check(again.ok());
  Check(again->errors.empty());
  Check(again->warnings.empty());
  Check(SameMap(ToMap(*again), map));
}

void FuzzOne(absl::string_view input) {
  SecretFileImport dotenv = ImportDotenv(input);
  for (const std::string& e : dotenv.errors) {
    Check(absl::StartsWith(e, "line "));
    for (char c : e) Check(static_cast<unsigned char>(c) >= 0x20);
  }
  const SecretMap map = ToMap(dotenv);
  CheckReimport(map, SecretFileFormat::kDotenv);
  CheckReimport(map, SecretFileFormat::kJson);

  absl::StatusOr<SecretFileImport> json = ImportJsonSecrets(input);
  if (json.ok()) {
    const SecretMap json_map = ToMap(*json);
    CheckReimport(json_map, SecretFileFormat::kDotenv);
    CheckReimport(json_map, SecretFileFormat::kJson);
  } else {
    Check(json.status().code() == absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace zlayer::secrets

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zlayer::secrets::FuzzOne(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
