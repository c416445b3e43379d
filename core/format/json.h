// A small, strict JSON (RFC 8259) value type, parser and writers.
//
// Secret values are often JSON documents (`{"user": "app", "password": ...}`),
// so everything here is written for secret-bearing input:
//  * text inside values (strings, object keys) and writer output live in
//    WipingString, whose heap buffers are wiped (sodium_memzero) before they
//    are released, and JsonValue wipes its text when destroyed or moved from;
//  * parse errors give the byte offset and what was expected, and never quote
//    input bytes.
//
// The parser accepts exactly RFC 8259: one value with optional surrounding
// whitespace (space, tab, CR, LF), no trailing garbage, no comments, no BOM,
// no leading zeros, no trailing commas; strings must be valid UTF-8 and every
// escape (including \uXXXX surrogate pairs) must be well formed; lone
// surrogates are rejected. Nesting is limited (kJsonMaxDepth = 128 levels:
// 128 nested arrays are accepted, 129 are not). Duplicate object keys: the last
// one wins.
//
// Numbers follow serde_json (the upstream's JSON library): an integer literal
// (no fraction, no exponent) that fits int64/uint64 is kept as an integer and
// printed as plain digits; every other number is a double, printed in the
// shortest form that round-trips, integral values with ".0" (`2.0`), very large
// or small ones with an exponent (`1e16`, `1.5e-7`; the ryu "pretty" rules
// serde_json uses). `-0` is the double -0.0 (printed "-0.0"), as in serde_json.
// A number too large for a double (`1e400`) is a parse error; one too small
// becomes 0.0. Doubles are parsed with correct rounding (serde_json's default
// parser is only "best effort" in rare last-digit cases).
//
// Writers: SerializeJson() is compact (no spaces); SerializeJsonPretty() uses
// 2-space indentation and `"key": value`, with empty containers as `[]`/`{}`.
// Object keys always come out sorted byte-wise (objects are stored sorted).
// Strings are escaped the serde_json way: `"` and `\` with a backslash,
// control characters as \b \f \n \r \t or \u00XX (lowercase hex); `/`, DEL and
// non-ASCII are written unescaped.
//
//   ASSIGN_OR_RETURN(JsonValue doc, ParseJson(secret.InsecureView()));
//   if (const JsonValue* port = doc.Find("port"); port && port->is_number()) {
//     WipingString text = SerializeJson(*port);  // "5432"
//   }
//
// Thread-safety: JsonValue is a plain value type (const methods may be called
// concurrently; mutation needs external synchronisation). The free functions
// are thread-safe.
#ifndef ZLAYER_SECRETS_CORE_FORMAT_JSON_H_
#define ZLAYER_SECRETS_CORE_FORMAT_JSON_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/utf8.h"  // IsValidUtf8, for callers checking text

namespace zlayer::secrets {

namespace json_internal {
// sodium_memzero; kept out of the header so that it does not pull in sodium.h.
void WipeMemory(void* data, size_t size);
}  // namespace json_internal

// A std::allocator that wipes every block before giving it back, so buffers
// left behind by growth (or by destruction) do not keep secret bytes.
template <typename T>
class WipingAllocator {
 public:
  using value_type = T;

  WipingAllocator() noexcept = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}  // NOLINT: rebind

  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) noexcept {
    json_internal::WipeMemory(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }

  friend bool operator==(const WipingAllocator&, const WipingAllocator&) {
    return true;
  }
  friend bool operator!=(const WipingAllocator&, const WipingAllocator&) {
    return false;
  }
};

// A string whose heap buffers are wiped when released. Converts implicitly to
// absl::string_view. Wipe the small-string buffer too with WipeWipingString().
using WipingString =
    std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

// Zeroes all of `s` (including unused capacity and the inline small-string
// buffer) and leaves it empty. Never allocates.
void WipeWipingString(WipingString* s) noexcept;

// Maximum nesting of arrays/objects accepted by ParseJson.
inline constexpr int kJsonMaxDepth = 128;

