#include "core/resolve/resolver.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/optional.h"
#include "core/base/status_macros.h"
#include "core/format/json.h"
#include "core/resolve/json_field.h"
#include "core/resolve/secret_ref.h"

namespace zlayer::secrets {
namespace {

// Higher is more severe; decides the code of a combined error.
int Severity(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kDataLoss:
      return 6;
    case absl::StatusCode::kInvalidArgument:
      return 5;
    case absl::StatusCode::kFailedPrecondition:
      return 4;
    case absl::StatusCode::kPermissionDenied:
      return 3;
    case absl::StatusCode::kNotFound:
      return 2;
    default:
      return 1;
  }
}

std::string DeploymentScope(const ResolveContext& context) {
  return context.deployment;
}

}  // namespace

bool ResolvePlan::ok() const {
  return std::all_of(entries.begin(), entries.end(),
                     [](const PlannedEntry& e) { return e.status.ok(); });
}

absl::Status CombineEntryErrors(const std::vector<EntryError>& errors,
                                size_t total_entries) {
  if (errors.empty()) return absl::OkStatus();
  absl::StatusCode code = errors.front().status.code();
  std::vector<std::string> parts;
  parts.reserve(errors.size());
  for (const EntryError& e : errors) {
    if (Severity(e.status.code()) > Severity(code)) code = e.status.code();
    parts.push_back(
        absl::StrCat(e.key, " (", e.reference, "): ", e.status.message()));
  }
  return absl::Status(code, absl::StrCat(errors.size(), " of ", total_entries,
                                         " env entries cannot be resolved: ",
                                         absl::StrJoin(parts, "; ")));
}

Resolver::Resolver(SecretsProvider* provider, EnvironmentRegistry* environments)
    : provider_(provider), environments_(environments) {}

ResolvePlan Resolver::Plan(const std::map<std::string, std::string>& env,
                           const ResolveContext& context) const {
  ResolvePlan plan;
  plan.entries.reserve(env.size());
  // Environment lookups are memoised: an env map usually names few
  // environments.
  absl::flat_hash_map<std::string, absl::StatusOr<std::string>> env_scopes;
  auto env_scope =
      [&](const std::string& name_or_id,
          const std::string& project) -> absl::StatusOr<std::string> {
    if (environments_ == nullptr) {
      return absl::FailedPreconditionError(
          "environment references are not supported: no environment registry");
    }
    std::string memo_key = absl::StrCat(project, "\n", name_or_id);
    auto it = env_scopes.find(memo_key);
    if (it == env_scopes.end()) {
      it = env_scopes
               .emplace(memo_key,
                        environments_->ResolveScope(name_or_id, project))
               .first;
    }
    return it->second;
  };

  for (const auto& [key, value] : env) {
    PlannedEntry entry;
    entry.key = key;
    entry.raw_value = value;
    if (IsSecretUrl(value)) {
      entry.is_reference = true;
      entry.reference = value;
      absl::StatusOr<SecretUrlRef> url = SecretUrlRef::Parse(value);
      if (!url.ok()) {
        entry.status = url.status();
      } else {
        entry.reference = url->ToString();
        entry.target.name = url->key;
        if (url->field) {
          entry.has_field = true;
          entry.field = *url->field;
        }
        absl::StatusOr<std::string> scope =
            env_scope(url->environment, context.project);
        if (scope.ok()) {
          entry.target.scope = *scope;
        } else {
          entry.status = scope.status();
        }
      }
    } else if (IsSecretRef(value)) {
      entry.is_reference = true;
      entry.reference = value;
      absl::StatusOr<SecretRef> ref = SecretRef::Parse(value);
      if (!ref.ok()) {
        entry.status = ref.status();
      } else {
        entry.reference = ref->ToString();
        entry.target.name = ref->name;
        if (ref->field) {
          entry.has_field = true;
          entry.field = *ref->field;
        }
        if (ref->is_environment_level()) {
          absl::StatusOr<std::string> scope =
              env_scope(*ref->environment,
                        ref->project ? *ref->project : context.project);
          if (scope.ok()) {
            entry.target.scope = *scope;
          } else {
            entry.status = scope.status();
          }
        } else if (context.deployment.empty()) {
          entry.status = absl::FailedPreconditionError(
              "no deployment in the resolve context for a deployment or "
              "service "
              "reference");
        } else if (ref->is_service_level()) {
          entry.target.scope =
              absl::StrCat(DeploymentScope(context), "/", *ref->service);
        } else {
          entry.target.scope = DeploymentScope(context);
        }
      }
    }
    plan.entries.push_back(std::move(entry));
  }
  return plan;
}

