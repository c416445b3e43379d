#include "core/identity/identity_records.h"

#include <sodium.h>

#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace zlayer::secrets {

bool IsSystemScope(absl::string_view scope) {
  return absl::StartsWith(scope, kSystemScopePrefix);
}

void AppendJsonString(absl::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
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
        if (u < 0x20 || u == 0x7f) {
          out->append("\\u00");
          out->push_back(kHex[u >> 4]);
          out->push_back(kHex[u & 0x0f]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// ---- RecordWriter ----

void RecordWriter::Key(absl::string_view key) {
  if (!first_) out_.push_back(',');
  first_ = false;
  AppendJsonString(key, &out_);
  out_.push_back(':');
}

RecordWriter& RecordWriter::Str(absl::string_view key,
                                absl::string_view value) {
  Key(key);
  AppendJsonString(value, &out_);
  return *this;
}

RecordWriter& RecordWriter::Int(absl::string_view key, int64_t value) {
  Key(key);
  absl::StrAppend(&out_, value);
  return *this;
}

RecordWriter& RecordWriter::Bool(absl::string_view key, bool value) {
  Key(key);
  out_.append(value ? "true" : "false");
  return *this;
}

RecordWriter& RecordWriter::Null(absl::string_view key) {
  Key(key);
  out_.append("null");
  return *this;
}

RecordWriter& RecordWriter::StrList(absl::string_view key,
                                    const std::vector<std::string>& values) {
  Key(key);
  out_.push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out_.push_back(',');
    AppendJsonString(values[i], &out_);
  }
  out_.push_back(']');
  return *this;
}

RecordWriter& RecordWriter::IntList(absl::string_view key,
                                    const std::vector<int64_t>& values) {
  Key(key);
  out_.push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out_.push_back(',');
    absl::StrAppend(&out_, values[i]);
  }
  out_.push_back(']');
  return *this;
}

std::string RecordWriter::Finish() {
  out_.push_back('}');
  return std::move(out_);
}

// ---- FlatRecord ----

namespace {

class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::Status Fail() const {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed record at byte ", pos_));
  }

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool ConsumeWord(absl::string_view word) {
    SkipSpace();
    if (text_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }

  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }

  char Peek() {
    SkipSpace();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  bool Hex4(uint32_t* out) {
    if (pos_ + 4 > text_.size()) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    *out = v;
    return true;
  }

  bool ParseString(std::string* out) {
    if (!Consume('"')) return false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return false;
      const char e = text_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xd800 && cp < 0xdc00) {
            uint32_t lo = 0;
            if (text_.substr(pos_, 2) != "\\u") return false;
            pos_ += 2;
            if (!Hex4(&lo) || lo < 0xdc00 || lo >= 0xe000) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            return false;
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  bool ParseInt(int64_t* out) {
    SkipSpace();
    const size_t start = pos_;
    bool negative = false;
    if (pos_ < text_.size() && text_[pos_] == '-') {
      negative = true;
      ++pos_;
    }
    // Accumulate as a negative number so INT64_MIN round-trips.
    int64_t v = 0;
    size_t digits = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const int d = text_[pos_] - '0';
      if (v < (std::numeric_limits<int64_t>::min() + d) / 10) return false;
      v = v * 10 - d;
      ++pos_;
      ++digits;
    }
    if (digits == 0 || (digits > 1 && text_[start + (negative ? 1 : 0)] == '0'))
      return false;
    if (pos_ < text_.size() &&
        (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
      return false;
    }
    if (!negative) {
      if (v == std::numeric_limits<int64_t>::min()) return false;
      v = -v;
    }
    *out = v;
    return true;
  }

  bool ParseValue(FlatRecord::Value* value) {
    using Type = FlatRecord::Value::Type;
    const char c = Peek();
    if (c == '"') {
      value->type = Type::kString;
      return ParseString(&value->string);
    }
    if (c == '[') {
      Consume('[');
      value->type = Type::kStringList;
      if (Consume(']')) return true;
      // The first element decides whether this is a string or an int list.
      if (Peek() != '"') value->type = Type::kIntList;
      do {
        if (value->type == Type::kStringList) {
          std::string item;
          if (!ParseString(&item)) return false;
          value->list.push_back(std::move(item));
        } else {
          int64_t item = 0;
          if (!ParseInt(&item)) return false;
          value->int_list.push_back(item);
        }
      } while (Consume(','));
      return Consume(']');
    }
    if (ConsumeWord("null")) {
      value->type = Type::kNull;
      return true;
    }
    if (ConsumeWord("true")) {
      value->type = Type::kBool;
      value->boolean = true;
      return true;
    }
    if (ConsumeWord("false")) {
      value->type = Type::kBool;
      value->boolean = false;
      return true;
    }
    value->type = Type::kInt;
    return ParseInt(&value->integer);
  }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
};

absl::Status MemberError(absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("record member '", key, "' ", what));
}

}  // namespace

absl::StatusOr<FlatRecord> FlatRecord::Parse(absl::string_view text) {
  Parser p(text);
  FlatRecord record;
  if (!p.Consume('{')) return p.Fail();
  if (!p.Consume('}')) {
    do {
      std::string key;
      if (!p.ParseString(&key) || !p.Consume(':')) return p.Fail();
      Value value;
      if (!p.ParseValue(&value)) return p.Fail();
      record.members_[key] = std::move(value);
    } while (p.Consume(','));
    if (!p.Consume('}')) return p.Fail();
  }
  if (!p.AtEnd()) return p.Fail();
  return record;
}

bool FlatRecord::Has(absl::string_view key) const {
  return members_.contains(key);
}

bool FlatRecord::IsNull(absl::string_view key) const {
  auto it = members_.find(key);
  return it != members_.end() && it->second.type == Value::Type::kNull;
}

absl::StatusOr<std::string> FlatRecord::String(absl::string_view key) const {
  auto it = members_.find(key);
  if (it == members_.end()) return MemberError(key, "is missing");
  if (it->second.type != Value::Type::kString) {
    return MemberError(key, "is not a string");
  }
  return it->second.string;
}

absl::StatusOr<std::string> FlatRecord::OptionalString(
    absl::string_view key) const {
  auto it = members_.find(key);
  if (it == members_.end() || it->second.type == Value::Type::kNull) {
    return std::string();
  }
  if (it->second.type != Value::Type::kString) {
    return MemberError(key, "is not a string");
  }
  return it->second.string;
}

absl::StatusOr<int64_t> FlatRecord::Int(absl::string_view key) const {
  auto it = members_.find(key);
  if (it == members_.end()) return MemberError(key, "is missing");
  if (it->second.type != Value::Type::kInt) {
    return MemberError(key, "is not an integer");
  }
  return it->second.integer;
}

absl::StatusOr<bool> FlatRecord::Bool(absl::string_view key) const {
  auto it = members_.find(key);
  if (it == members_.end()) return MemberError(key, "is missing");
  if (it->second.type != Value::Type::kBool) {
    return MemberError(key, "is not a boolean");
  }
  return it->second.boolean;
}

absl::StatusOr<std::vector<std::string>> FlatRecord::StringList(
    absl::string_view key) const {
  auto it = members_.find(key);
  if (it == members_.end()) return MemberError(key, "is missing");
  if (it->second.type != Value::Type::kStringList) {
    return MemberError(key, "is not a list of strings");
  }
  return it->second.list;
}

absl::StatusOr<std::vector<int64_t>> FlatRecord::IntList(
    absl::string_view key) const {
  auto it = members_.find(key);
  if (it == members_.end()) return MemberError(key, "is missing");
  if (it->second.type == Value::Type::kStringList && it->second.list.empty()) {
    return std::vector<int64_t>();
  }
  if (it->second.type != Value::Type::kIntList) {
    return MemberError(key, "is not a list of integers");
  }
  return it->second.int_list;
}

}  // namespace zlayer::secrets
