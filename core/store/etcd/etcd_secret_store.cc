#include "core/store/etcd/etcd_secret_store.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "core/base/status_macros.h"
#include "core/crypto/store_crypto.h"
#include "core/store/node_affinity.h"
#include "core/store/store_common.h"

namespace zlayer::secrets {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

constexpr absl::string_view kKeyCheckPlaintext = "zlayer-secrets key check v1";
constexpr absl::string_view kKeyMismatch =
    "the master key does not match this store (key check failed)";
constexpr size_t kOpIdBytes = 16;
// Compare losses in a row before a write gives up (another daemon keeps
// winning the same secret): Aborted, which callers may retry.
constexpr int kMaxConflicts = 200;

// --- Byte encoding (big-endian, fixed width)

void PutU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}
void PutI64(std::string* out, int64_t v) {
  const uint64_t u = static_cast<uint64_t>(v);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((u >> shift) & 0xff));
  }
}
uint32_t GetU32(absl::string_view in, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    v = (v << 8) | static_cast<uint8_t>(in[at + i]);
  }
  return v;
}
int64_t GetI64(absl::string_view in, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) {
    v = (v << 8) | static_cast<uint8_t>(in[at + i]);
  }
  return static_cast<int64_t>(v);
}

std::string Hex8(uint32_t v) { return absl::StrFormat("%08x", v); }

absl::Status NotFound() { return absl::NotFoundError("secret not found"); }

absl::Status Damaged(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("store ", what, " is damaged"));
}

// The smallest key after every key starting with `prefix`.
std::string RangeEnd(absl::string_view prefix) {
  absl::optional<std::string> end = PrefixUpperBound(prefix);
  // Prefixes here always end in '/', so there is an upper bound.
  return end.value_or(std::string(1, '\0'));
}

RequestOp RangeOp(RangeRequest range) {
  RequestOp op;
  *op.mutable_request_range() = std::move(range);
  return op;
}

RangeRequest Get(std::string key) {
  RangeRequest r;
  r.set_key(std::move(key));
  return r;
}

// The newest key under `prefix` (limit 1, descending by key).
RangeRequest Newest(absl::string_view prefix, bool keys_only) {
  RangeRequest r;
  r.set_key(std::string(prefix));
  r.set_range_end(RangeEnd(prefix));
  r.set_sort_order(RangeRequest::DESCEND);
  r.set_sort_target(RangeRequest::KEY);
  r.set_limit(1);
  r.set_keys_only(keys_only);
  return r;
}

RequestOp PutOp(std::string key, std::string value) {
  RequestOp op;
  op.mutable_request_put()->set_key(std::move(key));
  op.mutable_request_put()->set_value(std::move(value));
  return op;
}

RequestOp DeleteOp(std::string key, std::string range_end) {
  RequestOp op;
  op.mutable_request_delete_range()->set_key(std::move(key));
  op.mutable_request_delete_range()->set_range_end(std::move(range_end));
  return op;
}

// A sealed version: created_at, DEK generation, AEAD blob.
std::string EncodeVersion(int64_t created_at, uint32_t generation,
                          absl::string_view blob) {
  std::string out;
  PutI64(&out, created_at);
  PutU32(&out, generation);
  out.append(blob.data(), blob.size());
  return out;
}

struct StoredVersion {
  int64_t created_at = 0;
  uint32_t generation = 0;
  absl::string_view blob;
};

absl::StatusOr<StoredVersion> DecodeVersion(absl::string_view in) {
  if (in.size() < 12 + kBlobOverheadBytes) {
    return absl::DataLossError("stored version is malformed");
  }
  return StoredVersion{GetI64(in, 0), GetU32(in, 8), in.substr(12)};
}

// The version number at the end of a version key ("/<8 hex>").
absl::StatusOr<uint32_t> VersionOfKey(absl::string_view key) {
  uint32_t v = 0;
  if (key.size() < 9 || key[key.size() - 9] != '/' ||
      !absl::SimpleHexAtoi(key.substr(key.size() - 8), &v) || v == 0) {
    return absl::DataLossError("stored version key is malformed");
  }
  return v;
}

absl::StatusOr<RangeResponse> TakeRange(TxnResponse& txn, int index) {
  if (index >= txn.responses_size() ||
      !txn.responses(index).has_response_range()) {
    return absl::InternalError("etcd Txn answered with the wrong responses");
  }
  return std::move(*txn.mutable_responses(index)->mutable_response_range());
}

