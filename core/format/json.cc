#include "core/format/json.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/base/utf8.h"

namespace zlayer::secrets {

namespace json_internal {
void WipeMemory(void* data, size_t size) {
  if (data != nullptr && size > 0) sodium_memzero(data, size);
}
}  // namespace json_internal

void WipeWipingString(WipingString* s) noexcept {
  if (s == nullptr) return;
  // Growing to the current capacity never reallocates; it makes the whole
  // buffer (heap or inline) addressable so that all of it can be zeroed.
  s->resize(s->capacity());
  if (!s->empty()) json_internal::WipeMemory(&(*s)[0], s->size());
  s->clear();
}

// ---------------------------------------------------------------------------
// JsonValue

JsonValue JsonValue::FromBool(bool value) {
  JsonValue v;
  v.type_ = Type::kBool;
  v.bool_ = value;
  return v;
}

JsonValue JsonValue::FromInt(int64_t value) {
  JsonValue v;
  v.type_ = Type::kNumber;
  v.number_kind_ = NumberKind::kInt;
  v.int_ = value;
  return v;
}

JsonValue JsonValue::FromUint(uint64_t value) {
  if (value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return FromInt(static_cast<int64_t>(value));
  }
  JsonValue v;
  v.type_ = Type::kNumber;
  v.number_kind_ = NumberKind::kUint;
  v.uint_ = value;
  return v;
}

JsonValue JsonValue::FromDouble(double value) {
  JsonValue v;
  if (!std::isfinite(value)) return v;
  v.type_ = Type::kNumber;
  v.number_kind_ = NumberKind::kDouble;
  v.double_ = value;
  return v;
}

JsonValue JsonValue::FromString(absl::string_view value) {
  JsonValue v;
  v.type_ = Type::kString;
  v.string_.assign(value.data(), value.size());
  return v;
}

JsonValue JsonValue::EmptyArray() {
  JsonValue v;
  v.type_ = Type::kArray;
  return v;
}

JsonValue JsonValue::EmptyObject() {
  JsonValue v;
  v.type_ = Type::kObject;
  return v;
}

JsonValue::JsonValue(JsonValue&& other) noexcept
    : type_(other.type_),
      number_kind_(other.number_kind_),
      bool_(other.bool_),
      int_(other.int_),
      uint_(other.uint_),
      double_(other.double_),
      string_(std::move(other.string_)),
      array_(std::move(other.array_)),
      object_(std::move(other.object_)) {
  // A moved-from short string keeps its bytes in the inline buffer.
  WipeWipingString(&other.string_);
  other.type_ = Type::kNull;
  other.number_kind_ = NumberKind::kNone;
}

JsonValue& JsonValue::operator=(JsonValue&& other) noexcept {
  if (this == &other) return *this;
  // `other` may live inside this value (v = std::move(v.elements()[0])), so
  // take it out before the old contents are released.
  JsonValue taken(std::move(other));
  WipeWipingString(&string_);
  type_ = taken.type_;
  number_kind_ = taken.number_kind_;
  bool_ = taken.bool_;
  int_ = taken.int_;
  uint_ = taken.uint_;
  double_ = taken.double_;
  string_ = std::move(taken.string_);
  array_ = std::move(taken.array_);
  object_ = std::move(taken.object_);
  return *this;
}

JsonValue::~JsonValue() { WipeWipingString(&string_); }

JsonValue JsonValue::Clone() const {
  JsonValue v;
  v.type_ = type_;
  v.number_kind_ = number_kind_;
  v.bool_ = bool_;
  v.int_ = int_;
  v.uint_ = uint_;
  v.double_ = double_;
  v.string_ = string_;
  v.array_.reserve(array_.size());
  for (const JsonValue& e : array_) v.array_.push_back(e.Clone());
  v.object_.reserve(object_.size());
  for (const JsonMember& m : object_) {
    v.object_.emplace_back(absl::string_view(m.key), m.value.Clone());
  }
  return v;
}

double JsonValue::double_value() const {
  switch (number_kind_) {
    case NumberKind::kInt:
      return static_cast<double>(int_);
    case NumberKind::kUint:
      return static_cast<double>(uint_);
    case NumberKind::kDouble:
      return double_;
    case NumberKind::kNone:
      break;
  }
  return 0;
}

void JsonValue::Append(JsonValue value) {
  assert(is_array());
  array_.push_back(std::move(value));
}

namespace {

bool KeyLess(const JsonMember& m, absl::string_view key) {
  // absl::string_view compares bytes as unsigned char (memcmp).
  return absl::string_view(m.key) < key;
}

}  // namespace

const JsonValue* JsonValue::Find(absl::string_view key) const {
  if (!is_object()) return nullptr;
  auto it = std::lower_bound(object_.begin(), object_.end(), key, KeyLess);
  if (it == object_.end() || absl::string_view(it->key) != key) return nullptr;
  return &it->value;
}

void JsonValue::Set(absl::string_view key, JsonValue value) {
  assert(is_object());
  auto it = std::lower_bound(object_.begin(), object_.end(), key, KeyLess);
  if (it != object_.end() && absl::string_view(it->key) == key) {
    it->value = std::move(value);
  } else {
    object_.insert(it, JsonMember(key, std::move(value)));
  }
}

JsonMember::JsonMember(absl::string_view k, JsonValue v)
    : key(k.data(), k.size()), value(std::move(v)) {}

JsonMember::JsonMember(WipingString&& k, JsonValue v)
    : key(std::move(k)), value(std::move(v)) {
  WipeWipingString(&k);
}

JsonMember::JsonMember(JsonMember&& other) noexcept
    : key(std::move(other.key)), value(std::move(other.value)) {
  WipeWipingString(&other.key);
}

JsonMember& JsonMember::operator=(JsonMember&& other) noexcept {
  if (this == &other) return *this;
  JsonMember taken(std::move(other));  // `other` may live inside `value`
  WipeWipingString(&key);
  key = std::move(taken.key);
  value = std::move(taken.value);
  return *this;
}

JsonMember::~JsonMember() { WipeWipingString(&key); }

// ---------------------------------------------------------------------------
// UTF-8

namespace {

void AppendUtf8(uint32_t cp, WipingString* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Parser

class JsonParser {
 public:
  JsonParser(absl::string_view text, int max_depth)
      : text_(text), max_depth_(max_depth) {}

  absl::StatusOr<JsonValue> Parse() {
    SkipWhitespace();
    JsonValue value;
    if (!ParseValue(0, &value)) return error_;
    SkipWhitespace();
    if (pos_ != text_.size()) {
      Fail("expected end of input");
      return error_;
    }
    return value;
  }

 private:
  // Records the first error; always returns false so callers can
  // `return Fail(...)`.
  bool Fail(absl::string_view expected) { return FailAt(pos_, expected); }
  bool FailAt(size_t offset, absl::string_view expected) {
    error_ = absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at byte ", offset, ": ", expected));
    return false;
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  void SkipWhitespace() {
    while (!AtEnd()) {
      char c = Peek();
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  bool ParseValue(int depth, JsonValue* out) {
    if (AtEnd()) return Fail("expected a value");
    switch (Peek()) {
      case '{':
        return ParseObject(depth + 1, out);
      case '[':
        return ParseArray(depth + 1, out);
      case '"':
        out->type_ = JsonValue::Type::kString;
        return ParseString(&out->string_);
      case 't':
        return ParseLiteral("true", out, JsonValue::FromBool(true));
      case 'f':
        return ParseLiteral("false", out, JsonValue::FromBool(false));
      case 'n':
        return ParseLiteral("null", out, JsonValue());
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) {
          return ParseNumber(out);
        }
        return Fail("expected a value");
    }
  }

  bool ParseLiteral(absl::string_view word, JsonValue* out, JsonValue value) {
    if (text_.substr(pos_, word.size()) != word) {
      return Fail(absl::StrCat("expected '", word, "'"));
    }
    pos_ += word.size();
    *out = std::move(value);
    return true;
  }

  bool CheckDepth(int depth) {
    if (depth > max_depth_) {
      return Fail(absl::StrCat("nesting deeper than ", max_depth_, " levels"));
    }
    return true;
  }

  bool ParseArray(int depth, JsonValue* out) {
    if (!CheckDepth(depth)) return false;
    ++pos_;  // '['
    *out = JsonValue::EmptyArray();
    SkipWhitespace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      JsonValue element;
      SkipWhitespace();
      if (!ParseValue(depth, &element)) return false;
      out->array_.push_back(std::move(element));
      SkipWhitespace();
      if (AtEnd()) return Fail("expected ',' or ']'");
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == ']') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or ']'");
    }
  }

  bool ParseObject(int depth, JsonValue* out) {
    if (!CheckDepth(depth)) return false;
    ++pos_;  // '{'
    *out = JsonValue::EmptyObject();
    std::vector<JsonMember>& members = out->object_;
    SkipWhitespace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipWhitespace();
      if (AtEnd() || Peek() != '"') return Fail("expected '\"' (object key)");
      WipingString key;
      if (!ParseString(&key)) return false;
      SkipWhitespace();
      if (AtEnd() || Peek() != ':') return Fail("expected ':'");
      ++pos_;
      SkipWhitespace();
      JsonValue value;
      if (!ParseValue(depth, &value)) return false;
      members.emplace_back(std::move(key), std::move(value));
      SkipWhitespace();
      if (AtEnd()) return Fail("expected ',' or '}'");
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == '}') {
        ++pos_;
        break;
      }
      return Fail("expected ',' or '}'");
    }
    // Sort once at the end (O(n log n) even for hostile inputs); a stable sort
    // keeps document order among equal keys, so the last one can win.
    std::stable_sort(members.begin(), members.end(),
                     [](const JsonMember& a, const JsonMember& b) {
                       return absl::string_view(a.key) <
                              absl::string_view(b.key);
                     });
    size_t kept = 0;
    for (size_t i = 0; i < members.size(); ++i) {
      bool superseded =
          i + 1 < members.size() && absl::string_view(members[i].key) ==
                                        absl::string_view(members[i + 1].key);
      if (superseded) continue;
      if (kept != i) members[kept] = std::move(members[i]);
      ++kept;
    }
    members.erase(members.begin() + kept, members.end());
    return true;
  }