absl::StatusOr<ResolvedEnv> Resolver::Execute(
    const ResolvePlan& plan, std::vector<EntryError>* errors_out,
    const ResolveBudget& budget) const {
  auto keep_going = [&budget]() {
    return budget.keep_going ? budget.keep_going() : absl::OkStatus();
  };
  auto over_budget = [&budget](size_t bytes) {
    return budget.max_output_bytes != 0 && bytes > budget.max_output_bytes;
  };
  std::vector<EntryError> errors;
  std::vector<VersionedKey> keys;
  std::vector<size_t> key_index(plan.entries.size(), 0);
  absl::flat_hash_map<std::pair<SecretKey, uint32_t>, size_t> unique;
  bool pinned = false;
  for (size_t i = 0; i < plan.entries.size(); ++i) {
    const PlannedEntry& e = plan.entries[i];
    if (!e.is_reference) continue;
    if (!e.status.ok()) {
      errors.push_back({e.key, e.reference, e.status});
      continue;
    }
    auto [it, inserted] =
        unique.emplace(std::make_pair(e.target, e.version), keys.size());
    if (inserted) keys.push_back({e.target, e.version});
    key_index[i] = it->second;
    pinned = pinned || e.version != 0;
  }
  RETURN_IF_ERROR(keep_going());

  // One snapshot for every reference, even when some entries already failed:
  // the error then lists every bad entry, not just the first kind found.
  // Each distinct secret (version) is read (and decrypted) once.
  std::vector<absl::StatusOr<VersionedValue>> read;
  if (!keys.empty()) {
    absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>> batch;
    if (pinned) {
      batch = provider_->ReadVersions(keys);
    } else {
      std::vector<SecretKey> current;
      current.reserve(keys.size());
      for (const VersionedKey& k : keys) current.push_back(k.key);
      batch = provider_->ReadBatch(current);
    }
    if (!batch.ok()) return batch.status();
    read = std::move(*batch);
    if (read.size() != keys.size()) {
      return absl::InternalError("store returned a batch of the wrong size");
    }
  }

  // Where each entry's value comes from, without copying it yet: a read
  // value, or a field rendered once per (secret, field) from a value parsed
  // once per secret. std::map keeps the rendered fields at stable addresses.
  std::vector<absl::optional<absl::StatusOr<JsonValue>>> parsed(keys.size());
  std::map<std::pair<size_t, std::string>, absl::StatusOr<SecretBytes>>
      rendered;
  std::vector<const SecretBytes*> source(plan.entries.size(), nullptr);
  size_t output_bytes = 0;
  for (size_t i = 0; i < plan.entries.size(); ++i) {
    RETURN_IF_ERROR(keep_going());
    const PlannedEntry& e = plan.entries[i];
    output_bytes += e.key.size();
    if (!e.is_reference) {
      output_bytes += e.raw_value.size();
    } else if (e.status.ok()) {
      const absl::StatusOr<VersionedValue>& got = read[key_index[i]];
      if (!got.ok()) {
        absl::Status status = got.status();
        if (absl::IsNotFound(status) && e.version != 0) {
          // A rollback to the versions a deployment ran with cannot use a
          // newer one instead.
          status = absl::FailedPreconditionError(
              absl::StrCat("pinned version ", e.version, " of secret '",
                           e.target.name, "' in scope '", e.target.scope,
                           "' is gone (pruned, destroyed or deleted)"));
        } else if (absl::IsNotFound(status)) {
          status = absl::NotFoundError(absl::StrCat("secret '", e.target.name,
                                                    "' not found in scope '",
                                                    e.target.scope, "'"));
        }
        errors.push_back({e.key, e.reference, status});
        continue;
      }
      if (e.version != 0 && !e.incarnation.empty() &&
          !got->incarnation.empty() &&
          absl::BytesToHexString(got->incarnation) != e.incarnation) {
        // Same name, same version number, another secret: it was destroyed
        // and created again after the receipt was taken.
        errors.push_back(
            {e.key, e.reference,
             absl::FailedPreconditionError(absl::StrCat(
                 "pinned version ", e.version, " of secret '", e.target.name,
                 "' in scope '", e.target.scope,
                 "' is gone: the secret was destroyed and created again "
                 "since the receipt"))});
        continue;
      }
      const SecretBytes* value = &got->value;
      if (e.has_field) {
        const size_t k = key_index[i];
        auto it = rendered.find({k, e.field});
        if (it == rendered.end()) {
          if (!parsed[k].has_value()) parsed[k] = ParseJsonSecret(got->value);
          absl::StatusOr<SecretBytes> field =
              parsed[k]->ok()
                  ? ExtractJsonField(**parsed[k], e.field)
                  : absl::StatusOr<SecretBytes>(parsed[k]->status());
          it = rendered.emplace(std::make_pair(k, e.field), std::move(field))
                   .first;
        }
        if (!it->second.ok()) {
          errors.push_back({e.key, e.reference, it->second.status()});
          continue;
        }
        value = &*it->second;
      }
      source[i] = value;
      output_bytes += value->size() + e.key.size() + e.reference.size() +
                      e.target.scope.size() + e.target.name.size() +
                      e.field.size();
    }
    if (over_budget(output_bytes)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the resolved env map would exceed the per-call limit of ",
          budget.max_output_bytes, " bytes (at entry ", i + 1, " of ",
          plan.entries.size(), ")"));
    }
  }

  if (!errors.empty()) {
    absl::Status combined = CombineEntryErrors(errors, plan.entries.size());
    if (errors_out != nullptr) *errors_out = std::move(errors);
    return combined;
  }

  // Within budget: only now are the per-entry copies made.
  ResolvedEnv out;
  for (size_t i = 0; i < plan.entries.size(); ++i) {
    const PlannedEntry& e = plan.entries[i];
    if (!e.is_reference) {
      out.values.emplace(e.key, SecretBytes::FromString(e.raw_value));
      continue;
    }
    out.values.emplace(e.key, source[i]->Clone());
    out.receipt.push_back(
        {e.key, e.reference, e.target, read[key_index[i]]->version, e.field,
         absl::BytesToHexString(read[key_index[i]]->incarnation)});
  }
  return out;
}

