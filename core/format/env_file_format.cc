#include "core/format/env_file_format.h"

#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/base/utf8.h"
#include "core/format/json.h"

namespace zlayer::secrets {
namespace {

constexpr uint32_t kInvalidCodePoint = 0xFFFFFFFF;

// Decodes the UTF-8 character at the start of `s` (which must not be empty).
// Returns its length; `*cp` is kInvalidCodePoint for a malformed sequence,
// which then counts as one opaque byte.
size_t DecodeCharOrByte(absl::string_view s, uint32_t* cp) {
  const size_t n = DecodeUtf8(s, cp);
  if (n != 0) return n;
  *cp = kInvalidCodePoint;
  return 1;
}

// Unicode White_Space (what Rust's str::trim and char::is_whitespace use).
bool IsUnicodeWhitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Byte length of the whitespace character starting `s`, or 0.
size_t LeadingWhitespaceChar(absl::string_view s) {
  if (s.empty()) return 0;
  uint32_t cp;
  size_t n = DecodeCharOrByte(s, &cp);
  return IsUnicodeWhitespace(cp) ? n : 0;
}

// Byte length of the whitespace character ending `s`, or 0.
size_t TrailingWhitespaceChar(absl::string_view s) {
  for (size_t n = 1; n <= 4 && n <= s.size(); ++n) {
    const unsigned char c = static_cast<unsigned char>(s[s.size() - n]);
    if (c >= 0x80 && c < 0xC0) continue;  // a continuation byte: look further
    uint32_t cp;
    size_t len = DecodeCharOrByte(s.substr(s.size() - n), &cp);
    return len == n && IsUnicodeWhitespace(cp) ? n : 0;
  }
  return 0;
}

absl::string_view TrimLeft(absl::string_view s) {
  while (size_t n = LeadingWhitespaceChar(s)) s.remove_prefix(n);
  return s;
}

absl::string_view TrimRight(absl::string_view s) {
  while (size_t n = TrailingWhitespaceChar(s)) s.remove_suffix(n);
  return s;
}

absl::string_view Trim(absl::string_view s) { return TrimRight(TrimLeft(s)); }

bool ContainsWhitespace(absl::string_view s) {
  while (!s.empty()) {
    uint32_t cp;
    size_t n = DecodeCharOrByte(s, &cp);
    if (IsUnicodeWhitespace(cp)) return true;
    s.remove_prefix(n);
  }
  return false;
}

bool IsExportPrefixed(absl::string_view key) {
  return key.size() > 6 && key.substr(0, 6) == "export" &&
         (key[6] == ' ' || key[6] == '\t');
}

// `export KEY` -> `KEY` (only when something follows the prefix).
absl::string_view StripExportPrefix(absl::string_view key) {
  if (!IsExportPrefixed(key)) return key;
  absl::string_view rest = key.substr(6);
  while (!rest.empty() && (rest[0] == ' ' || rest[0] == '\t')) {
    rest.remove_prefix(1);
  }
  return rest.empty() ? key : rest;
}

// A key for messages: quoted with JSON escaping when it is printable text,
// otherwise only its size.
std::string DescribeKey(absl::string_view key) {
  if (key.size() > kMaxSecretFileKeyBytes || !IsValidUtf8(key)) {
    return absl::StrCat("of ", key.size(), " bytes");
  }
  std::string quoted = JsonQuote(key);
  return absl::StrCat(
      "'", absl::string_view(quoted).substr(1, quoted.size() - 2), "'");
}

// The physical line (without its CR LF / LF) that contains text[pos], starting
// at pos, and the offset just past its line break.
absl::string_view RestOfLine(absl::string_view text, size_t pos, size_t* next) {
  size_t eol = text.find('\n', pos);
  if (eol == absl::string_view::npos) eol = text.size();
  *next = eol < text.size() ? eol + 1 : text.size();
  absl::string_view line = text.substr(pos, eol - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Only whitespace and an optional comment may follow a closing quote.
bool IsBlankOrComment(absl::string_view rest) {
  rest = TrimLeft(rest);
  return rest.empty() || rest[0] == '#';
}

// Decodes a double-quoted value whose opening quote is text[open]. On success
// returns true, with `*close` the offset of the closing quote; `*lines` counts
// the raw line breaks inside.
bool DecodeDoubleQuoted(absl::string_view text, size_t open, WipingString* out,
                        size_t* close, int* lines) {
  *lines = 0;
  size_t i = open + 1;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      *close = i;
      return true;
    }
    if (c == '\\' && i + 1 < text.size()) {
      const char e = text[i + 1];
      char decoded = 0;
      switch (e) {
        case '\\':
        case '"':
        case '$':
          decoded = e;
          break;
        case 'n':
          decoded = '\n';
          break;
        case 'r':
          decoded = '\r';
          break;
        case 't':
          decoded = '\t';
          break;
        default:
          break;
      }
      if (decoded != 0) {
        out->push_back(decoded);
        i += 2;
        continue;
      }
      // Unknown escape: the backslash is literal; the next byte is read
      // normally.
      out->push_back('\\');
      ++i;
      continue;
    }
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;  // a raw CRLF inside quotes is a line break, kept as LF
      continue;
    }
    if (c == '\n') ++*lines;
    out->push_back(c);
    ++i;
  }
  return false;
}

class Importer {
 public:
  void AddError(int line, absl::string_view what) {
    result_.errors.push_back(absl::StrCat("line ", line, ": ", what));
  }

