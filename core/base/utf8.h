// The one UTF-8 decoder (RFC 3629) of the project: the JSON parser, the
// dotenv reader, the text checks of the stores and the CLI all use it.
//
//   uint32_t cp;
//   size_t n = DecodeUtf8(text, &cp);  // 0: not well-formed UTF-8
//   if (n == 0) return absl::InvalidArgumentError("not valid UTF-8");
//   text.remove_prefix(n);
//
// Well-formed means RFC 3629's table: no overlong forms (C0 80, E0 80 80),
// no UTF-16 surrogates (ED A0 80 .. ED BF BF), nothing above U+10FFFF, no
// truncated sequence, no stray continuation byte. Thread-safe (pure functions).
#ifndef ZLAYER_SECRETS_CORE_BASE_UTF8_H_
#define ZLAYER_SECRETS_CORE_BASE_UTF8_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace zlayer::secrets {

// Decodes the code point at the start of `s`. Returns its length in bytes
// (1-4) and sets `*code_point`, or returns 0 (leaving `*code_point` alone)
// when `s` is empty or does not start with a well-formed sequence.
size_t DecodeUtf8(absl::string_view s, uint32_t* code_point);

// True if all of `s` is well-formed UTF-8 (the empty string is).
bool IsValidUtf8(absl::string_view s);

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_BASE_UTF8_H_