absl::Status ApplyPins(const std::vector<ReceiptEntry>& pins,
                       ResolvePlan* plan) {
  absl::flat_hash_map<std::string, const ReceiptEntry*> by_key;
  for (const ReceiptEntry& pin : pins) {
    if (pin.version == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "receipt entry '", pin.key, "' has no version (pins need one)"));
    }
    // Hex as receipts carry it; 16 bytes today, room for a longer id.
    if (pin.incarnation.size() > 64 || pin.incarnation.size() % 2 != 0 ||
        !absl::c_all_of(pin.incarnation, [](char c) {
          return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
        })) {
      return absl::InvalidArgumentError(
          absl::StrCat("receipt entry '", pin.key,
                       "' has a malformed incarnation (lowercase hex)"));
    }
    if (!by_key.emplace(pin.key, &pin).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("receipt names key '", pin.key, "' twice"));
    }
  }
  size_t used = 0;
  for (PlannedEntry& entry : plan->entries) {
    if (!entry.is_reference) continue;
    auto it = by_key.find(entry.key);
    if (it == by_key.end()) {
      if (entry.status.ok()) {
        entry.status = absl::InvalidArgumentError(
            "not in the receipt (a pinned resolve pins every reference)");
      }
      continue;
    }
    ++used;
    const ReceiptEntry& pin = *it->second;
    if (!entry.status.ok()) continue;
    if (!(pin.target == entry.target)) {
      entry.status = absl::InvalidArgumentError(absl::StrCat(
          "the receipt pins secret '", pin.target.name, "' in scope '",
          pin.target.scope, "', but the reference resolves to secret '",
          entry.target.name, "' in scope '", entry.target.scope, "'"));
      continue;
    }
    entry.version = pin.version;
    entry.incarnation = pin.incarnation;
  }
  if (used != by_key.size()) {
    std::vector<std::string> extra;
    for (const ReceiptEntry& pin : pins) {
      bool found = false;
      for (const PlannedEntry& entry : plan->entries) {
        found = found || (entry.is_reference && entry.key == pin.key);
      }
      if (!found) extra.push_back(pin.key);
    }
    return absl::InvalidArgumentError(
        absl::StrCat("the receipt pins keys that are not references of the "
                     "env map: ",
                     absl::StrJoin(extra, ", ")));
  }
  return absl::OkStatus();
}

absl::StatusOr<ResolvedEnv> Resolver::Resolve(
    const std::map<std::string, std::string>& env,
    const ResolveContext& context, const AccessCheck& access,
    const ResolveBudget& budget, std::vector<EntryError>* errors) const {
  return ResolvePlanned(Plan(env, context), access, budget, errors);
}

absl::StatusOr<ResolvedEnv> Resolver::ResolvePinned(
    const std::map<std::string, std::string>& env,
    const ResolveContext& context, const std::vector<ReceiptEntry>& pins,
    const AccessCheck& access, const ResolveBudget& budget,
    std::vector<EntryError>* errors) const {
  ResolvePlan plan = Plan(env, context);
  RETURN_IF_ERROR(ApplyPins(pins, &plan));
  return ResolvePlanned(std::move(plan), access, budget, errors);
}

absl::StatusOr<ResolvedEnv> Resolver::ResolvePlanned(
    ResolvePlan plan, const AccessCheck& access, const ResolveBudget& budget,
    std::vector<EntryError>* errors) const {
  for (PlannedEntry& entry : plan.entries) {
    if (!entry.is_reference || !entry.status.ok()) continue;
    entry.status = access(entry.target);
  }
  return Execute(plan, errors, budget);
}

absl::StatusOr<ResolvedEnv> Resolver::Resolve(
    const std::map<std::string, std::string>& env,
    const ResolveContext& context, std::vector<EntryError>* errors) const {
  return Execute(Plan(env, context), errors);
}

}  // namespace zlayer::secrets