// Runs `ranges` at one revision; answers in order.
absl::StatusOr<std::vector<RangeResponse>> ReadAtOneRevision(
    EtcdClient& client, std::vector<RangeRequest> ranges) {
  std::vector<RangeResponse> out;
  const size_t first =
      std::min<size_t>(ranges.size(), EtcdSecretStore::kMaxOpsPerTxn);
  TxnRequest txn;
  for (size_t i = 0; i < first; ++i) {
    *txn.add_success() = RangeOp(ranges[i]);
  }
  ASSIGN_OR_RETURN(TxnResponse resp, client.Txn(txn));
  for (size_t i = 0; i < first; ++i) {
    ASSIGN_OR_RETURN(RangeResponse r, TakeRange(resp, static_cast<int>(i)));
    out.push_back(std::move(r));
  }
  // More than one Txn holds: the rest read at the first Txn's revision
  // (each of those is still a linearizable Range).
  const int64_t revision = resp.header().revision();
  for (size_t i = first; i < ranges.size(); ++i) {
    ranges[i].set_revision(revision);
    ASSIGN_OR_RETURN(RangeResponse r, client.Range(ranges[i]));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

// --- Records

// A secret's record (what SQLite keeps in its `secrets` row), plus the key
// id of the current version (for listings) and the op id of the write that
// made it. Layout: 'R', 1, then the fields below big-endian, then the MAC;
// a secret with a node affinity is 'R', 2, the same, then the encoded
// affinity (core/store/node_affinity.h) to the end. Without an affinity the
// record stays version 1, which daemons of the previous release still read.
struct EtcdSecretStore::Row {
  uint32_t current_version = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  uint32_t max_versions = kDefaultMaxVersions;
  bool deleted = false;
  int64_t deleted_at = 0;
  uint32_t key_id = 0;
  std::string incarnation;
  std::string op_id;
  std::string mac;
  std::vector<std::string> node_affinity;  // canonical

  static constexpr size_t kEncodedBytes = 2 + 4 + 8 + 8 + 4 + 1 + 8 + 4 +
                                          kIncarnationBytes + kOpIdBytes +
                                          kRowMacBytes;

  std::string Encode() const {
    std::string out = node_affinity.empty() ? "R\x01" : "R\x02";
    PutU32(&out, current_version);
    PutI64(&out, created_at);
    PutI64(&out, updated_at);
    PutU32(&out, max_versions);
    out.push_back(deleted ? 1 : 0);
    PutI64(&out, deleted_at);
    PutU32(&out, key_id);
    out += incarnation;
    out += op_id;
    out += mac;
    out += EncodeNodeAffinity(node_affinity);
    return out;
  }

  static absl::StatusOr<Row> Decode(absl::string_view in) {
    const bool with_affinity = in.size() > 1 && in[1] == 2;
    if (in.size() < kEncodedBytes || in[0] != 'R' ||
        (in[1] != 1 && !with_affinity) ||
        (in.size() > kEncodedBytes) != with_affinity) {
      return absl::DataLossError("stored secret record is malformed");
    }
    Row row;
    size_t at = 2;
    row.current_version = GetU32(in, at), at += 4;
    row.created_at = GetI64(in, at), at += 8;
    row.updated_at = GetI64(in, at), at += 8;
    row.max_versions = GetU32(in, at), at += 4;
    row.deleted = in[at] != 0, at += 1;
    row.deleted_at = GetI64(in, at), at += 8;
    row.key_id = GetU32(in, at), at += 4;
    row.incarnation = std::string(in.substr(at, kIncarnationBytes));
    at += kIncarnationBytes;
    row.op_id = std::string(in.substr(at, kOpIdBytes));
    at += kOpIdBytes;
    row.mac = std::string(in.substr(at, kRowMacBytes));
    at += kRowMacBytes;
    if (with_affinity) {
      ASSIGN_OR_RETURN(row.node_affinity, DecodeNodeAffinity(in.substr(at)));
    }
    if (row.current_version == 0 || row.max_versions == 0 ||
        row.max_versions > kMaxMaxVersions) {
      return absl::DataLossError("stored secret record is malformed");
    }
    return row;
  }

  // The returned fields view `encoded_affinity`, which must outlive them.
  SecretRowFields Fields(absl::string_view scope, absl::string_view name,
                         const std::string& encoded_affinity) const {
    SecretRowFields f;
    f.node_affinity = encoded_affinity;
    f.scope = scope;
    f.name = name;
    f.incarnation = incarnation;
    f.current_version = current_version;
    f.created_at = created_at;
    f.updated_at = updated_at;
    f.max_versions = max_versions;
    f.deleted = deleted;
    f.deleted_at = deleted_at;
    return f;
  }

  SecretMetadata Metadata(absl::string_view scope,
                          absl::string_view name) const {
    SecretMetadata m;
    m.scope = std::string(scope);
    m.name = std::string(name);
    m.version = current_version;
    m.created_at = created_at;
    m.updated_at = updated_at;
    m.key_id = key_id;
    m.max_versions = max_versions;
    m.deleted = deleted;
    m.deleted_at = deleted_at;
    m.incarnation = incarnation;
    m.node_affinity = node_affinity;
    return m;
  }

  absl::StatusOr<std::string> Mac(const SecretBytes& mac_key,
                                  absl::string_view store_id,
                                  absl::string_view scope,
                                  absl::string_view name) const {
    const std::string affinity = EncodeNodeAffinity(node_affinity);
    return SecretRowMac(mac_key, store_id, Fields(scope, name, affinity));
  }
};

// What one read of a secret saw, at one revision.
struct EtcdSecretStore::RowState {
  bool found = false;
  Row row;
  int64_t mod_revision = 0;     // of the record
  uint32_t newest_version = 0;  // newest version key present (0 = none)
  std::string newest_value;     // when read with values
  bool has_requested = false;   // the requested version was present
  std::string requested_value;
};

// --- Open

absl::StatusOr<std::unique_ptr<EtcdSecretStore>> EtcdSecretStore::Open(
    const EtcdStoreOptions& options, std::unique_ptr<Keyring> keyring,
    Clock* clock) {
  if (keyring == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("etcd store needs a keyring and a clock");
  }
  if (options.prefix.empty() || options.prefix[0] != '/' ||
      options.prefix.back() == '/') {
    return absl::InvalidArgumentError(
        "etcd prefix must start with '/' and not end with '/'");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<EtcdClient> client,
                   EtcdClient::Create(options.client));
  std::unique_ptr<EtcdSecretStore> store(
      new EtcdSecretStore(std::move(client), options, clock));
  const std::string meta = options.prefix + "/meta/";
  const std::string keyring_prefix = options.prefix + "/keyring/";
  const std::string check_key = meta + "key_check";

  for (int attempt = 0; attempt < 2; ++attempt) {
    RangeRequest meta_range;
    meta_range.set_key(meta);
    meta_range.set_range_end(RangeEnd(meta));
    RangeRequest keys_range;
    keys_range.set_key(keyring_prefix);
    keys_range.set_range_end(RangeEnd(keyring_prefix));
    keys_range.set_sort_order(RangeRequest::ASCEND);
    ASSIGN_OR_RETURN(
        std::vector<RangeResponse> read,
        ReadAtOneRevision(*store->client_, {meta_range, keys_range}));
    absl::flat_hash_map<std::string, std::string> values;
    for (const auto& kv : read[0].kvs()) {
      values[kv.key().substr(meta.size())] = kv.value();
    }
    if (values.contains(kRestoreMarker)) {
      // core/backup/cluster_backup.h: a restore publishes the store by
      // deleting this marker in its last Txn.
      return absl::FailedPreconditionError(absl::StrCat(
          "a restore into etcd prefix ", options.prefix,
          " is in progress or was interrupted (", meta, kRestoreMarker,
          " exists); let it finish, or delete the prefix and restore again"));
    }
    if (!values.contains("key_check")) {
      if (attempt > 0) return Damaged("key check value");
      // A new store: its id, seed, DEK 1 and key check, all or nothing. If
      // another daemon creates it first, the compare fails and we read its.
      const std::string store_id(
          SecretBytes::Random(kStoreIdBytes).InsecureView());
      ASSIGN_OR_RETURN(std::string seed,
                       keyring->Encrypt(SecretBytes::Random(kSubkeyBytes),
                                        SubkeySeedAssociatedData(store_id)));
      ASSIGN_OR_RETURN(std::string dek,
                       keyring->Encrypt(SecretBytes::Random(kKeyBytes),
                                        DataKeyAssociatedData(store_id, 1)));
      ASSIGN_OR_RETURN(
          std::string check,
          keyring->Encrypt(
              SecretBytes::FromString(kKeyCheckPlaintext),
              KeyCheckAssociatedData(store_id, keyring->active_key_id())));
      TxnRequest txn;
      Compare* absent = txn.add_compare();
      absent->set_key(check_key);
      absent->set_target(Compare::CREATE);
      absent->set_result(Compare::EQUAL);
      absent->set_create_revision(0);
      Compare* no_restore = txn.add_compare();
      no_restore->set_key(meta + std::string(kRestoreMarker));
      no_restore->set_target(Compare::CREATE);
      no_restore->set_result(Compare::EQUAL);
      no_restore->set_create_revision(0);
      *txn.add_success() = PutOp(meta + "store_id", store_id);
      *txn.add_success() = PutOp(meta + "subkey_seed", seed);
      *txn.add_success() = PutOp(keyring_prefix + Hex8(1), dek);
      *txn.add_success() = PutOp(check_key, check);
      ASSIGN_OR_RETURN(TxnResponse created, store->client_->Txn(txn));
      (void)created;
      continue;  // read back what is there now (ours or the winner's)
    }
    const std::string& store_id = values["store_id"];
    if (store_id.size() != kStoreIdBytes) return Damaged("id");
    const std::string& check = values["key_check"];
    ASSIGN_OR_RETURN(uint32_t kek_id, BlobKeyId(check));
    absl::StatusOr<SecretBytes> plain =
        keyring->Decrypt(check, KeyCheckAssociatedData(store_id, kek_id));
    if (!plain.ok() || !plain->ConstantTimeEquals(kKeyCheckPlaintext)) {
      return absl::FailedPreconditionError(kKeyMismatch);
    }
    RETURN_IF_ERROR(keyring->SetActive(kek_id));
    absl::StatusOr<SecretBytes> seed = keyring->Decrypt(
        values["subkey_seed"], SubkeySeedAssociatedData(store_id));
    if (!seed.ok() || seed->size() != kSubkeyBytes) {
      return Damaged("subkey seed");
    }
    ASSIGN_OR_RETURN(store->mac_key_, ::zlayer::secrets::DeriveSubkey(
                                          *seed, SubkeyPurpose::kMetadataMac));
    store->store_id_ = store_id;
    store->seed_ = *std::move(seed);
    {
      absl::MutexLock lock(&store->keys_mu_);
      store->kek_ = std::move(keyring);
    }
    RETURN_IF_ERROR(store->ReloadKeyring());
    return store;
  }
  return Damaged("key check value");
}

absl::StatusOr<SecretBytes> EtcdSecretStore::DeriveSubkeyFromMeta(
    absl::string_view store_id, absl::string_view sealed_seed,
    absl::string_view key_check, SecretBytes master_key,
    SubkeyPurpose purpose) {
  if (store_id.size() != kStoreIdBytes) return Damaged("id");
  ASSIGN_OR_RETURN(uint32_t kek_id, BlobKeyId(key_check));
  ASSIGN_OR_RETURN(std::unique_ptr<Keyring> keyring,
                   Keyring::Create(kek_id, std::move(master_key)));
  absl::StatusOr<SecretBytes> plain =
      keyring->Decrypt(key_check, KeyCheckAssociatedData(store_id, kek_id));
  if (!plain.ok() || !plain->ConstantTimeEquals(kKeyCheckPlaintext)) {
    return absl::FailedPreconditionError(kKeyMismatch);
  }
  absl::StatusOr<SecretBytes> seed =
      keyring->Decrypt(sealed_seed, SubkeySeedAssociatedData(store_id));
  if (!seed.ok() || seed->size() != kSubkeyBytes) {
    return Damaged("subkey seed");
  }
  return ::zlayer::secrets::DeriveSubkey(*seed, purpose);
}

absl::StatusOr<uint32_t> EtcdSecretStore::RecordedKeyId(
    const EtcdStoreOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<EtcdClient> client,
                   EtcdClient::Create(options.client));
  ASSIGN_OR_RETURN(RangeResponse r,
                   client->Range(Get(options.prefix + "/meta/key_check")));
  if (r.kvs_size() == 0) return kFirstKeyId;
  return BlobKeyId(r.kvs(0).value());
}

EtcdSecretStore::EtcdSecretStore(std::unique_ptr<EtcdClient> client,
                                 const EtcdStoreOptions& options, Clock* clock)
    : client_(std::move(client)),
      prefix_(options.prefix),
      clock_(clock),
      key_lock_ttl_(options.key_lock_ttl),
      rekey_batch_secrets_(std::max(1, options.rekey_batch_secrets)) {}

EtcdSecretStore::~EtcdSecretStore() {
  {
    absl::MutexLock lock(&rekey_mu_);
    stopping_ = true;
  }
  WaitForRekey();
}

absl::StatusOr<SecretBytes> EtcdSecretStore::DeriveSubkey(
    SubkeyPurpose purpose) const {
  return ::zlayer::secrets::DeriveSubkey(seed_, purpose);
}

uint32_t EtcdSecretStore::ActiveDataKeyGeneration() const {
  return CurrentDeks().active;
}

// --- Keys

std::string EtcdSecretStore::RowKey(absl::string_view scope,
                                    absl::string_view name) const {
  return absl::StrCat(prefix_, "/s/", absl::BytesToHexString(scope), "/", name);
}

std::string EtcdSecretStore::VersionsPrefix(absl::string_view scope,
                                            absl::string_view name) const {
  return absl::StrCat(prefix_, "/v/", absl::BytesToHexString(scope), "/", name,
                      "/");
}

std::string EtcdSecretStore::VersionKey(absl::string_view scope,
                                        absl::string_view name,
                                        uint32_t version) const {
  return absl::StrCat(VersionsPrefix(scope, name), Hex8(version));
}

absl::Mutex& EtcdSecretStore::StripeFor(absl::string_view scope,
                                        absl::string_view name) {
  const size_t h = absl::HashOf(scope, name);
  return write_stripes_[h % write_stripes_.size()];
}

// --- Reads

namespace {

// The Ranges that read one secret: record, newest version (with its value
// when `version` is 0), and `version` itself otherwise.
std::vector<RangeRequest> SecretRanges(const std::string& row_key,
                                       const std::string& versions_prefix,
                                       const std::string& version_key,
                                       uint32_t version) {
  std::vector<RangeRequest> out;
  out.push_back(Get(row_key));
  out.push_back(Newest(versions_prefix, /*keys_only=*/version != 0));
  if (version != 0) out.push_back(Get(version_key));
  return out;
}

}  // namespace

// Fills `state` from the responses of SecretRanges.
static absl::Status FillState(const std::vector<RangeResponse>& r, size_t at,
                              uint32_t version, bool* found, int64_t* mod_rev,
                              std::string* row_value, uint32_t* newest,
                              std::string* newest_value, bool* has_requested,
                              std::string* requested_value) {
  *found = r[at].kvs_size() > 0;
  if (*found) {
    *mod_rev = r[at].kvs(0).mod_revision();
    *row_value = r[at].kvs(0).value();
  }
  *newest = 0;
  if (r[at + 1].kvs_size() > 0) {
    ASSIGN_OR_RETURN(*newest, VersionOfKey(r[at + 1].kvs(0).key()));
    *newest_value = r[at + 1].kvs(0).value();
  }
  *has_requested = false;
  if (version != 0 && r[at + 2].kvs_size() > 0) {
    *has_requested = true;
    *requested_value = r[at + 2].kvs(0).value();
  }
  return absl::OkStatus();
}

absl::StatusOr<EtcdSecretStore::RowState> EtcdSecretStore::ReadRowState(
    absl::string_view scope, absl::string_view name, uint32_t read_version) {
  ASSIGN_OR_RETURN(
      std::vector<RangeResponse> r,
      ReadAtOneRevision(
          *client_,
          SecretRanges(RowKey(scope, name), VersionsPrefix(scope, name),
                       VersionKey(scope, name, read_version), read_version)));
  RowState state;
  std::string row_value;
  RETURN_IF_ERROR(FillState(r, 0, read_version, &state.found,
                            &state.mod_revision, &row_value,
                            &state.newest_version, &state.newest_value,
                            &state.has_requested, &state.requested_value));
  if (state.found) {
    ASSIGN_OR_RETURN(state.row, Row::Decode(row_value));
    ASSIGN_OR_RETURN(std::string expected,
                     state.row.Mac(mac_key_, store_id_, scope, name));
    RETURN_IF_ERROR(CheckRowMac(state.row.mac, expected, "secret metadata"));
  }
  return state;
}

absl::StatusOr<VersionedValue> EtcdSecretStore::OpenValue(
    absl::string_view scope, absl::string_view name, uint32_t version,
    const RowState& state, SecretMetadata* metadata) {
  if (!state.found || state.row.deleted) return NotFound();
  const Row& row = state.row;
  if (state.newest_version > row.current_version) {
    return absl::DataLossError(
        "stored versions are newer than the secret's current version");
  }
  if (state.newest_version != row.current_version) {
    return absl::DataLossError("the current version's row is missing");
  }
  absl::string_view stored;
  if (version == 0) {
    version = row.current_version;
    stored = state.newest_value;
  } else if (version > row.current_version) {
    return absl::NotFoundError(absl::StrCat("version ", version, " not found"));
  } else if (!state.has_requested) {
    if (version >= OldestKeptVersion(row.current_version, row.max_versions)) {
      return absl::DataLossError(
          absl::StrCat("stored version ", version, " is missing"));
    }
    return absl::NotFoundError(
        absl::StrCat("version ", version, " was pruned"));
  } else {
    stored = state.requested_value;
  }
  ASSIGN_OR_RETURN(StoredVersion v, DecodeVersion(stored));
  Deks deks = CurrentDeks();
  if (!deks.ring->HasKey(v.generation)) {
    // A generation another daemon's rekey made after we read the keyring.
    RETURN_IF_ERROR(ReloadKeyring());
    deks = CurrentDeks();
  }
  absl::StatusOr<SecretBytes> value = deks.ring->Decrypt(
      v.blob, ValueAssociatedData({store_id_, scope, name, version,
                                   row.incarnation, v.generation}));
  if (!value.ok()) {
    return absl::DataLossError(absl::StrCat(
        "stored version ", version,
        " failed its integrity check: ", value.status().message()));
  }
  if (metadata != nullptr) *metadata = row.Metadata(scope, name);
  return VersionedValue{*std::move(value), version, row.incarnation,
                        row.node_affinity};
}

absl::StatusOr<SecretBytes> EtcdSecretStore::GetSecret(absl::string_view scope,
                                                       absl::string_view name) {
  ASSIGN_OR_RETURN(VersionedValue v, GetVersioned(scope, name, 0));
  return std::move(v.value);
}

absl::StatusOr<VersionedValue> EtcdSecretStore::GetVersioned(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  ASSIGN_OR_RETURN(RowState state, ReadRowState(scope, name, version));
  return OpenValue(scope, name, version, state, nullptr);
}

absl::StatusOr<ValueWithMetadata> EtcdSecretStore::GetWithMetadata(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  ASSIGN_OR_RETURN(RowState state, ReadRowState(scope, name, version));
  ValueWithMetadata out;
  ASSIGN_OR_RETURN(out.read,
                   OpenValue(scope, name, version, state, &out.metadata));
  return out;
}

absl::StatusOr<SecretMetadata> EtcdSecretStore::GetMetadata(
    absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  ASSIGN_OR_RETURN(RowState state, ReadRowState(scope, name, 0));
  if (!state.found || state.row.deleted) return NotFound();
  if (state.newest_version != state.row.current_version) {
    return absl::DataLossError("the current version's row is missing");
  }
  return state.row.Metadata(scope, name);
}

absl::StatusOr<bool> EtcdSecretStore::Exists(absl::string_view scope,
                                             absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  ASSIGN_OR_RETURN(RowState state, ReadRowState(scope, name, 0));
  return state.found && !state.row.deleted;
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
EtcdSecretStore::ReadBatch(const std::vector<SecretKey>& keys) {
  std::vector<VersionedKey> current;
  current.reserve(keys.size());
  for (const SecretKey& k : keys) current.push_back({k, 0});
  return ReadVersions(current);
}

absl::StatusOr<std::vector<absl::StatusOr<VersionedValue>>>
EtcdSecretStore::ReadVersions(const std::vector<VersionedKey>& pinned) {
  std::vector<SecretKey> keys;
  keys.reserve(pinned.size());
  for (const VersionedKey& k : pinned) keys.push_back(k.key);
  std::vector<absl::StatusOr<VersionedValue>> out;
  out.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    out.emplace_back(absl::UnknownError("not read"));
  }
  std::vector<RangeRequest> ranges;
  std::vector<size_t> valid;        // indexes of keys that were read
  std::vector<size_t> first_range;  // per valid key: its first Range
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::Status ok = ValidateKey(keys[i].scope, keys[i].name);
    if (!ok.ok()) {
      out[i] = ok;
      continue;
    }
    valid.push_back(i);
    first_range.push_back(ranges.size());
    // A pinned version adds a third Range (the version itself).
    for (RangeRequest& r : SecretRanges(
             RowKey(keys[i].scope, keys[i].name),
             VersionsPrefix(keys[i].scope, keys[i].name),
             VersionKey(keys[i].scope, keys[i].name, pinned[i].version),
             pinned[i].version)) {
      ranges.push_back(std::move(r));
    }
  }
  if (valid.empty()) return out;
  ASSIGN_OR_RETURN(std::vector<RangeResponse> r,
                   ReadAtOneRevision(*client_, std::move(ranges)));
  for (size_t j = 0; j < valid.size(); ++j) {
    const SecretKey& k = keys[valid[j]];
    out[valid[j]] = [&]() -> absl::StatusOr<VersionedValue> {
      RowState state;
      std::string row_value;
      RETURN_IF_ERROR(FillState(r, first_range[j], pinned[valid[j]].version,
                                &state.found, &state.mod_revision, &row_value,
                                &state.newest_version, &state.newest_value,
                                &state.has_requested, &state.requested_value));
      if (state.found) {
        ASSIGN_OR_RETURN(state.row, Row::Decode(row_value));
        ASSIGN_OR_RETURN(std::string expected,
                         state.row.Mac(mac_key_, store_id_, k.scope, k.name));
        RETURN_IF_ERROR(
            CheckRowMac(state.row.mac, expected, "secret metadata"));
      }
      return OpenValue(k.scope, k.name, pinned[valid[j]].version, state,
                       nullptr);
    }();
  }
  return out;
}

