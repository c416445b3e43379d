// Resolver: turns an environment map holding secret references into the map
// a container starts with. All or nothing, at one store snapshot.
//
//   Resolver resolver(&store, &environments);
//   ResolveContext ctx;
//   ctx.deployment = "shop";
//   ASSIGN_OR_RETURN(ResolvedEnv out, resolver.Resolve(env, ctx, may_read));
//   // out.values["DB_PASSWORD"], out.receipt: (scope, name, version) per
//   reference
//
// Scopes, unlike upstream (which ignores env/project):
//   $S:name[/f]              -> deployment scope  "{deployment}"
//   $S:@svc/name[/f]         -> service scope     "{deployment}/{svc}"
//   $S::env/name[/f]         -> environment `env` of ctx.project, else global
//   $S:proj:env/name[/f]     -> environment `env` of project `proj`
//   $secret://env/KEY[/f]    -> environment `env` of ctx.project, else global
// Values that are not references pass through unchanged. Fields are
// extracted with ExtractJsonField (docs/compatibility.md, "JSON fields").
//
// Thread-safe if the provider and registry are.
#ifndef ZLAYER_SECRETS_CORE_RESOLVE_RESOLVER_H_
#define ZLAYER_SECRETS_CORE_RESOLVE_RESOLVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/base/secret_bytes.h"
#include "core/env/environment_registry.h"
#include "core/store/secret_store.h"

namespace zlayer::secrets {

struct ResolveContext {
  std::string deployment;  // scope of `$S:name`; required if such refs occur
  std::string project;     // project for environment name lookups; "" = global
};

// One entry of an env map, parsed and located but not read.
struct PlannedEntry {
  std::string key;
  std::string raw_value;      // the input value (references are not secret)
  bool is_reference = false;  // false: passes through unchanged
  std::string reference;      // canonical form of the reference
  SecretKey target;           // where the value is read
  std::string field;          // "" = whole value
  bool has_field = false;     // `$secret://e/K/` asks for the field ""
  absl::Status status;        // parse or environment-lookup failure
  // The version to read: 0 = current; otherwise pinned (ApplyPins), and a
  // pinned version that is gone fails with FailedPrecondition.
  uint32_t version = 0;
  // With a pin: the incarnation the receipt saw, lowercase hex ("" = not
  // checked). A secret destroyed and created again since fails with
  // FailedPrecondition.
  std::string incarnation;
};

struct ResolvePlan {
  std::vector<PlannedEntry> entries;  // ordered by key
  bool ok() const;                    // every entry's status is OK
};

// Which stored secret a resolved entry used.
struct ReceiptEntry {
  std::string key;
  std::string reference;
  SecretKey target;
  uint32_t version = 0;
  std::string field;
  // VersionedValue::incarnation of what was read, lowercase hex.
  std::string incarnation;
};

struct ResolvedEnv {
  std::map<std::string, SecretBytes> values;  // every input key
  std::vector<ReceiptEntry> receipt;          // one per reference, by key
};

// Pins every reference of `plan` to the version its receipt entry names
// (matched by env key): pinned resolution, e.g. rolling a deployment back to
// the secrets it ran with. A reference without a receipt entry, or whose
// receipt entry names another secret, gets an InvalidArgument entry status
// (so the combined error lists it); the call itself answers InvalidArgument
// for a receipt entry without a version, a key named twice, or keys that are
// not references of the map. Reads nothing.
absl::Status ApplyPins(const std::vector<ReceiptEntry>& pins,
                       ResolvePlan* plan);

// A failed entry, for callers that present errors per entry.
struct EntryError {
  std::string key;
  std::string reference;
  absl::Status status;
};

// Combines per-entry errors into one status: the most severe code (DataLoss,
// then InvalidArgument, FailedPrecondition, PermissionDenied, NotFound) and a
// message listing every entry "KEY (reference): reason", never values.
absl::Status CombineEntryErrors(const std::vector<EntryError>& errors,
                                size_t total_entries);

// Per-call bounds of Resolver::Execute (see docs/security.md, "Daemon side:
// resource limits and TLS reload"). The number of entries is bounded by the
// caller (the daemon's --max-env-entries) before planning.
struct ResolveBudget {
  // Most bytes the answer may hold: every key and value, plus each
  // reference's receipt (key, reference, scope, name, field). Checked after
  // the one read of each distinct secret (its decrypted size is then known)
  // and before any per-entry value is copied or a field rendered more than
  // once. 0 = unbounded.
  size_t max_output_bytes = 0;
  // Asked before the read and between entries; a non-OK status (Cancelled,
  // DeadlineExceeded, ...) ends Execute with that status. Lets a caller
  // that knows about deadlines (the gRPC layer) stop work nobody waits for
  // without core/ knowing about gRPC. Unset = never stop.
  std::function<absl::Status()> keep_going;
};

// Decides whether the caller may read one target: OK allows it, any other
// status denies it and becomes that entry's error.
using AccessCheck = std::function<absl::Status(const SecretKey& target)>;

class Resolver {
 public:
  // `provider` is required; `environments` may be null (then environment
  // references fail with FailedPrecondition). Neither is owned.
  Resolver(SecretsProvider* provider, EnvironmentRegistry* environments);

