#include "tests/testutil/fake_vault_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace zlayer::secrets::testing {
namespace {

std::string Quote(absl::string_view s) {
  JsonWriter w(JsonWriter::Style::kCompact);
  w.String(s);
  WipingString out = w.Finish();
  return std::string(out.data(), out.size());
}

std::string TimeText(absl::Time t) {
  if (t == absl::InfinitePast()) return "";
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

std::string Errors(absl::string_view text) {
  return text.empty() ? R"({"errors":[]})"
                      : absl::StrCat(R"({"errors":[)", Quote(text), "]}");
}

std::string UrlDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = 0, lo = 0;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      c = absl::ascii_tolower(c);
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    if (s[i] == '%' && i + 2 < s.size() && (hi = hex(s[i + 1])) >= 0 &&
        (lo = hex(s[i + 2])) >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    default:
      return "Error";
  }
}

bool SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FakeVaultServer>> FakeVaultServer::Start(
    Options options) {
  std::unique_ptr<FakeVaultServer> server(
      new FakeVaultServer(std::move(options)));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("bind/listen: ", strerror(errno)));
  }
  server->listen_fd_ = fd;
  server->port_ = ntohs(addr.sin_port);
  server->accept_thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

FakeVaultServer::FakeVaultServer(Options options)
    : options_(std::move(options)),
      now_(absl::FromUnixSeconds(1700000000) + absl::Nanoseconds(123456789)) {
  if (!options_.token.empty()) tokens_.insert(options_.token);
}

FakeVaultServer::~FakeVaultServer() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
  close(listen_fd_);
}

std::string FakeVaultServer::address() const {
  return absl::StrCat("http://127.0.0.1:", port_);
}

void FakeVaultServer::set_mode(Mode mode) {
  absl::MutexLock lock(&mu_);
  mode_ = mode;
}

void FakeVaultServer::set_time(absl::Time t) {
  absl::MutexLock lock(&mu_);
  now_ = t;
}

absl::Time FakeVaultServer::NextTime() {
  absl::Time t = now_;
  now_ += absl::Seconds(1);
  return t;
}

void FakeVaultServer::PutRaw(const std::string& path,
                             const std::string& data_json) {
  absl::MutexLock lock(&mu_);
  kv_[path].versions.push_back({data_json, NextTime()});
}

void FakeVaultServer::WriteBeforeMetadataReads(const std::string& path,
                                               int times) {
  absl::MutexLock lock(&mu_);
  racing_path_ = path;
  racing_writes_ = times;
}

int FakeVaultServer::RequestCount(absl::string_view prefix) const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(std::count_if(
      paths_seen_.begin(), paths_seen_.end(),
      [&](const std::string& p) { return absl::StartsWith(p, prefix); }));
}

int FakeVaultServer::logins() const {
  absl::MutexLock lock(&mu_);
  return logins_;
}

void FakeVaultServer::RevokeToken(const std::string& token) {
  absl::MutexLock lock(&mu_);
  tokens_.erase(token);
}

void FakeVaultServer::AcceptLoop() {
  while (!stopping_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;  // shut down
    }
    ++connections_;
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      close(fd);
      return;
    }
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeVaultServer::Serve(int fd) {
  std::string in;
  char buf[16384];
  size_t header_end = std::string::npos;
  auto read_more = [&]() {
    ssize_t n;
    do {
      n = recv(fd, buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
    return true;
  };
  bool ok = true;
  while (ok && (header_end = in.find("\r\n\r\n")) == std::string::npos) {
    ok = read_more() && in.size() < (1 << 20);
  }
  std::string method, target, body;
  std::map<std::string, std::string> headers;
  if (ok) {
    std::vector<std::string> lines =
        absl::StrSplit(in.substr(0, header_end), "\r\n");
    std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
    if (first.size() == 3) {
      method = first[0];
      target = first[1];
    }
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    size_t length = 0;
    if (headers.count("content-length") &&
        !absl::SimpleAtoi(headers["content-length"], &length)) {
      ok = false;
    }
    while (ok && in.size() - header_end - 4 < length) ok = read_more();
    if (ok) body = in.substr(header_end + 4, length);
  }
  Mode mode;
  {
    absl::MutexLock lock(&mu_);
    mode = mode_;
  }
  if (ok && mode == Mode::kStall) {
    // Hold the connection, answer nothing, until the client gives up.
    while (read_more()) {
    }
    ok = false;
  }
  if (ok) {
    Response r;
    if (mode == Mode::kOversizedBody) {
      r.body = absl::StrCat(R"({"data":{"data":{"value":")",
                            std::string(options_.oversized_bytes, 'a'),
                            R"("},"metadata":{"version":1}}})");
    } else if (mode == Mode::kMalformedJson) {
      r.body = R"({"data":{"data":{"value":"abc)";
    } else if (mode == Mode::kEchoTokenInError) {
      r.status = 403;
      r.body = Errors(absl::StrCat("permission denied for token ",
                                   headers["x-vault-token"]));
    } else {
      r = Handle(method, target, headers, body);
    }
    std::string head = absl::StrCat(
        "HTTP/1.1 ", r.status, " ", Reason(r.status), "\r\n",
        "Content-Type: application/json\r\nContent-Length: ",
        r.status == 204 ? 0 : r.body.size(), "\r\nConnection: close\r\n\r\n");
    if (SendAll(fd, head) && r.status != 204) SendAll(fd, r.body);
  }
  absl::MutexLock lock(&mu_);
  open_fds_.erase(std::find(open_fds_.begin(), open_fds_.end(), fd));
  close(fd);
}