absl::StatusOr<absl::flat_hash_map<std::string, SecretBytes>>
EtcdSecretStore::GetSecrets(absl::string_view scope,
                            const std::vector<std::string>& names) {
  RETURN_IF_ERROR(ValidateScope(scope));
  for (const std::string& name : names) RETURN_IF_ERROR(ValidateName(name));
  std::vector<SecretKey> keys;
  keys.reserve(names.size());
  for (const std::string& name : names) {
    keys.push_back(SecretKey{std::string(scope), name});
  }
  ASSIGN_OR_RETURN(std::vector<absl::StatusOr<VersionedValue>> read,
                   ReadBatch(keys));
  absl::flat_hash_map<std::string, SecretBytes> out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (absl::IsNotFound(read[i].status())) continue;
    if (!read[i].ok()) return read[i].status();
    out.insert_or_assign(names[i], std::move(read[i]->value));
  }
  return out;
}

absl::StatusOr<std::vector<VersionInfo>> EtcdSecretStore::ListVersions(
    absl::string_view scope, absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  const std::string prefix = VersionsPrefix(scope, name);
  RangeRequest all;
  all.set_key(prefix);
  all.set_range_end(RangeEnd(prefix));
  all.set_sort_order(RangeRequest::DESCEND);
  all.set_sort_target(RangeRequest::KEY);
  ASSIGN_OR_RETURN(
      std::vector<RangeResponse> r,
      ReadAtOneRevision(*client_, {Get(RowKey(scope, name)), all}));
  if (r[0].kvs_size() == 0) return NotFound();
  ASSIGN_OR_RETURN(Row row, Row::Decode(r[0].kvs(0).value()));
  ASSIGN_OR_RETURN(std::string expected,
                   row.Mac(mac_key_, store_id_, scope, name));
  RETURN_IF_ERROR(CheckRowMac(row.mac, expected, "secret metadata"));
  if (row.deleted) return NotFound();
  std::vector<VersionInfo> out;
  for (const auto& kv : r[1].kvs()) {
    VersionInfo info;
    ASSIGN_OR_RETURN(info.version, VersionOfKey(kv.key()));
    ASSIGN_OR_RETURN(StoredVersion v, DecodeVersion(kv.value()));
    info.created_at = v.created_at;
    info.key_id = v.generation;
    out.push_back(info);
  }
  return out;
}

