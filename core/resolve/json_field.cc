#include "core/resolve/json_field.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/format/json.h"

namespace zlayer::secrets {

absl::StatusOr<SecretBytes> ExtractJsonField(const SecretBytes& json,
                                             absl::string_view field) {
  absl::StatusOr<JsonValue> parsed = ParseJsonSecret(json);
  if (!parsed.ok()) return parsed.status();
  return ExtractJsonField(*parsed, field);
}

absl::StatusOr<JsonValue> ParseJsonSecret(const SecretBytes& json) {
  absl::StatusOr<JsonValue> parsed = ParseJson(json.InsecureView());
  if (!parsed.ok()) {
    // "secret value is invalid JSON at byte N: expected ..."; the parser's
    // message never contains input bytes.
    return absl::FailedPreconditionError(
        absl::StrCat("secret value is ", parsed.status().message()));
  }
  return parsed;
}

absl::StatusOr<SecretBytes> ExtractJsonField(const JsonValue& parsed,
                                             absl::string_view field) {
  const JsonValue* member = parsed.Find(field);
  if (member == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("field '", field, "' not found in secret"));
  }
  switch (member->type()) {
    case JsonValue::Type::kNull:
      return SecretBytes();
    case JsonValue::Type::kString:
      return SecretBytes::FromString(member->string_value());
    case JsonValue::Type::kBool:
      return SecretBytes::FromString(member->bool_value() ? "true" : "false");
    case JsonValue::Type::kNumber:
    case JsonValue::Type::kArray:
    case JsonValue::Type::kObject:
      break;
  }
  // WipingString wipes its buffer when it goes out of scope.
  WipingString rendered = SerializeJson(*member);
  return SecretBytes::FromString(rendered);
}

}  // namespace zlayer::secrets
