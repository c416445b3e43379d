#include "core/resolve/secret_ref.h"

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace zlayer::secrets {
namespace {

// Builds the InvalidArgument error for a rejected `$S:` reference. `what`
// names the part that is wrong; `offset` is a byte offset into the whole
// input. Non-printable bytes are escaped so the message is safe to log.
absl::Status InvalidRef(absl::string_view input, absl::string_view what,
                        size_t offset) {
  return absl::InvalidArgumentError(
      absl::StrFormat("invalid secret reference \"%s\": %s (offset %d)",
                      absl::CHexEscape(input), what, offset));
}

absl::Status InvalidUrl(absl::string_view input, absl::string_view what,
                        size_t offset) {
  return absl::InvalidArgumentError(
      absl::StrFormat("invalid secret URL \"%s\": %s (offset %d)",
                      absl::CHexEscape(input), what, offset));
}

// `$S:@service/name[/field]`. `body` is the input after "$S:@", which starts
// at byte `base` of `input`. Only the first two '/' separate parts, so the
// field keeps any further '/'; an empty field means "no field" (upstream
// accepts `$S:@svc/name/`).
absl::StatusOr<SecretRef> ParseServiceForm(absl::string_view input,
                                           absl::string_view body,
                                           size_t base) {
  size_t slash = body.find('/');
  if (body.empty() || slash == 0) {
    return InvalidRef(input, "service is empty", base);
  }
  if (slash == absl::string_view::npos) {
    return InvalidRef(input, "service reference needs '/' and a name",
                      input.size());
  }
  absl::string_view rest = body.substr(slash + 1);
  size_t rest_base = base + slash + 1;
  size_t name_end = rest.find('/');
  absl::string_view name = rest.substr(0, name_end);
  if (name.empty()) return InvalidRef(input, "name is empty", rest_base);

  SecretRef ref;
  ref.service = std::string(body.substr(0, slash));
  ref.name = std::string(name);
  if (name_end != absl::string_view::npos && name_end + 1 < rest.size()) {
    ref.field = std::string(rest.substr(name_end + 1));
  }
  return ref;
}

// `[project]:environment/name[/field]`. `body` is the input after "$S:"
// (starting at byte `base`), `slash` the position of its first '/' and
// `colon` the position of the first ':' before it.
absl::StatusOr<SecretRef> ParseEnvironmentForm(absl::string_view input,
                                               absl::string_view body,
                                               size_t base, size_t slash,
                                               size_t colon) {
  absl::string_view project = body.substr(0, colon);
  absl::string_view environment = body.substr(colon + 1, slash - colon - 1);
  if (environment.empty()) {
    return InvalidRef(input, "environment is empty", base + colon + 1);
  }
  size_t extra_colon = environment.find(':');
  if (extra_colon != absl::string_view::npos) {
    return InvalidRef(input,
                      "environment contains ':' (at most one ':' may "
                      "separate project and environment)",
                      base + colon + 1 + extra_colon);
  }

  absl::string_view tail = body.substr(slash + 1);
  size_t tail_base = base + slash + 1;
  size_t name_end = tail.find('/');
  absl::string_view name = tail.substr(0, name_end);
  if (name.empty()) return InvalidRef(input, "name is empty", tail_base);

  SecretRef ref;
  if (!project.empty()) ref.project = std::string(project);
  ref.environment = std::string(environment);
  ref.name = std::string(name);
  if (name_end != absl::string_view::npos) {
    absl::string_view field = tail.substr(name_end + 1);
    size_t field_base = tail_base + name_end + 1;
    if (field.empty()) return InvalidRef(input, "field is empty", field_base);
    size_t field_slash = field.find('/');
    if (field_slash != absl::string_view::npos) {
      return InvalidRef(input,
                        "field contains '/' (only service references allow "
                        "it)",
                        field_base + field_slash);
    }
    ref.field = std::string(field);
  }
  return ref;
}

}  // namespace

bool IsSecretRef(absl::string_view value) {
  return absl::StartsWith(value, kSecretRefPrefix);
}

bool IsSecretUrl(absl::string_view value) {
  return absl::StartsWith(value, kSecretUrlPrefix);
}

absl::StatusOr<SecretRef> SecretRef::Parse(absl::string_view input) {
  if (!IsSecretRef(input)) {
    return InvalidRef(input, "missing \"$S:\" prefix", 0);
  }
  const size_t base = kSecretRefPrefix.size();
  absl::string_view body = input.substr(base);
  if (body.empty()) {
    return InvalidRef(input, "nothing follows \"$S:\"", base);
  }
  // A leading '@' always selects the service form, whatever follows.
  if (body[0] == '@') return ParseServiceForm(input, body.substr(1), base + 1);
  if (body[0] == '/') return InvalidRef(input, "name is empty", base);

  size_t slash = body.find('/');
  if (slash == absl::string_view::npos) {
    size_t colon = body.find(':');
    if (colon != absl::string_view::npos) {
      return InvalidRef(input, "':' is only allowed in environment references",
                        base + colon);
    }
    SecretRef ref;
    ref.name = std::string(body);
    return ref;
  }

  size_t colon = body.find(':');
  if (colon < slash) {
    return ParseEnvironmentForm(input, body, base, slash, colon);
  }

  // Deployment reference with a JSON field: exactly one non-empty segment.
  absl::string_view field = body.substr(slash + 1);
  size_t field_base = base + slash + 1;
  if (field.empty()) return InvalidRef(input, "field is empty", field_base);
  size_t field_slash = field.find('/');
  if (field_slash != absl::string_view::npos) {
    return InvalidRef(input,
                      "field contains '/' (only service references allow it)",
                      field_base + field_slash);
  }
  SecretRef ref;
  ref.name = std::string(body.substr(0, slash));
  ref.field = std::string(field);
  return ref;
}

std::string SecretRef::ToString() const {
  std::string out(kSecretRefPrefix);
  if (service) {
    absl::StrAppend(&out, "@", *service, "/", name);
  } else if (environment) {
    absl::StrAppend(&out, project.value_or(""), ":", *environment, "/", name);
  } else {
    absl::StrAppend(&out, name);
  }
  if (field) absl::StrAppend(&out, "/", *field);
  return out;
}

absl::StatusOr<SecretUrlRef> SecretUrlRef::Parse(absl::string_view input) {
  if (!IsSecretUrl(input)) {
    return InvalidUrl(input, "missing \"$secret://\" prefix", 0);
  }
  const size_t base = kSecretUrlPrefix.size();
  absl::string_view rest = input.substr(base);
  size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) {
    return InvalidUrl(input, "environment must be followed by '/' and a key",
                      input.size());
  }
  if (slash == 0) return InvalidUrl(input, "environment is empty", base);

  absl::string_view tail = rest.substr(slash + 1);
  size_t key_end = tail.find('/');
  absl::string_view key = tail.substr(0, key_end);
  if (key.empty()) return InvalidUrl(input, "key is empty", base + slash + 1);

  SecretUrlRef ref;
  ref.environment = std::string(rest.substr(0, slash));
  ref.key = std::string(key);
  // Everything after the second '/' is the field, even when empty.
  if (key_end != absl::string_view::npos) {
    ref.field = std::string(tail.substr(key_end + 1));
  }
  return ref;
}

std::string SecretUrlRef::ToString() const {
  std::string out = absl::StrCat(kSecretUrlPrefix, environment, "/", key);
  if (field) absl::StrAppend(&out, "/", *field);
  return out;
}

}  // namespace zlayer::secrets