  void Add(absl::string_view key, WipingString* value, int line) {
    auto it = index_.find(key);
    if (it == index_.end()) {
      index_.emplace(std::string(key), result_.entries.size());
      result_.entries.push_back(ImportedSecret{
          std::string(key), SecretBytes::FromString(*value), line});
    } else {
      ImportedSecret& entry = result_.entries[it->second];
      result_.warnings.push_back(
          absl::StrCat("line ", line, ": duplicate key ", DescribeKey(key),
                       " (also on line ", entry.line, ")"));
      entry.value = SecretBytes::FromString(*value);
      entry.line = line;
    }
    WipeWipingString(value);
  }

  SecretFileImport Finish() { return std::move(result_); }

 private:
  SecretFileImport result_;
  absl::flat_hash_map<std::string, size_t> index_;
};

}  // namespace

absl::StatusOr<SecretFileFormat> ParseSecretFileFormat(absl::string_view name) {
  if (name == "env" || name == "dotenv") return SecretFileFormat::kDotenv;
  if (name == "json") return SecretFileFormat::kJson;
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported format ", DescribeKey(name), " (expected 'env' or 'json')"));
}

absl::Status ValidateSecretFileKey(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("empty key");
  if (key.size() > kMaxSecretFileKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key exceeds ", kMaxSecretFileKeyBytes, " bytes"));
  }
  if (!IsValidUtf8(key)) {
    return absl::InvalidArgumentError("key is not valid UTF-8");
  }
  for (absl::string_view rest = key; !rest.empty();) {
    uint32_t cp;
    rest.remove_prefix(DecodeCharOrByte(rest, &cp));
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      return absl::InvalidArgumentError("key contains a control character");
    }
    if (cp == '/') return absl::InvalidArgumentError("key contains '/'");
    if (cp == '=') return absl::InvalidArgumentError("key contains '='");
  }
  if (Trim(key).size() != key.size()) {
    return absl::InvalidArgumentError("key has leading or trailing whitespace");
  }
  if (key[0] == '#') return absl::InvalidArgumentError("key starts with '#'");
  return absl::OkStatus();
}

