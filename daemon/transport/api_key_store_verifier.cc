#include "daemon/transport/api_key_store_verifier.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/status_macros.h"

namespace zlayer::secrets {

absl::StatusOr<Principal> ApiKeyStoreVerifier::Verify(
    absl::string_view key_id, const SecretBytes& secret) const {
  ApiKeyAttempt attempt;
  attempt.source = "-";
  return VerifyFrom(key_id, secret, attempt);
}

absl::StatusOr<Principal> ApiKeyStoreVerifier::VerifyFrom(
    absl::string_view key_id, const SecretBytes& secret,
    const ApiKeyAttempt& attempt) const {
  // Budgets and audit records name the key by its id, without "zs_".
  const absl::string_view id = absl::StripPrefix(key_id, kApiKeyPrefix);
  if (budget_ != nullptr) {
    AuthFailureBudget::Decision decision = budget_->Check(attempt.source, id);
    if (!decision.allowed) {
      if (audit_ != nullptr) {
        audit_->Note(attempt.source, id, /*refused=*/true);
      }
      const int64_t seconds = std::max<int64_t>(
          1, static_cast<int64_t>(
                 std::ceil(absl::ToDoubleSeconds(decision.retry_after))));
      return MarkCoalescedAudit(absl::ResourceExhaustedError(absl::StrCat(
          "too many failed API key attempts ",
          decision.source_blocked ? "from this address"
                                  : "on this key id from this address",
          "; retry in ", seconds, " s")));
    }
  }

  // The joined key is as secret as its parts: build it in SecretBytes and
  // wipe the temporary string.
  std::string joined;
  joined.reserve(key_id.size() + 1 + secret.size());
  joined.append(key_id.data(), key_id.size());
  joined.push_back('.');
  joined.append(secret.InsecureView().data(), secret.size());
  SecretBytes presented = SecretBytes::FromString(joined);
  WipeString(&joined);
  // A real-time wait (the semaphore's), so the real clock.
  const absl::Time deadline =
      std::min(attempt.deadline, absl::Now() + max_queue_wait_);
  absl::StatusOr<ApiKeyInfo> info =
      keys_->Verify(presented.InsecureView(), deadline);
  if (absl::IsDeadlineExceeded(info.status())) {
    return absl::ResourceExhaustedError(
        "API key verification is busy (legacy key records queue for "
        "Argon2id); retry later");
  }
  if (absl::IsUnauthenticated(info.status())) {
    if (budget_ != nullptr) budget_->RecordFailure(attempt.source, id);
    if (audit_ != nullptr) {
      audit_->Note(attempt.source, id, /*refused=*/false);
    }
    return MarkCoalescedAudit(info.status());
  }
  if (!info.ok()) return info.status();
  Principal principal;
  principal.api_key_id = info->id;
  principal.roles = info->roles;
  return principal;
}

}  // namespace zlayer::secrets
