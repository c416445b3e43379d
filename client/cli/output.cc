#include "client/cli/output.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "core/format/json.h"

namespace zlayer::secrets::cli {
namespace {

// JSON object builder for flat records: keeps insertion order.
class JsonObject {
 public:
  JsonObject& Str(absl::string_view key, absl::string_view value) {
    fields_.push_back(absl::StrCat(JsonQuote(key), ": ", JsonQuote(value)));
    return *this;
  }
  JsonObject& Num(absl::string_view key, int64_t value) {
    fields_.push_back(absl::StrCat(JsonQuote(key), ": ", value));
    return *this;
  }
  JsonObject& Bool(absl::string_view key, bool value) {
    fields_.push_back(
        absl::StrCat(JsonQuote(key), ": ", value ? "true" : "false"));
    return *this;
  }
  // `raw` is already JSON.
  JsonObject& Raw(absl::string_view key, absl::string_view raw) {
    fields_.push_back(absl::StrCat(JsonQuote(key), ": ", raw));
    return *this;
  }
  // Rendered at `indent` (the opening brace is not indented).
  std::string Render(int indent) const {
    if (fields_.empty()) return "{}";
    std::string pad(indent + 2, ' ');
    std::string out = "{\n";
    for (size_t i = 0; i < fields_.size(); ++i) {
      absl::StrAppend(&out, pad, fields_[i], i + 1 < fields_.size() ? "," : "",
                      "\n");
    }
    absl::StrAppend(&out, std::string(indent, ' '), "}");
    return out;
  }