FakeVaultServer::Response FakeVaultServer::Handle(
    const std::string& method, const std::string& target,
    const std::map<std::string, std::string>& headers,
    const std::string& body) {
  absl::string_view path_and_query = target;
  if (!absl::ConsumePrefix(&path_and_query, "/v1/")) {
    return {404, Errors("no handler for route")};
  }
  std::string query;
  size_t q = path_and_query.find('?');
  if (q != absl::string_view::npos) {
    query = std::string(path_and_query.substr(q + 1));
    path_and_query = path_and_query.substr(0, q);
  }
  const std::string path = UrlDecode(path_and_query);
  absl::MutexLock lock(&mu_);
  paths_seen_.push_back(path);
  auto header = [&](const char* name) -> std::string {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  };
  if (header("x-vault-namespace") != options_.vault_namespace) {
    return {403, Errors("permission denied")};
  }
  if (path == "auth/approle/login") {
    if (method != "POST" && method != "PUT") return {405, Errors("")};
    return Auth("", "login", body);
  }
  const std::string token = header("x-vault-token");
  if (token.empty() || tokens_.count(token) == 0) {
    return {403, Errors("permission denied")};
  }
  if (path == "auth/token/renew-self") return Auth(token, "renew", body);
  absl::string_view rest = path;
  if (!absl::ConsumePrefix(&rest, options_.mount + "/")) {
    return {404, Errors(absl::StrCat("no handler for route \"", path, "\""))};
  }
  std::string m = method;
  if (m == "GET" && absl::StrContains(query, "list=true")) m = "LIST";
  for (const std::string kind : {"data", "metadata"}) {
    if (rest == kind) return Kv(m, kind, "", query, body);
    absl::string_view sub = rest;
    if (absl::ConsumePrefix(&sub, kind + "/")) {
      return Kv(m, kind, std::string(sub), query, body);
    }
  }
  return {404, Errors("no handler for route")};
}

FakeVaultServer::Response FakeVaultServer::Auth(const std::string& token,
                                                const std::string& what,
                                                const std::string& body) {
  std::string issued = token;
  if (what == "login") {
    absl::StatusOr<JsonValue> req = ParseJson(body);
    const JsonValue* role = req.ok() ? req->Find("role_id") : nullptr;
    const JsonValue* secret = req.ok() ? req->Find("secret_id") : nullptr;
    if (options_.role_id.empty() || role == nullptr || secret == nullptr ||
        !role->is_string() || !secret->is_string() ||
        role->string_value() != options_.role_id ||
        secret->string_value() != options_.secret_id) {
      return {400, Errors("invalid role or secret ID")};
    }
    ++logins_;
    issued = absl::StrCat("hvs.approle-", logins_);
    tokens_.insert(issued);
  }
  return {200,
          absl::StrCat(R"({"request_id":"r","lease_id":"","renewable":false,)",
                       R"("lease_duration":0,"data":null,"auth":{)",
                       R"("client_token":)", Quote(issued),
                       R"(,"accessor":"a","policies":["default"],)",
                       R"("lease_duration":)", options_.lease_seconds,
                       R"(,"renewable":true}})")};
}

std::string FakeVaultServer::VersionMetadataJson(const Entry& e,
                                                 size_t version) const {
  const Version& v = e.versions[version - 1];
  return absl::StrCat(R"({"created_time":)", Quote(TimeText(v.created)),
                      R"(,"custom_metadata":null,"deletion_time":)",
                      Quote(TimeText(v.deleted)),
                      R"(,"destroyed":false,"version":)", version, "}");
}