struct JsonMember;

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  // null.
  JsonValue() = default;
  static JsonValue FromBool(bool value);
  static JsonValue FromInt(int64_t value);
  static JsonValue FromUint(uint64_t value);
  // A double; NaN and infinities (which JSON cannot carry) become null, as in
  // serde_json.
  static JsonValue FromDouble(double value);
  // Copies `value`. JSON text must be UTF-8; the writers copy bytes verbatim,
  // so callers should check IsValidUtf8() for data of unknown origin.
  static JsonValue FromString(absl::string_view value);
  static JsonValue EmptyArray();
  static JsonValue EmptyObject();

  JsonValue(JsonValue&& other) noexcept;
  JsonValue& operator=(JsonValue&& other) noexcept;
  JsonValue(const JsonValue&) = delete;
  JsonValue& operator=(const JsonValue&) = delete;
  ~JsonValue();

  // An explicit deep copy.
  JsonValue Clone() const;

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // Precondition for each accessor: the value has that type.
  bool bool_value() const { return bool_; }
  absl::string_view string_value() const { return string_; }

  // Numbers: exactly one of these holds for a number.
  bool is_int() const { return number_kind_ == NumberKind::kInt; }
  bool is_uint() const { return number_kind_ == NumberKind::kUint; }
  bool is_double() const { return number_kind_ == NumberKind::kDouble; }
  int64_t int_value() const { return int_; }
  uint64_t uint_value() const { return uint_; }
  // Any number as a double (integers converted, possibly rounded).
  double double_value() const;

  // Elements of an array (in order).
  const std::vector<JsonValue>& elements() const { return array_; }
  // Appends to an array (precondition: is_array()).
  void Append(JsonValue value);

  // Members of an object, sorted by key byte-wise, keys unique.
  const std::vector<JsonMember>& members() const { return object_; }
  // The member named `key` of an object, or nullptr (also when not an object).
  const JsonValue* Find(absl::string_view key) const;
  // Inserts or replaces member `key` (precondition: is_object()).
  void Set(absl::string_view key, JsonValue value);

 private:
  friend class JsonParser;
  enum class NumberKind { kNone, kInt, kUint, kDouble };

  Type type_ = Type::kNull;
  NumberKind number_kind_ = NumberKind::kNone;
  bool bool_ = false;
  int64_t int_ = 0;
  uint64_t uint_ = 0;
  double double_ = 0;
  WipingString string_;
  std::vector<JsonValue> array_;
  std::vector<JsonMember> object_;
};

struct JsonMember {
  JsonMember(absl::string_view k, JsonValue v);
  JsonMember(WipingString&& k, JsonValue v);
  JsonMember(JsonMember&& other) noexcept;
  JsonMember& operator=(JsonMember&& other) noexcept;
  ~JsonMember();

  WipingString key;
  JsonValue value;
};

// Parses one JSON document. InvalidArgument on any violation of RFC 8259 or
// nesting deeper than `max_depth`; the message is
// "invalid JSON at byte <offset>: <what was expected>" and contains no input
// bytes.
absl::StatusOr<JsonValue> ParseJson(absl::string_view text,
                                    int max_depth = kJsonMaxDepth);

// Writes JSON text as it is called, members in call order (a JsonValue keeps
// its objects sorted; the audit log, the identity records and the CLI's output
// want their own order). The one writer of the project: SerializeJson* below
// are JsonWriter::Value, so strings, numbers and layout are the same
// everywhere. Calls must form one well-nested value (a Key before each
// member's value, Begin/End balanced); misuse is a programming error caught
// by assert in debug builds. Not thread-safe; the buffer is a WipingString.
//
//   JsonWriter w(JsonWriter::Style::kPretty);
//   w.BeginObject().Key("name").String("db").Key("version").Int(3);
//   w.Key("roles").BeginArray().String("admin").EndArray().EndObject();
//   WipingString text = w.Finish();
//   // {
//   //   "name": "db",
//   //   "version": 3,
//   //   "roles": [
//   //     "admin"
//   //   ]
//   // }
class JsonWriter {
 public:
  // kCompact: no whitespace. kPretty: serde_json's pretty layout, 2-space
  // indent, `"key": value`, empty containers as `[]`/`{}`.
  enum class Style { kCompact, kPretty };
  explicit JsonWriter(Style style);

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // The name of the next object member; its value follows.
  JsonWriter& Key(absl::string_view key);
  // Strings are copied as bytes with serde_json's escaping (see above):
  // callers check IsValidUtf8() for text of unknown origin.
  JsonWriter& String(absl::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // A whole value, laid out in this writer's style.
  JsonWriter& Value(const JsonValue& value);

  // The text written; the writer is empty afterwards.
  WipingString Finish();

 private:
  struct Level {
    bool is_object;
    bool first = true;
  };
  void BeforeValue();
  void NextElement();
  void Close(char bracket);

  Style style_;
  WipingString out_;
  std::vector<Level> stack_;  // the open containers
  bool after_key_ = false;
};

// Compact JSON (no whitespace), object keys sorted.
WipingString SerializeJson(const JsonValue& value);
// Pretty JSON: 2-space indent, `"key": value`, no trailing newline.
WipingString SerializeJsonPretty(const JsonValue& value);

// Appends `text` as a JSON string literal (with quotes, serde_json escaping).
void AppendJsonQuoted(absl::string_view text, WipingString* out);
// `text` as a JSON string literal; for non-secret text such as key names in
// error messages (control characters come out escaped).
std::string JsonQuote(absl::string_view text);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_FORMAT_JSON_H_
