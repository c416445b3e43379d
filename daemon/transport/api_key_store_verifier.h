// ApiKeyStoreVerifier: the ApiKeyVerifier the daemon plugs into its TCP
// identifier, backed by core's ApiKeyStore (keyed hashes; legacy Argon2id
// records behind a semaphore), with a failure budget per source and per id
// (core/identity/auth_failure_budget.h) and coalesced audit records for
// failures (core/audit/auth_failure_audit.h).
//
// ApiKeyIdentifier splits the presented "zs_<id>.<secret>" at its first '.';
// this adapter joins the two parts again and asks ApiKeyStore::Verify, which
// parses the whole key. The principal gets api_key_id = the key's id (no
// "zs_" prefix) and its roles.
//
// VerifyFrom(id, secret, {source, deadline}):
//   1. the budget refuses a blocked source (or a blocked id from a source
//      with failures of its own): ResourceExhausted "too many failed API key
//      attempts ...; retry in N s", without running the check;
//   2. otherwise ApiKeyStore::Verify, waiting for a legacy Argon2 slot at
//      most until min(deadline, now + max_queue_wait) (ResourceExhausted
//      "API key verification is busy" after that);
//   3. a wrong key counts against the budget: Unauthenticated
//      "invalid API key".
// Refusals and wrong keys are counted in the AuthFailureAudit and the
// returned status is marked (MarkCoalescedAudit), so the call writes no
// audit record of its own.
//
//   ApiKeyStoreVerifier verifier(api_keys.get(), &clock, &budget, &audit);
//   ApiKeyIdentifier tcp(&verifier, Transport::kTls);
//
// Thread-safe (ApiKeyStore, the budget and the audit are).
#ifndef ZLAYER_SECRETS_DAEMON_TRANSPORT_API_KEY_STORE_VERIFIER_H_
#define ZLAYER_SECRETS_DAEMON_TRANSPORT_API_KEY_STORE_VERIFIER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/audit/auth_failure_audit.h"
#include "core/base/clock.h"
#include "core/base/secret_bytes.h"
#include "core/identity/access.h"
#include "core/identity/api_key_store.h"
#include "core/identity/auth_failure_budget.h"
#include "daemon/transport/api_key_verifier.h"

namespace zlayer::secrets {

class ApiKeyStoreVerifier final : public ApiKeyVerifier {
 public:
  // `keys` is required; `budget` and `audit` may be null (no budget / no
  // coalesced audit). None is owned; all must outlive this. The Clock
  // argument is not used: the only wait is the legacy semaphore's, in real
  // time, and the budget and audit carry their own clocks. (It stays in the
  // signature until the daemon's construction code is next touched.)
  ApiKeyStoreVerifier(ApiKeyStore* keys, const Clock* /*unused*/,
                      AuthFailureBudget* budget, AuthFailureAudit* audit,
                      absl::Duration max_queue_wait = absl::Seconds(5))
      : keys_(keys),
        budget_(budget),
        audit_(audit),
        max_queue_wait_(max_queue_wait) {}

  // Without a source: no budget ("-" is recorded as the source).
  absl::StatusOr<Principal> Verify(absl::string_view key_id,
                                   const SecretBytes& secret) const override;
  // See the header comment.
  absl::StatusOr<Principal> VerifyFrom(
      absl::string_view key_id, const SecretBytes& secret,
      const ApiKeyAttempt& attempt) const override;

 private:
  ApiKeyStore* keys_;
  AuthFailureBudget* budget_;
  AuthFailureAudit* audit_;
  absl::Duration max_queue_wait_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_TRANSPORT_API_KEY_STORE_VERIFIER_H_
