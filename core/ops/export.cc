#include "core/ops/export.h"

#include <map>
#include <string>
#include <utility>

#include "core/base/status_macros.h"
#include "core/store/store_common.h"

namespace zlayer::secrets {

absl::StatusOr<ExportedScope> ExportScope(SecretStore* store,
                                          absl::string_view scope,
                                          SecretFileFormat format) {
  std::vector<SecretKey> keys;
  ListOptions options;
  options.page_size = kMaxPageSize;
  do {
    ASSIGN_OR_RETURN(ListPage page, store->List(scope, options));
    for (const SecretMetadata& m : page.secrets) {
      keys.push_back({std::string(scope), m.name});
    }
    options.page_token = std::move(page.next_page_token);
  } while (!options.page_token.empty());
  ASSIGN_OR_RETURN(std::vector<absl::StatusOr<VersionedValue>> reads,
                   store->ReadBatch(keys));
  ExportedScope out;
  std::map<std::string, SecretBytes> values;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (reads[i].ok()) {
      out.read.push_back(keys[i]);
      out.versions.push_back(reads[i]->version);
      values.emplace(keys[i].name, std::move(reads[i]->value));
    } else if (!absl::IsNotFound(reads[i].status())) {
      return reads[i].status();
    }
  }
  ASSIGN_OR_RETURN(out.content, ExportSecrets(values, format));
  return out;
}

}  // namespace zlayer::secrets
