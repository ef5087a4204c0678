/*  =========================================================================
    ces_webserver - the civetweb side of an edge
    =========================================================================
*/
#include "ces_classes.h"
#include <civetweb.h>
#include <pthread.h>
#include <stdatomic.h>

struct _ces_webserver_t {
    ces_webserver_config_t config;
    char *listen;
    char *hub_control;
    char room_too_long[96]; //  the error for a longer room ID
    ces_inbox_t *inbox;
    pthread_rwlock_t auth_lock; //  workers read auth; a reload replaces it
    ces_auth_t *auth;
    struct mg_context *civet;
    int port;
    ces_admission_t *admission; //  open WebSockets, and who may open one
    atomic_uint_fast64_t next_id;
    atomic_int socket_offset; //  where civetweb keeps the socket
    atomic_uint_fast64_t refused_bad, refused_auth, denied, rate_limited,
        http_errors, protocol_errors;
};

//  A worker thread's parsers, reused for every message
typedef struct {
    ces_webserver_t *server;
    ces_frame_t *frame;
    ces_event_t *event;
    ces_registration_t *registration;
} worker_t;

//  A worker's view of one WebSocket, from connect to close
typedef struct {
    uint64_t id;
    ces_wire_t *wire;
    ces_grant_t *grant; //  what its token allows
    char address[48];   //  counted in addresses
    double tokens;      //  rate limit: a token bucket of max-rate
    int64_t refilled;
    const char *role;
    bool v2; //  it chose the subprotocol ces.v2 (docs/PROTOCOL.md)
    ces_websocket_t *reader;
} connection_t;

//  --------------------------------------------------------------------------
//  Worker threads

static void *
s_init_thread (const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1)
        return NULL; //  only request workers talk to the actor
    worker_t *worker = (worker_t *)zmalloc (sizeof (worker_t));
    assert (worker);
    worker->server = (ces_webserver_t *)mg_get_user_data (ctx);
    return worker;
}

static void
s_exit_thread (const struct mg_context *ctx, int thread_type, void *pointer)
{
    (void)ctx;
    (void)thread_type;
    worker_t *worker = (worker_t *)pointer;
    if (worker) {
        ces_frame_destroy (&worker->frame);
        ces_event_destroy (&worker->event);
        ces_registration_destroy (&worker->registration);
        freen (worker);
    }
}

//  The worker's parsers, made on first use (most workers never get one)
static worker_t *
s_worker (const struct mg_connection *conn)
{
    worker_t *worker = (worker_t *)mg_get_thread_pointer (conn);
    assert (worker);
    if (!worker->frame) {
        ces_webserver_config_t *config = &worker->server->config;
        worker->frame = ces_frame_new (config->max_message);
        worker->event = ces_event_new ();
        worker->registration = ces_registration_new ();
        ces_event_set_max_depth (worker->event, config->max_depth);
    }
    return worker;
}

static char *
s_error_notice (const char *reason)
{
    cJSON *notice = cJSON_CreateObject ();
    cJSON_AddStringToObject (notice, "error", reason);
    char *text = cJSON_PrintUnformatted (notice);
    cJSON_Delete (notice);
    return text;
}

//  Bad input: the client gets {"error":reason}, counted as malformed
static void
s_notice (worker_t *worker, connection_t *connection, const char *reason)
{
    char *text = s_error_notice (reason);
    ces_inbox_tell_notice (worker->server->inbox, connection->id, false, text);
    freen (text);
}

//  A register or send outside the client's grant: its own error, counted
//  as a denial, not as bad input
static void
s_deny (worker_t *worker, connection_t *connection, const char *what,
        const char *room)
{
    atomic_fetch_add (&worker->server->denied, 1);
    char *reason = zsys_sprintf ("your token does not allow you to %s room %s",
                                 what, room);
    char *text = s_error_notice (reason);
    ces_inbox_tell_notice (worker->server->inbox, connection->id, true, text);
    freen (text);
    zstr_free (&reason);
}

//  A room ID over this edge's max-room-length: the error, else NULL
static const char *
s_room_too_long (ces_webserver_t *self, const char *room)
{
    return strlen (room) > self->config.max_room_length ? self->room_too_long
                                                        : NULL;
}

//  --------------------------------------------------------------------------
//  Admission