absl::StatusOr<std::vector<SecretMetadata>> EtcdSecretStore::ListRange(
    absl::string_view scope, absl::string_view prefix, absl::string_view after,
    bool include_deleted, size_t limit) {
  const std::string rows =
      absl::StrCat(prefix_, "/s/", absl::BytesToHexString(scope), "/");
  const bool from_after = !after.empty() && after >= prefix;
  std::string start = from_after
                          ? absl::StrCat(rows, after, std::string(1, '\0'))
                          : absl::StrCat(rows, prefix);
  const absl::optional<std::string> upper = PrefixUpperBound(prefix);
  const std::string end =
      upper.has_value() ? absl::StrCat(rows, *upper) : RangeEnd(rows);
  std::vector<SecretMetadata> out;
  int64_t revision = 0;  // pinned after the first chunk
  while (out.size() < limit) {
    RangeRequest r;
    r.set_key(start);
    r.set_range_end(end);
    r.set_limit(256);
    r.set_revision(revision);
    ASSIGN_OR_RETURN(RangeResponse resp, client_->Range(r));
    if (revision == 0) revision = resp.header().revision();
    for (const auto& kv : resp.kvs()) {
      const absl::string_view name =
          absl::string_view(kv.key()).substr(rows.size());
      ASSIGN_OR_RETURN(Row row, Row::Decode(kv.value()));
      ASSIGN_OR_RETURN(std::string expected,
                       row.Mac(mac_key_, store_id_, scope, name));
      RETURN_IF_ERROR(CheckRowMac(row.mac, expected, "secret metadata"));
      if (row.deleted && !include_deleted) continue;
      out.push_back(row.Metadata(scope, name));
      if (out.size() >= limit) break;
    }
    if (!resp.more() || resp.kvs_size() == 0) break;
    start = resp.kvs(resp.kvs_size() - 1).key() + std::string(1, '\0');
  }
  return out;
}

absl::StatusOr<std::vector<SecretMetadata>> EtcdSecretStore::ListSecrets(
    absl::string_view scope) {
  RETURN_IF_ERROR(ValidateScope(scope));
  return ListRange(scope, "", "", /*include_deleted=*/false,
                   std::numeric_limits<size_t>::max());
}

absl::StatusOr<ListPage> EtcdSecretStore::List(absl::string_view scope,
                                               const ListOptions& options) {
  RETURN_IF_ERROR(ValidateScope(scope));
  ASSIGN_OR_RETURN(std::string after, DecodePageToken(options.page_token));
  const uint32_t page_size = EffectivePageSize(options.page_size);
  ListPage page;
  // One extra record tells whether another page follows.
  ASSIGN_OR_RETURN(page.secrets,
                   ListRange(scope, options.name_prefix, after,
                             options.include_deleted, page_size + 1));
  if (page.secrets.size() > page_size) {
    page.secrets.resize(page_size);
    page.next_page_token = EncodePageToken(page.secrets.back().name);
  }
  return page;
}

// --- Writes

absl::Status EtcdSecretStore::Mutate(absl::string_view scope,
                                     absl::string_view name,
                                     uint32_t read_version, bool destroys,
                                     Plan plan) {
  absl::MutexLock stripe(&StripeFor(scope, name));
  const std::string op_id(SecretBytes::Random(kOpIdBytes).InsecureView());
  const std::string row_key = RowKey(scope, name);
  bool sent = false;
  for (int conflicts = 0; conflicts <= kMaxConflicts; ++conflicts) {
    ASSIGN_OR_RETURN(RowState state, ReadRowState(scope, name, read_version));
    if (sent) {
      // Our Txn lost its compare. If the client had retried it after a lost
      // response, the first attempt may have been applied: the record then
      // carries our op id (or, for a destroy, is gone).
      if (state.found && state.row.op_id == op_id) return absl::OkStatus();
      if (destroys && !state.found) return absl::OkStatus();
    }
    std::vector<RequestOp> ops;
    const Deks deks = CurrentDeks();
    RETURN_IF_ERROR(plan(state, deks, op_id, &ops));
    TxnRequest txn;
    // The generation this write seals with is still the newest: a rekey
    // re-puts it when it adds the next one (so this compare fails and the
    // keyring is read again below), and its re-encryption pass, which
    // starts after that, then finds every value sealed before.
    const std::string generation_key = KeyringPrefix() + Hex8(deks.active);
    Compare* current_dek = txn.add_compare();
    current_dek->set_key(generation_key);
    current_dek->set_target(Compare::MOD);
    current_dek->set_result(Compare::EQUAL);
    current_dek->set_mod_revision(deks.active_mod_revision);
    *txn.add_failure() = RangeOp(Newest(KeyringPrefix(), /*keys_only=*/true));
    Compare* unchanged = txn.add_compare();
    unchanged->set_key(row_key);
    unchanged->set_result(Compare::EQUAL);
    if (state.found) {
      unchanged->set_target(Compare::MOD);
      unchanged->set_mod_revision(state.mod_revision);
    } else {
      unchanged->set_target(Compare::CREATE);
      unchanged->set_create_revision(0);
    }
    for (RequestOp& op : ops) *txn.add_success() = std::move(op);
    sent = true;
    ASSIGN_OR_RETURN(TxnResponse resp, client_->Txn(txn));
    if (resp.succeeded()) return absl::OkStatus();
    ASSIGN_OR_RETURN(RangeResponse newest, TakeRange(resp, 0));
    if (newest.kvs_size() == 0 || newest.kvs(0).key() != generation_key ||
        newest.kvs(0).mod_revision() != deks.active_mod_revision) {
      RETURN_IF_ERROR(ReloadKeyring());
    }
  }
  return absl::AbortedError(
      "the secret kept changing under this write (other daemons); retry");
}

