/*  Private header shared by the libces sources. */
#ifndef CES_CLASSES_H_INCLUDED
#define CES_CLASSES_H_INCLUDED

//  Asserts guard programmer errors and stay on in release builds
#undef NDEBUG
#include <assert.h>

#include "ces.h"
#include <cjson/cJSON.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

//  Internal classes, each documented in its own header beside its source
#include "ces_counters.h"
#include "ces_proto_commands.h"
#include "ces_proto_encoder.h"
#include "ces_patterns.h"
#include "ces_position.h"
#include "ces_published.h"
#include "ces_handshakes.h"
#include "ces_link_conns.h"
#include "ces_disk_record.h"
#include "ces_disk_dir.h"
#include "ces_disk_flusher.h"
#include "ces_disk.h"
#include "ces_disk_reader.h"
#include "ces_store.h"
#include "ces_store_entry.h"
#include "ces_room_state.h"
#include "ces_replay.h"
#include "ces_cursor.h"
#include "ces_msgpipe.h"
#include "ces_recall.h"
#include "ces_rooms.h"
#include "ces_presence.h"
#include "ces_routing.h"
#include "ces_hub_links.h"
#include "ces_hub_route.h"
#include "ces_hub_curve.h"
#include "ces_mesh_peer.h"
#include "ces_mesh_tell.h"
#include "ces_mesh_gossip.h"
#include "ces_disk.h"

//  Log levels of the actors' "SET log-level" option; a line is printed when
//  its level is at or below the actor's level.

static inline int
ces_log_level_parse (const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int level = 0; level < 4; level++)
        if (name && strcasecmp (name, names[level]) == 0)
            return level;
    return -1;
}

#define CES_LOG(limit, level, fn, ...)                                         \
    do {                                                                       \
        if ((int)(limit) >= (int)(level))                                      \
            fn (__VA_ARGS__);                                                  \
    } while (0)
#define ces_error(limit, ...)                                                  \
    CES_LOG (limit, CES_LOG_ERROR, zsys_error, __VA_ARGS__)
#define ces_warn(limit, ...)                                                   \
    CES_LOG (limit, CES_LOG_WARN, zsys_warning, __VA_ARGS__)
#define ces_info(limit, ...)                                                   \
    CES_LOG (limit, CES_LOG_INFO, zsys_info, __VA_ARGS__)
#define ces_debug(limit, ...)                                                  \
    CES_LOG (limit, CES_LOG_DEBUG, zsys_debug, __VA_ARGS__)

//  The edge's own classes (internal to libces)
#include "ces_civetweb.h"
#include "ces_websocket.h"
#include "ces_wire.h"
#include "ces_admission.h"
#include "ces_inbox.h"
#include "ces_waiters.h"
#include "ces_client.h"
#include "ces_room_index.h"
#include "ces_fanout.h"
#include "ces_edge_rooms.h"
#include "ces_outside.h"
#include "ces_webserver.h"
#include "ces_edge_options.h"
#include "ces_heap.h"
#include "ces_edge_report.h"

//  The programs' configuration file
#include "ces_config.h"

//  The option table's rows, and its texts (--help, --print-config,
//  --example-config)
#include "ces_option_table.h"
#include "ces_options_text.h"

//  A whole HTTP response with a body, for every civetweb handler in libces
struct mg_connection;
void ces_http_reply (struct mg_connection *conn, int code, const char *type,
                     const char *body);

//  Answers /interconnect[/address] by asking the hub's control endpoint
//  (NULL: this process has no hub), for ces_http and the edge
void ces_http_control (struct mg_connection *conn, const char *endpoint);

//  Self-test helpers: a raw HTTP request to 127.0.0.1:port (caller frees
//  the reply), and a listening socket on a free port of 127.0.0.1
char *ces_http_test_request (int port, const char *request);
int ces_http_test_listener (int *port);

//  Self-test helper for every selftest that needs a hub: starts a hub
//  actor, SETs each option of the name, value, ..., NULL list (each must be
//  accepted), BINDs router_endpoint and pub_endpoint (NULL for
//  "tcp://127.0.0.1:*"), and returns the hub with the endpoints it bound in
//  *router and *pub (caller frees both). Asserts when anything fails.
zactor_t *ces_hub_test_start (const char *router_endpoint,
                              const char *pub_endpoint, char **router,
                              char **pub, ...);

//  Self-test helpers of ces_options, for it and ces_config: an actor that
//  takes any SET but of the value "refused" and answers DUMP with
//  "name=value ..." of what it was given; and ces_options_parse over a
//  NULL-terminated list of flags
void ces_options_test_actor (zsock_t *pipe, void *args);
int ces_options_test_parse (ces_options_t *self, const char *first, ...);

//  Self-test helper of ces_mesh_peer, for it and ces_mesh_tell: ticks a
//  dial until the ROUTER it dials has its HELLO (read into proto); asserts
//  within 5 s
void ces_mesh_peer_test_hello (ces_link_t *dial, zsock_t *router,
                               ces_proto_t *proto);

//  Self-tests, called by ces_selftest
void ces_counters_test (bool verbose);
void ces_frame_test (bool verbose);
void ces_event_test (bool verbose);
void ces_proto_test (bool verbose);
void ces_link_test (bool verbose);
void ces_http_test (bool verbose);
void ces_hub_test (bool verbose);
void ces_rooms_test (bool verbose);
void ces_routing_test (bool verbose);
void ces_messenger_test (bool verbose);
void ces_edge_test (bool verbose);
void ces_target_test (bool verbose);
void ces_targets_test (bool verbose);
void ces_repeater_test (bool verbose);
void ces_wsclient_test (bool verbose);
void ces_hubpeer_test (bool verbose);
void ces_mesh_test (bool verbose);
void ces_auth_test (bool verbose);
void ces_curve_test (bool verbose);
void ces_registration_test (bool verbose);
void ces_options_test (bool verbose);

#endif