//  A repeater's /connect/:room/:id: a valid room and a non-empty id
static bool
s_is_outside_uri (ces_webserver_t *self, const char *uri)
{
    const char *prefix = "/connect/";
    if (strncmp (uri, prefix, strlen (prefix)))
        return false;
    const char *room = uri + strlen (prefix);
    const char *slash = strchr (room, '/');
    if (!slash || ces_frame_check_room (room, (size_t)(slash - room)) ||
        (size_t)(slash - room) > self->config.max_room_length)
        return false;
    const char *id = slash + 1;
    size_t size = strlen (id);
    if (size && id[size - 1] == '/')
        size--;
    return size > 0 && size <= 128 && !memchr (id, '/', size);
}

static const char *
s_role_of_uri (ces_webserver_t *self, const char *uri)
{
    if (self->config.outside)
        return s_is_outside_uri (self, uri) ? CES_ROLE_OUTSIDE : NULL;
    static const struct {
        const char *path;
        const char *role;
    } routes[] = {
        {"/connect/messenger", CES_ROLE_MESSENGER},
        {"/connect/repeater", CES_ROLE_REPEATER},
        {"/connect/hub", CES_ROLE_HUB},
    };
    for (size_t i = 0; i < sizeof (routes) / sizeof (routes[0]); i++) {
        size_t size = strlen (routes[i].path);
        if (strncmp (uri, routes[i].path, size) == 0 &&
            (uri[size] == 0 || (uri[size] == '/' && uri[size + 1] == 0)))
            return routes[i].role;
    }
    return NULL;
}

static const char *
s_connect_hint (ces_webserver_t *self)
{
    return self->config.outside
               ? "use /connect/ROOM/ID: a room ID and your name\n"
               : "unknown connection type; use /connect/messenger, "
                 "/connect/repeater or /connect/hub\n";
}

//  The grant of a request's token (?token= or Authorization: Bearer), or
//  NULL after answering 401 or 403 with the reason
static ces_grant_t *
s_authorize (ces_webserver_t *self, struct mg_connection *conn)
{
    const struct mg_request_info *request = mg_get_request_info (conn);
    char *token = ces_auth_token_from_query (request->query_string);
    const char *header = mg_get_header (conn, "Authorization");
    if (!token && header && strncasecmp (header, "Bearer ", 7) == 0)
        token = strdup (header + 7);
    int status = 401;
    char reason[256];
    pthread_rwlock_rdlock (&self->auth_lock);
    ces_grant_t *grant = ces_auth_check (
        self->auth, token, request->remote_addr, mg_get_header (conn, "Origin"),
        &status, reason, sizeof (reason) - 1);
    pthread_rwlock_unlock (&self->auth_lock);
    freen (token);
    if (!grant) {
        atomic_fetch_add (&self->refused_auth, 1);
        strcat (reason, "\n");
        ces_http_reply (conn, status, "text/plain", reason);
    }
    return grant;
}

static int
s_ws_connect (const struct mg_connection *conn, void *cbdata)
{
    ces_webserver_t *self = (ces_webserver_t *)cbdata;
    struct mg_connection *writable = (struct mg_connection *)conn;
    const struct mg_request_info *request = mg_get_request_info (conn);
    const char *role = s_role_of_uri (self, request->local_uri);
    if (!role) {
        atomic_fetch_add (&self->refused_bad, 1);
        ces_http_reply (writable, 400, "text/plain", s_connect_hint (self));
        return 1;
    }
    ces_grant_t *grant = s_authorize (self, writable);
    if (!grant)
        return 1;
    const char *refusal =
        ces_admission_enter (self->admission, request->remote_addr);
    if (refusal) {
        ces_grant_destroy (&grant);
        ces_http_reply (writable, 503, "text/plain", refusal);
        return 1;
    }
    connection_t *connection = (connection_t *)zmalloc (sizeof (connection_t));
    assert (connection);
    connection->grant = grant;
    snprintf (connection->address, sizeof (connection->address), "%s",
              request->remote_addr);
    connection->tokens = self->config.max_rate;
    connection->refilled = zclock_mono ();
    connection->id = atomic_fetch_add (&self->next_id, 1) + 1;
    connection->role = role;
    //  Version 2 is the messengers' only; everyone else is served as today
    connection->v2 = ces_civetweb_subprotocol (
        conn, CES_PROTOCOL_V2, streq (role, CES_ROLE_MESSENGER));
    connection->reader = ces_websocket_new (self->config.max_message);
    mg_set_user_connection_data (conn, connection);
    return 0;
}