SecretFileImport ImportDotenv(absl::string_view text) {
  Importer importer;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    size_t next;
    const absl::string_view line = RestOfLine(text, pos, &next);
    pos = next;
    const absl::string_view trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    const size_t eq = trimmed.find('=');
    if (eq == absl::string_view::npos) {
      importer.AddError(line_no, "missing '='");
      continue;
    }
    const absl::string_view key =
        StripExportPrefix(Trim(trimmed.substr(0, eq)));
    const absl::string_view after_eq = trimmed.substr(eq + 1);
    const absl::string_view raw_value = TrimLeft(after_eq);

    // Decode the value first: a quoted value must be consumed (possibly over
    // several lines) even when the key turns out to be bad.
    WipingString value;
    absl::string_view value_error;
    const int entry_line = line_no;
    if (!raw_value.empty() && raw_value[0] == '"') {
      const size_t open = static_cast<size_t>(raw_value.data() - text.data());
      size_t close;
      int lines;
      if (!DecodeDoubleQuoted(text, open, &value, &close, &lines)) {
        // Resume on the next line so that later entries are still read.
        importer.AddError(entry_line, "unterminated double-quoted value");
        WipeWipingString(&value);
        continue;
      }
      line_no += lines;
      if (!IsBlankOrComment(RestOfLine(text, close + 1, &pos))) {
        value_error = "unexpected characters after closing quote";
      }
    } else if (!raw_value.empty() && raw_value[0] == '\'') {
      const size_t close = raw_value.find('\'', 1);
      if (close == absl::string_view::npos) {
        value_error = "unterminated single-quoted value";
      } else {
        value.assign(raw_value.data() + 1, close - 1);
        if (!IsBlankOrComment(raw_value.substr(close + 1))) {
          value_error = "unexpected characters after closing quote";
        }
      }
    } else if (!raw_value.empty() && raw_value[0] == '#' &&
               raw_value.size() != after_eq.size()) {
      // `KEY= #comment`: an empty value.
    } else {
      absl::string_view v = raw_value;
      for (size_t i = 1; i < v.size(); ++i) {
        if (v[i] == '#' && TrailingWhitespaceChar(v.substr(0, i)) > 0) {
          v = v.substr(0, i);
          break;
        }
      }
      v = TrimRight(v);
      value.assign(v.data(), v.size());
    }

    if (absl::Status s = ValidateSecretFileKey(key); !s.ok()) {
      importer.AddError(entry_line, s.message());
    } else if (!value_error.empty()) {
      importer.AddError(entry_line, value_error);
    } else {
      importer.Add(key, &value, entry_line);
    }
    WipeWipingString(&value);
  }
  return importer.Finish();
}

absl::StatusOr<SecretFileImport> ImportJsonSecrets(absl::string_view text) {
  absl::StatusOr<JsonValue> parsed = ParseJson(text);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) {
    return absl::InvalidArgumentError(
        "JSON import expects an object whose values are strings");
  }
  SecretFileImport result;
  for (const JsonMember& member : parsed->members()) {
    const absl::string_view key = member.key;
    if (absl::Status s = ValidateSecretFileKey(key); !s.ok()) {
      result.errors.push_back(
          absl::StrCat("key ", DescribeKey(key), ": ", s.message()));
      continue;
    }
    if (!member.value.is_string()) {
      result.errors.push_back(
          absl::StrCat("key ", DescribeKey(key), ": value must be a string"));
      continue;
    }
    result.entries.push_back(ImportedSecret{
        std::string(key), SecretBytes::FromString(member.value.string_value()),
        0});
  }
  return result;
}

absl::StatusOr<SecretFileImport> ImportSecrets(absl::string_view text,
                                               SecretFileFormat format) {
  if (format == SecretFileFormat::kJson) return ImportJsonSecrets(text);
  return ImportDotenv(text);
}

namespace {

bool NeedsQuotes(absl::string_view value) {
  for (char c : value) {
    if (c == '#' || c == '=' || c == '"' || c == '\'' || c == '\\') return true;
  }
  return ContainsWhitespace(value);
}

void AppendDotenvValue(absl::string_view value, WipingString* out) {
  if (!NeedsQuotes(value)) {
    out->append(value.data(), value.size());
    return;
  }
  out->push_back('"');
  for (char c : value) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        out->push_back(c);
    }
  }
  out->push_back('"');
}

}  // namespace

absl::StatusOr<SecretBytes> ExportSecrets(
    const std::map<std::string, SecretBytes>& secrets,
    SecretFileFormat format) {
  for (const auto& [name, value] : secrets) {
    if (absl::Status s = ValidateSecretFileKey(name); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot export secret ", DescribeKey(name), ": ", s.message()));
    }
    if (format == SecretFileFormat::kJson &&
        !IsValidUtf8(value.InsecureView())) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot export secret ", DescribeKey(name),
                       " as JSON: its value is not valid UTF-8"));
    }
  }
  WipingString out;
  if (format == SecretFileFormat::kJson) {
    JsonValue object = JsonValue::EmptyObject();
    for (const auto& [name, value] : secrets) {
      object.Set(name, JsonValue::FromString(value.InsecureView()));
    }
    out = SerializeJsonPretty(object);
    out.push_back('\n');
  } else {
    for (const auto& [name, value] : secrets) {
      if (IsExportPrefixed(name)) out.append("export ");
      out.append(name.data(), name.size());
      out.push_back('=');
      AppendDotenvValue(value.InsecureView(), &out);
      out.push_back('\n');
    }
  }
  SecretBytes result = SecretBytes::FromString(out);
  WipeWipingString(&out);
  return result;
}

}  // namespace zlayer::secrets
