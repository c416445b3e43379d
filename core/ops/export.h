// ExportScope: every live secret of one scope rendered as a dotenv or JSON
// file (what Secrets.ExportSecrets does), independent of gRPC.
//
//   ASSIGN_OR_RETURN(ExportedScope out,
//                    ExportScope(store, "shop", SecretFileFormat::kDotenv));
//   // out.content holds values: hand it to the caller only.
//
// Thread-safe if the store is.
#ifndef ZLAYER_SECRETS_CORE_OPS_EXPORT_H_
#define ZLAYER_SECRETS_CORE_OPS_EXPORT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/secret_bytes.h"
#include "core/format/env_file_format.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

struct ExportedScope {
  SecretBytes content;             // the rendered file
  std::vector<SecretKey> read;     // every secret in it, by name
  std::vector<uint32_t> versions;  // aligned with `read`
};

// Names from every page of the scope's listing, then every value from one
// snapshot. A secret deleted between the two is left out; one created after
// the listing is not included. Store errors (DataLoss for a value that fails
// its integrity check) and ExportSecrets' errors are returned; no partial
// content.
absl::StatusOr<ExportedScope> ExportScope(SecretStore* store,
                                          absl::string_view scope,
                                          SecretFileFormat format);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_OPS_EXPORT_H_