static void
s_ws_ready (struct mg_connection *conn, void *cbdata)
{
    ces_webserver_t *self = (ces_webserver_t *)cbdata;
    connection_t *connection =
        (connection_t *)mg_get_user_connection_data (conn);
    int fd = ces_civetweb_socket (conn, &self->socket_offset);
    if (fd >= 0)
        connection->wire = ces_wire_new (fd); //  ours and the actor's
    const struct mg_request_info *request = mg_get_request_info (conn);
    char remote[64];
    snprintf (remote, sizeof (remote), "%s:%d", request->remote_addr,
              request->remote_port);
    ces_inbox_ask_open (self->inbox, connection->id, connection->role,
                        connection->wire, ces_grant_expiry (connection->grant),
                        remote, request->local_uri,
                        connection->v2 ? CES_PROTOCOL_V2 : NULL,
                        ces_grant_subject (connection->grant));
}

//  --------------------------------------------------------------------------
//  Client messages

//  Applies the rules of SPEC §4 to a registration and forwards it
static void
s_registration (worker_t *worker, connection_t *connection, const char *text,
                size_t size)
{
    ces_webserver_t *self = worker->server;
    ces_registration_t *registration = worker->registration;
    ces_registration_set_v2 (registration, connection->v2);
    if (ces_registration_parse (registration, text, size)) {
        s_notice (worker, connection, ces_registration_error (registration));
        return;
    }
    bool create = ces_registration_create (registration);
    zlist_t *rooms = ces_registration_rooms (registration);
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms)) {
        if (s_room_too_long (self, room)) {
            s_notice (worker, connection, self->room_too_long);
            return;
        }
        //  The whole registration is refused, so none of it half-applies
        if (create && !ces_grant_may_register (connection->grant, room)) {
            s_deny (worker, connection, "register", room);
            return;
        }
    }
    const char *recall = ces_registration_recall (registration);
    if (recall)
        ces_inbox_tell_recall (self->inbox, connection->id, recall);
    ces_inbox_tell_rooms (self->inbox, connection->id, create, rooms);
}

//  A token bucket per client: max-rate tokens a second, as many at most
static bool
s_within_rate (ces_webserver_t *self, connection_t *connection)
{
    int max_rate = self->config.max_rate;
    if (!max_rate)
        return true;
    int64_t now = zclock_mono ();
    connection->tokens +=
        (double)(now - connection->refilled) * max_rate / 1000.0;
    if (connection->tokens > max_rate)
        connection->tokens = max_rate;
    connection->refilled = now;
    if (connection->tokens < 1)
        return false;
    connection->tokens -= 1;
    return true;
}

//  The first check an event meets; a second one is the hub's
static const char *
s_event_problem (worker_t *worker, const byte *data, size_t size)
{
    ces_webserver_t *self = worker->server;
    ces_frame_error_t rc = ces_frame_parse (worker->frame, data, size);
    if (rc != CES_FRAME_OK)
        return ces_frame_strerror (rc);
    const char *problem =
        s_room_too_long (self, ces_frame_room (worker->frame));
    if (!problem && self->config.validate &&
        ces_event_check (worker->event, ces_frame_payload (worker->frame),
                         ces_frame_payload_size (worker->frame)))
        problem = ces_event_error (worker->event);
    return problem;
}

static void
s_event (worker_t *worker, connection_t *connection, const byte *data,
         size_t size)
{
    ces_webserver_t *self = worker->server;
    const char *problem = s_event_problem (worker, data, size);
    if (problem)
        s_notice (worker, connection, problem);
    else if (!ces_grant_may_send (connection->grant,
                                  ces_frame_room (worker->frame)))
        s_deny (worker, connection, "send to", ces_frame_room (worker->frame));
    else if (!s_within_rate (self, connection)) {
        atomic_fetch_add (&self->rate_limited, 1);
        s_notice (worker, connection,
                  "over this edge's max-rate of events per second; "
                  "event dropped");
    } else
        ces_inbox_tell_event (self->inbox, connection->id, data, size);
}

