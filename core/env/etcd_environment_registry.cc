#include "core/env/etcd_environment_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/base/text_validation.h"
#include "core/crypto/store_crypto.h"
#include "core/crypto/subkeys.h"

namespace zlayer::secrets {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;

constexpr int kMaxConflicts = 100;

absl::Status AlreadyTaken() {
  return absl::AlreadyExistsError(
      "an environment with this name already exists in this project");
}

absl::Status NoSuchId() {
  return absl::NotFoundError("no environment has this id");
}

void PutField(std::string* out, absl::string_view s) {
  const uint32_t n = static_cast<uint32_t>(s.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((n >> shift) & 0xff));
  }
  out->append(s.data(), s.size());
}

bool GetField(absl::string_view* in, std::string* out) {
  if (in->size() < 4) return false;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(4);
  if (in->size() < n) return false;
  *out = std::string(in->substr(0, n));
  in->remove_prefix(n);
  return true;
}

Compare* AddCompare(TxnRequest* txn, const std::string& key,
                    Compare::CompareTarget target, int64_t revision) {
  Compare* c = txn->add_compare();
  c->set_key(key);
  c->set_target(target);
  c->set_result(Compare::EQUAL);
  if (target == Compare::CREATE) {
    c->set_create_revision(revision);
  } else {
    c->set_mod_revision(revision);
  }
  return c;
}

void AddPut(TxnRequest* txn, const std::string& key, std::string value) {
  RequestOp* op = txn->add_success();
  op->mutable_request_put()->set_key(key);
  op->mutable_request_put()->set_value(std::move(value));
}

void AddDelete(TxnRequest* txn, const std::string& key) {
  txn->add_success()->mutable_request_delete_range()->set_key(key);
}

}  // namespace

struct EtcdEnvironmentRegistry::Read {
  bool found = false;
  Environment env;
  int64_t mod_revision = 0;
};

absl::StatusOr<std::unique_ptr<EtcdEnvironmentRegistry>>
EtcdEnvironmentRegistry::Create(EtcdSecretStore* store, Clock* clock) {
  if (store == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError(
        "environment registry needs a store and a clock");
  }
  ASSIGN_OR_RETURN(SecretBytes mac_key,
                   store->DeriveSubkey(SubkeyPurpose::kMetadataMac));
  return std::unique_ptr<EtcdEnvironmentRegistry>(
      new EtcdEnvironmentRegistry(store, clock, std::move(mac_key)));
}

EtcdEnvironmentRegistry::EtcdEnvironmentRegistry(EtcdSecretStore* store,
                                                 Clock* clock,
                                                 SecretBytes mac_key)
    : store_(store), clock_(clock), mac_key_(std::move(mac_key)) {}

std::string EtcdEnvironmentRegistry::IdKey(absl::string_view id) const {
  return absl::StrCat(store_->prefix(), "/env/id/", id);
}

std::string EtcdEnvironmentRegistry::NameKey(absl::string_view project,
                                             absl::string_view name) const {
  return absl::StrCat(store_->prefix(), "/env/name/",
                      absl::BytesToHexString(project), "/", name);
}

absl::StatusOr<std::string> EtcdEnvironmentRegistry::Encode(
    const Environment& env) const {
  EnvironmentRowFields fields;
  fields.id = env.id;
  fields.name = env.name;
  fields.project = env.project;
  fields.description = env.description;
  fields.created_at = env.created_at;
  fields.updated_at = env.updated_at;
  ASSIGN_OR_RETURN(std::string mac,
                   EnvironmentRowMac(mac_key_, store_->store_id(), fields));
  std::string out = "E\x01";
  PutField(&out, env.name);
  PutField(&out, env.project);
  PutField(&out, env.description);
  PutField(&out, absl::StrCat(env.created_at));
  PutField(&out, absl::StrCat(env.updated_at));
  PutField(&out, mac);
  return out;
}

