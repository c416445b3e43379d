#include "daemon/rpc/watch_service.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/base/text_validation.h"
#include "core/env/environment_registry.h"
#include "core/identity/identity_records.h"
#include "core/identity/node_affinity_view.h"
#include "core/resolve/resolver.h"
#include "daemon/rpc/grpc_status.h"
#include "daemon/rpc/service_common.h"

namespace zlayer::secrets {
namespace {

// Whether `view` hid scope/name from its caller (in this evaluation).
bool HiddenBy(const NodeAffinityView& view, absl::string_view scope,
              absl::string_view name) {
  return std::any_of(
      view.hidden().begin(), view.hidden().end(),
      [&](const SecretKey& k) { return k.scope == scope && k.name == name; });
}

v1::ChangeKind ToProto(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kSet:
      return v1::CHANGE_KIND_SET;
    case ChangeKind::kRotate:
      return v1::CHANGE_KIND_ROTATE;
    case ChangeKind::kRollback:
      return v1::CHANGE_KIND_ROLLBACK;
    case ChangeKind::kDelete:
      return v1::CHANGE_KIND_DELETE;
    case ChangeKind::kUndelete:
      return v1::CHANGE_KIND_UNDELETE;
    case ChangeKind::kDestroy:
      return v1::CHANGE_KIND_DESTROY;
    case ChangeKind::kEnvironment:
      return v1::CHANGE_KIND_ENVIRONMENT;
  }
  return v1::CHANGE_KIND_UNSPECIFIED;
}

void ToProto(const FeedEvent& event, uint64_t epoch, v1::WatchEvent* out) {
  out->set_kind(ToProto(event.change.kind));
  out->set_scope(event.change.scope);
  out->set_name(event.change.name);
  out->set_version(event.change.version);
  out->set_previous_version(event.change.previous_version);
  out->set_position(FormatPosition({epoch, event.sequence}));
  out->set_environment_id(event.change.environment_id);
  out->set_environment_project(event.change.environment_project);
  out->set_environment_name(event.change.environment_name);
  out->set_previous_environment_name(event.change.previous_environment_name);
}

// Changes of the identity records that can change what a caller may do:
// a watcher re-checks its access when one of them changes.
bool ChangesAccess(const StoreChange& change) {
  return change.scope == kGrantsScope || change.scope == kApiKeysScope;
}

// The secrets a WatchEnv stream follows. Its feed filter reads them under
// the feed's lock while the stream replaces them after a re-plan.
class WatchedTargets {
 public:
  bool Contains(const SecretKey& key) const {
    absl::MutexLock lock(&mu_);
    return keys_.contains(key);
  }
  void Replace(absl::flat_hash_set<SecretKey> keys) {
    absl::MutexLock lock(&mu_);
    keys_ = std::move(keys);
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_set<SecretKey> keys_ ABSL_GUARDED_BY(mu_);
};

// The secrets a plan reads (its references that resolved).
absl::flat_hash_set<SecretKey> PlanTargets(const ResolvePlan& plan) {
  absl::flat_hash_set<SecretKey> targets;
  for (const PlannedEntry& entry : plan.entries) {
    if (entry.is_reference && entry.status.ok()) targets.insert(entry.target);
  }
  return targets;
}

absl::StatusOr<absl::optional<WatchPosition>> ResumeFrom(
    const std::string& text) {
  if (text.empty()) return absl::optional<WatchPosition>();
  ASSIGN_OR_RETURN(WatchPosition position, ParsePosition(text));
  return absl::optional<WatchPosition>(position);
}

// The canonical scope of a Target (as SecretsService resolves it).
// TODO(arch-rpc): use the shared target resolution once handlers share one.
absl::StatusOr<std::string> TargetScope(const ServiceContext& ctx,
                                        const v1::Target& target) {
  std::string scope;
  switch (target.kind_case()) {
    case v1::Target::kScope:
      scope = target.scope();
      break;
    case v1::Target::kDeployment: {
      const v1::DeploymentTarget& d = target.deployment();
      RETURN_IF_ERROR(ValidateName(d.deployment()));
      scope = d.deployment();
      if (!d.service().empty()) {
        RETURN_IF_ERROR(ValidateName(d.service()));
        absl::StrAppend(&scope, "/", d.service());
      }
      break;
    }
    case v1::Target::kEnvironment: {
      const v1::EnvironmentTarget& e = target.environment();
      RETURN_IF_ERROR(
          ValidateText(e.name_or_id(), "environment", 1, kMaxNameBytes));
      RETURN_IF_ERROR(ValidateProject(e.project()));
      if (ctx.environments == nullptr) {
        return absl::FailedPreconditionError(
            "this daemon has no environment registry");
      }
      ASSIGN_OR_RETURN(
          scope, ctx.environments->ResolveScope(e.name_or_id(), e.project()));
      break;
    }
    case v1::Target::KIND_NOT_SET:
      return absl::InvalidArgumentError(
          "target is required (scope, deployment or environment)");
  }
  RETURN_IF_ERROR(ValidateScope(scope));
  if (IsSystemScope(scope)) {
    return absl::InvalidArgumentError(
        absl::StrCat("scope '", scope, "' is internal to the daemon"));
  }
  return scope;
}

}  // namespace

// One stream's state machine (both RPCs). Decisions are taken under mu_; the
// gRPC operations and queue submissions they lead to start after it is
// released. At most one step is in flight (busy_): a queued evaluation or
// the write it produced. Wakes from the feed only set dirty_ and, when idle,
// queue an evaluation; so however fast the store changes, a stream has at
// most one task queued and one message in flight.
//
// Lifetime: held by shared_ptr. self_ keeps it alive until OnDone; the
// feed's wake function holds a weak_ptr, so a writer waking a stream that
// is just ending keeps it alive for that call only.
template <typename Response>
class WatchStream : public grpc::ServerWriteReactor<Response>,
                    public WatchService::Stream,
                    public std::enable_shared_from_this<WatchStream<Response>> {
 public:
  WatchStream(WatchService* service, grpc::CallbackServerContext* call,
              absl::string_view rpc)
      : service_(service), call_(call), rpc_(rpc) {}

  // Registers with the service and queues the first evaluation.
  void Start(std::shared_ptr<WatchStream> self) {
    self_ = std::move(self);
    if (!service_->Add(this, self_)) {
      absl::MutexLock lock(&mu_);
      final_ = absl::UnavailableError("the daemon is shutting down");
      stop_ = true;
    }
    Kick();
  }

  void Stop() override {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    Kick();
  }

  void Wake() {
    {
      absl::MutexLock lock(&mu_);
      dirty_ = true;
    }
    Kick();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      busy_ = false;
      if (!ok) cancelled_ = true;
    }
    Kick();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
    }
    Kick();
  }

  void OnDone() override {
    Closed();
    subscription_.reset();
    service_->Remove(this);
    self_.reset();  // may delete this
  }

 protected:
  // Identifies the caller, checks the request and subscribes (on a worker).
  virtual absl::Status Open() = 0;
  // Builds the next message into `out`; false = nothing worth sending.
  virtual absl::StatusOr<bool> Next(Response* out) = 0;
  // The stream is done (OnDone): release what Open() took.
  virtual void Closed() {}

  // Subscribes to the feed with a wake that reaches this stream.
  absl::Status Subscribe(absl::string_view caller,
                         std::function<bool(const StoreChange&)> filter,
                         absl::optional<WatchPosition> resume) {
    std::weak_ptr<WatchStream> weak = this->shared_from_this();
    ASSIGN_OR_RETURN(
        subscription_,
        service_->feed_->Subscribe(caller, std::move(filter), resume, [weak] {
          if (auto s = weak.lock()) {
            s->Wake();
          }
        }));
    return absl::OkStatus();
  }

  WatchService* const service_;
  grpc::CallbackServerContext* const call_;
  const std::string rpc_;
  std::unique_ptr<Subscription> subscription_;
  // Identifies the caller once (IdentifyCaller), keeping its facts for the
  // stream's audit record.
  absl::StatusOr<Principal> Identify() {
    CallLog who(rpc_);
    absl::StatusOr<Principal> principal =
        IdentifyCaller(*service_->ctx_, *call_, &who);
    subject_ = who.subject;
    actor_ = who.actor;
    groups_ = who.groups;
    return principal;
  }

  // Log-safe facts for the stream's audit record.
  std::string subject_ = "-";
  std::string actor_;
  std::vector<std::string> groups_;
  std::string scope_;
  std::string detail_;
  // Secrets hidden from this caller by their node affinity, for the audit
  // record (docs/identity.md, "Node affinity").
  std::vector<AuditTarget> node_affinity_hidden_;

  // A node-affinity view for one evaluation (core/identity/
  // node_affinity_view.h); RecordHidden keeps what it hid.
  NodeAffinityView ViewFor(const Principal& principal) const {
    const ServiceContext& ctx = *service_->ctx_;
    return NodeAffinityView(ctx.store, nullptr, principal,
                            ctx.authorizer->CheckAdmin(principal).ok());
  }
  void RecordHidden(const NodeAffinityView& view) {
    for (const SecretKey& key : view.hidden()) {
      const bool known =
          std::any_of(node_affinity_hidden_.begin(),
                      node_affinity_hidden_.end(), [&](const AuditTarget& t) {
                        return t.scope == key.scope && t.name == key.name;
                      });
      if (!known) node_affinity_hidden_.push_back({key.scope, key.name});
    }
  }

 private:
  enum class Action { kNone, kEvaluate, kFinish };

  void Kick() {
    Action action = Action::kNone;
    absl::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || busy_) return;
      if (cancelled_ || stop_) {
        finished_ = true;
        action = Action::kFinish;
        status =
            cancelled_ ? absl::CancelledError("the client went away") : final_;
      } else if (dirty_) {
        dirty_ = false;
        busy_ = true;
        action = Action::kEvaluate;
      }
    }
    if (action == Action::kFinish) {
      FinishWith(status);
    } else if (action == Action::kEvaluate) {
      std::shared_ptr<WatchStream> self = this->shared_from_this();
      absl::Status queued =
          service_->queue_->Submit(0, [self] { self->Evaluate(); });
      if (!queued.ok()) Fail(queued);
    }
  }

  // On a worker: the first time Open(), then the next message.
  void Evaluate() {
    absl::StatusOr<bool> next = [this]() -> absl::StatusOr<bool> {
      if (!opened_) {
        RETURN_IF_ERROR(Open());
        opened_ = true;
      }
      return Next(&message_);
    }();
    if (!next.ok()) {
      Fail(next.status());
      return;
    }
    if (*next) {
      // busy_ stays set until OnWriteDone.
      this->StartWrite(&message_);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      busy_ = false;
    }
    Kick();
  }

  // Ends the stream with `status` (unless it already ends).
  void Fail(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      busy_ = false;
      if (finished_) return;
      finished_ = true;
    }
    FinishWith(status);
  }

  void FinishWith(const absl::Status& status) {
    CallLog log(service_->ctx_, *call_, rpc_);
    log.subject = subject_;
    log.actor = actor_;
    log.groups = groups_;
    log.scope = scope_;
    log.detail = detail_;
    log.node_affinity_hidden = node_affinity_hidden_;
    this->Finish(log.Finish(status));
  }

  absl::Mutex mu_;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = true;  // the first message is due
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_ ABSL_GUARDED_BY(mu_);  // status after stop_
  // Only the one evaluation in flight touches these.
  bool opened_ = false;
  Response message_;
  std::shared_ptr<WatchStream> self_;
};