static void
s_message (worker_t *worker, connection_t *connection, int opcode,
           const byte *data, size_t size)
{
    if (opcode == CES_WS_BINARY)
        s_event (worker, connection, data, size);
    else if (streq (connection->role, CES_ROLE_MESSENGER))
        s_registration (worker, connection, (const char *)data, size);
    else
        s_notice (worker, connection,
                  "text frames are not accepted on this connection; "
                  "send events as Binary frames ROOMID\\nJSON");
}

//  Ping and Pong go to the actor (it answers Pings, and Pongs say the
//  client is alive); a Close is answered by the actor before civetweb
//  shuts the socket, which it does once we return 0
static int
s_control (worker_t *worker, connection_t *connection, int opcode,
           const byte *data, size_t size)
{
    ces_inbox_t *inbox = worker->server->inbox;
    if (opcode != CES_WS_CLOSE) {
        ces_inbox_tell_control (inbox, connection->id, opcode == CES_WS_PING,
                                data, size);
        return 1;
    }
    int code = size >= 2 ? (data[0] << 8) | data[1] : 0;
    ces_inbox_ask_close (inbox, connection->id, code, NULL);
    return 0;
}

//  civetweb's data handler, per frame: 1 keeps the connection, 0 ends it
static int
s_ws_data (struct mg_connection *conn, int bits, char *data, size_t size,
           void *cbdata)
{
    ces_webserver_t *self = (ces_webserver_t *)cbdata;
    connection_t *connection =
        (connection_t *)mg_get_user_connection_data (conn);
    worker_t *worker = s_worker (conn);
    ces_websocket_t *reader = connection->reader;
    switch (ces_websocket_take (reader, bits, (const byte *)data, size)) {
        case CES_WS_MESSAGE:
            s_message (worker, connection, ces_websocket_opcode (reader),
                       ces_websocket_data (reader),
                       ces_websocket_size (reader));
            return 1;
        case CES_WS_CONTROL:
            return s_control (worker, connection, ces_websocket_opcode (reader),
                              ces_websocket_data (reader),
                              ces_websocket_size (reader));
        case CES_WS_TOO_LARGE:
            s_notice (worker, connection,
                      "message is larger than this edge's max-message limit");
            return 1;
        case CES_WS_VIOLATION:
            atomic_fetch_add (&self->protocol_errors, 1);
            ces_inbox_ask_close (self->inbox, connection->id,
                                 ces_websocket_close_code (reader),
                                 ces_websocket_reason (reader));
            return 0;
        default:
            return 1;
    }
}

static void
s_ws_close (const struct mg_connection *conn, void *cbdata)
{
    ces_webserver_t *self = (ces_webserver_t *)cbdata;
    connection_t *connection =
        (connection_t *)mg_get_user_connection_data (conn);
    if (!connection)
        return;
    //  civetweb closes the socket after we return: no write from now on
    if (connection->wire) {
        ces_wire_close (connection->wire);
        ces_wire_release (&connection->wire);
    }
    ces_inbox_tell_gone (self->inbox, connection->id);
    ces_admission_leave (self->admission, connection->address);
    ces_grant_destroy (&connection->grant);
    ces_websocket_destroy (&connection->reader);
    freen (connection);
    mg_set_user_connection_data (conn, NULL);
}

//  --------------------------------------------------------------------------
//  HTTP

//  The original hub's /interconnect: answered by the hub in this process
static int
s_http_interconnect (struct mg_connection *conn, void *cbdata)
{
    ces_webserver_t *self = (ces_webserver_t *)cbdata;
    //  Changing the mesh needs an "admin" token when tokens are required
    ces_grant_t *grant = s_authorize (self, conn);
    if (grant && !ces_grant_is_admin (grant))
        ces_http_reply (conn, 403, "text/plain",
                        "linking hubs needs a token with \"admin\": true\n");
    else if (grant)
        ces_http_control (conn, self->hub_control);
    ces_grant_destroy (&grant);
    return 1;
}