  // Reads 4 hex digits at pos_.
  bool ParseHex4(uint32_t* out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      if (AtEnd()) return Fail("expected 4 hex digits after \\u");
      char c = Peek();
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return Fail("expected 4 hex digits after \\u");
      }
      v = (v << 4) | d;
      ++pos_;
    }
    *out = v;
    return true;
  }

  bool ParseString(WipingString* out) {
    ++pos_;  // opening quote
    while (true) {
      if (AtEnd()) return Fail("expected '\"' (unterminated string)");
      const unsigned char c = static_cast<unsigned char>(Peek());
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return Fail("expected no raw control character in string");
      if (c == '\\') {
        if (!ParseEscape(out)) return false;
        continue;
      }
      // Copy the run of plain bytes up to the next quote, backslash or
      // control byte in one go, validating UTF-8 along the way.
      size_t start = pos_;
      while (!AtEnd()) {
        const unsigned char d = static_cast<unsigned char>(Peek());
        if (d == '"' || d == '\\' || d < 0x20) break;
        if (d < 0x80) {
          ++pos_;
          continue;
        }
        uint32_t cp;
        size_t n = DecodeUtf8(text_.substr(pos_), &cp);
        if (n == 0) return Fail("expected valid UTF-8");
        pos_ += n;
      }
      out->append(text_.data() + start, pos_ - start);
    }
  }

  bool ParseEscape(WipingString* out) {
    size_t escape_start = pos_;
    ++pos_;  // backslash
    if (AtEnd()) return Fail("expected an escape character");
    char c = Peek();
    ++pos_;
    switch (c) {
      case '"':
        out->push_back('"');
        return true;
      case '\\':
        out->push_back('\\');
        return true;
      case '/':
        out->push_back('/');
        return true;
      case 'b':
        out->push_back('\b');
        return true;
      case 'f':
        out->push_back('\f');
        return true;
      case 'n':
        out->push_back('\n');
        return true;
      case 'r':
        out->push_back('\r');
        return true;
      case 't':
        out->push_back('\t');
        return true;
      case 'u':
        break;
      default:
        return FailAt(pos_ - 1,
                      "expected an escape character (one of \"\\/bfnrtu)");
    }
    uint32_t cp;
    if (!ParseHex4(&cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return FailAt(escape_start,
                    "expected a high surrogate before \\uDC00-\\uDFFF");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      size_t low_start = pos_;
      if (text_.substr(pos_, 2) != "\\u") {
        return FailAt(low_start, "expected a \\uDC00-\\uDFFF low surrogate");
      }
      pos_ += 2;
      uint32_t low = 0;
      if (!ParseHex4(&low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) {
        return FailAt(low_start, "expected a \\uDC00-\\uDFFF low surrogate");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(cp, out);
    return true;
  }

  bool ParseNumber(JsonValue* out) {
    const size_t start = pos_;
    const bool negative = Peek() == '-';
    if (negative) ++pos_;
    if (AtEnd() || Peek() < '0' || Peek() > '9')
      return Fail("expected a digit");
    const size_t int_start = pos_;
    if (Peek() == '0') {
      ++pos_;
      if (!AtEnd() && Peek() >= '0' && Peek() <= '9') {
        return Fail("expected no leading zero");
      }
    } else {
      SkipDigits();
    }
    const size_t int_end = pos_;
    size_t frac_start = pos_, frac_end = pos_;
    bool is_integer = true;
    if (!AtEnd() && Peek() == '.') {
      is_integer = false;
      ++pos_;
      if (AtEnd() || Peek() < '0' || Peek() > '9') {
        return Fail("expected a digit after '.'");
      }
      frac_start = pos_;
      SkipDigits();
      frac_end = pos_;
    }
    int64_t exponent = 0;
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      is_integer = false;
      ++pos_;
      bool exp_negative = false;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) {
        exp_negative = Peek() == '-';
        ++pos_;
      }
      if (AtEnd() || Peek() < '0' || Peek() > '9') {
        return Fail("expected a digit in the exponent");
      }
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') {
        // Saturate: only the sign of the magnitude matters beyond this.
        if (exponent < 1000000000) exponent = exponent * 10 + (Peek() - '0');
        ++pos_;
      }
      if (exp_negative) exponent = -exponent;
    }
    const absl::string_view literal = text_.substr(start, pos_ - start);

    if (is_integer) {
      uint64_t magnitude = 0;
      bool overflow = false;
      for (size_t i = int_start; i < int_end; ++i) {
        uint64_t digit = static_cast<uint64_t>(text_[i] - '0');
        if (magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
          overflow = true;
          break;
        }
        magnitude = magnitude * 10 + digit;
      }
      if (!overflow) {
        constexpr uint64_t kMinMagnitude =
            static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1;
        if (!negative) {
          *out = JsonValue::FromUint(magnitude);
          return true;
        }
        // serde_json: "-0" is the double -0.0, not the integer 0.
        if (magnitude != 0 && magnitude <= kMinMagnitude) {
          *out = JsonValue::FromInt(magnitude == kMinMagnitude
                                        ? std::numeric_limits<int64_t>::min()
                                        : -static_cast<int64_t>(magnitude));
          return true;
        }
      }
    }

    double value = 0;
    auto result =
        std::from_chars(literal.data(), literal.data() + literal.size(), value);
    if (result.ec == std::errc::result_out_of_range) {
      // Overflow or underflow: decide by the decimal magnitude.
      int64_t magnitude;
      bool int_is_zero = int_end - int_start == 1 && text_[int_start] == '0';
      if (!int_is_zero) {
        magnitude = static_cast<int64_t>(int_end - int_start) + exponent;
      } else {
        size_t first = frac_start;
        while (first < frac_end && text_[first] == '0') ++first;
        magnitude = -static_cast<int64_t>(first - frac_start) + exponent;
      }
      if (magnitude > 0) return FailAt(start, "expected a number in range");
      value = negative ? -0.0 : 0.0;
    } else if (result.ec != std::errc() ||
               result.ptr != literal.data() + literal.size()) {
      return FailAt(start, "expected a number");
    }
    if (!std::isfinite(value))
      return FailAt(start, "expected a number in range");
    if (is_integer && value == 0 && negative) value = -0.0;
    out->type_ = JsonValue::Type::kNumber;
    out->number_kind_ = JsonValue::NumberKind::kDouble;
    out->double_ = value;
    return true;
  }

  void SkipDigits() {
    while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
  }

  absl::string_view text_;
  int max_depth_;
  size_t pos_ = 0;
  absl::Status error_;
};