namespace {

// WatchEnv: follows the secrets of an env map.
class EnvStream final : public WatchStream<v1::WatchEnvResponse> {
 public:
  EnvStream(WatchService* service, const ServiceContext* ctx,
            ConsumerGraph* consumers, uint64_t epoch,
            grpc::CallbackServerContext* call,
            const v1::WatchEnvRequest* request)
      : WatchStream(service, call, "WatchEnv"),
        ctx_(ctx),
        consumers_(consumers),
        epoch_(epoch),
        request_(request) {}

 private:
  absl::Status Open() override {
    ASSIGN_OR_RETURN(principal_, Identify());
    if (static_cast<size_t>(request_->env_size()) >
        ctx_->limits.max_env_entries) {
      return absl::InvalidArgumentError(absl::StrCat(
          "env map has ", request_->env_size(), " entries; the limit is ",
          ctx_->limits.max_env_entries));
    }
    if (!request_->consumer().empty()) {
      RETURN_IF_ERROR(ValidateConsumer(request_->consumer()));
    }
    ASSIGN_OR_RETURN(absl::optional<WatchPosition> resume,
                     ResumeFrom(request_->resume_position()));
    env_ = std::map<std::string, std::string>(request_->env().begin(),
                                              request_->env().end());
    context_.deployment = request_->context().deployment();
    context_.project = request_->context().project();
    plan_ = Resolver(ctx_->store, ctx_->environments).Plan(env_, context_);
    absl::flat_hash_set<SecretKey> planned = PlanTargets(plan_);
    detail_ =
        absl::StrCat("entries=", env_.size(), " secrets=", planned.size());
    targets_->Replace(std::move(planned));
    // Every environment change wakes the stream: it re-plans and tells the
    // client only when the change touches an environment of its map.
    std::shared_ptr<const WatchedTargets> targets = targets_;
    RETURN_IF_ERROR(Subscribe(
        subject_,
        [targets](const StoreChange& c) {
          return c.kind == ChangeKind::kEnvironment || ChangesAccess(c) ||
                 targets->Contains({c.scope, c.name});
        },
        resume));
    if (!request_->consumer().empty()) {
      consumers_->WatchOpened(request_->consumer());
      watching_ = true;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Next(v1::WatchEnvResponse* out) override {
    Subscription::Batch batch = subscription_->Take();
    out->Clear();
    out->set_position(FormatPosition(batch.position));
    out->set_resync(batch.resync);
    // An environment created, renamed or deleted (or a resync, which may
    // hide one): plan the map's references again. The new targets are
    // followed before their metadata is read below, so a change made in
    // between is either in that read or pending for the next message.
    absl::flat_hash_set<std::string> env_scopes;
    const bool replan =
        batch.resync ||
        std::any_of(batch.events.begin(), batch.events.end(),
                    [](const FeedEvent& e) {
                      return e.change.kind == ChangeKind::kEnvironment;
                    });
    if (replan) {
      for (const PlannedEntry& entry : plan_.entries) {
        if (entry.is_reference && entry.status.ok()) {
          env_scopes.insert(entry.target.scope);
        }
      }
      plan_ = Resolver(ctx_->store, ctx_->environments).Plan(env_, context_);
      absl::flat_hash_set<SecretKey> planned = PlanTargets(plan_);
      for (const SecretKey& key : planned) env_scopes.insert(key.scope);
      targets_->Replace(std::move(planned));
    }
    NodeAffinityView view = ViewFor(principal_);
    std::vector<std::pair<SecretKey, uint32_t>> versions;
    // What this message's receipt names: version and incarnation per secret.
    absl::flat_hash_map<SecretKey, std::pair<uint32_t, std::string>> holds;
    for (const PlannedEntry& entry : plan_.entries) {
      if (!entry.is_reference) continue;
      absl::Status status = entry.status;
      if (status.ok()) {
        status = ctx_->authorizer->Check(
            principal_, {entry.target.scope, entry.target.name},
            AccessLevel::kExecute);
      }
      absl::StatusOr<SecretMetadata> metadata;
      if (status.ok()) {
        metadata = view.GetMetadata(entry.target.scope, entry.target.name);
        status = metadata.status();
      }
      if (!status.ok()) {
        v1::WatchEntryError* error = out->add_errors();
        error->set_key(entry.key);
        error->set_reference(entry.reference);
        error->set_code(static_cast<int>(status.code()));
        error->set_message(std::string(status.message()));
        continue;
      }
      v1::ResolvedEntry* r = out->add_receipt();
      r->set_key(entry.key);
      r->set_reference(entry.reference);
      r->set_scope(entry.target.scope);
      r->set_name(entry.target.name);
      r->set_version(metadata->version);
      r->set_field(entry.field);
      r->set_incarnation(absl::BytesToHexString(metadata->incarnation));
      versions.emplace_back(entry.target, metadata->version);
      holds[entry.target] = {metadata->version, r->incarnation()};
    }
    for (const FeedEvent& event : batch.events) {
      const StoreChange& c = event.change;
      // Identity records are never shown; they only trigger the re-check.
      if (IsSystemScope(c.scope)) continue;
      // Nor changes of secrets this caller's node may not see.
      if (HiddenBy(view, c.scope, c.name)) continue;
      // An environment change is news only if the map read (or now reads)
      // from that environment's scope.
      if (c.kind == ChangeKind::kEnvironment && !env_scopes.contains(c.scope)) {
        continue;
      }
      // A new version the client already holds: the receipt it was sent
      // named this version (or a newer one) of this same secret, and it has
      // not moved since. In cluster mode a write made through another daemon
      // can reach this daemon's feed after a stream opened and read it.
      const bool writes_version = c.kind == ChangeKind::kSet ||
                                  c.kind == ChangeKind::kRotate ||
                                  c.kind == ChangeKind::kRollback;
      if (writes_version) {
        const SecretKey key{c.scope, c.name};
        auto sent = sent_.find(key);
        auto now = holds.find(key);
        if (sent != sent_.end() && now != holds.end() &&
            sent->second == now->second && c.version <= sent->second.first) {
          continue;
        }
      }
      ToProto(event, epoch_, out->add_changes());
    }
    // What the client holds is the receipt and the errors; a change that
    // leaves both as they were (a grant to someone else) is not news.
    std::string state;
    for (const auto& r : out->receipt()) {
      absl::StrAppend(&state, r.key(), "\n", r.version(), "\n");
    }
    for (const auto& e : out->errors()) {
      absl::StrAppend(&state, e.key(), "\n", e.code(), "\n", e.message(), "\n");
    }
    RecordHidden(view);
    const bool first = !sent_any_;
    if (!first && !batch.resync && out->changes_size() == 0 &&
        state == last_state_) {
      return false;
    }
    sent_any_ = true;
    last_state_ = std::move(state);
    sent_ = std::move(holds);
    if (first && !request_->consumer().empty()) {
      // The graph's limit refuses new consumers, never the stream.
      absl::Status recorded =
          consumers_->Record(request_->consumer(), versions);
      (void)recorded;
    }
    return true;
  }

  void Closed() override {
    if (watching_) consumers_->WatchClosed(request_->consumer());
  }

  const ServiceContext* const ctx_;
  ConsumerGraph* const consumers_;
  const uint64_t epoch_;
  const v1::WatchEnvRequest* const request_;
  Principal principal_;
  std::map<std::string, std::string> env_;
  ResolveContext context_;
  ResolvePlan plan_;
  const std::shared_ptr<WatchedTargets> targets_ =
      std::make_shared<WatchedTargets>();
  bool watching_ = false;
  bool sent_any_ = false;
  std::string last_state_;
  // The receipt the client was last sent: version and incarnation (hex).
  absl::flat_hash_map<SecretKey, std::pair<uint32_t, std::string>> sent_;
};

// WatchSecrets: change events of one scope (and name prefix).
class SecretsStream final : public WatchStream<v1::WatchSecretsResponse> {
 public:
  SecretsStream(WatchService* service, const ServiceContext* ctx,
                uint64_t epoch, grpc::CallbackServerContext* call,
                const v1::WatchSecretsRequest* request)
      : WatchStream(service, call, "WatchSecrets"),
        ctx_(ctx),
        epoch_(epoch),
        request_(request) {}

 private:
  absl::Status Open() override {
    ASSIGN_OR_RETURN(principal_, Identify());
    ASSIGN_OR_RETURN(scope_, TargetScope(*ctx_, request_->target()));
    if (!request_->name_prefix().empty()) {
      RETURN_IF_ERROR(ValidateText(request_->name_prefix(), "name_prefix", 1,
                                   kMaxNameBytes));
    }
    ASSIGN_OR_RETURN(absl::optional<WatchPosition> resume,
                     ResumeFrom(request_->resume_position()));
    RETURN_IF_ERROR(CheckAccess());
    const std::string scope = scope_;
    const std::string prefix = request_->name_prefix();
    return Subscribe(
        subject_,
        [scope, prefix](const StoreChange& c) {
          // The watched scope's own environment created, renamed or
          // deleted is an event of that scope (name "").
          return ChangesAccess(c) ||
                 (c.scope == scope && (c.kind == ChangeKind::kEnvironment ||
                                       absl::StartsWith(c.name, prefix)));
        },
        resume);
  }

  absl::Status CheckAccess() {
    return ctx_->authorizer->Check(principal_, {scope_, ""},
                                   AccessLevel::kRead);
  }

  absl::StatusOr<bool> Next(v1::WatchSecretsResponse* out) override {
    RETURN_IF_ERROR(CheckAccess());
    Subscription::Batch batch = subscription_->Take();
    out->Clear();
    out->set_position(FormatPosition(batch.position));
    out->set_resync(batch.resync);
    NodeAffinityView view = ViewFor(principal_);
    for (const FeedEvent& event : batch.events) {
      if (IsSystemScope(event.change.scope)) continue;
      if (event.change.kind != ChangeKind::kEnvironment &&
          !view.GetMetadata(event.change.scope, event.change.name).ok() &&
          HiddenBy(view, event.change.scope, event.change.name)) {
        continue;
      }
      ToProto(event, epoch_, out->add_events());
    }
    RecordHidden(view);
    const bool first = !sent_any_;
    sent_any_ = true;
    return first || batch.resync || out->events_size() > 0;
  }

  const ServiceContext* const ctx_;
  const uint64_t epoch_;
  const v1::WatchSecretsRequest* const request_;
  Principal principal_;
  bool sent_any_ = false;
};

}  // namespace

WatchService::WatchService(const ServiceContext* ctx, ChangeFeed* feed,
                           ConsumerGraph* consumers, CallQueue* queue)
    : ctx_(ctx), feed_(feed), consumers_(consumers), queue_(queue) {}

WatchService::~WatchService() {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return streams_.empty();
  };
  mu_.Await(absl::Condition(&done));
}

grpc::ServerWriteReactor<v1::WatchEnvResponse>* WatchService::WatchEnv(
    grpc::CallbackServerContext* call, const v1::WatchEnvRequest* request) {
  auto stream = std::make_shared<EnvStream>(
      this, ctx_, consumers_, feed_->position().epoch, call, request);
  EnvStream* raw = stream.get();
  raw->Start(std::move(stream));
  return raw;
}

grpc::ServerWriteReactor<v1::WatchSecretsResponse>* WatchService::WatchSecrets(
    grpc::CallbackServerContext* call, const v1::WatchSecretsRequest* request) {
  auto stream = std::make_shared<SecretsStream>(
      this, ctx_, feed_->position().epoch, call, request);
  SecretsStream* raw = stream.get();
  raw->Start(std::move(stream));
  return raw;
}

grpc::Status WatchService::ListConsumers(
    grpc::ServerContextBase* call, const v1::ListConsumersRequest* request,
    v1::ListConsumersResponse* response) {
  CallLog log(ctx_, *call, "ListConsumers");
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal principal, IdentifyCaller(*ctx_, *call, &log));
    ASSIGN_OR_RETURN(std::string scope, TargetScope(*ctx_, request->target()));
    RETURN_IF_ERROR(ValidateName(request->name()));
    log.scope = scope;
    log.name = request->name();
    RETURN_IF_ERROR(ctx_->authorizer->Check(principal, {scope, request->name()},
                                            AccessLevel::kRead));
    // Through the node-affinity view: who uses a secret this caller's node
    // may not see is not shown (an empty answer, as for a missing secret
    // nobody resolved).
    NodeAffinityView view(ctx_->store, nullptr, principal,
                          ctx_->authorizer->CheckAdmin(principal).ok());
    absl::StatusOr<SecretMetadata> metadata =
        view.GetMetadata(scope, request->name());
    for (const SecretKey& key : view.hidden()) {
      log.node_affinity_hidden.push_back({key.scope, key.name});
    }
    if (!view.hidden().empty()) return absl::OkStatus();
    const uint32_t current = metadata.ok() ? metadata->version : 0;
    for (const ConsumerUse& use : consumers_->Users({scope, request->name()})) {
      v1::ConsumerUse* out = response->add_consumers();
      out->set_consumer(use.consumer);
      out->set_scope(use.secret.scope);
      out->set_name(use.secret.name);
      out->set_version(use.version);
      out->set_last_seen(absl::ToUnixSeconds(use.last_seen));
      out->set_watching(use.watching);
      out->set_current(use.version == current);
    }
    log.detail = absl::StrCat("consumers=", response->consumers_size());
    return absl::OkStatus();
  }();
  return log.Finish(status);
}

void WatchService::Shutdown() {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (const auto& entry : streams_) {
      if (std::shared_ptr<Stream> stream = entry.second.lock()) {
        streams.push_back(std::move(stream));
      }
    }
  }
  // Outside mu_: Stop() may finish the stream, whose OnDone takes mu_.
  for (const auto& stream : streams) stream->Stop();
}

int WatchService::streams() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(streams_.size());
}

bool WatchService::Add(Stream* stream, std::weak_ptr<Stream> weak) {
  absl::MutexLock lock(&mu_);
  streams_.emplace(stream, std::move(weak));
  return !shut_down_;
}

void WatchService::Remove(Stream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
}

}  // namespace zlayer::secrets