absl::StatusOr<Environment> EtcdEnvironmentRegistry::Decode(
    absl::string_view id, absl::string_view value) const {
  Environment env;
  env.id = std::string(id);
  std::string created, updated, mac;
  if (value.size() < 2 || value[0] != 'E' || value[1] != 1) {
    return absl::DataLossError("stored environment record is malformed");
  }
  value.remove_prefix(2);
  if (!GetField(&value, &env.name) || !GetField(&value, &env.project) ||
      !GetField(&value, &env.description) || !GetField(&value, &created) ||
      !GetField(&value, &updated) || !GetField(&value, &mac) ||
      !value.empty() || !absl::SimpleAtoi(created, &env.created_at) ||
      !absl::SimpleAtoi(updated, &env.updated_at)) {
    return absl::DataLossError("stored environment record is malformed");
  }
  EnvironmentRowFields fields;
  fields.id = env.id;
  fields.name = env.name;
  fields.project = env.project;
  fields.description = env.description;
  fields.created_at = env.created_at;
  fields.updated_at = env.updated_at;
  ASSIGN_OR_RETURN(std::string expected,
                   EnvironmentRowMac(mac_key_, store_->store_id(), fields));
  RETURN_IF_ERROR(CheckRowMac(mac, expected, "environment metadata"));
  return env;
}

absl::StatusOr<EtcdEnvironmentRegistry::Read> EtcdEnvironmentRegistry::ReadId(
    absl::string_view id) {
  const std::string lower = absl::AsciiStrToLower(id);
  RangeRequest r;
  r.set_key(IdKey(lower));
  ASSIGN_OR_RETURN(etcdserverpb::RangeResponse resp, store_->client().Range(r));
  Read out;
  if (resp.kvs_size() == 0) return out;
  out.found = true;
  out.mod_revision = resp.kvs(0).mod_revision();
  ASSIGN_OR_RETURN(out.env, Decode(lower, resp.kvs(0).value()));
  return out;
}

absl::StatusOr<std::vector<Environment>> EtcdEnvironmentRegistry::ListAll() {
  const std::string prefix = absl::StrCat(store_->prefix(), "/env/id/");
  RangeRequest r;
  r.set_key(prefix);
  r.set_range_end(absl::StrCat(store_->prefix(), "/env/id0"));  // '0' > '/'
  ASSIGN_OR_RETURN(etcdserverpb::RangeResponse resp, store_->client().Range(r));
  std::vector<Environment> out;
  for (const auto& kv : resp.kvs()) {
    ASSIGN_OR_RETURN(Environment env,
                     Decode(kv.key().substr(prefix.size()), kv.value()));
    out.push_back(std::move(env));
  }
  std::sort(out.begin(), out.end(),
            [](const Environment& a, const Environment& b) {
              return a.name < b.name;
            });
  return out;
}

absl::StatusOr<Environment> EtcdEnvironmentRegistry::Create(
    absl::string_view name, absl::string_view project,
    absl::string_view description) {
  ASSIGN_OR_RETURN(std::string clean, NormalizeEnvironmentName(name));
  RETURN_IF_ERROR(ValidateProject(project));
  RETURN_IF_ERROR(ValidateDescription(description));
  Environment env;
  env.id = NewUuidV4();
  env.name = std::move(clean);
  env.project = std::string(project);
  env.description = std::string(description);
  env.created_at = env.updated_at = clock_->NowUnixSeconds();
  TxnRequest txn;
  AddCompare(&txn, NameKey(env.project, env.name), Compare::CREATE, 0);
  AddCompare(&txn, IdKey(env.id), Compare::CREATE, 0);
  ASSIGN_OR_RETURN(std::string record, Encode(env));
  AddPut(&txn, IdKey(env.id), std::move(record));
  AddPut(&txn, NameKey(env.project, env.name), env.id);
  ASSIGN_OR_RETURN(etcdserverpb::TxnResponse resp, store_->client().Txn(txn));
  if (!resp.succeeded()) {
    // The id is fresh and random, so the name was taken, unless a retried
    // Txn of ours already made it.
    ASSIGN_OR_RETURN(Read mine, ReadId(env.id));
    if (mine.found) return mine.env;
    return AlreadyTaken();
  }
  return env;
}

absl::StatusOr<Environment> EtcdEnvironmentRegistry::Get(absl::string_view id) {
  ASSIGN_OR_RETURN(Read read, ReadId(id));
  if (!read.found) return NoSuchId();
  return read.env;
}