//  GET /rooms, /rooms/ROOM, /rooms/ROOM/state, /rooms/ROOM/history: the
//  hub answers; reading a room needs a grant to register it
static int
s_http_rooms (struct mg_connection *conn, void *cbdata)
{
    ces_webserver_t *self = (ces_webserver_t *)cbdata;
    const struct mg_request_info *info = mg_get_request_info (conn);
    if (!streq (info->request_method, "GET")) {
        ces_http_reply (conn, 405, "text/plain", "use GET\n");
        return 1;
    }
    ces_grant_t *grant = s_authorize (self, conn);
    if (!grant)
        return 1;
    char room[CES_ROOM_MAX + 1];
    char *request = ces_replay_request (
        info->local_uri_raw ? info->local_uri_raw : info->local_uri,
        info->query_string, room);
    char *answer = NULL;
    if (!request)
        ces_http_reply (conn, 404, "text/plain", CES_ROOMS_PATHS);
    else if (*room && !ces_grant_may_register (grant, room))
        ces_http_reply (conn, 403, "text/plain",
                        "reading a room needs a token that may register "
                        "it\n");
    else if (!(answer = ces_inbox_ask_query (self->inbox, request)))
        ces_http_reply (conn, 503, "text/plain", "edge is busy or stopping\n");
    else {
        const char *body = strchr (answer, ' ');
        body = body ? body + 1 : "{}";
        char *granted =
            *room ? strdup (body) : ces_grant_rooms_answer (grant, body);
        ces_http_reply (conn, atoi (answer), "application/json", granted);
        freen (granted);
    }
    zstr_free (&answer);
    freen (request);
    ces_grant_destroy (&grant);
    return 1;
}

static int
s_http_status (struct mg_connection *conn, void *cbdata)
{
    ces_webserver_t *self = (ces_webserver_t *)cbdata;
    const char *uri = mg_get_request_info (conn)->local_uri;
    bool metrics = streq (uri, "/metrics");
    bool health = streq (uri, "/health");
    char *answer =
        ces_inbox_ask_question (self->inbox, metrics  ? CES_INBOX_METRICS
                                             : health ? CES_INBOX_HEALTH
                                                      : CES_INBOX_STATUS);
    if (!answer)
        ces_http_reply (conn, 503, "text/plain", "edge is busy or stopping\n");
    else if (health)
        ces_http_reply (conn, streq (answer, "ok") ? 200 : 503, "text/plain",
                        answer);
    else
        ces_http_reply (
            conn, 200,
            metrics ? "text/plain; version=0.0.4" : "application/json", answer);
    zstr_free (&answer);
    return 1;
}

//  The body of a POST, up to max-message + 1 bytes; caller frees
static char *
s_read_body (ces_webserver_t *self, struct mg_connection *conn, size_t *size)
{
    size_t limit = self->config.max_message + 1;
    char *body = (char *)malloc (limit);
    assert (body);
    *size = 0;
    int got;
    while (*size < limit &&
           (got = mg_read (conn, body + *size, limit - *size)) > 0)
        *size += (size_t)got;
    return body;
}

//  What is wrong with a POSTed event, or NULL
static const char *
s_post_problem (ces_webserver_t *self, ces_event_t *event, const char *body,
                size_t size)
{
    if (size > self->config.max_message)
        return "event is larger than this edge's max-message limit";
    if (ces_event_parse (event, body, size))
        return ces_event_error (event);
    const char *room = ces_event_affected_room (event);
    if (!room)
        return "event has no affected-room.roomID to route it by";
    if (ces_frame_check_room (room, strlen (room)))
        return "affected-room.roomID is not a valid room ID (1-128 bytes, "
               "no spaces or control characters)";
    if (ces_frame_check_event_room (room, strlen (room)))
        return "affected-room.roomID ends in \"*\": that is a pattern of "
               "rooms, which clients may register; an event goes to one room";
    return s_room_too_long (self, room);
}

static void
s_reply_reason (struct mg_connection *conn, int status, const char *reason)
{
    char *text = zsys_sprintf ("%s\n", reason);
    ces_http_reply (conn, status, "text/plain", text);
    zstr_free (&text);
}

