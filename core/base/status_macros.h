// Small status-propagation macros (Debian's Abseil 20220623 has none).
//
//   RETURN_IF_ERROR(store->Put(...));
//   ASSIGN_OR_RETURN(auto blob, aead.Encrypt(plain, ad));
#ifndef ZLAYER_SECRETS_CORE_BASE_STATUS_MACROS_H_
#define ZLAYER_SECRETS_CORE_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ZS_STATUS_CONCAT_INNER_(a, b) a##b
#define ZS_STATUS_CONCAT_(a, b) ZS_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                                    \
  do {                                                           \
    ::absl::Status zs_status_ = (expr);                          \
    if (ABSL_PREDICT_FALSE(!zs_status_.ok())) return zs_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr)                                         \
  ZS_ASSIGN_OR_RETURN_IMPL_(ZS_STATUS_CONCAT_(zs_statusor_, __LINE__), lhs, \
                            expr)

#define ZS_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)              \
  auto statusor = (expr);                                           \
  if (ABSL_PREDICT_FALSE(!statusor.ok())) return statusor.status(); \
  lhs = std::move(statusor).value()

#endif  // ZLAYER_SECRETS_CORE_BASE_STATUS_MACROS_H_
