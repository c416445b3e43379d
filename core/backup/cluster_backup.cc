#include "core/backup/cluster_backup.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/crypto/aead.h"
#include "core/crypto/subkeys.h"
#include "core/store/etcd/etcd_client.h"

namespace zlayer::secrets {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

// Most bytes of keys and values one restore Txn carries (etcd's default
// request limit is 1.5 MiB).
constexpr size_t kMaxTxnBytes = 1 << 20;

std::string MarkerKey() {
  return absl::StrCat("/meta/", EtcdSecretStore::kRestoreMarker);
}

bool IsHeldBackMeta(absl::string_view key) {
  return key == "/meta/store_id" || key == "/meta/subkey_seed" ||
         key == "/meta/key_check";
}

void PutU32(uint64_t v, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

absl::Status Malformed(absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("backup file is damaged: ", what, " (nothing restored)"));
}

absl::Status Compacted(int64_t revision) {
  return absl::AbortedError(absl::StrCat(
      "etcd compacted revision ", revision,
      " while the backup was reading it; the partial backup is void: take "
      "it again (or compact less often)"));
}

class ClusterBackupSource final : public BackupSource {
 public:
  ClusterBackupSource(EtcdClient& client, std::string prefix, BackupInfo info,
                      const SecretBytes& mac_key, int page_keys)
      : client_(client),
        prefix_(std::move(prefix)),
        info_(std::move(info)),
        mac_(mac_key),
        page_keys_(std::max(1, page_keys)),
        cursor_(prefix_ + "/") {
    Add(FrameBackupHeader(info_));
  }

  absl::StatusOr<std::string> Next(size_t max_bytes) override {
    max_bytes = std::max<size_t>(max_bytes, 1);
    while (pending_.size() < max_bytes && !finished_) {
      if (!records_done_) {
        RETURN_IF_ERROR(ReadPage());
      } else {
        Add(FrameClusterTrailer(info_));
        pending_ += mac_.Final();
        finished_ = true;
      }
    }
    const size_t n = std::min(max_bytes, pending_.size());
    std::string out = pending_.substr(0, n);
    pending_.erase(0, n);
    return out;
  }

  const BackupInfo& info() const override { return info_; }

 private:
  void Add(absl::string_view bytes) {
    mac_.Update(bytes);
    pending_.append(bytes.data(), bytes.size());
  }

  absl::Status ReadPage() {
    RangeRequest range;
    range.set_key(cursor_);
    range.set_range_end(prefix_ + "0");  // '0' follows '/'
    range.set_limit(page_keys_);
    range.set_revision(info_.revision);
    absl::StatusOr<RangeResponse> page = client_.Range(range);
    if (absl::IsOutOfRange(page.status())) return Compacted(info_.revision);
    RETURN_IF_ERROR(page.status());
    const std::string marker = MarkerKey();
    for (const auto& kv : page->kvs()) {
      const absl::string_view key =
          absl::string_view(kv.key()).substr(prefix_.size());
      // Not the restore marker, and not the key-rotation lock: its holder
      // is attached to an etcd lease, which a restore cannot bring back, so
      // a restored lock would never expire. An interrupted rekey's progress
      // record is kept (the next daemon start finishes that rekey).
      if (key == marker || absl::StartsWith(key, "/lock/")) continue;
      std::string record;
      PutU32(key.size(), &record);
      record.append(key.data(), key.size());
      PutU32(kv.value().size(), &record);
      record += kv.value();
      Add(record);
      ++info_.keys;
      info_.payload_bytes += 8 + key.size() + kv.value().size();
      if (absl::StartsWith(key, "/s/")) ++info_.secrets;
      if (absl::StartsWith(key, "/v/")) ++info_.versions;
      if (absl::StartsWith(key, "/env/id/")) ++info_.environments;
    }
    if (!page->more() || page->kvs_size() == 0) {
      records_done_ = true;
    } else {
      cursor_ = page->kvs(page->kvs_size() - 1).key() + std::string(1, '\0');
    }
    return absl::OkStatus();
  }