//  Hands a checked event to the actor and says what became of it
static void
s_post (ces_webserver_t *self, struct mg_connection *conn, const char *room,
        const char *body, size_t size)
{
    zframe_t *frame = ces_frame_build (room, body, size);
    char *verdict = ces_inbox_ask_post (self->inbox, &frame);
    zframe_destroy (&frame);
    if (verdict && streq (verdict, "ok"))
        ces_http_reply (conn, 200, "text/plain", "Processing event");
    else if (verdict && streq (verdict, "hub busy"))
        ces_http_reply (conn, 503, "text/plain",
                        "hub busy (its queue is full); the event was not "
                        "accepted\n");
    else
        ces_http_reply (conn, 503, "text/plain",
                        "hub unreachable; the event was not accepted\n");
    zstr_free (&verdict);
}

//  POST /event (messenger edge) or /send (repeater): one JSON event,
//  routed by its affected-room.roomID
static int
s_http_event (struct mg_connection *conn, void *cbdata)
{
    ces_webserver_t *self = (ces_webserver_t *)cbdata;
    const struct mg_request_info *request = mg_get_request_info (conn);
    if (!streq (request->request_method, "POST")) {
        ces_http_reply (conn, 405, "text/plain",
                        "use POST with a JSON event\n");
        return 1;
    }
    if (request->content_length > (long long)self->config.max_message) {
        ces_http_reply (conn, 413, "text/plain",
                        "event is larger than this edge's max-message limit\n");
        ces_inbox_tell_badpost (self->inbox);
        return 1;
    }
    ces_grant_t *grant = s_authorize (self, conn);
    if (!grant)
        return 1;
    size_t size;
    char *body = s_read_body (self, conn, &size);
    ces_event_t *event = ces_event_new ();
    ces_event_set_max_depth (event, self->config.max_depth);
    const char *problem = s_post_problem (self, event, body, size);
    const char *room = ces_event_affected_room (event);
    if (!problem && !ces_grant_may_send (grant, room)) {
        atomic_fetch_add (&self->denied, 1);
        char *reason = zsys_sprintf (
            "your token does not allow you to send to room %s", room);
        s_reply_reason (conn, 403, reason);
        zstr_free (&reason);
    } else if (problem) {
        s_reply_reason (conn, 400, problem);
        ces_inbox_tell_badpost (self->inbox);
    } else
        s_post (self, conn, room, body, size);
    ces_grant_destroy (&grant);
    ces_event_destroy (&event);
    freen (body);
    return 1;
}

static int
s_http_connect_plain (struct mg_connection *conn, void *cbdata)
{
    ces_webserver_t *self = (ces_webserver_t *)cbdata;
    atomic_fetch_add (&self->refused_bad, 1);
    const char *uri = mg_get_request_info (conn)->local_uri;
    ces_http_reply (conn, 400, "text/plain",
                    s_role_of_uri (self, uri)
                        ? "this endpoint needs a WebSocket upgrade\n"
                        : s_connect_hint (self));
    return 1;
}

static int
s_http_page (struct mg_connection *conn, void *cbdata)
{
    ces_webserver_t *self = (ces_webserver_t *)cbdata;
    if (self->config.outside)
        ces_http_reply (conn, 404, "text/plain",
                        "this is a repeater: POST /send, a WebSocket on "
                        "/connect/ROOM/ID, /status, /metrics, /health\n");
    else if (!streq (mg_get_request_info (conn)->local_uri, "/"))
        ces_http_reply (conn, 404, "text/plain",
                        "not found; try /, /status, /metrics, /health, "
                        "POST /event or a WebSocket on /connect/messenger\n");
    else
        ces_http_reply (conn, 200, "text/html; charset=utf-8", ces_edge_page);
    return 1;
}

//  The JavaScript client library, for pages: import { connect } from "/ces.js"
static int
s_http_client_js (struct mg_connection *conn, void *cbdata)
{
    ces_webserver_t *self = (ces_webserver_t *)cbdata;
    const char *uri = mg_get_request_info (conn)->local_uri;
    if (self->config.outside || !streq (uri, "/ces.js"))
        return s_http_page (conn, cbdata);
    ces_http_reply (conn, 200, "application/javascript; charset=utf-8",
                    ces_edge_client_js);
    return 1;
}

static int
s_log_message (const struct mg_connection *conn, const char *message)
{
    (void)conn;
    zsys_warning ("edge: civetweb: %s", message);
    return 1;
}