  // Parses every entry and finds its scope; reads no values.
  ResolvePlan Plan(const std::map<std::string, std::string>& env,
                   const ResolveContext& context) const;

  // Reads every target of `plan` in one ReadBatch (one snapshot) and applies
  // fields. On any failure (including failures recorded in the plan) returns
  // CombineEntryErrors of every bad entry and no values; `errors`, if given,
  // receives them one by one.
  //
  // Work per call: each distinct secret is read (decrypted) once, however
  // many entries name it; a JSON value is parsed once, and each distinct
  // field of it rendered once, however many entries point at it. Then
  // ResourceExhausted, naming the limit, when the answer would exceed
  // `budget.max_output_bytes`; the status of `budget.keep_going` when it
  // says stop.
  absl::StatusOr<ResolvedEnv> Execute(
      const ResolvePlan& plan, std::vector<EntryError>* errors = nullptr,
      const ResolveBudget& budget = ResolveBudget()) const;

  // Plan, then `access` for every reference that planned well, then
  // Execute. A denied entry fails like a bad reference (its status joins
  // the combined error, so one answer lists every problem) and nothing is
  // read for a call with any failed entry.
  absl::StatusOr<ResolvedEnv> Resolve(
      const std::map<std::string, std::string>& env,
      const ResolveContext& context, const AccessCheck& access,
      const ResolveBudget& budget = ResolveBudget(),
      std::vector<EntryError>* errors = nullptr) const;

  // Resolve with every reference pinned to its version in `pins` (a
  // receipt, as ResolvedEnv::receipt or WatchEnv's): ApplyPins, the access
  // check, then Execute, which reads exactly those versions at one snapshot
  // (SecretsProvider::ReadVersions). All or nothing: a pinned version that
  // was pruned or destroyed (or a deleted secret) is FailedPrecondition
  // naming every such entry, and nothing is returned.
  absl::StatusOr<ResolvedEnv> ResolvePinned(
      const std::map<std::string, std::string>& env,
      const ResolveContext& context, const std::vector<ReceiptEntry>& pins,
      const AccessCheck& access, const ResolveBudget& budget = ResolveBudget(),
      std::vector<EntryError>* errors = nullptr) const;

  // Plan + Execute, with no access check (every target is readable).
  absl::StatusOr<ResolvedEnv> Resolve(
      const std::map<std::string, std::string>& env,
      const ResolveContext& context,
      std::vector<EntryError>* errors = nullptr) const;

 private:
  // The access check for every reference that planned well, then Execute.
  absl::StatusOr<ResolvedEnv> ResolvePlanned(
      ResolvePlan plan, const AccessCheck& access, const ResolveBudget& budget,
      std::vector<EntryError>* errors) const;

  SecretsProvider* provider_;
  EnvironmentRegistry* environments_;
};

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_RESOLVE_RESOLVER_H_
