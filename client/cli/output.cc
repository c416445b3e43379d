#include "client/cli/output.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "core/format/json.h"

namespace zlayer::secrets::cli {
namespace {

// The CLI's JSON: JsonWriter in pretty style, members in upstream's field
// order, one trailing newline.
JsonWriter PrettyWriter() { return JsonWriter(JsonWriter::Style::kPretty); }

std::string Finish(JsonWriter* w) {
  WipingString text = w->Finish();
  return absl::StrCat(absl::string_view(text), "\n");
}

void WriteMetadata(const v1::SecretMetadata& m, JsonWriter* w) {
  w->BeginObject()
      .Key("name")
      .String(m.name())
      .Key("scope")
      .String(m.scope())
      .Key("version")
      .Int(m.version())
      .Key("created_at")
      .Int(m.created_at())
      .Key("updated_at")
      .Int(m.updated_at());
  if (m.deleted()) {
    w->Key("deleted").Bool(true).Key("deleted_at").Int(m.deleted_at());
  }
  // Only administrators are sent it; absent otherwise (and when unset).
  if (m.node_affinity_size() > 0) {
    w->Key("node_affinity").BeginArray();
    for (const std::string& entry : m.node_affinity()) w->String(entry);
    w->EndArray();
  }
  w->EndObject();
}

void WriteEnvironment(const v1::Environment& e, JsonWriter* w) {
  w->BeginObject()
      .Key("id")
      .String(e.id())
      .Key("name")
      .String(e.name())
      .Key("project")
      .String(e.project())
      .Key("description")
      .String(e.description())
      .Key("scope")
      .String(e.scope())
      .Key("created_at")
      .Int(e.created_at())
      .Key("updated_at")
      .Int(e.updated_at())
      .EndObject();
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
  // The NODE_AFFINITY column only when some secret shows one (only
  // administrators are sent affinities), so other tables keep upstream's
  // columns.
  const bool affinity = std::any_of(
      secrets.begin(), secrets.end(),
      [](const v1::SecretMetadata& m) { return m.node_affinity_size() > 0; });
  std::string out = absl::StrFormat("%-30s %10s %22s %22s", "NAME", "VERSION",
                                    "CREATED", "UPDATED");
  out += affinity ? " NODE_AFFINITY\n" : "\n";
  for (const v1::SecretMetadata& m : secrets) {
    absl::StrAppendFormat(&out, "%-30s %10d %22s %22s", m.name(), m.version(),
                          FormatTimestamp(m.created_at()),
                          FormatTimestamp(m.updated_at()));
    if (affinity) {
      absl::StrAppend(&out, " ",
                      m.node_affinity_size() > 0
                          ? absl::StrJoin(m.node_affinity(), ",")
                          : std::string("-"));
    }
    out += "\n";
  }
  return out;
}

std::string SecretsJson(const std::vector<v1::SecretMetadata>& secrets) {
  JsonWriter w = PrettyWriter();
  w.BeginArray();
  for (const v1::SecretMetadata& m : secrets) WriteMetadata(m, &w);
  w.EndArray();
  return Finish(&w);
}

std::string MetadataText(const v1::SecretMetadata& m) {
  return absl::StrCat(
      "Name:       ", m.name(), "\n", "Version:    ", m.version(), "\n",
      "Created at: ", FormatTimestamp(m.created_at()), "\n",
      "Updated at: ", FormatTimestamp(m.updated_at()), "\n",
      m.node_affinity_size() > 0
          ? absl::StrCat(
                "Node affinity: ", absl::StrJoin(m.node_affinity(), ","), "\n")
          : std::string());
}

std::string MetadataJson(const v1::SecretMetadata& m) {
  JsonWriter w = PrettyWriter();
  WriteMetadata(m, &w);
  return Finish(&w);
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
  JsonWriter w = PrettyWriter();
  w.BeginArray();
  for (const v1::VersionInfo& v : versions.versions()) {
    w.BeginObject()
        .Key("version")
        .Int(v.version())
        .Key("created_at")
        .Int(v.created_at())
        .Key("key_id")
        .Int(v.key_id())
        .EndObject();
  }
  w.EndArray();
  return Finish(&w);
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
  JsonWriter w = PrettyWriter();
  w.BeginObject().Key("ok").Bool(response.ok()).Key("entries").BeginArray();
  for (const v1::CheckedEntry& e : response.entries()) {
    w.BeginObject()
        .Key("key")
        .String(e.key())
        .Key("is_reference")
        .Bool(e.is_reference())
        .Key("reference")
        .String(e.reference())
        .Key("scope")
        .String(e.scope())
        .Key("name")
        .String(e.name())
        .Key("field")
        .String(e.field())
        .Key("exists")
        .Bool(e.exists())
        .Key("readable")
        .Bool(e.readable())
        .Key("version")
        .Int(e.version())
        .Key("error")
        .String(e.error())
        .EndObject();
  }
  w.EndArray().EndObject();
  return Finish(&w);
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
  JsonWriter w = PrettyWriter();
  w.BeginArray();
  for (const v1::Environment& e : response.environments()) {
    WriteEnvironment(e, &w);
  }
  w.EndArray();
  return Finish(&w);
}

std::string EnvironmentJson(const v1::Environment& env) {
  JsonWriter w = PrettyWriter();
  WriteEnvironment(env, &w);
  return Finish(&w);
}

std::string WhoAmIText(const v1::WhoAmIResponse& response) {
  return absl::StrCat(
      "Subject:   ", response.subject(), "\n", "Roles:     ",
      response.roles().empty() ? "-" : absl::StrJoin(response.roles(), ", "),
      "\n", "Transport: ", response.transport(), "\n");
}

std::string WhoAmIJson(const v1::WhoAmIResponse& response) {
  JsonWriter w = PrettyWriter();
  w.BeginObject()
      .Key("subject")
      .String(response.subject())
      .Key("roles")
      .BeginArray();
  for (const std::string& r : response.roles()) w.String(r);
  w.EndArray().Key("transport").String(response.transport()).EndObject();
  return Finish(&w);
}

absl::StatusOr<std::vector<v1::ResolvedEntry>> ParseReceiptLines(
    absl::string_view text) {
  std::vector<v1::ResolvedEntry> out;
  std::map<std::string, size_t> by_key;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "receipt ")) continue;
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    // The incarnation (4th field) is optional: receipts saved before it
    // existed pin by version alone.
    const bool sized = parts.size() == 3 || parts.size() == 4;
    const size_t slash = sized ? parts[1].rfind('/') : absl::string_view::npos;
    uint32_t version = 0;
    std::string incarnation;
    const bool incarnation_ok =
        parts.size() < 4 || parts[3] == "-" ||
        (parts[3].size() % 2 == 0 && parts[3].size() <= 64 &&
         absl::c_all_of(parts[3], absl::ascii_isxdigit) &&
         (incarnation = absl::AsciiStrToLower(parts[3]), true));
    if (slash == absl::string_view::npos || slash == 0 ||
        slash + 1 == parts[1].size() || !absl::SimpleAtoi(parts[2], &version) ||
        version == 0 || !incarnation_ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_number,
          ": expected 'receipt KEY SCOPE/NAME VERSION [INCARNATION]' (as "
          "`watch` prints)"));
    }
    v1::ResolvedEntry entry;
    entry.set_key(std::string(parts[0]));
    entry.set_scope(std::string(parts[1].substr(0, slash)));
    entry.set_name(std::string(parts[1].substr(slash + 1)));
    entry.set_version(version);
    entry.set_incarnation(incarnation);
    auto [it, inserted] = by_key.emplace(entry.key(), out.size());
    if (inserted) {
      out.push_back(std::move(entry));
    } else {
      out[it->second] = std::move(entry);
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(
        "no 'receipt KEY SCOPE/NAME VERSION' line (save the output of "
        "`zlayer-secret watch`)");
  }
  return out;
}

std::string StaleConsumersMessage(absl::string_view name,
                                  uint32_t previous_version, uint32_t count) {
  if (count == 0 || previous_version == 0) return "";
  return absl::StrCat(
      count,
      count == 1 ? " live consumer still holds" : " live consumers still hold",
      " v", previous_version, " (zlayer-secret consumers ", name, ")\n");
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