absl::StatusOr<JsonValue> ParseJson(absl::string_view text, int max_depth) {
  return JsonParser(text, max_depth).Parse();
}

// ---------------------------------------------------------------------------
// Writers

namespace {

template <typename String>
void AppendQuoted(absl::string_view text, String* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(text.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
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
      default: {
        const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out->append(esc, sizeof(esc));
      }
    }
  }
  out->append(text.data() + run_start, text.size() - run_start);
  out->push_back('"');
}

// The shortest round-trip form of a finite double, laid out like ryu's
// "pretty" formatter (which serde_json uses).
void AppendDouble(double value, WipingString* out) {
  if (value == 0) {
    out->append(std::signbit(value) ? "-0.0" : "0.0");
    return;
  }
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), value,
                              std::chars_format::scientific);
  // buf: [-]d[.ddd]e(+|-)xx
  const char* p = buf;
  const char* end = result.ptr;
  if (*p == '-') {
    out->push_back('-');
    ++p;
  }
  char digits[32];
  int length = 0;
  while (p < end && *p != 'e') {
    if (*p != '.') digits[length++] = *p;
    ++p;
  }
  int sci_exponent = 0;
  std::from_chars(p + 1 + (p[1] == '+' ? 1 : 0), end, sci_exponent);
  // value = digits * 10^k, and 10^(kk-1) <= value < 10^kk.
  const int kk = sci_exponent + 1;
  const int k = kk - length;
  if (k >= 0 && kk <= 16) {
    out->append(digits, length);
    out->append(static_cast<size_t>(k), '0');
    out->append(".0");
  } else if (kk > 0 && kk <= 16) {
    out->append(digits, kk);
    out->push_back('.');
    out->append(digits + kk, length - kk);
  } else if (kk > -5 && kk <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-kk), '0');
    out->append(digits, length);
  } else {
    out->push_back(digits[0]);
    if (length > 1) {
      out->push_back('.');
      out->append(digits + 1, length - 1);
    }
    out->push_back('e');
    char exp_buf[8];
    auto r = std::to_chars(exp_buf, exp_buf + sizeof(exp_buf), kk - 1);
    out->append(exp_buf, r.ptr - exp_buf);
  }
  json_internal::WipeMemory(buf, sizeof(buf));
  json_internal::WipeMemory(digits, sizeof(digits));
}

