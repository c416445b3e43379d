// Checks for the short, human-chosen strings the stores accept (secret
// names, scopes, environment names): byte length, UTF-8 validity, and no
// control characters. Messages describe the problem and never echo the
// input, so callers may pass them straight back to a client.
//
//   RETURN_IF_ERROR(ValidateText(name, "secret name", 1, kMaxNameBytes));
#ifndef ZLAYER_SECRETS_CORE_BASE_TEXT_VALIDATION_H_
#define ZLAYER_SECRETS_CORE_BASE_TEXT_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/base/utf8.h"  // IsValidUtf8, for the callers of ValidateText

namespace zlayer::secrets {

// Returns InvalidArgument unless `text` is min_bytes..max_bytes long, valid
// UTF-8, and free of control characters (C0, DEL and C1). `what` names the
// field in the message ("secret name").
absl::Status ValidateText(absl::string_view text, absl::string_view what,
                          size_t min_bytes, size_t max_bytes);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_BASE_TEXT_VALIDATION_H_