//  civetweb refuses a request itself (too slow, too large, not HTTP):
//  count it, then let civetweb answer
static int
s_http_error (struct mg_connection *conn, int status, const char *message)
{
    ces_webserver_t *self =
        (ces_webserver_t *)mg_get_user_data (mg_get_context (conn));
    atomic_fetch_add (&self->http_errors, 1);
    const struct mg_request_info *request = mg_get_request_info (conn);
    ces_debug (
        self->config.log_level, "edge: refused a request from %s with %d: %s",
        request ? request->remote_addr : "?", status, message ? message : "");
    return 1;
}

//  --------------------------------------------------------------------------
//  The class

ces_webserver_t *
ces_webserver_new (const ces_webserver_config_t *config, ces_inbox_t *inbox,
                   ces_auth_t *auth)
{
    assert (config && config->listen && inbox && auth);
    ces_webserver_t *self = (ces_webserver_t *)zmalloc (sizeof (*self));
    assert (self);
    self->config = *config;
    self->listen = strdup (config->listen);
    self->config.listen = self->listen;
    self->hub_control =
        config->hub_control ? strdup (config->hub_control) : NULL;
    self->config.hub_control = self->hub_control;
    snprintf (self->room_too_long, sizeof (self->room_too_long),
              "room ID longer than %zu bytes (this edge's max-room-length)",
              config->max_room_length);
    self->inbox = inbox;
    self->auth = auth;
    pthread_rwlock_init (&self->auth_lock, NULL);
    self->admission = ces_admission_new (
        config->max_clients, config->max_per_address, config->log_level);
    return self;
}

void
ces_webserver_set_auth (ces_webserver_t *self, ces_auth_t *auth)
{
    assert (self && auth);
    pthread_rwlock_wrlock (&self->auth_lock);
    self->auth = auth;
    pthread_rwlock_unlock (&self->auth_lock);
}

void
ces_webserver_destroy (ces_webserver_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_webserver_t *self = *self_p;
        ces_webserver_stop (self, NULL, NULL);
        ces_admission_destroy (&self->admission);
        pthread_rwlock_destroy (&self->auth_lock);
        zstr_free (&self->listen);
        zstr_free (&self->hub_control);
        freen (self);
        *self_p = NULL;
    }
}

//  civetweb listens before mg_start2 returns: handlers set afterwards leave
//  a gap in which requests get civetweb's own 404 (a restarted repeater's
//  POST /send did). Set in init_context, they answer from the first one.
static void
s_init_context (const struct mg_context *context)
{
    ces_webserver_t *self = (ces_webserver_t *)mg_get_user_data (context);
    struct mg_context *civet = (struct mg_context *)context;
    mg_set_websocket_handler (civet, "/connect", s_ws_connect, s_ws_ready,
                              s_ws_data, s_ws_close, self);
    mg_set_request_handler (civet, "/connect", s_http_connect_plain, self);
    mg_set_request_handler (civet, self->config.outside ? "/send" : "/event",
                            s_http_event, self);
    if (!self->config.outside)
        mg_set_request_handler (civet, "/interconnect", s_http_interconnect,
                                self);
    if (!self->config.outside)
        mg_set_request_handler (civet, "/rooms", s_http_rooms, self);
    mg_set_request_handler (civet, "/status", s_http_status, self);
    mg_set_request_handler (civet, "/metrics", s_http_status, self);
    mg_set_request_handler (civet, "/health", s_http_status, self);
    mg_set_request_handler (civet, "/", s_http_page, self);
    mg_set_request_handler (civet, "/ces.js", s_http_client_js, self);
}

int
ces_webserver_start (ces_webserver_t *self, char *reason, size_t reason_size)
{
    assert (self && !self->civet);
    char threads[16];
    snprintf (threads, sizeof (threads), "%d",
              self->config.max_clients + CES_WEBSERVER_HTTP_WORKERS);
    char handshake_timeout[16];
    snprintf (handshake_timeout, sizeof (handshake_timeout), "%d",
              self->config.handshake_timeout);
    const char *options[] = {"listening_ports",
                             self->listen,
                             "num_threads",
                             threads,
                             "tcp_nodelay",
                             "1",
                             "enable_websocket_ping_pong",
                             "no",
                             "websocket_timeout_ms",
                             "2000",
                             "request_timeout_ms",
                             handshake_timeout,
                             "max_request_size",
                             "16384",
                             NULL};
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof (callbacks));
    callbacks.init_thread = s_init_thread;
    callbacks.exit_thread = s_exit_thread;
    callbacks.log_message = s_log_message;
    callbacks.http_error = s_http_error;
    callbacks.init_context = s_init_context;
    struct mg_init_data init = {&callbacks, self, options};
    struct mg_error_data error;
    char error_text[256] = "";
    memset (&error, 0, sizeof (error));
    error.text = error_text;
    error.text_buffer_size = sizeof (error_text);
    self->civet = mg_start2 (&init, &error);
    if (!self->civet) {
        snprintf (reason, reason_size, "cannot listen on %s: %s", self->listen,
                  error_text);
        return -1;
    }
    struct mg_server_port ports[4];
    int count = mg_get_server_ports (self->civet, 4, ports);
    self->port = count > 0 ? ports[0].port : 0;
    return self->port;
}