absl::StatusOr<SecretMetadata> EtcdSecretStore::PlanWrite(
    absl::string_view scope, absl::string_view name, const SecretBytes& value,
    const WriteOptions& options, const RowState& state, const Deks& deks,
    const std::string& op_id, std::vector<RequestOp>* ops) {
  const bool live = state.found && !state.row.deleted;
  RETURN_IF_ERROR(CheckExpectedVersion(options.expected_version, live,
                                       live ? state.row.current_version : 0));
  const uint32_t previous = state.found ? state.row.current_version : 0;
  if (state.newest_version > previous) {
    return absl::DataLossError(
        "stored versions are newer than the secret's current version");
  }
  ASSIGN_OR_RETURN(uint32_t version, NextVersion(previous));
  const int64_t now = clock_->NowUnixSeconds();
  Row row = state.row;
  if (!state.found) {
    // A new secret (also after a destroy): a new incarnation, so no value
    // sealed for an earlier one opens under this one.
    row = Row();
    row.created_at = now;
    row.incarnation =
        std::string(SecretBytes::Random(kIncarnationBytes).InsecureView());
  }
  row.current_version = version;
  row.updated_at = now;
  row.max_versions = EffectiveMaxVersions(options.max_versions,
                                          state.found ? row.max_versions : 0);
  row.deleted = false;
  row.deleted_at = 0;
  if (options.node_affinity.has_value()) {
    row.node_affinity = *options.node_affinity;
  }
  const uint32_t generation = deks.active;
  row.key_id = generation;
  row.op_id = op_id;
  ASSIGN_OR_RETURN(
      std::string blob,
      deks.ring->Encrypt(value,
                         ValueAssociatedData({store_id_, scope, name, version,
                                              row.incarnation, generation})));
  ASSIGN_OR_RETURN(row.mac, row.Mac(mac_key_, store_id_, scope, name));
  ops->push_back(PutOp(RowKey(scope, name), row.Encode()));
  ops->push_back(PutOp(VersionKey(scope, name, version),
                       EncodeVersion(now, generation, blob)));
  const uint32_t oldest = OldestKeptVersion(version, row.max_versions);
  if (oldest > 1) {
    ops->push_back(
        DeleteOp(VersionsPrefix(scope, name), VersionKey(scope, name, oldest)));
  }
  return row.Metadata(scope, name);
}