  EtcdClient& client_;
  const std::string prefix_;
  BackupInfo info_;
  BackupMac mac_;
  const int page_keys_;
  std::string cursor_;
  std::string pending_;
  bool records_done_ = false;
  bool finished_ = false;
};

// The MAC key of a version 2 file, from its header and the master key.
absl::StatusOr<SecretBytes> MacKeyOf(const BackupInfo& info,
                                     SecretBytes master_key) {
  std::string store_id;
  if (info.store_id.size() != 32 ||
      !std::all_of(info.store_id.begin(), info.store_id.end(),
                   [](char c) { return absl::ascii_isxdigit(c); })) {
    return Malformed("bad store id");
  }
  store_id = absl::HexStringToBytes(info.store_id);
  absl::StatusOr<SecretBytes> key = EtcdSecretStore::DeriveSubkeyFromMeta(
      store_id, info.sealed_subkey_seed, info.key_check, std::move(master_key),
      SubkeyPurpose::kBackupMac);
  if (absl::IsFailedPrecondition(key.status())) {
    return absl::FailedPreconditionError(
        "the master key does not open this backup (wrong key, or a backup of "
        "another store); nothing restored");
  }
  if (!key.ok()) return Malformed(key.status().message());
  return key;
}

// One reading of the file under `mac_key`: every record goes to
// `on_record` (after the meta records are checked against the header);
// DataLoss if the MAC does not match.
absl::Status ReadAuthenticated(
    BackupFileReader& reader, const SecretBytes& mac_key, uint64_t header_end,
    BackupInfo* info,
    absl::FunctionRef<absl::Status(absl::string_view, absl::string_view)>
        on_record) {
  BackupMac mac(mac_key);
  RETURN_IF_ERROR(reader.Rewind(&mac));
  RETURN_IF_ERROR(reader.Read(header_end).status());
  const std::string store_id = absl::HexStringToBytes(info->store_id);
  int meta_seen = 0;
  RETURN_IF_ERROR(reader.ReadClusterBody(
      info, [&](absl::string_view key, absl::string_view value) {
        if (key == MarkerKey()) return Malformed("a restore marker");
        if (IsHeldBackMeta(key)) {
          const std::string& expected = key == "/meta/store_id" ? store_id
                                        : key == "/meta/subkey_seed"
                                            ? info->sealed_subkey_seed
                                            : info->key_check;
          if (value != expected) return Malformed("header and keys disagree");
          ++meta_seen;
        }
        return on_record(key, value);
      }));
  ASSIGN_OR_RETURN(std::string tag, reader.ReadMacAndEnd());
  const std::string expected = mac.Final();
  if (sodium_memcmp(tag.data(), expected.data(), kBackupMacBytes) != 0) {
    return absl::DataLossError(
        "backup file failed authentication: it was edited, damaged or "
        "assembled from another backup (nothing restored)");
  }
  if (meta_seen != 3) return Malformed("the store's meta records are missing");
  return absl::OkStatus();
}

RequestOp PutOp(const std::string& key, absl::string_view value) {
  RequestOp op;
  op.mutable_request_put()->set_key(key);
  op.mutable_request_put()->set_value(std::string(value));
  return op;
}

void CompareMarker(const std::string& marker, const std::string& id,
                   TxnRequest* txn) {
  Compare* c = txn->add_compare();
  c->set_key(marker);
  c->set_target(Compare::VALUE);
  c->set_result(Compare::EQUAL);
  c->set_value(id);
}

// Writes the verified file into the empty prefix (steps 2-4 of the header).
absl::Status WriteIntoPrefix(BackupFileReader& reader,
                             const SecretBytes& mac_key, uint64_t header_end,
                             BackupInfo info, const std::string& prefix,
                             EtcdClient& client) {
  RangeRequest all;
  all.set_key(prefix + "/");
  all.set_range_end(prefix + "0");
  all.set_count_only(true);
  ASSIGN_OR_RETURN(RangeResponse existing, client.Range(all));
  if (existing.count() > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "etcd prefix ", prefix, " is not empty (", existing.count(),
        " keys); a restore writes only into an empty prefix (nothing "
        "restored)"));
  }
  const std::string marker = prefix + MarkerKey();
  const std::string id =
      absl::BytesToHexString(SecretBytes::Random(16).InsecureView());
  {
    TxnRequest txn;
    for (const std::string& key : {marker, prefix + "/meta/key_check"}) {
      Compare* absent = txn.add_compare();
      absent->set_key(key);
      absent->set_target(Compare::CREATE);
      absent->set_result(Compare::EQUAL);
      absent->set_create_revision(0);
    }
    *txn.add_success() = PutOp(marker, id);
    ASSIGN_OR_RETURN(TxnResponse r, client.Txn(txn));
    if (!r.succeeded()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "etcd prefix ", prefix,
          " was taken while the restore started (nothing restored)"));
    }
  }
  absl::Status status = [&]() -> absl::Status {
    TxnRequest batch;
    size_t batch_bytes = 0;
    auto flush = [&]() -> absl::Status {
      if (batch.success_size() == 0) return absl::OkStatus();
      CompareMarker(marker, id, &batch);
      ASSIGN_OR_RETURN(TxnResponse r, client.Txn(batch));
      if (!r.succeeded()) {
        return absl::AbortedError(
            "the restore marker changed under the restore (another restore "
            "or a delete ran at the same time)");
      }
      batch.Clear();
      batch_bytes = 0;
      return absl::OkStatus();
    };
    std::vector<std::pair<std::string, std::string>> meta;
    RETURN_IF_ERROR(ReadAuthenticated(
        reader, mac_key, header_end, &info,
        [&](absl::string_view key, absl::string_view value) -> absl::Status {
          if (IsHeldBackMeta(key)) {
            meta.emplace_back(prefix + std::string(key), std::string(value));
            return absl::OkStatus();
          }
          if (batch.success_size() + 1 >= EtcdSecretStore::kMaxOpsPerTxn ||
              batch_bytes + key.size() + value.size() > kMaxTxnBytes) {
            RETURN_IF_ERROR(flush());
          }
          *batch.add_success() = PutOp(prefix + std::string(key), value);
          batch_bytes += key.size() + value.size();
          return absl::OkStatus();
        }));
    RETURN_IF_ERROR(flush());
    // Publish: the meta records and the marker's removal, at once.
    TxnRequest publish;
    CompareMarker(marker, id, &publish);
    for (const auto& [key, value] : meta) {
      *publish.add_success() = PutOp(key, value);
    }
    publish.add_success()->mutable_request_delete_range()->set_key(marker);
    ASSIGN_OR_RETURN(TxnResponse r, client.Txn(publish));
    if (!r.succeeded()) {
      return absl::AbortedError("the restore marker changed under the restore");
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    // Undo: remove everything, only while the marker is still ours.
    TxnRequest undo;
    CompareMarker(marker, id, &undo);
    auto* del = undo.add_success()->mutable_request_delete_range();
    del->set_key(prefix + "/");
    del->set_range_end(prefix + "0");
    absl::StatusOr<TxnResponse> undone = client.Txn(undo);
    if (!undone.ok()) {
      return absl::Status(
          status.code(),
          absl::StrCat(status.message(),
                       "; removing the partial restore "
                       "failed too (",
                       undone.status().message(),
                       "): the daemon refuses this prefix until it is "
                       "deleted (etcdctl del --prefix ",
                       prefix, "/)"));
    }
  }
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BackupSource>> OpenClusterBackup(
    EtcdSecretStore& store, Clock& clock, const ClusterBackupOptions& options) {
  EtcdClient& client = store.client();
  const std::string& prefix = store.prefix();
  RangeRequest meta;
  meta.set_key(prefix + "/meta/");
  meta.set_range_end(prefix + "/meta0");
  ASSIGN_OR_RETURN(RangeResponse meta_read, client.Range(meta));
  BackupInfo info;
  info.format_version = kClusterBackupFormatVersion;
  info.created_at = clock.Now();
  info.store_id = absl::BytesToHexString(store.store_id());
  info.prefix = prefix;
  info.revision = meta_read.header().revision();
  for (const auto& kv : meta_read.kvs()) {
    if (kv.key() == prefix + "/meta/subkey_seed") {
      info.sealed_subkey_seed = kv.value();
    } else if (kv.key() == prefix + "/meta/key_check") {
      info.key_check = kv.value();
    }
  }
  if (info.sealed_subkey_seed.empty() || info.key_check.empty()) {
    return absl::DataLossError("the store's meta records are missing");
  }
  ASSIGN_OR_RETURN(info.master_key_id, BlobKeyId(info.key_check));
  RangeRequest keyring;
  keyring.set_key(prefix + "/keyring/");
  keyring.set_range_end(prefix + "/keyring0");
  keyring.set_keys_only(true);
  keyring.set_revision(info.revision);
  absl::StatusOr<RangeResponse> keys = client.Range(keyring);
  if (absl::IsOutOfRange(keys.status())) return Compacted(info.revision);
  RETURN_IF_ERROR(keys.status());
  for (const auto& kv : keys->kvs()) {
    uint32_t generation = 0;
    if (absl::SimpleHexAtoi(
            absl::string_view(kv.key()).substr(prefix.size() + 9),
            &generation)) {
      info.data_key_generations.push_back(generation);
    }
  }
  ASSIGN_OR_RETURN(SecretBytes mac_key,
                   store.DeriveSubkey(SubkeyPurpose::kBackupMac));
  return std::unique_ptr<BackupSource>(new ClusterBackupSource(
      client, prefix, std::move(info), mac_key, options.page_keys));
}

absl::StatusOr<BackupInfo> RestoreClusterBackup(
    const ClusterRestoreOptions& options, SecretBytes master_key) {
  if (options.backup_path.empty()) {
    return absl::InvalidArgumentError("no backup file given");
  }
  const std::string& prefix = options.target.prefix;
  if (!options.verify_only &&
      (prefix.empty() || prefix[0] != '/' || prefix.back() == '/')) {
    return absl::InvalidArgumentError(
        "etcd prefix must start with '/' and not end with '/'");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BackupFileReader> reader,
                   BackupFileReader::Open(options.backup_path));
  ASSIGN_OR_RETURN(BackupInfo info, reader->ReadHeader());
  if (info.format_version != kClusterBackupFormatVersion) {
    return absl::InvalidArgumentError(
        "this is a backup of a SQLite store (format version 1): restore it "
        "with --data-dir");
  }
  const uint64_t header_end = reader->offset();
  ASSIGN_OR_RETURN(SecretBytes mac_key, MacKeyOf(info, std::move(master_key)));
  // Reading 1: everything checks out before anything is written.
  RETURN_IF_ERROR(ReadAuthenticated(
      *reader, mac_key, header_end, &info,
      [](absl::string_view, absl::string_view) { return absl::OkStatus(); }));
  if (options.verify_only) return info;
  ASSIGN_OR_RETURN(std::unique_ptr<EtcdClient> client,
                   EtcdClient::Create(options.target.client));
  // Reading 2 writes; its MAC is checked again before the store appears.
  RETURN_IF_ERROR(
      WriteIntoPrefix(*reader, mac_key, header_end, info, prefix, *client));
  return info;
}

}  // namespace zlayer::secrets