void
ces_webserver_stop (ces_webserver_t *self, ces_civetweb_drain_fn *drain,
                    void *arg)
{
    assert (self);
    if (!self->civet)
        return;
    ces_inbox_stopping (self->inbox);
    ces_civetweb_stop (self->civet, self->listen, self->port, drain, arg);
    self->civet = NULL;
}

int
ces_webserver_clients (ces_webserver_t *self)
{
    assert (self);
    return ces_admission_clients (self->admission);
}

void
ces_webserver_counters (ces_webserver_t *self,
                        ces_webserver_counters_t *counters)
{
    assert (self && counters);
    counters->refused_full = ces_admission_refused (self->admission);
    counters->refused_bad = atomic_load (&self->refused_bad);
    counters->refused_auth = atomic_load (&self->refused_auth);
    counters->denied = atomic_load (&self->denied);
    counters->rate_limited = atomic_load (&self->rate_limited);
    counters->http_errors = atomic_load (&self->http_errors);
    counters->protocol_errors = atomic_load (&self->protocol_errors);
}

//  --------------------------------------------------------------------------
//  Self test: refusals and checks that need no actor answer, over a real
//  socket. The whole edge is tested end to end in tests/ and ces_edge.

void
ces_webserver_test (bool verbose)
{
    printf (" * ces_webserver: ");
    //  @selftest
    ces_inbox_t *inbox = ces_inbox_new ();
    ces_auth_t *auth = ces_auth_new ();
    ces_webserver_config_t config = {.listen = "127.0.0.1:0",
                                     .max_clients = 0,
                                     .max_message = 64,
                                     .max_room_length = CES_ROOM_MAX,
                                     .max_depth = CES_DEPTH_MAX,
                                     .validate = true,
                                     .handshake_timeout = 2000,
                                     .log_level = verbose ? CES_LOG_DEBUG
                                                          : CES_LOG_ERROR};
    ces_webserver_t *server = ces_webserver_new (&config, inbox, auth);
    char reason[256];
    int port = ces_webserver_start (server, reason, sizeof (reason));
    assert (port > 0);
    const char *upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    char *request = zsys_sprintf ("GET /connect/messenger HTTP/1.1\r\n"
                                  "Host: x\r\n%s",
                                  upgrade);
    char *reply = ces_http_test_request (port, request);
    //  max-clients 0: full, and the reply names the flag to raise
    assert (strstr (reply, "503"));
    assert (strstr (reply, "--max-clients"));
    freen (reply);
    zstr_free (&request);
    request = zsys_sprintf ("GET /connect/emperor HTTP/1.1\r\nHost: x\r\n%s",
                            upgrade);
    reply = ces_http_test_request (port, request);
    assert (strstr (reply, "400"));
    freen (reply);
    zstr_free (&request);
    reply = ces_http_test_request (port, "POST /event HTTP/1.1\r\nHost: x\r\n"
                                         "Content-Length: 100\r\n\r\n");
    assert (strstr (reply, "413"));
    freen (reply);
    assert (ces_inbox_recv (inbox) == CES_INBOX_BADPOST);
    ces_webserver_counters_t counters;
    ces_webserver_counters (server, &counters);
    assert (counters.refused_full == 1 && counters.refused_bad == 1);
    assert (ces_webserver_clients (server) == 0);
    ces_webserver_destroy (&server);
    assert (server == NULL);
    ces_auth_destroy (&auth);
    ces_inbox_destroy (&inbox);
    //  @end
    printf ("OK\n");
}