 private:
  std::vector<std::string> fields_;
};

std::string JsonArray(const std::vector<JsonObject>& items, int indent) {
  if (items.empty()) return "[]";
  std::string pad(indent + 2, ' ');
  std::string out = "[\n";
  for (size_t i = 0; i < items.size(); ++i) {
    absl::StrAppend(&out, pad, items[i].Render(indent + 2),
                    i + 1 < items.size() ? "," : "", "\n");
  }
  absl::StrAppend(&out, std::string(indent, ' '), "]");
  return out;
}

JsonObject MetadataObject(const v1::SecretMetadata& m) {
  JsonObject o;
  o.Str("name", m.name())
      .Str("scope", m.scope())
      .Num("version", m.version())
      .Num("created_at", m.created_at())
      .Num("updated_at", m.updated_at());
  if (m.deleted()) o.Bool("deleted", true).Num("deleted_at", m.deleted_at());
  return o;
}

JsonObject EnvironmentObject(const v1::Environment& e) {
  JsonObject o;
  o.Str("id", e.id())
      .Str("name", e.name())
      .Str("project", e.project())
      .Str("description", e.description())
      .Str("scope", e.scope())
      .Num("created_at", e.created_at())
      .Num("updated_at", e.updated_at());
  return o;
}

}  // namespace

std::string FormatTimestamp(int64_t unix_seconds) {
  if (unix_seconds <= 0) return absl::StrCat(unix_seconds);
  return absl::FormatTime("%Y-%m-%d %H:%M:%S",
                          absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

std::string SecretsTable(const std::vector<v1::SecretMetadata>& secrets) {
  if (secrets.empty()) return "(no secrets)\n";
  std::string out = absl::StrFormat("%-30s %10s %22s %22s\n", "NAME", "VERSION",
                                    "CREATED", "UPDATED");
  for (const v1::SecretMetadata& m : secrets) {
    absl::StrAppendFormat(&out, "%-30s %10d %22s %22s\n", m.name(), m.version(),
                          FormatTimestamp(m.created_at()),
                          FormatTimestamp(m.updated_at()));
  }
  return out;
}

std::string SecretsJson(const std::vector<v1::SecretMetadata>& secrets) {
  std::vector<JsonObject> items;
  for (const v1::SecretMetadata& m : secrets)
    items.push_back(MetadataObject(m));
  return JsonArray(items, 0) + "\n";
}

std::string MetadataText(const v1::SecretMetadata& m) {
  return absl::StrCat("Name:       ", m.name(), "\n",
                      "Version:    ", m.version(), "\n",
                      "Created at: ", FormatTimestamp(m.created_at()), "\n",
                      "Updated at: ", FormatTimestamp(m.updated_at()), "\n");
}

std::string MetadataJson(const v1::SecretMetadata& m) {
  return MetadataObject(m).Render(0) + "\n";
}

std::string VersionsTable(const v1::ListVersionsResponse& versions) {
  std::string out =
      absl::StrFormat("%10s %22s %8s\n", "VERSION", "CREATED", "KEY_ID");
  for (const v1::VersionInfo& v : versions.versions()) {
    absl::StrAppendFormat(&out, "%10d %22s %8d\n", v.version(),
                          FormatTimestamp(v.created_at()), v.key_id());
  }
  return out;
}

std::string VersionsJson(const v1::ListVersionsResponse& versions) {
  std::vector<JsonObject> items;
  for (const v1::VersionInfo& v : versions.versions()) {
    JsonObject o;
    o.Num("version", v.version())
        .Num("created_at", v.created_at())
        .Num("key_id", v.key_id());
    items.push_back(std::move(o));
  }
  return JsonArray(items, 0) + "\n";
}

std::string CheckTable(const v1::CheckEnvResponse& response) {
  std::string out = absl::StrFormat("%-30s %-6s %-40s %s\n", "KEY", "STATUS",
                                    "REFERENCE", "DETAIL");
  for (const v1::CheckedEntry& e : response.entries()) {
    absl::string_view status =
        !e.error().empty() ? "error" : (e.is_reference() ? "ok" : "plain");
    std::string detail;
    if (!e.error().empty()) {
      detail = e.error();
    } else if (e.is_reference()) {
      detail = absl::StrCat(e.scope(), "/", e.name(), " v", e.version());
      if (!e.field().empty()) absl::StrAppend(&detail, " field ", e.field());
    }
    absl::StrAppendFormat(&out, "%-30s %-6s %-40s %s\n", e.key(), status,
                          e.reference(), detail);
  }
  return out;
}

std::string CheckJson(const v1::CheckEnvResponse& response) {
  std::vector<JsonObject> items;
  for (const v1::CheckedEntry& e : response.entries()) {
    JsonObject o;
    o.Str("key", e.key())
        .Bool("is_reference", e.is_reference())
        .Str("reference", e.reference())
        .Str("scope", e.scope())
        .Str("name", e.name())
        .Str("field", e.field())
        .Bool("exists", e.exists())
        .Bool("readable", e.readable())
        .Num("version", e.version())
        .Str("error", e.error());
    items.push_back(std::move(o));
  }
  JsonObject top;
  top.Bool("ok", response.ok()).Raw("entries", JsonArray(items, 2));
  return top.Render(0) + "\n";
}

std::string EnvironmentsTable(const v1::ListEnvironmentsResponse& response) {
  if (response.environments().empty()) return "(no environments)\n";
  std::string out = absl::StrFormat("%-36s %-30s %-20s %22s\n", "ID", "NAME",
                                    "PROJECT", "CREATED");
  for (const v1::Environment& e : response.environments()) {
    absl::StrAppendFormat(&out, "%-36s %-30s %-20s %22s\n", e.id(), e.name(),
                          e.project().empty() ? "-" : e.project(),
                          FormatTimestamp(e.created_at()));
  }
  return out;
}

std::string EnvironmentsJson(const v1::ListEnvironmentsResponse& response) {
  std::vector<JsonObject> items;
  for (const v1::Environment& e : response.environments()) {
    items.push_back(EnvironmentObject(e));
  }
  return JsonArray(items, 0) + "\n";
}

std::string EnvironmentJson(const v1::Environment& env) {
  return EnvironmentObject(env).Render(0) + "\n";
}

std::string WhoAmIText(const v1::WhoAmIResponse& response) {
  return absl::StrCat(
      "Subject:   ", response.subject(), "\n", "Roles:     ",
      response.roles().empty() ? "-" : absl::StrJoin(response.roles(), ", "),
      "\n", "Transport: ", response.transport(), "\n");
}

std::string WhoAmIJson(const v1::WhoAmIResponse& response) {
  std::vector<std::string> roles;
  for (const std::string& r : response.roles()) roles.push_back(JsonQuote(r));
  JsonObject o;
  o.Str("subject", response.subject())
      .Raw("roles", absl::StrCat("[", absl::StrJoin(roles, ", "), "]"))
      .Str("transport", response.transport());
  return o.Render(0) + "\n";
}

std::string RotatedMessage(absl::string_view name, absl::string_view where,
                           uint32_t previous_version, uint32_t new_version) {
  std::string versions =
      previous_version == 0
          ? absl::StrCat("\xE2\x86\x92 v", new_version)
          : absl::StrCat("v", previous_version, " \xE2\x86\x92 v", new_version);
  return absl::StrCat("Rotated '", name, "'", where, " (", versions, ")\n");
}

std::string RandomValueNotice(absl::string_view name, absl::string_view value) {
  return absl::StrCat("\nGenerated value for '", name, "':\n  ", value,
                      "\n\nThis is the only time it will be shown. Store it "
                      "now.\n");
}

std::string ImportJson(const v1::ImportSecretsResponse& response,
                       bool dry_run) {
  std::vector<std::string> errors;
  for (const std::string& e : response.errors()) errors.push_back(JsonQuote(e));
  std::vector<std::string> changes;
  for (const v1::ImportChange& c : response.changes()) {
    absl::string_view action = c.action() == v1::IMPORT_ACTION_CREATE ? "create"
                               : c.action() == v1::IMPORT_ACTION_UPDATE
                                   ? "update"
                                   : "unchanged";
    changes.push_back(absl::StrCat("    {\"name\": ", JsonQuote(c.name()),
                                   ", \"action\": \"", action,
                                   "\", \"line\": ", c.line(), "}"));
  }
  return absl::StrCat(
      "{\n  \"dry_run\": ", dry_run ? "true" : "false",
      ",\n  \"applied\": ", response.applied() ? "true" : "false",
      ",\n  \"created\": ", response.created(),
      ",\n  \"updated\": ", response.updated(),
      ",\n  \"unchanged\": ", response.unchanged(), ",\n  \"errors\": [",
      absl::StrJoin(errors, ", "), "],\n  \"changes\": [",
      changes.empty()
          ? ""
          : absl::StrCat("\n", absl::StrJoin(changes, ",\n"), "\n  "),
      "]\n}\n");
}

}  // namespace zlayer::secrets::cli