void AppendNumber(const JsonValue& value, WipingString* out) {
  char buf[32];
  if (value.is_double()) {
    AppendDouble(value.double_value(), out);
    return;
  }
  auto r = value.is_uint()
               ? std::to_chars(buf, buf + sizeof(buf), value.uint_value())
               : std::to_chars(buf, buf + sizeof(buf), value.int_value());
  out->append(buf, r.ptr - buf);
  json_internal::WipeMemory(buf, sizeof(buf));
}

}  // namespace

// ---------------------------------------------------------------------------
// JsonWriter: the one writer; SerializeJson* are JsonWriter::Value.

JsonWriter::JsonWriter(Style style) : style_(style) {}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  assert(stack_.empty() ? out_.empty() : !stack_.back().is_object);
  if (stack_.empty()) return;
  NextElement();
}

void JsonWriter::NextElement() {
  Level& level = stack_.back();
  if (!level.first) out_.push_back(',');
  level.first = false;
  if (style_ == Style::kPretty) {
    out_.push_back('\n');
    out_.append(stack_.size() * 2, ' ');
  }
}

void JsonWriter::Close(char bracket) {
  assert(!stack_.empty() && !after_key_);
  const bool empty = stack_.back().first;
  stack_.pop_back();
  if (style_ == Style::kPretty && !empty) {
    out_.push_back('\n');
    out_.append(stack_.size() * 2, ' ');
  }
  out_.push_back(bracket);
}