std::string FakeVaultServer::MetadataJson(const Entry& e) const {
  std::vector<std::string> versions;
  for (size_t i = 0; i < e.versions.size(); ++i) {
    const Version& v = e.versions[i];
    versions.push_back(
        absl::StrCat("\"", i + 1, R"(":{"created_time":)",
                     Quote(TimeText(v.created)), R"(,"deletion_time":)",
                     Quote(TimeText(v.deleted)), R"(,"destroyed":false})"));
  }
  return absl::StrCat(R"({"data":{"cas_required":false,"created_time":)",
                      Quote(TimeText(e.versions.front().created)),
                      R"(,"current_version":)", e.versions.size(),
                      R"(,"custom_metadata":null,"delete_version_after":"0s",)",
                      R"("max_versions":0,"oldest_version":0,"updated_time":)",
                      Quote(TimeText(e.versions.back().created)),
                      R"(,"versions":{)", absl::StrJoin(versions, ","), "}}}");
}

FakeVaultServer::Response FakeVaultServer::Kv(const std::string& method,
                                              const std::string& kind,
                                              const std::string& path,
                                              const std::string& query,
                                              const std::string& body) {
  auto it = kv_.find(path);
  if (kind == "metadata") {
    if (method == "LIST") {
      const std::string prefix = path.empty() ? "" : path + "/";
      std::set<std::string> keys;
      for (const auto& [p, e] : kv_) {
        if (!absl::StartsWith(p, prefix)) continue;
        std::string tail = p.substr(prefix.size());
        size_t slash = tail.find('/');
        keys.insert(slash == std::string::npos ? tail
                                               : tail.substr(0, slash + 1));
      }
      if (keys.empty()) return {404, Errors("")};
      std::vector<std::string> quoted;
      for (const std::string& k : keys) quoted.push_back(Quote(k));
      return {200, absl::StrCat(R"({"data":{"keys":[)",
                                absl::StrJoin(quoted, ","), "]}}")};
    }
    if (method != "GET") return {405, Errors("")};
    if (path == racing_path_ && racing_writes_ > 0) {
      --racing_writes_;
      Entry& e = kv_[path];
      e.versions.push_back(
          {absl::StrCat(R"({"value":"moved-)", e.versions.size() + 1, "\"}"),
           NextTime()});
      it = kv_.find(path);
    }
    if (it == kv_.end()) return {404, Errors("")};
    return {200, MetadataJson(it->second)};
  }
  if (method == "GET") {
    if (it == kv_.end()) return {404, Errors("")};
    size_t version = it->second.versions.size();
    absl::string_view v = query;
    if (absl::ConsumePrefix(&v, "version=") &&
        (!absl::SimpleAtoi(v, &version) || version == 0)) {
      version = it->second.versions.size();
    }
    if (version > it->second.versions.size()) return {404, Errors("")};
    const Version& ver = it->second.versions[version - 1];
    const std::string meta = VersionMetadataJson(it->second, version);
    if (ver.deleted != absl::InfinitePast()) {
      return {404,
              absl::StrCat(R"({"data":{"data":null,"metadata":)", meta, "}}")};
    }
    return {200, absl::StrCat(R"({"data":{"data":)", ver.data_json,
                              R"(,"metadata":)", meta, "}}")};
  }
  if (method == "POST" || method == "PUT") {
    absl::StatusOr<JsonValue> req = ParseJson(body);
    const JsonValue* data = req.ok() ? req->Find("data") : nullptr;
    if (data == nullptr || !data->is_object()) {
      return {400, Errors("no data provided")};
    }
    const JsonValue* options = req->Find("options");
    const JsonValue* cas = options == nullptr ? nullptr : options->Find("cas");
    const size_t current = it == kv_.end() ? 0 : it->second.versions.size();
    if (cas != nullptr && (!cas->is_number() || !cas->is_int() ||
                           static_cast<size_t>(cas->int_value()) != current)) {
      return {400, Errors("check-and-set parameter did not match the current "
                          "version")};
    }
    JsonWriter w(JsonWriter::Style::kCompact);
    w.Value(*data);
    WipingString text = w.Finish();
    Entry& e = kv_[path];
    e.versions.push_back({std::string(text.data(), text.size()), NextTime()});
    return {200, absl::StrCat(R"({"data":)",
                              VersionMetadataJson(e, e.versions.size()), "}")};
  }
  if (method == "DELETE") {
    if (it != kv_.end()) it->second.versions.back().deleted = NextTime();
    return {204, ""};
  }
  return {405, Errors("")};
}

}  // namespace zlayer::secrets::testing