absl::StatusOr<std::vector<Environment>> EtcdEnvironmentRegistry::List(
    absl::string_view project) {
  RETURN_IF_ERROR(ValidateProject(project));
  ASSIGN_OR_RETURN(std::vector<Environment> all, ListAll());
  std::vector<Environment> out;
  for (Environment& env : all) {
    if (env.project == project) out.push_back(std::move(env));
  }
  return out;
}

absl::StatusOr<Environment> EtcdEnvironmentRegistry::Update(
    absl::string_view id, absl::string_view name,
    absl::string_view description) {
  std::string clean;
  if (!name.empty()) {
    ASSIGN_OR_RETURN(clean, NormalizeEnvironmentName(name));
  }
  RETURN_IF_ERROR(ValidateDescription(description));
  for (int conflicts = 0; conflicts <= kMaxConflicts; ++conflicts) {
    ASSIGN_OR_RETURN(Read read, ReadId(id));
    if (!read.found) return NoSuchId();
    Environment env = read.env;
    const std::string old_name = env.name;
    TxnRequest txn;
    AddCompare(&txn, IdKey(env.id), Compare::MOD, read.mod_revision);
    const bool renames = !clean.empty() && clean != env.name;
    if (renames) {
      AddCompare(&txn, NameKey(env.project, clean), Compare::CREATE, 0);
      env.name = clean;
    }
    env.description = std::string(description);
    env.updated_at = clock_->NowUnixSeconds();
    ASSIGN_OR_RETURN(std::string record, Encode(env));
    AddPut(&txn, IdKey(env.id), std::move(record));
    if (renames) {
      AddDelete(&txn, NameKey(env.project, old_name));
      AddPut(&txn, NameKey(env.project, env.name), env.id);
    }
    ASSIGN_OR_RETURN(etcdserverpb::TxnResponse resp, store_->client().Txn(txn));
    if (resp.succeeded()) return env;
    if (renames) {
      // Which compare failed: the record changed (go again) or the name is
      // taken by another environment.
      RangeRequest r;
      r.set_key(NameKey(env.project, env.name));
      ASSIGN_OR_RETURN(etcdserverpb::RangeResponse taken,
                       store_->client().Range(r));
      if (taken.kvs_size() > 0 && taken.kvs(0).value() != env.id) {
        return AlreadyTaken();
      }
    }
  }
  return absl::AbortedError("the environment kept changing; retry");
}

absl::Status EtcdEnvironmentRegistry::Delete(absl::string_view id) {
  for (int conflicts = 0; conflicts <= kMaxConflicts; ++conflicts) {
    ASSIGN_OR_RETURN(Read read, ReadId(id));
    if (!read.found) return NoSuchId();
    TxnRequest txn;
    AddCompare(&txn, IdKey(read.env.id), Compare::MOD, read.mod_revision);
    AddDelete(&txn, IdKey(read.env.id));
    AddDelete(&txn, NameKey(read.env.project, read.env.name));
    ASSIGN_OR_RETURN(etcdserverpb::TxnResponse resp, store_->client().Txn(txn));
    if (resp.succeeded()) return absl::OkStatus();
  }
  return absl::AbortedError("the environment kept changing; retry");
}

absl::StatusOr<Environment> EtcdEnvironmentRegistry::Find(
    absl::string_view name_or_id, absl::string_view project) {
  RETURN_IF_ERROR(
      ValidateText(name_or_id, "environment", 1, kMaxEnvironmentNameBytes));
  RETURN_IF_ERROR(ValidateProject(project));
  if (LooksLikeUuid(name_or_id)) {
    ASSIGN_OR_RETURN(Read read, ReadId(name_or_id));
    if (read.found) return read.env;
    return EnvironmentNotFound(name_or_id, project, {});
  }
  ASSIGN_OR_RETURN(std::vector<Environment> listed, List(project));
  std::vector<std::string> known;
  for (Environment& env : listed) {
    if (env.name == name_or_id) return std::move(env);
    known.push_back(env.name);
  }
  return EnvironmentNotFound(name_or_id, project, known);
}

}  // namespace zlayer::secrets
