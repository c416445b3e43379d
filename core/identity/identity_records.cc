#include "core/identity/identity_records.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {

bool IsSystemScope(absl::string_view scope) {
  return absl::StartsWith(scope, kSystemScopePrefix);
}

// ---- RecordWriter ----

RecordWriter::RecordWriter() { writer_.BeginObject(); }

RecordWriter& RecordWriter::Str(absl::string_view key,
                                absl::string_view value) {
  writer_.Key(key).String(value);
  return *this;
}

RecordWriter& RecordWriter::Int(absl::string_view key, int64_t value) {
  writer_.Key(key).Int(value);
  return *this;
}

RecordWriter& RecordWriter::Bool(absl::string_view key, bool value) {
  writer_.Key(key).Bool(value);
  return *this;
}

RecordWriter& RecordWriter::Null(absl::string_view key) {
  writer_.Key(key).Null();
  return *this;
}

RecordWriter& RecordWriter::StrList(absl::string_view key,
                                    const std::vector<std::string>& values) {
  writer_.Key(key).BeginArray();
  for (const std::string& v : values) writer_.String(v);
  writer_.EndArray();
  return *this;
}

RecordWriter& RecordWriter::IntList(absl::string_view key,
                                    const std::vector<int64_t>& values) {
  writer_.Key(key).BeginArray();
  for (int64_t v : values) writer_.Int(v);
  writer_.EndArray();
  return *this;
}

std::string RecordWriter::Finish() {
  WipingString text = writer_.EndObject().Finish();
  return std::string(text.data(), text.size());
}

// ---- FlatRecord ----

namespace {

bool AllOf(const JsonValue& array, bool (JsonValue::*is)() const) {
  for (const JsonValue& e : array.elements()) {
    if (!(e.*is)()) return false;
  }
  return true;
}

// The member types a record may hold (see the header).
bool IsRecordMember(const JsonValue& v) {
  if (v.is_null() || v.is_bool() || v.is_string() || v.is_int()) return true;
  return v.is_array() &&
         (AllOf(v, &JsonValue::is_string) || AllOf(v, &JsonValue::is_int));
}

absl::Status MemberError(absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("record member '", key, "' ", what));
}

}  // namespace

absl::StatusOr<FlatRecord> FlatRecord::Parse(absl::string_view text) {
  absl::StatusOr<JsonValue> json = ParseJson(text);
  if (!json.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed record: ", json.status().message()));
  }
  if (!json->is_object()) {
    return absl::InvalidArgumentError("malformed record: not a JSON object");
  }
  for (const JsonMember& m : json->members()) {
    if (!IsRecordMember(m.value)) {
      // Member names are ours, but a damaged record may hold anything there.
      return absl::InvalidArgumentError(
          "malformed record: a member is not null, a boolean, an integer, a "
          "string or a list of strings or of integers");
    }
  }
  return FlatRecord(*std::move(json));
}

absl::StatusOr<const JsonValue*> FlatRecord::Member(
    absl::string_view key) const {
  const JsonValue* v = object_.Find(key);
  if (v == nullptr) return MemberError(key, "is missing");
  return v;
}

bool FlatRecord::Has(absl::string_view key) const {
  return object_.Find(key) != nullptr;
}

bool FlatRecord::IsNull(absl::string_view key) const {
  const JsonValue* v = object_.Find(key);
  return v != nullptr && v->is_null();
}

absl::StatusOr<std::string> FlatRecord::String(absl::string_view key) const {
  ASSIGN_OR_RETURN(const JsonValue* v, Member(key));
  if (!v->is_string()) return MemberError(key, "is not a string");
  return std::string(v->string_value());
}

absl::StatusOr<std::string> FlatRecord::OptionalString(
    absl::string_view key) const {
  if (!Has(key) || IsNull(key)) return std::string();
  return String(key);
}

absl::StatusOr<int64_t> FlatRecord::Int(absl::string_view key) const {
  ASSIGN_OR_RETURN(const JsonValue* v, Member(key));
  if (!v->is_int()) return MemberError(key, "is not an integer");
  return v->int_value();
}

absl::StatusOr<bool> FlatRecord::Bool(absl::string_view key) const {
  ASSIGN_OR_RETURN(const JsonValue* v, Member(key));
  if (!v->is_bool()) return MemberError(key, "is not a boolean");
  return v->bool_value();
}

absl::StatusOr<std::vector<std::string>> FlatRecord::StringList(
    absl::string_view key) const {
  ASSIGN_OR_RETURN(const JsonValue* v, Member(key));
  if (!v->is_array() || !AllOf(*v, &JsonValue::is_string)) {
    return MemberError(key, "is not a list of strings");
  }
  std::vector<std::string> out;
  out.reserve(v->elements().size());
  for (const JsonValue& e : v->elements()) {
    out.emplace_back(e.string_value());
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> FlatRecord::IntList(
    absl::string_view key) const {
  ASSIGN_OR_RETURN(const JsonValue* v, Member(key));
  // An empty list is both kinds.
  if (!v->is_array() || !AllOf(*v, &JsonValue::is_int)) {
    return MemberError(key, "is not a list of integers");
  }
  std::vector<int64_t> out;
  out.reserve(v->elements().size());
  for (const JsonValue& e : v->elements()) out.push_back(e.int_value());
  return out;
}

}  // namespace zlayer::secrets
