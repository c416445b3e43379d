// Open connections of the gRPC servers in this process, counted from gRPC
// core's channelz registry. gRPC owns the TCP listener (--listen), so the
// daemon never sees a TCP accept; channelz tracking is on in every gRPC
// server by default (--channelz only adds the service that serves the
// registry to clients), and it lists each server's open sockets by peer
// address. The Unix socket's connections are handed to gRPC from our own
// accept loop (UnixListener) and are counted there.
//
//   absl::StatusOr<ServerConnections> open = CountServerConnections();
//   if (open.ok()) gauge = open->tcp;
//
// Cost: one registry walk per call (a scrape), proportional to the open
// sockets. Thread-safe.
#ifndef ZLAYER_SECRETS_DAEMON_TRANSPORT_SERVER_CONNECTIONS_H_
#define ZLAYER_SECRETS_DAEMON_TRANSPORT_SERVER_CONNECTIONS_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace zlayer::secrets {

struct ServerConnections {
  uint64_t tcp = 0;    // peers "ipv4:..." and "ipv6:..."
  uint64_t other = 0;  // any other peer gRPC lists (e.g. "unix:...")
};

// Internal if gRPC's answer cannot be read (a change of its JSON shape).
absl::StatusOr<ServerConnections> CountServerConnections();

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_TRANSPORT_SERVER_CONNECTIONS_H_