JsonWriter& JsonWriter::BeginObject() {
  BeforeValue();
  out_.push_back('{');
  stack_.push_back(Level{/*is_object=*/true});
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  assert(!stack_.empty() && stack_.back().is_object);
  Close('}');
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  BeforeValue();
  out_.push_back('[');
  stack_.push_back(Level{/*is_object=*/false});
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  assert(!stack_.empty() && !stack_.back().is_object);
  Close(']');
  return *this;
}

JsonWriter& JsonWriter::Key(absl::string_view key) {
  assert(!stack_.empty() && stack_.back().is_object && !after_key_);
  NextElement();
  AppendQuoted(key, &out_);
  out_.append(style_ == Style::kPretty ? ": " : ":");
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(absl::string_view value) {
  BeforeValue();
  AppendQuoted(value, &out_);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t value) {
  BeforeValue();
  AppendNumber(JsonValue::FromInt(value), &out_);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  BeforeValue();
  out_.append(value ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_.append("null");
  return *this;
}

JsonWriter& JsonWriter::Value(const JsonValue& value) {
  switch (value.type()) {
    case JsonValue::Type::kNull:
      return Null();
    case JsonValue::Type::kBool:
      return Bool(value.bool_value());
    case JsonValue::Type::kNumber:
      BeforeValue();
      AppendNumber(value, &out_);
      return *this;
    case JsonValue::Type::kString:
      return String(value.string_value());
    case JsonValue::Type::kArray:
      BeginArray();
      for (const JsonValue& e : value.elements()) Value(e);
      return EndArray();
    case JsonValue::Type::kObject:
      BeginObject();
      for (const JsonMember& m : value.members()) Key(m.key).Value(m.value);
      return EndObject();
  }
  return *this;
}

WipingString JsonWriter::Finish() {
  assert(stack_.empty() && !after_key_);
  WipingString out = std::move(out_);
  WipeWipingString(&out_);
  return out;
}

WipingString SerializeJson(const JsonValue& value) {
  return JsonWriter(JsonWriter::Style::kCompact).Value(value).Finish();
}

WipingString SerializeJsonPretty(const JsonValue& value) {
  return JsonWriter(JsonWriter::Style::kPretty).Value(value).Finish();
}

void AppendJsonQuoted(absl::string_view text, WipingString* out) {
  AppendQuoted(text, out);
}

std::string JsonQuote(absl::string_view text) {
  std::string out;
  AppendQuoted(text, &out);
  return out;
}

}  // namespace zlayer::secrets
