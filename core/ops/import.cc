#include "core/ops/import.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/optional.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {
namespace {

// Where an imported entry came from, for messages: "line N" (dotenv) or
// "key 'K'" (JSON, which has no useful line numbers). Names are not secret.
std::string ImportLocation(const ImportedSecret& entry) {
  if (entry.line > 0) return absl::StrCat("line ", entry.line);
  return absl::StrCat("key '", entry.name, "'");
}

absl::Status CheckEntry(const ImportedSecret& entry, size_t max_value_bytes) {
  RETURN_IF_ERROR(ValidateName(entry.name));
  if (entry.value.size() > max_value_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("value is ", entry.value.size(), " bytes; the limit is ",
                     max_value_bytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImportOutcome> ImportIntoScope(
    SecretStore* store, absl::string_view scope, absl::string_view content,
    SecretFileFormat format, size_t max_value_bytes, bool dry_run) {
  ImportOutcome out;
  // Duplicate keys are not errors: the last definition wins.
  absl::StatusOr<SecretFileImport> parsed = ImportSecrets(content, format);
  if (!parsed.ok()) {
    out.errors.push_back(std::string(parsed.status().message()));
    return out;
  }
  out.parsed = true;
  out.entries = parsed->entries.size();
  for (const ImportedSecret& entry : parsed->entries) {
    absl::Status valid = CheckEntry(entry, max_value_bytes);
    if (!valid.ok()) {
      parsed->errors.push_back(
          absl::StrCat(ImportLocation(entry), ": ", valid.message()));
    }
  }
  if (!parsed->errors.empty()) {
    out.errors = std::move(parsed->errors);
    return out;
  }

  // The diff, against one snapshot of the current values.
  std::vector<SecretKey> keys;
  keys.reserve(parsed->entries.size());
  for (const ImportedSecret& entry : parsed->entries) {
    keys.push_back({std::string(scope), entry.name});
  }
  ASSIGN_OR_RETURN(std::vector<absl::StatusOr<VersionedValue>> current,
                   store->ReadBatch(keys));
  std::vector<absl::optional<uint32_t>> expected(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const ImportedSecret& entry = parsed->entries[i];
    ImportChange change{entry.name, ImportAction::kCreate,
                        static_cast<uint32_t>(entry.line)};
    if (current[i].ok()) {
      expected[i] = current[i]->version;
      const bool same = current[i]->value.ConstantTimeEquals(entry.value);
      change.action = same ? ImportAction::kUnchanged : ImportAction::kUpdate;
      ++(same ? out.unchanged : out.updated);
    } else if (absl::IsNotFound(current[i].status())) {
      expected[i] = 0;
      ++out.created;
    } else {
      return current[i].status();
    }
    out.changes.push_back(std::move(change));
  }
  if (dry_run) return out;

  // SecretStore has no multi-secret transaction, so entries are written one
  // by one; each is a check-and-set against the version the diff saw, so the
  // reported create/update is what happened.
  std::vector<std::string> written;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (out.changes[i].action == ImportAction::kUnchanged) continue;
    WriteOptions options;
    options.expected_version = expected[i];
    absl::StatusOr<SecretMetadata> result = store->SetSecret(
        scope, keys[i].name, parsed->entries[i].value, options);
    if (!result.ok()) {
      std::string why(result.status().message());
      if (absl::IsAlreadyExists(result.status()) ||
          absl::IsFailedPrecondition(result.status())) {
        why = "it changed while the import ran";
      }
      return absl::Status(
          result.status().code(),
          absl::StrCat("import stopped at ", ImportLocation(parsed->entries[i]),
                       " ('", keys[i].name, "'): ", why,
                       "; written before it (", written.size(),
                       "): ", absl::StrJoin(written, ", ")));
    }
    written.push_back(keys[i].name);
    out.written.push_back(keys[i]);
    out.versions.push_back(result->version);
  }
  out.applied = true;
  return out;
}

}  // namespace zlayer::secrets
