#include "daemon/transport/server_connections.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "core/base/status_macros.h"
#include "core/format/json.h"
#include "grpc/grpc.h"
#include "grpc/support/alloc.h"

namespace zlayer::secrets {
namespace {

// Calls one grpc_channelz_get_* function and parses its JSON answer (a
// string gRPC allocates and we free).
absl::StatusOr<JsonValue> AskChannelz(char* answer) {
  if (answer == nullptr) return absl::InternalError("channelz gave no answer");
  std::string text(answer);
  gpr_free(answer);
  absl::StatusOr<JsonValue> doc = ParseJson(text);
  if (!doc.ok() || !doc->is_object()) {
    return absl::InternalError("channelz answer is not a JSON object");
  }
  return doc;
}

// channelz ids are int64 written as JSON strings (proto3 JSON mapping).
absl::StatusOr<intptr_t> IdOf(const JsonValue* ref, absl::string_view field) {
  const JsonValue* id = ref == nullptr ? nullptr : ref->Find(field);
  int64_t value = 0;
  if (id == nullptr || !id->is_string() ||
      !absl::SimpleAtoi(id->string_value(), &value) || value <= 0) {
    return absl::InternalError("channelz answer without a valid id");
  }
  return static_cast<intptr_t>(value);
}

// A page's "end" flag: absent means false in proto3 JSON.
bool IsLastPage(const JsonValue& page) {
  const JsonValue* end = page.Find("end");
  return end != nullptr && end->is_bool() && end->bool_value();
}

absl::StatusOr<std::vector<intptr_t>> ServerIds() {
  std::vector<intptr_t> ids;
  intptr_t start = 0;
  while (true) {
    ASSIGN_OR_RETURN(JsonValue page,
                     AskChannelz(grpc_channelz_get_servers(start)));
    const JsonValue* servers = page.Find("server");
    if (servers == nullptr) break;  // no server at all
    if (!servers->is_array()) {
      return absl::InternalError("channelz server list is malformed");
    }
    if (servers->elements().empty()) break;
    for (const JsonValue& server : servers->elements()) {
      ASSIGN_OR_RETURN(intptr_t id, IdOf(server.Find("ref"), "serverId"));
      ids.push_back(id);
      start = id + 1;
    }
    if (IsLastPage(page)) break;
  }
  return ids;
}

absl::Status CountSockets(intptr_t server_id, ServerConnections* counts) {
  intptr_t start = 0;
  while (true) {
    // max_results 0: gRPC's own page size.
    ASSIGN_OR_RETURN(
        JsonValue page,
        AskChannelz(grpc_channelz_get_server_sockets(server_id, start, 0)));
    // No connection: "socketRef" is an empty array (or absent).
    const JsonValue* sockets = page.Find("socketRef");
    if (sockets == nullptr) return absl::OkStatus();
    if (!sockets->is_array()) {
      return absl::InternalError("channelz socket list is malformed");
    }
    if (sockets->elements().empty()) return absl::OkStatus();
    for (const JsonValue& socket : sockets->elements()) {
      ASSIGN_OR_RETURN(intptr_t id, IdOf(&socket, "socketId"));
      start = id + 1;
      // e.g. "chttp2 ipv4:127.0.0.1:57150": transport, then peer address.
      const JsonValue* name = socket.Find("name");
      const bool tcp = name != nullptr && name->is_string() &&
                       (absl::StrContains(name->string_value(), "ipv4:") ||
                        absl::StrContains(name->string_value(), "ipv6:"));
      ++(tcp ? counts->tcp : counts->other);
    }
    if (IsLastPage(page)) return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<ServerConnections> CountServerConnections() {
  ServerConnections counts;
  ASSIGN_OR_RETURN(std::vector<intptr_t> servers, ServerIds());
  for (intptr_t id : servers) RETURN_IF_ERROR(CountSockets(id, &counts));
  return counts;
}

}  // namespace zlayer::secrets