absl::StatusOr<SecretMetadata> EtcdSecretStore::SetSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value,
    const WriteOptions& options) {
  RETURN_IF_ERROR(ValidateWrite(scope, name, value, options));
  SecretMetadata out;
  RETURN_IF_ERROR(Mutate(
      scope, name, 0, false,
      [&](const RowState& state, const Deks& deks, const std::string& op_id,
          std::vector<RequestOp>* ops) -> absl::Status {
        ASSIGN_OR_RETURN(out, PlanWrite(scope, name, value, options, state,
                                        deks, op_id, ops));
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<RotationResult> EtcdSecretStore::RotateSecret(
    absl::string_view scope, absl::string_view name, const SecretBytes& value) {
  RETURN_IF_ERROR(ValidateWrite(scope, name, value, WriteOptions{}));
  RotationResult out;
  RETURN_IF_ERROR(Mutate(
      scope, name, 0, false,
      [&](const RowState& state, const Deks& deks, const std::string& op_id,
          std::vector<RequestOp>* ops) -> absl::Status {
        if (!state.found || state.row.deleted) return NotFound();
        WriteOptions options;
        options.expected_version = state.row.current_version;
        ASSIGN_OR_RETURN(
            SecretMetadata m,
            PlanWrite(scope, name, value, options, state, deks, op_id, ops));
        out = RotationResult{state.row.current_version, m.version};
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<SecretMetadata> EtcdSecretStore::RollbackSecret(
    absl::string_view scope, absl::string_view name, uint32_t version) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  if (version == 0) {
    return absl::InvalidArgumentError("rollback needs a version (>= 1)");
  }
  SecretMetadata out;
  RETURN_IF_ERROR(Mutate(
      scope, name, version, false,
      [&](const RowState& state, const Deks& deks, const std::string& op_id,
          std::vector<RequestOp>* ops) -> absl::Status {
        ASSIGN_OR_RETURN(VersionedValue old,
                         OpenValue(scope, name, version, state, nullptr));
        ASSIGN_OR_RETURN(out, PlanWrite(scope, name, old.value, WriteOptions{},
                                        state, deks, op_id, ops));
        return absl::OkStatus();
      }));
  return out;
}

absl::Status EtcdSecretStore::DeleteSecret(absl::string_view scope,
                                           absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  return Mutate(
      scope, name, 0, false,
      [&](const RowState& state, const Deks& /*deks*/, const std::string& op_id,
          std::vector<RequestOp>* ops) -> absl::Status {
        if (!state.found || state.row.deleted) return NotFound();
        Row row = state.row;
        row.deleted = true;
        row.deleted_at = clock_->NowUnixSeconds();
        row.op_id = op_id;
        ASSIGN_OR_RETURN(row.mac, row.Mac(mac_key_, store_id_, scope, name));
        ops->push_back(PutOp(RowKey(scope, name), row.Encode()));
        return absl::OkStatus();
      });
}

absl::Status EtcdSecretStore::UndeleteSecret(absl::string_view scope,
                                             absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  return Mutate(
      scope, name, 0, false,
      [&](const RowState& state, const Deks& /*deks*/, const std::string& op_id,
          std::vector<RequestOp>* ops) -> absl::Status {
        if (!state.found || !state.row.deleted) {
          return absl::NotFoundError("no soft-deleted secret with this name");
        }
        Row row = state.row;
        row.deleted = false;
        row.deleted_at = 0;
        row.op_id = op_id;
        ASSIGN_OR_RETURN(row.mac, row.Mac(mac_key_, store_id_, scope, name));
        ops->push_back(PutOp(RowKey(scope, name), row.Encode()));
        return absl::OkStatus();
      });
}

absl::Status EtcdSecretStore::DestroySecret(absl::string_view scope,
                                            absl::string_view name) {
  RETURN_IF_ERROR(ValidateKey(scope, name));
  return Mutate(
      scope, name, 0, true,
      [&](const RowState& state, const Deks& /*deks*/, const std::string& op_id,
          std::vector<RequestOp>* ops) -> absl::Status {
        if (!state.found) return NotFound();
        const std::string versions = VersionsPrefix(scope, name);
        ops->push_back(DeleteOp(versions, RangeEnd(versions)));
        ops->push_back(DeleteOp(RowKey(scope, name), ""));
        return absl::OkStatus();
      });
}

// --- Key handling: the keyring, the rotation lock, rekey, master rotation

namespace {

constexpr absl::string_view kMasterKeyRetired =
    "this daemon's master key no longer matches the store (the master key "
    "was rotated through another daemon): restart it with the new key file "
    "(docs/cluster.md, \"Key handling\")";

// The generation at the end of a keyring key; 0 when malformed.
uint32_t GenerationOfKey(absl::string_view key, size_t prefix_size) {
  uint32_t generation = 0;
  if (key.size() != prefix_size + 8 ||
      !absl::SimpleHexAtoi(key.substr(prefix_size), &generation)) {
    return 0;
  }
  return generation;
}

Compare KeyAbsent(std::string key) {
  Compare c;
  c.set_key(std::move(key));
  c.set_target(Compare::CREATE);
  c.set_result(Compare::EQUAL);
  c.set_create_revision(0);
  return c;
}

Compare ModIs(std::string key, int64_t mod_revision) {
  Compare c;
  c.set_key(std::move(key));
  c.set_target(Compare::MOD);
  c.set_result(Compare::EQUAL);
  c.set_mod_revision(mod_revision);
  return c;
}

RangeRequest Under(const std::string& prefix, int64_t limit = 0) {
  RangeRequest r;
  r.set_key(prefix);
  r.set_range_end(RangeEnd(prefix));
  r.set_sort_order(RangeRequest::ASCEND);
  r.set_limit(limit);
  return r;
}

}  // namespace

EtcdSecretStore::Deks EtcdSecretStore::CurrentDeks() const {
  absl::MutexLock lock(&keys_mu_);
  return deks_;
}

absl::Status EtcdSecretStore::ReloadKeyring() {
  absl::MutexLock reload(&reload_mu_);
  const std::string keyring = KeyringPrefix();
  ASSIGN_OR_RETURN(
      std::vector<RangeResponse> read,
      ReadAtOneRevision(*client_,
                        {Under(keyring), Get(prefix_ + "/meta/key_check")}));
  absl::MutexLock lock(&keys_mu_);
  absl::flat_hash_map<uint32_t, int64_t> mod_revisions;
  uint32_t newest = 0;
  bool retired = false;
  for (const auto& kv : read[0].kvs()) {
    const uint32_t generation = GenerationOfKey(kv.key(), keyring.size());
    if (generation == 0) return Damaged("keyring");
    mod_revisions[generation] = kv.mod_revision();
    newest = std::max(newest, generation);
    if (dek_bytes_.contains(generation)) continue;
    absl::StatusOr<SecretBytes> dek =
        kek_->Decrypt(kv.value(), DataKeyAssociatedData(store_id_, generation));
    if (!dek.ok()) {
      // Either our master key was rotated away (the key check no longer
      // opens with it) or the keyring is damaged.
      if (read[1].kvs_size() == 0) return Damaged("key check value");
      const std::string& check = read[1].kvs(0).value();
      absl::StatusOr<uint32_t> kek_id = BlobKeyId(check);
      absl::StatusOr<SecretBytes> plain =
          kek_id.ok()
              ? kek_->Decrypt(check, KeyCheckAssociatedData(store_id_, *kek_id))
              : absl::StatusOr<SecretBytes>(kek_id.status());
      if (plain.ok()) return Damaged("keyring");
      retired = true;
      continue;
    }
    dek_bytes_[generation] = *std::move(dek);
  }
  if (newest == 0) return Damaged("keyring");
  if (!dek_bytes_.contains(newest)) {
    return retired ? absl::FailedPreconditionError(kMasterKeyRetired)
                   : Damaged("keyring");
  }
  // A fresh ring over every DEK held (readers keep the old one as long as
  // they use it).
  std::unique_ptr<Keyring> ring;
  for (const auto& [generation, bytes] : dek_bytes_) {
    SecretBytes copy = bytes.Clone();
    if (ring == nullptr) {
      ASSIGN_OR_RETURN(ring, Keyring::Create(generation, std::move(copy)));
    } else {
      RETURN_IF_ERROR(ring->AddKey(generation, std::move(copy)));
    }
  }
  RETURN_IF_ERROR(ring->SetActive(newest));
  deks_.ring = std::move(ring);
  deks_.active = newest;
  deks_.active_mod_revision = mod_revisions[newest];
  return absl::OkStatus();
}

Compare EtcdSecretStore::LockHeld(const KeyLock& lock) const {
  Compare c;
  c.set_key(LockKey());
  c.set_target(Compare::CREATE);
  c.set_result(Compare::EQUAL);
  c.set_create_revision(lock.create_revision);
  return c;
}

absl::StatusOr<EtcdSecretStore::KeyLock> EtcdSecretStore::TakeKeyLock(
    absl::string_view holder, bool* busy) {
  ASSIGN_OR_RETURN(etcdserverpb::LeaseGrantResponse lease,
                   client_->LeaseGrant(key_lock_ttl_));
  TxnRequest txn;
  *txn.add_compare() = KeyAbsent(LockKey());
  RequestOp put = PutOp(LockKey(), std::string(holder));
  put.mutable_request_put()->set_lease(lease.id());
  *txn.add_success() = std::move(put);
  *txn.add_failure() = RangeOp(Get(LockKey()));
  absl::StatusOr<TxnResponse> resp = client_->Txn(txn);
  if (!resp.ok() || !resp->succeeded()) {
    (void)client_->LeaseRevoke(lease.id());
    RETURN_IF_ERROR(resp.status());
    ASSIGN_OR_RETURN(RangeResponse held, TakeRange(*resp, 0));
    if (busy != nullptr) *busy = true;
    return absl::FailedPreconditionError(absl::StrCat(
        "key rotation already running on ",
        held.kvs_size() > 0 ? held.kvs(0).value()
                            : std::string("another daemon"),
        " (one rotation at a time in the cluster; a daemon that died "
        "releases it within ",
        absl::FormatDuration(key_lock_ttl_), ")"));
  }
  return KeyLock{lease.id(), resp->header().revision()};
}

void EtcdSecretStore::ReleaseKeyLock(const KeyLock& lock) {
  // Revoking the lease deletes the lock key with it; if that fails the
  // lease expires by itself.
  (void)client_->LeaseRevoke(lock.lease);
}

// The lease renewal reads the real clock on purpose, not clock_: the lease
// expires in etcd's real time (as the client's deadlines, etcd_client.cc).
bool EtcdSecretStore::RenewLock(const KeyLock& lock, absl::Time* renewed) {
  if (absl::Now() - *renewed < key_lock_ttl_ / 3) return true;
  absl::StatusOr<int64_t> ttl = client_->LeaseKeepAliveOnce(lock.lease);
  if (ttl.ok() && *ttl > 0) {
    *renewed = absl::Now();
    return true;
  }
  // Unreachable etcd: the lease may still live; the next Txn's lock compare
  // decides. Expired: the lock is gone.
  if (ttl.ok()) {
    absl::MutexLock l(&rekey_mu_);
    lock_lost_ = true;
    return false;
  }
  return true;
}

absl::Status EtcdSecretStore::CheckMasterKeyCurrent() {
  ASSIGN_OR_RETURN(RangeResponse r,
                   client_->Range(Get(prefix_ + "/meta/key_check")));
  if (r.kvs_size() == 0) return Damaged("key check value");
  const std::string& check = r.kvs(0).value();
  ASSIGN_OR_RETURN(uint32_t kek_id, BlobKeyId(check));
  absl::MutexLock lock(&keys_mu_);
  absl::StatusOr<SecretBytes> plain =
      kek_->Decrypt(check, KeyCheckAssociatedData(store_id_, kek_id));
  if (!plain.ok() || !plain->ConstantTimeEquals(kKeyCheckPlaintext)) {
    return absl::FailedPreconditionError(kMasterKeyRetired);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> EtcdSecretStore::RekeyPending() {
  ASSIGN_OR_RETURN(RangeResponse r, client_->Range(Get(ProgressKey())));
  return r.kvs_size() > 0;
}

EtcdRekeyProgress EtcdSecretStore::rekey_progress() const {
  absl::MutexLock lock(&rekey_mu_);
  return rekey_;
}

void EtcdSecretStore::WaitForRekey() {
  if (rekey_thread_.joinable()) rekey_thread_.join();
}

absl::StatusOr<std::pair<uint32_t, EtcdSecretStore::KeyLock>>
EtcdSecretStore::BeginRekey(absl::string_view holder, bool resume_only,
                            bool* lock_busy) {
  // Our own master key must still be the store's (it seals the new DEK);
  // checked again under the lock, which master rotations take too.
  RETURN_IF_ERROR(ReloadKeyring());
  ASSIGN_OR_RETURN(KeyLock lock, TakeKeyLock(holder, lock_busy));
  if (absl::Status current = CheckMasterKeyCurrent(); !current.ok()) {
    ReleaseKeyLock(lock);
    return current;
  }
  absl::StatusOr<uint32_t> generation = [&]() -> absl::StatusOr<uint32_t> {
    const std::string keyring = KeyringPrefix();
    ASSIGN_OR_RETURN(
        std::vector<RangeResponse> read,
        ReadAtOneRevision(*client_, {Get(ProgressKey()), Under(keyring)}));
    if (read[0].kvs_size() > 0) {
      // A run that died: go on with its generation (made in the same Txn as
      // the progress record, so it exists).
      uint32_t resumed = 0;
      if (!absl::SimpleAtoi(read[0].kvs(0).value(), &resumed) || resumed == 0) {
        return Damaged("rekey progress record");
      }
      return resumed;
    }
    if (resume_only) {
      return absl::NotFoundError("no unfinished rekey (another finished it)");
    }
    uint32_t newest = 0;
    for (const auto& kv : read[1].kvs()) {
      newest = std::max(newest, GenerationOfKey(kv.key(), keyring.size()));
    }
    if (newest == 0 || newest == std::numeric_limits<uint32_t>::max()) {
      return Damaged("keyring");
    }
    const uint32_t next = newest + 1;
    std::string sealed;
    {
      absl::MutexLock l(&keys_mu_);
      ASSIGN_OR_RETURN(sealed,
                       kek_->Encrypt(SecretBytes::Random(kKeyBytes),
                                     DataKeyAssociatedData(store_id_, next)));
    }
    TxnRequest txn;
    *txn.add_compare() = LockHeld(lock);
    *txn.add_compare() = KeyAbsent(keyring + Hex8(next));
    *txn.add_success() = PutOp(keyring + Hex8(next), sealed);
    *txn.add_success() = PutOp(ProgressKey(), absl::StrCat(next));
    // Every older generation is written again (same bytes, new
    // mod_revision): a write sealing with one of them now fails its compare
    // and reads the keyring again, so no value on an older generation
    // appears after this Txn.
    for (const auto& kv : read[1].kvs()) {
      *txn.add_compare() = ModIs(kv.key(), kv.mod_revision());
      *txn.add_success() = PutOp(kv.key(), kv.value());
    }
    ASSIGN_OR_RETURN(TxnResponse resp, client_->Txn(txn));
    if (!resp.succeeded()) {
      return absl::AbortedError(
          "the keyring changed while the rekey started; retry");
    }
    return next;
  }();
  if (!generation.ok()) {
    ReleaseKeyLock(lock);
    return generation.status();
  }
  absl::Status reloaded = ReloadKeyring();
  if (!reloaded.ok()) {
    ReleaseKeyLock(lock);
    return reloaded;
  }
  return std::make_pair(*generation, lock);
}

absl::StatusOr<uint32_t> EtcdSecretStore::StartRekey(absl::string_view holder) {
  {
    absl::MutexLock lock(&rekey_mu_);
    if (rekey_.running) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key rotation already running on ", holder,
          " (this daemon; or waiting to resume an unfinished one)"));
    }
  }
  ASSIGN_OR_RETURN(auto begun, BeginRekey(holder, /*resume_only=*/false,
                                          /*lock_busy=*/nullptr));
  WaitForRekey();  // a finished earlier run
  {
    absl::MutexLock l(&rekey_mu_);
    rekey_ = EtcdRekeyProgress();
    rekey_.running = true;
    rekey_.generation = begun.first;
    lock_lost_ = false;
  }
  rekey_thread_ =
      std::thread(&EtcdSecretStore::RunRekey, this, begun.first, begun.second);
  return begun.first;
}

void EtcdSecretStore::ResumeRekeyWhenFree(std::string holder) {
  {
    absl::MutexLock lock(&rekey_mu_);
    if (rekey_.running) return;
  }
  WaitForRekey();
  {
    absl::MutexLock l(&rekey_mu_);
    rekey_ = EtcdRekeyProgress();
    rekey_.running = true;
    lock_lost_ = false;
  }
  rekey_thread_ = std::thread([this, holder = std::move(holder)] {
    while (true) {
      bool busy = false;
      absl::StatusOr<std::pair<uint32_t, KeyLock>> begun =
          BeginRekey(holder, /*resume_only=*/true, &busy);
      if (begun.ok()) {
        {
          absl::MutexLock l(&rekey_mu_);
          rekey_.generation = begun->first;
        }
        RunRekey(begun->first, begun->second);
        return;
      }
      absl::MutexLock l(&rekey_mu_);
      if (!busy) {
        rekey_.running = false;
        // Finished by another daemon meanwhile: nothing left to do.
        if (!absl::IsNotFound(begun.status())) rekey_.status = begun.status();
        return;
      }
      // The dead holder's lease has not expired yet: try again in a second,
      // or stop with the store.
      if (rekey_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                     absl::Seconds(1))) {
        rekey_.running = false;
        rekey_.status = absl::CancelledError("the store closed");
        return;
      }
    }
  });
}

void EtcdSecretStore::RunRekey(uint32_t generation, KeyLock lock) {
  absl::Status status;
  absl::Time renewed = absl::Now();
  // Passes until one finds no version left on an older generation. Writers
  // seal with `generation` by now, so each pass leaves only what was
  // written to concurrently (re-read by the next pass).
  constexpr int kMaxPasses = 100;
  int pass = 0;
  std::vector<std::string> again;
  for (; pass < kMaxPasses; ++pass) {
    uint64_t moved = 0;
    std::vector<std::string> left;
    // The first pass reads every secret; later ones only those whose Txn
    // lost to a writer (everything else is on `generation` for good).
    status = RekeyPass(generation, lock, pass == 0 ? nullptr : &again, &moved,
                       &left);
    if (!status.ok() || left.empty()) break;
    again = std::move(left);
    if (!RenewLock(lock, &renewed)) {
      status = absl::AbortedError("the key-rotation lock expired");
      break;
    }
    absl::MutexLock l(&rekey_mu_);
    if (stopping_) {
      status = absl::CancelledError("the store closed during the rekey");
      break;
    }
  }
  if (status.ok() && pass == kMaxPasses) {
    status = absl::AbortedError(
        "versions kept changing under the rekey; run it again");
  }
  if (status.ok()) status = FinishRekey(generation, lock);
  // A run that stopped keeps its progress record: the next StartRekey (or
  // daemon start) resumes it.
  ReleaseKeyLock(lock);
  absl::MutexLock l(&rekey_mu_);
  rekey_.running = false;
  rekey_.status = status;
}

absl::Status EtcdSecretStore::RekeyPass(uint32_t generation,
                                        const KeyLock& lock,
                                        const std::vector<std::string>* only,
                                        uint64_t* moved,
                                        std::vector<std::string>* left) {
  const std::string records = prefix_ + "/s/";
  std::string start = records;
  size_t next_only = 0;
  absl::Time renewed = absl::Now();
  while (true) {
    {
      absl::MutexLock l(&rekey_mu_);
      if (stopping_) return absl::CancelledError("the store closed");
      if (lock_lost_)
        return absl::AbortedError("the key-rotation lock expired");
    }
    if (!RenewLock(lock, &renewed)) {
      return absl::AbortedError("the key-rotation lock expired");
    }
    std::vector<std::string> page_keys;
    if (only == nullptr) {
      RangeRequest page = Under(records, rekey_batch_secrets_);
      page.set_key(start);
      page.set_keys_only(true);
      ASSIGN_OR_RETURN(RangeResponse keys, client_->Range(page));
      for (const auto& kv : keys.kvs()) page_keys.push_back(kv.key());
      if (!page_keys.empty()) start = page_keys.back() + std::string(1, '\0');
    } else {
      while (next_only < only->size() &&
             page_keys.size() < static_cast<size_t>(rekey_batch_secrets_)) {
        page_keys.push_back((*only)[next_only++]);
      }
    }
    if (page_keys.empty()) return absl::OkStatus();
    // Each secret's record and versions, at one revision.
    struct Secret {
      std::string scope, name;
    };
    std::vector<Secret> secrets;
    std::vector<RangeRequest> ranges;
    for (const std::string& key : page_keys) {
      absl::string_view rest = absl::string_view(key).substr(records.size());
      const size_t slash = rest.find('/');
      if (slash == absl::string_view::npos) return Damaged("secret record key");
      Secret secret{absl::HexStringToBytes(rest.substr(0, slash)),
                    std::string(rest.substr(slash + 1))};
      ranges.push_back(Get(key));
      ranges.push_back(Under(VersionsPrefix(secret.scope, secret.name)));
      secrets.push_back(std::move(secret));
    }
    ASSIGN_OR_RETURN(std::vector<RangeResponse> read,
                     ReadAtOneRevision(*client_, std::move(ranges)));
    // The operations per secret that needs any; then sent in Txns of a
    // few secrets each.
    struct Move {
      std::string record_key;
      Compare unchanged;
      std::vector<RequestOp> ops;
      size_t bytes = 0;
      uint64_t versions = 0;
    };
    std::vector<Move> moves;
    const Deks deks = CurrentDeks();
    for (size_t i = 0; i < secrets.size(); ++i) {
      const RangeResponse& record = read[2 * i];
      if (record.kvs_size() == 0) continue;  // destroyed meanwhile
      ASSIGN_OR_RETURN(Row row, Row::Decode(record.kvs(0).value()));
      Move move;
      move.record_key = record.kvs(0).key();
      move.unchanged = ModIs(record.kvs(0).key(), record.kvs(0).mod_revision());
      bool current_moved = false;
      for (const auto& kv : read[2 * i + 1].kvs()) {
        ASSIGN_OR_RETURN(StoredVersion v, DecodeVersion(kv.value()));
        if (v.generation == generation) continue;
        ASSIGN_OR_RETURN(uint32_t version, VersionOfKey(kv.key()));
        const std::string& scope = secrets[i].scope;
        const std::string& name = secrets[i].name;
        // Opened under its full associated data: a damaged or copied value
        // stops the rekey (DataLoss) instead of being sealed anew.
        ASSIGN_OR_RETURN(
            SecretBytes value,
            deks.ring->Decrypt(
                v.blob, ValueAssociatedData({store_id_, scope, name, version,
                                             row.incarnation, v.generation})));
        ASSIGN_OR_RETURN(
            std::string blob,
            deks.ring->Encrypt(
                value, ValueAssociatedData({store_id_, scope, name, version,
                                            row.incarnation, generation})));
        std::string stored = EncodeVersion(v.created_at, generation, blob);
        if (move.ops.size() + 2 >= kMaxOpsPerTxn / 2 ||
            move.bytes + stored.size() > kMaxRekeyTxnBytes / 2) {
          // A secret with many (or large) versions takes several Txns,
          // each guarded by the same record compare: version keys are not
          // the record, so the chunks do not change what the next compares.
          Move chunk;
          chunk.record_key = move.record_key;
          chunk.unchanged = move.unchanged;
          std::swap(chunk, move);
          if (!chunk.ops.empty()) moves.push_back(std::move(chunk));
        }
        move.bytes += kv.key().size() + stored.size();
        move.ops.push_back(PutOp(kv.key(), std::move(stored)));
        ++move.versions;
        if (version == row.current_version) current_moved = true;
      }
      if (move.versions == 0) continue;
      if (current_moved) {
        // The record names its current version's generation (listings);
        // key_id is not under the record's MAC, and the op id stays.
        row.key_id = generation;
        move.ops.push_back(PutOp(record.kvs(0).key(), row.Encode()));
      }
      moves.push_back(std::move(move));
    }
    {
      absl::MutexLock l(&rekey_mu_);
      for (const Move& m : moves) rekey_.total += m.versions;
    }
    size_t at = 0;
    while (at < moves.size()) {
      TxnRequest txn;
      *txn.add_compare() = LockHeld(lock);
      size_t ops = 0, bytes = 0, end = at;
      uint64_t versions = 0;
      while (end < moves.size() &&
             (end == at || (ops + moves[end].ops.size() + 1 < kMaxOpsPerTxn &&
                            bytes + moves[end].bytes < kMaxRekeyTxnBytes))) {
        *txn.add_compare() = moves[end].unchanged;
        for (RequestOp& op : moves[end].ops) *txn.add_success() = std::move(op);
        ops += moves[end].ops.size() + 1;
        bytes += moves[end].bytes;
        versions += moves[end].versions;
        ++end;
      }
      ASSIGN_OR_RETURN(TxnResponse resp, client_->Txn(txn));
      if (resp.succeeded()) {
        *moved += versions;
        absl::MutexLock l(&rekey_mu_);
        rekey_.done += versions;
      } else {
        // A secret written (or pruned, destroyed) meanwhile, or the lock
        // lost: the next pass reads these again.
        for (size_t i = at; i < end; ++i) {
          if (left->empty() || left->back() != moves[i].record_key) {
            left->push_back(moves[i].record_key);
          }
        }
      }
      at = end;
    }
  }
}

absl::Status EtcdSecretStore::FinishRekey(uint32_t generation,
                                          const KeyLock& lock) {
  const std::string keyring = KeyringPrefix();
  ASSIGN_OR_RETURN(RangeResponse keys, client_->Range(Under(keyring)));
  TxnRequest txn;
  *txn.add_compare() = LockHeld(lock);
  for (const auto& kv : keys.kvs()) {
    if (GenerationOfKey(kv.key(), keyring.size()) == generation) continue;
    *txn.add_success() = DeleteOp(kv.key(), "");
  }
  *txn.add_success() = DeleteOp(ProgressKey(), "");
  ASSIGN_OR_RETURN(TxnResponse resp, client_->Txn(txn));
  if (!resp.succeeded()) {
    return absl::AbortedError("the key-rotation lock expired before the end");
  }
  return ReloadKeyring();
}

absl::StatusOr<uint32_t> EtcdSecretStore::MasterKeyId() {
  ASSIGN_OR_RETURN(RangeResponse r,
                   client_->Range(Get(prefix_ + "/meta/key_check")));
  if (r.kvs_size() == 0) return Damaged("key check value");
  return BlobKeyId(r.kvs(0).value());
}

absl::Status EtcdSecretStore::RotateKey(uint32_t new_key_id,
                                        SecretBytes new_key,
                                        absl::string_view holder,
                                        uint64_t* keys_rewrapped) {
  ASSIGN_OR_RETURN(std::unique_ptr<Keyring> next,
                   Keyring::Create(new_key_id, std::move(new_key)));
  ASSIGN_OR_RETURN(KeyLock lock, TakeKeyLock(holder, nullptr));
  absl::Status rotated = [&]() -> absl::Status {
    const std::string meta = prefix_ + "/meta/";
    const std::string keyring = KeyringPrefix();
    ASSIGN_OR_RETURN(std::vector<RangeResponse> read,
                     ReadAtOneRevision(*client_, {Get(meta + "key_check"),
                                                  Get(meta + "subkey_seed"),
                                                  Under(keyring)}));
    if (read[0].kvs_size() == 0 || read[1].kvs_size() == 0) {
      return Damaged("key check value");
    }
    TxnRequest txn;
    *txn.add_compare() = LockHeld(lock);
    uint64_t rewrapped = 0;
    // Built under keys_mu_ (it reads kek_); readers do not wait for etcd:
    // keys_mu_ is not held during the Txn (kek_ changes only here, under
    // the cluster lock).
    RETURN_IF_ERROR([&]() -> absl::Status {
      absl::MutexLock l(&keys_mu_);
      // Opened with our key first: a daemon whose key was rotated away by
      // another cannot rotate.
      const std::string& check = read[0].kvs(0).value();
      ASSIGN_OR_RETURN(uint32_t kek_id, BlobKeyId(check));
      absl::StatusOr<SecretBytes> plain =
          kek_->Decrypt(check, KeyCheckAssociatedData(store_id_, kek_id));
      if (!plain.ok() || !plain->ConstantTimeEquals(kKeyCheckPlaintext)) {
        return absl::FailedPreconditionError(kMasterKeyRetired);
      }
      if (new_key_id <= kek_id) {
        return absl::InvalidArgumentError("the new master key id must grow");
      }
      *txn.add_compare() =
          ModIs(read[0].kvs(0).key(), read[0].kvs(0).mod_revision());
      ASSIGN_OR_RETURN(
          std::string new_check,
          next->Encrypt(SecretBytes::FromString(kKeyCheckPlaintext),
                        KeyCheckAssociatedData(store_id_, new_key_id)));
      *txn.add_success() = PutOp(read[0].kvs(0).key(), new_check);
      ASSIGN_OR_RETURN(SecretBytes seed,
                       kek_->Decrypt(read[1].kvs(0).value(),
                                     SubkeySeedAssociatedData(store_id_)));
      ASSIGN_OR_RETURN(
          std::string new_seed,
          next->Encrypt(seed, SubkeySeedAssociatedData(store_id_)));
      *txn.add_success() = PutOp(read[1].kvs(0).key(), new_seed);
      for (const auto& kv : read[2].kvs()) {
        const uint32_t generation = GenerationOfKey(kv.key(), keyring.size());
        if (generation == 0) return Damaged("keyring");
        ASSIGN_OR_RETURN(SecretBytes dek,
                         kek_->Decrypt(kv.value(), DataKeyAssociatedData(
                                                       store_id_, generation)));
        ASSIGN_OR_RETURN(
            std::string sealed,
            next->Encrypt(dek, DataKeyAssociatedData(store_id_, generation)));
        *txn.add_compare() = ModIs(kv.key(), kv.mod_revision());
        *txn.add_success() = PutOp(kv.key(), std::move(sealed));
        ++rewrapped;
      }
      return absl::OkStatus();
    }());
    ASSIGN_OR_RETURN(TxnResponse resp, client_->Txn(txn));
    if (!resp.succeeded()) {
      return absl::AbortedError(
          "the store's keys changed during the master-key rotation; retry");
    }
    // The retired key leaves memory with its ring.
    absl::MutexLock l(&keys_mu_);
    kek_ = std::move(next);
    if (keys_rewrapped != nullptr) *keys_rewrapped = rewrapped;
    return absl::OkStatus();
  }();
  ReleaseKeyLock(lock);
  RETURN_IF_ERROR(rotated);
  // The DEKs' keys in etcd have new mod_revisions.
  return ReloadKeyring();
}

// --- Change stream

absl::optional<StoreChange> EtcdSecretStore::ChangeOfEvent(
    const mvccpb::Event& event) const {
  absl::string_view key = event.kv().key();
  const std::string records = absl::StrCat(prefix_, "/s/");
  if (!absl::ConsumePrefix(&key, records)) return absl::nullopt;
  const size_t slash = key.find('/');
  if (slash == absl::string_view::npos || slash == 0 || slash % 2 != 0 ||
      slash + 1 == key.size()) {
    return absl::nullopt;
  }
  const absl::string_view hex_scope = key.substr(0, slash);
  for (char c : hex_scope) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::nullopt;
    }
  }
  StoreChange change;
  change.scope = absl::HexStringToBytes(hex_scope);
  change.name = std::string(key.substr(slash + 1));
  absl::optional<Row> before;
  if (event.has_prev_kv() && !event.prev_kv().value().empty()) {
    absl::StatusOr<Row> row = Row::Decode(event.prev_kv().value());
    if (row.ok()) before = *std::move(row);
  }
  const uint32_t was_live =
      before.has_value() && !before->deleted ? before->current_version : 0;
  if (event.type() == mvccpb::Event::DELETE) {
    change.kind = ChangeKind::kDestroy;
    change.previous_version = was_live;
    return change;
  }
  absl::StatusOr<Row> after = Row::Decode(event.kv().value());
  if (!after.ok()) return absl::nullopt;
  if (after->deleted) {
    change.kind = ChangeKind::kDelete;
    change.previous_version = was_live;
    return change;
  }
  change.version = after->current_version;
  if (before.has_value() && !before->deleted &&
      before->current_version == after->current_version) {
    // Only the generation noted in the record moved (a rekey): no change
    // to the secret.
    return absl::nullopt;
  }
  if (before.has_value() && before->deleted &&
      before->current_version == after->current_version) {
    change.kind = ChangeKind::kUndelete;
    return change;
  }
  change.kind = ChangeKind::kSet;
  change.previous_version = was_live;
  return change;
}

std::unique_ptr<EtcdWatcher> EtcdSecretStore::WatchChanges(
    int64_t start_revision, StoreChangeObserver* observer,
    std::function<absl::Status()> on_resync,
    std::function<void(const absl::Status&)> on_interrupted) {
  EtcdWatcher::Callbacks callbacks;
  callbacks.on_events = [this,
                         observer](const std::vector<mvccpb::Event>& events) {
    for (const mvccpb::Event& event : events) {
      absl::optional<StoreChange> change = ChangeOfEvent(event);
      if (change.has_value()) observer->OnStoreChange(*change);
    }
  };
  callbacks.on_resync = std::move(on_resync);
  callbacks.on_interrupted = std::move(on_interrupted);
  return EtcdWatcher::Start(client_.get(), absl::StrCat(prefix_, "/s/"),
                            start_revision, std::move(callbacks));
}

}  // namespace zlayer::secrets
