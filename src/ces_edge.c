/*  =========================================================================
    ces_edge - the WebSocket edge

    Threads and ownership:
    - civetweb worker threads run the callbacks below. They tell the actor
      what they read through one shared DEALER (under a lock) to the
      actor's inbox ROUTER; a worker that needs an answer (HTTP status,
      POST /event, a client's Close) asks on a DEALER of its own, made for
      that request. So a client costs one file descriptor, its socket, and
      an edge holds 10,000 clients under the 20,000-fd limit. A worker
      owns its ws_conn_t (reassembly buffer) from the connect handler to
      the close handler, and never writes to the client.
    - The actor owns every client_t and alone writes to clients, with
      non-blocking send() on civetweb's socket, through a wire_t the worker
      and the actor share: the worker marks the wire closed, under its
      lock, in the close handler, which civetweb runs before it closes the
      socket; the actor writes (and shutdown()s, to end civetweb's read
      loop when it closes a client) only under the lock on an open wire.
      So a closed fd number, reused by another connection, is never
      written.
    =========================================================================
*/
#include "ces_classes.h"
#include <malloc.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <poll.h>
#include <pthread.h>

#define WS_OP_CONTINUATION 0x0
#define WS_OP_TEXT         0x1
#define WS_OP_BINARY       0x2
#define WS_OP_CLOSE        0x8
#define WS_OP_PING         0x9
#define WS_OP_PONG         0xA
#define HTTP_WORKERS       8 //  civetweb threads kept for plain HTTP
#define CLOSE_GRACE        3000 //  msecs a closing client has to take its close frame
#define FLUSH_AT           16384 //  bytes queued for a client that go out at once
#define SUBS_CONN          "subs" //  the link connection holding the rooms union
#define HTTP_CONN          "http" //  the link connection of POST /event
#define REPEATER_CONN      "0"    //  a repeater's place in the hub's rotation
#define INBOUND_CONN       "in"   //  POST /send and events from dialled links

//  --------------------------------------------------------------------------
//  State shared by the actor and the worker threads: set before mg_start,
//  read-only afterwards except the atomics

typedef struct {
    char *inbox_endpoint;
    size_t max_message;
    int max_clients;
    bool validate;
    atomic_int clients; //  open WebSockets
    atomic_uint_fast64_t next_id;
    atomic_int socket_offset; //  where civetweb keeps the socket, once found
    atomic_bool stopping;
    atomic_uint_fast64_t refused_full; //  503s
    atomic_uint_fast64_t refused_bad;  //  400s
    atomic_uint_fast64_t refused_auth; //  401s and 403s
    atomic_uint_fast64_t denied;       //  registers and sends outside a grant
    atomic_uint_fast64_t rate_limited; //  events over a client's rate
    atomic_uint_fast64_t http_errors;  //  requests civetweb refused itself
    atomic_uint_fast64_t protocol_errors; //  WebSocket frames RFC 6455 forbids
    int max_rate;                         //  events/s per client; 0 = any
    int max_depth;                        //  JSON nesting of an event
    size_t max_room_length;
    char room_too_long[96]; //  the error for a longer room ID
    int log_level;          //  the actor's, for the workers
    int max_per_address;    //  clients per address; 0 = any
    pthread_mutex_t addresses_lock;
    zhashx_t *addresses; //  remote address -> clients (as a pointer value)
    ces_auth_t *auth;    //  who may connect, to which rooms
    bool repeater;       //  serving /connect/:room/:id and POST /send
    char *hub_control;   //  the hub in this process, for /interconnect
    pthread_mutex_t sender_lock;
    zsock_t *sender; //  every worker's way to the actor's inbox
} shared_t;

//  A worker thread's parsers, reused for every message
typedef struct {
    shared_t *shared;
    ces_frame_t *frame;
    ces_event_t *event;
    ces_registration_t *registration;
} worker_t;

//  A client's socket, shared by its worker and the actor (see the top)
typedef struct {
    pthread_mutex_t lock;
    int fd;
    bool closed;
    atomic_int refs;
} wire_t;

//  A worker's view of one WebSocket
typedef struct {
    uint64_t id;
    wire_t *wire;
    ces_grant_t *grant; //  what its token allows
    char address[48];   //  counted in shared->addresses
    double tokens;      //  rate limit: a token bucket of max-rate
    int64_t refilled;
    const char *role;
    byte *message; //  reassembly of a fragmented message
    size_t message_size;
    int message_opcode;
    bool fragmented; //  a message has started and not finished
    bool discarding; //  the message grew past max-message
} ws_conn_t;

//  The actor's view of one WebSocket
typedef struct {
    uint64_t id;
    char id_text[24];
    const char *role;
    wire_t *wire; //  NULL when civetweb's socket could not be found
    char remote[64];
    byte *out; //  bytes waiting to be sent: [sent, used)
    size_t out_sent, out_used, out_capacity;
    bool in_poll;
    bool dirty; //  in self->dirty: has bytes to send at the batch's end
    int64_t stuck_since; //  first drop since the buffer last emptied
    int64_t last_heard;
    int64_t last_event; //  outside systems idle longer are closed
    int64_t next_ping;
    int64_t expiry; //  its token's, seconds since 1970; 0 = never
    bool closing;
    bool shut;
    int64_t close_deadline;
    zhashx_t *rooms; //  set
    char *peer_key;  //  "ROOM\nID" of an outside system's /connect/ROOM/ID
    uint64_t events_in, events_out, dropped, errors;
} client_t;

typedef struct {
    uint64_t events_in;
    uint64_t posted;
    uint64_t delivered;
    uint64_t dropped_queue_full;
    uint64_t dropped_hub_unreachable;
    uint64_t dropped_hub_busy; //  the queue to a connected hub was full
    uint64_t hub_busy_logged;
    int64_t hub_busy_next_log;
    uint64_t malformed;
    uint64_t closed_stuck;
    uint64_t closed_silent;
    uint64_t closed_abruptly; //  gone with no Close frame either way
    uint64_t closed_idle;
    uint64_t closed_expired; //  tokens that expired on open connections
    uint64_t over_limit;     //  registrations over max-rooms-per-client
    uint64_t to_targets;     //  events the hub gave this repeater
    uint64_t no_target;      //  ... that no target wanted
    uint64_t from_links;     //  events peers sent on links we dialled
} counters_t;

//  Handing freed memory back to the system (malloc_trim)
typedef struct {
    int64_t last;       //  when it last ran, zclock_mono
    size_t gone_since;  //  clients gone since then
    uint64_t count;     //  trims so far
    int64_t last_usecs; //  how long the last one took
} trim_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *inbox;         //  ROUTER; workers' DEALERs connect here
    zpoller_t *stop_poller; //  waits on the inbox while civetweb stops
    ces_link_t *link;
    zactor_t *hub; //  optional hub in the same process
    struct mg_context *civet;
    shared_t shared;
    bool terminated;
    int log_level;
    char *listen;
    char *hub_router;
    char *hub_pub;
    char *curve_cert; //  CURVE to the hub: our certificate, the hub's key
    char *hub_key;
    ces_curve_t *curve;
    int port;
    size_t client_queue;
    int max_rooms; //  per client; 0 = any
    int stuck_timeout;
    int handshake_timeout; //  msecs to send a whole request (slow-loris)
    int ping_interval;
    int pong_timeout;
    zhashx_t *clients;    //  id text -> client_t (owns)
    zhashx_t *room_index; //  room -> zlistx of client_t, registered to it
    zlistx_t *star;       //  client_t registered to "*"
    zhashx_t *subs;       //  room -> count of clients, the hub union
    zhashx_t *waiting;    //  sync token -> zlistx of waiters (zlist: id, rooms)
    zlistx_t *hub_waiters; //  waiters registered while the hub was away
    char *last_token;      //  the newest register sent to the hub
    char *confirmed_token; //  the newest register the hub confirmed
    zlistx_t *blocked;     //  client_t with output waiting for POLLOUT
    zlistx_t *dirty;       //  client_t written to since the last flush
    int64_t next_tick;
    trim_t trim;
    counters_t counters;
    //  Repeater mode
    ces_targets_t *targets;
    char *system_id;
    char *targets_file;
    char *central;
    int link_idle;
    int idle_timeout;
    bool in_rotation; //  REPEATER_CONN is attached at the hub
    zhashx_t *peers;  //  "ROOM\nID" -> outside client_t, for replies
} self_t;

//  --------------------------------------------------------------------------
//  WebSocket framing (server to client: never masked)

static size_t
s_frame_header (byte *header, int opcode, size_t size)
{
    header[0] = (byte)(0x80 | opcode);
    if (size < 126) {
        header[1] = (byte)size;
        return 2;
    }
    if (size <= 0xFFFF) {
        header[1] = 126;
        header[2] = (byte)(size >> 8);
        header[3] = (byte)size;
        return 4;
    }
    header[1] = 127;
    for (int i = 0; i < 8; i++)
        header[2 + i] = (byte)((uint64_t)size >> (56 - 8 * i));
    return 10;
}

//  --------------------------------------------------------------------------
//  Worker side

static worker_t *
s_worker (const struct mg_connection *conn)
{
    worker_t *worker = (worker_t *)mg_get_thread_pointer (conn);
    assert (worker);
    if (!worker->frame) {
        worker->frame = ces_frame_new (worker->shared->max_message);
        worker->event = ces_event_new ();
        worker->registration = ces_registration_new ();
        ces_event_set_max_depth (worker->event, worker->shared->max_depth);
    }
    return worker;
}

//  Sends to the actor; blocks while the actor is busy (back-pressure on
//  the clients), gives up only when the edge is stopping
static void
s_worker_send (worker_t *worker, zmsg_t **msg_p)
{
    shared_t *shared = worker->shared;
    pthread_mutex_lock (&shared->sender_lock);
    while (zmsg_send (msg_p, shared->sender) != 0)
        if (atomic_load (&shared->stopping)) {
            zmsg_destroy (msg_p);
            break;
        }
    pthread_mutex_unlock (&shared->sender_lock);
}

//  An event, forwarded as it came: the actor's EVENT command without a
//  zmsg, since it is every event's path. Once ZeroMQ takes a message's
//  first frame it takes the rest.
static void
s_worker_send_event (worker_t *worker, uint64_t id, const void *data,
                     size_t size)
{
    shared_t *shared = worker->shared;
    char id_text[24];
    int id_size = snprintf (id_text, sizeof (id_text), "%" PRIu64, id);
    void *sender = zsock_resolve (shared->sender);
    pthread_mutex_lock (&shared->sender_lock);
    while (zmq_send (sender, "EVENT", 5, ZMQ_SNDMORE) < 0)
        if (atomic_load (&shared->stopping)) {
            pthread_mutex_unlock (&shared->sender_lock);
            return;
        }
    zmq_send (sender, id_text, (size_t)id_size, ZMQ_SNDMORE);
    zmq_send (sender, data, size, 0);
    pthread_mutex_unlock (&shared->sender_lock);
}

//  Sends to the actor and waits for its answer, on a socket made for it
//  (so no worker keeps a file descriptor). Caller owns the answer; NULL
//  if the actor did not answer in 5 s.
static char *
s_worker_ask (worker_t *worker, zmsg_t **msg_p)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_rcvtimeo (dealer, 5000);
    zsock_set_linger (dealer, 0);
    int rc = zsock_connect (dealer, "%s", worker->shared->inbox_endpoint);
    assert (rc == 0);
    char *answer = NULL;
    if (zmsg_send (msg_p, dealer) == 0)
        answer = zstr_recv (dealer);
    zmsg_destroy (msg_p);
    zsock_destroy (&dealer);
    return answer;
}

static void
s_wire_release (wire_t **wire_p)
{
    wire_t *wire = *wire_p;
    if (wire && atomic_fetch_sub (&wire->refs, 1) == 1) {
        pthread_mutex_destroy (&wire->lock);
        freen (wire);
    }
    *wire_p = NULL;
}

static zmsg_t *
s_worker_msg (const char *command, uint64_t id)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, command);
    zmsg_addstrf (msg, "%" PRIu64, id);
    return msg;
}

//  A register or send outside the client's grant: its own error, counted
//  as a denial, not as bad input
static void
s_worker_deny (worker_t *worker, ws_conn_t *ws, const char *what,
               const char *room)
{
    atomic_fetch_add (&worker->shared->denied, 1);
    char *reason = zsys_sprintf ("your token does not allow you to %s room %s",
                                 what, room);
    cJSON *notice = cJSON_CreateObject ();
    cJSON_AddStringToObject (notice, "error", reason);
    char *text = cJSON_PrintUnformatted (notice);
    cJSON_Delete (notice);
    zmsg_t *msg = s_worker_msg ("DENIED", ws->id);
    zmsg_addstr (msg, text);
    freen (text);
    zstr_free (&reason);
    s_worker_send (worker, &msg);
}

static void
s_worker_notice (worker_t *worker, ws_conn_t *ws, const char *reason)
{
    cJSON *notice = cJSON_CreateObject ();
    cJSON_AddStringToObject (notice, "error", reason);
    char *text = cJSON_PrintUnformatted (notice);
    cJSON_Delete (notice);
    zmsg_t *msg = s_worker_msg ("ERROR", ws->id);
    zmsg_addstr (msg, text);
    freen (text);
    s_worker_send (worker, &msg);
}

static void *
s_init_thread (const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1)
        return NULL; //  only request workers talk to the actor
    worker_t *worker = (worker_t *)zmalloc (sizeof (worker_t));
    assert (worker);
    worker->shared = (shared_t *)mg_get_user_data (ctx);
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

//  A room ID over this edge's max-room-length: the error, else NULL
static const char *
s_room_too_long (shared_t *shared, const char *room)
{
    return strlen (room) > shared->max_room_length ? shared->room_too_long
                                                   : NULL;
}

//  A repeater's /connect/:room/:id: a valid room and a non-empty id
static bool
s_is_outside_uri (shared_t *shared, const char *uri)
{
    const char *prefix = "/connect/";
    if (strncmp (uri, prefix, strlen (prefix)))
        return false;
    const char *room = uri + strlen (prefix);
    const char *slash = strchr (room, '/');
    if (!slash || ces_frame_check_room (room, (size_t)(slash - room)) ||
        (size_t)(slash - room) > shared->max_room_length)
        return false;
    const char *id = slash + 1;
    size_t size = strlen (id);
    if (size && id[size - 1] == '/')
        size--;
    return size > 0 && size <= 128 && !memchr (id, '/', size);
}

static const char *
s_role_of_uri (shared_t *shared, const char *uri)
{
    if (shared->repeater)
        return s_is_outside_uri (shared, uri) ? CES_ROLE_OUTSIDE : NULL;
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

//  The grant of a request's token (?token= or Authorization: Bearer), or
//  NULL after answering 401 or 403 with the reason
static ces_grant_t *
s_authorize (shared_t *shared, struct mg_connection *conn)
{
    const struct mg_request_info *request = mg_get_request_info (conn);
    char *token = ces_auth_token_from_query (request->query_string);
    const char *header = mg_get_header (conn, "Authorization");
    if (!token && header && strncasecmp (header, "Bearer ", 7) == 0)
        token = strdup (header + 7);
    int status = 401;
    char reason[256];
    ces_grant_t *grant = ces_auth_check (
        shared->auth, token, request->remote_addr,
        mg_get_header (conn, "Origin"), &status, reason, sizeof (reason) - 1);
    freen (token);
    if (!grant) {
        atomic_fetch_add (&shared->refused_auth, 1);
        strcat (reason, "\n");
        ces_http_reply (conn, status, "text/plain", reason);
    }
    return grant;
}

//  Counts a client from address; false if it has max-clients-per-address
static bool
s_address_enter (shared_t *shared, const char *address)
{
    if (!shared->max_per_address)
        return true;
    pthread_mutex_lock (&shared->addresses_lock);
    intptr_t count = (intptr_t)zhashx_lookup (shared->addresses, address);
    bool room = count < shared->max_per_address;
    if (room)
        zhashx_update (shared->addresses, address, (void *)(count + 1));
    pthread_mutex_unlock (&shared->addresses_lock);
    return room;
}

static void
s_address_leave (shared_t *shared, const char *address)
{
    if (!shared->max_per_address)
        return;
    pthread_mutex_lock (&shared->addresses_lock);
    intptr_t count = (intptr_t)zhashx_lookup (shared->addresses, address);
    if (count > 1)
        zhashx_update (shared->addresses, address, (void *)(count - 1));
    else
        zhashx_delete (shared->addresses, address);
    pthread_mutex_unlock (&shared->addresses_lock);
}

static int
s_ws_connect (const struct mg_connection *conn, void *cbdata)
{
    shared_t *shared = (shared_t *)cbdata;
    struct mg_connection *writable = (struct mg_connection *)conn;
    const char *role =
        s_role_of_uri (shared, mg_get_request_info (conn)->local_uri);
    if (!role) {
        atomic_fetch_add (&shared->refused_bad, 1);
        ces_http_reply (
            writable, 400, "text/plain",
            shared->repeater
                ? "use /connect/ROOM/ID: a room ID and your name\n"
                : "unknown connection type; use /connect/messenger, "
                  "/connect/repeater or /connect/hub\n");
        return 1;
    }
    ces_grant_t *grant = s_authorize (shared, writable);
    if (!grant)
        return 1;
    if (atomic_fetch_add (&shared->clients, 1) >= shared->max_clients) {
        atomic_fetch_sub (&shared->clients, 1);
        atomic_fetch_add (&shared->refused_full, 1);
        ces_grant_destroy (&grant);
        ces_http_reply (writable, 503, "text/plain",
                        "this edge is full (max-clients reached); try another "
                        "edge or later\n");
        return 1;
    }
    const char *address = mg_get_request_info (conn)->remote_addr;
    if (!s_address_enter (shared, address)) {
        atomic_fetch_sub (&shared->clients, 1);
        atomic_fetch_add (&shared->refused_full, 1);
        ces_grant_destroy (&grant);
        ces_http_reply (writable, 503, "text/plain",
                        "too many connections from your address "
                        "(max-clients-per-address)\n");
        return 1;
    }
    ws_conn_t *ws = (ws_conn_t *)zmalloc (sizeof (ws_conn_t));
    assert (ws);
    ws->grant = grant;
    snprintf (ws->address, sizeof (ws->address), "%s", address);
    ws->tokens = shared->max_rate;
    ws->refilled = zclock_mono ();
    ws->id = atomic_fetch_add (&shared->next_id, 1) + 1;
    ws->role = role;
    mg_set_user_connection_data (conn, ws);
    return 0;
}

//  civetweb 1.15 has no call that gives a connection's socket. It keeps it
//  in struct mg_connection right after request_info, response_info, two
//  context pointers and the SSL pointer (one int more with server stats).
//  We look there and accept an fd only if its peer is this request's peer.
static bool
s_is_peer_socket (int fd, const struct mg_request_info *request)
{
    struct sockaddr_storage peer;
    socklen_t size = sizeof (peer);
    if (fd < 0 || getpeername (fd, (struct sockaddr *)&peer, &size))
        return false;
    char address[64] = "";
    int port = 0;
    if (peer.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&peer;
        inet_ntop (AF_INET, &in->sin_addr, address, sizeof (address));
        port = ntohs (in->sin_port);
    } else if (peer.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&peer;
        inet_ntop (AF_INET6, &in6->sin6_addr, address, sizeof (address));
        port = ntohs (in6->sin6_port);
    }
    return port == request->remote_port &&
           streq (address, request->remote_addr);
}

static int
s_find_socket (shared_t *shared, const struct mg_connection *conn)
{
    const struct mg_request_info *request = mg_get_request_info (conn);
    size_t base = 16 + sizeof (struct mg_request_info) +
                  sizeof (struct mg_response_info) + 3 * sizeof (void *);
    size_t candidates[] = {(size_t)atomic_load (&shared->socket_offset), base,
                           base + 8};
    for (size_t i = 0; i < 3; i++) {
        if (candidates[i] == 0)
            continue;
        int fd;
        memcpy (&fd, (const char *)conn + candidates[i], sizeof (fd));
        if (s_is_peer_socket (fd, request)) {
            atomic_store (&shared->socket_offset, (int)candidates[i]);
            return fd;
        }
    }
    return -1;
}

static void
s_ws_ready (struct mg_connection *conn, void *cbdata)
{
    shared_t *shared = (shared_t *)cbdata;
    ws_conn_t *ws = (ws_conn_t *)mg_get_user_connection_data (conn);
    worker_t *worker = s_worker (conn);
    int fd = s_find_socket (shared, conn);
    if (fd >= 0) {
        ws->wire = (wire_t *)zmalloc (sizeof (wire_t));
        assert (ws->wire);
        pthread_mutex_init (&ws->wire->lock, NULL);
        ws->wire->fd = fd;
        atomic_store (&ws->wire->refs, 2); //  ours and the actor's
    }
    const struct mg_request_info *request = mg_get_request_info (conn);
    zmsg_t *msg = s_worker_msg ("OPEN", ws->id);
    zmsg_addstr (msg, ws->role);
    //  The actor takes its reference to the wire with this pointer
    zmsg_addmem (msg, &ws->wire, sizeof (ws->wire));
    zmsg_addstrf (msg, "%" PRId64, ces_grant_expiry (ws->grant));
    zmsg_addstrf (msg, "%s:%d", request->remote_addr, request->remote_port);
    zmsg_addstr (msg, request->local_uri);
    //  Asked, not sent: a CLOSE (also asked, on another socket) must never
    //  overtake the OPEN of its client
    char *opened = s_worker_ask (worker, &msg);
    zstr_free (&opened);
}

//  Applies the rules of SPEC §4 to a registration and forwards it
static void
s_ws_registration (worker_t *worker, ws_conn_t *ws, const char *text,
                   size_t size)
{
    ces_registration_t *registration = worker->registration;
    if (ces_registration_parse (registration, text, size)) {
        s_worker_notice (worker, ws, ces_registration_error (registration));
        return;
    }
    bool create = ces_registration_create (registration);
    zlist_t *rooms = ces_registration_rooms (registration);
    zmsg_t *msg = s_worker_msg (create ? "REGISTER" : "UNREGISTER", ws->id);
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms)) {
        if (s_room_too_long (worker->shared, room)) {
            zmsg_destroy (&msg);
            s_worker_notice (worker, ws, worker->shared->room_too_long);
            return;
        }
        if (create && !ces_grant_may_register (ws->grant, room)) {
            //  The whole registration is refused, so none of it half-applies
            zmsg_destroy (&msg);
            s_worker_deny (worker, ws, "register", room);
            return;
        }
        zmsg_addstr (msg, room);
    }
    s_worker_send (worker, &msg);
}

//  A token bucket per client: max-rate tokens a second, as many at most
static bool
s_within_rate (shared_t *shared, ws_conn_t *ws)
{
    if (!shared->max_rate)
        return true;
    int64_t now = zclock_mono ();
    ws->tokens += (double)(now - ws->refilled) * shared->max_rate / 1000.0;
    if (ws->tokens > shared->max_rate)
        ws->tokens = shared->max_rate;
    ws->refilled = now;
    if (ws->tokens < 1)
        return false;
    ws->tokens -= 1;
    return true;
}

static void
s_ws_event (worker_t *worker, ws_conn_t *ws, const byte *data, size_t size)
{
    ces_frame_error_t rc = ces_frame_parse (worker->frame, data, size);
    const char *problem = rc == CES_FRAME_OK ? NULL : ces_frame_strerror (rc);
    if (!problem)
        problem =
            s_room_too_long (worker->shared, ces_frame_room (worker->frame));
    if (!problem && worker->shared->validate &&
        ces_event_check (worker->event, ces_frame_payload (worker->frame),
                         ces_frame_payload_size (worker->frame)))
        problem = ces_event_error (worker->event);
    if (problem) {
        s_worker_notice (worker, ws, problem);
        return;
    }
    if (!ces_grant_may_send (ws->grant, ces_frame_room (worker->frame))) {
        s_worker_deny (worker, ws, "send to", ces_frame_room (worker->frame));
        return;
    }
    if (!s_within_rate (worker->shared, ws)) {
        atomic_fetch_add (&worker->shared->rate_limited, 1);
        s_worker_notice (worker, ws,
                         "over this edge's max-rate of events per second; "
                         "event dropped");
        return;
    }
    s_worker_send_event (worker, ws->id, data, size);
}

//  A whole message (reassembled if it was fragmented)
//  A frame RFC 6455 forbids: counted, then the connection is closed with
//  code and reason (civetweb ends it when the handler returns 0)
static int
s_ws_violation (worker_t *worker, ws_conn_t *ws, int code, const char *reason)
{
    atomic_fetch_add (&worker->shared->protocol_errors, 1);
    zmsg_t *msg = s_worker_msg ("CLOSE", ws->id);
    byte bytes[2] = {(byte)(code >> 8), (byte)(code & 0xFF)};
    zmsg_addmem (msg, bytes, 2);
    zmsg_addstr (msg, reason);
    char *done = s_worker_ask (worker, &msg);
    zstr_free (&done);
    return 0;
}

static bool
s_close_code_valid (int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

//  RFC 6455 §5 and §7.4: what a client may not send. The close code and
//  reason for it, or 0.
static int
s_frame_violation (ws_conn_t *ws, int bits, const byte *data, size_t size,
                   const char **reason)
{
    int opcode = bits & 0x0F;
    bool fin = (bits & 0x80) != 0;
    bool control = opcode >= WS_OP_CLOSE;
    *reason = (bits & 0x70) ? "RSV bits set with no extension negotiated"
              : (opcode > WS_OP_BINARY && opcode < WS_OP_CLOSE) || opcode > 0xA
                  ? "reserved opcode"
              : control && !fin       ? "fragmented control frame"
              : control && size > 125 ? "control frame longer than 125 bytes"
              : opcode == WS_OP_CONTINUATION && !ws->fragmented
                  ? "continuation frame with no message started"
              : !control && opcode != WS_OP_CONTINUATION && ws->fragmented
                  ? "new message inside a fragmented one"
              : opcode == WS_OP_CLOSE && size == 1 ? "Close payload of 1 byte"
              : opcode == WS_OP_CLOSE && size >= 2 &&
                      !s_close_code_valid ((data[0] << 8) | data[1])
                  ? "invalid close code"
                  : NULL;
    if (*reason)
        return 1002;
    if (opcode == WS_OP_CLOSE && size > 2 &&
        !ces_frame_utf8_valid (data + 2, size - 2)) {
        *reason = "Close reason is not UTF-8";
        return 1007;
    }
    return 0;
}

static int
s_ws_message (worker_t *worker, ws_conn_t *ws, int opcode, const byte *data,
              size_t size)
{
    if (opcode == WS_OP_TEXT && !ces_frame_utf8_valid (data, size))
        return s_ws_violation (worker, ws, 1007, "Text message is not UTF-8");
    if (opcode == WS_OP_BINARY)
        s_ws_event (worker, ws, data, size);
    else if (opcode == WS_OP_TEXT && streq (ws->role, CES_ROLE_MESSENGER))
        s_ws_registration (worker, ws, (const char *)data, size);
    else if (opcode == WS_OP_TEXT)
        s_worker_notice (worker, ws,
                         "text frames are not accepted on this connection; "
                         "send events as Binary frames ROOMID\\nJSON");
    return 1;
}

static int
s_ws_data (struct mg_connection *conn, int bits, char *data, size_t size,
           void *cbdata)
{
    (void)cbdata;
    ws_conn_t *ws = (ws_conn_t *)mg_get_user_connection_data (conn);
    worker_t *worker = s_worker (conn);
    int opcode = bits & 0x0F;
    bool fin = (bits & 0x80) != 0;
    const char *reason;
    int code = s_frame_violation (ws, bits, (byte *)data, size, &reason);
    if (code)
        return s_ws_violation (worker, ws, code, reason);
    if (opcode == WS_OP_PING || opcode == WS_OP_PONG) {
        zmsg_t *msg =
            s_worker_msg (opcode == WS_OP_PING ? "PING" : "PONG", ws->id);
        zmsg_addmem (msg, data, size);
        s_worker_send (worker, &msg);
        return 1;
    }
    if (opcode == WS_OP_CLOSE) {
        //  civetweb shuts the socket once we return: first let the actor
        //  write its answering Close frame
        zmsg_t *msg = s_worker_msg ("CLOSE", ws->id);
        zmsg_addmem (msg, data, size >= 2 ? 2 : 0);
        char *done = s_worker_ask (worker, &msg);
        zstr_free (&done);
        return 0;
    }
    if (opcode != WS_OP_CONTINUATION) {
        ws->message_size = 0;
        ws->message_opcode = opcode;
        ws->discarding = false;
        if (fin) {
            if (size > worker->shared->max_message) {
                s_worker_notice (worker, ws,
                                 "message is larger than this edge's "
                                 "max-message limit");
                return 1;
            }
            return s_ws_message (worker, ws, opcode, (byte *)data, size);
        }
        ws->fragmented = true;
    } else if (fin)
        ws->fragmented = false;
    if (ws->discarding)
        return 1;
    if (ws->message_size + size > worker->shared->max_message) {
        ws->discarding = true;
        ws->message_size = 0;
        freen (ws->message);
        ws->message = NULL;
        s_worker_notice (worker, ws,
                         "message is larger than this edge's max-message "
                         "limit");
        return 1;
    }
    byte *grown = (byte *)realloc (ws->message, ws->message_size + size + 1);
    assert (grown);
    ws->message = grown;
    memcpy (ws->message + ws->message_size, data, size);
    ws->message_size += size;
    if (fin && opcode == WS_OP_CONTINUATION) {
        size_t complete = ws->message_size;
        ws->message_size = 0;
        return s_ws_message (worker, ws, ws->message_opcode, ws->message,
                             complete);
    }
    return 1;
}

static void
s_ws_close (const struct mg_connection *conn, void *cbdata)
{
    shared_t *shared = (shared_t *)cbdata;
    ws_conn_t *ws = (ws_conn_t *)mg_get_user_connection_data (conn);
    if (!ws)
        return;
    //  civetweb closes the socket after we return: no write from now on
    if (ws->wire) {
        pthread_mutex_lock (&ws->wire->lock);
        ws->wire->closed = true;
        pthread_mutex_unlock (&ws->wire->lock);
        s_wire_release (&ws->wire);
    }
    zmsg_t *msg = s_worker_msg ("GONE", ws->id);
    s_worker_send (s_worker (conn), &msg);
    atomic_fetch_sub (&shared->clients, 1);
    s_address_leave (shared, ws->address);
    ces_grant_destroy (&ws->grant);
    freen (ws->message);
    freen (ws);
    mg_set_user_connection_data (conn, NULL);
}

//  Asks the actor for STATUS / METRICS / HEALTH and waits for the answer
static char *
s_worker_question (struct mg_connection *conn, const char *question)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, question);
    return s_worker_ask (s_worker (conn), &msg);
}

//  The original hub's /interconnect: answered by the hub in this process
static int
s_http_interconnect (struct mg_connection *conn, void *cbdata)
{
    shared_t *shared = (shared_t *)cbdata;
    //  Changing the mesh needs an "admin" token when tokens are required
    ces_grant_t *grant = s_authorize (shared, conn);
    if (grant && !ces_grant_is_admin (grant))
        ces_http_reply (conn, 403, "text/plain",
                        "linking hubs needs a token with \"admin\": true\n");
    else if (grant)
        ces_http_control (conn, shared->hub_control);
    ces_grant_destroy (&grant);
    return 1;
}

static int
s_http_status (struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    const char *uri = mg_get_request_info (conn)->local_uri;
    bool metrics = streq (uri, "/metrics");
    bool health = streq (uri, "/health");

    char *answer = s_worker_question (conn, metrics  ? "METRICS"
                                            : health ? "HEALTH"
                                                     : "STATUS");
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

static int
s_http_event (struct mg_connection *conn, void *cbdata)
{
    shared_t *shared = (shared_t *)cbdata;
    const struct mg_request_info *request = mg_get_request_info (conn);
    if (!streq (request->request_method, "POST")) {
        ces_http_reply (conn, 405, "text/plain",
                        "use POST with a JSON event\n");
        return 1;
    }
    if (request->content_length > (long long)shared->max_message) {
        ces_http_reply (conn, 413, "text/plain",
                        "event is larger than this edge's max-message limit\n");
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "BADPOST");
        s_worker_send (s_worker (conn), &msg);
        return 1;
    }
    ces_grant_t *grant = s_authorize (shared, conn);
    if (!grant)
        return 1;
    size_t limit = shared->max_message + 1;
    char *body = (char *)malloc (limit);
    assert (body);
    size_t size = 0;
    int got;
    while (size < limit &&
           (got = mg_read (conn, body + size, limit - size)) > 0)
        size += (size_t)got;
    const char *problem = NULL;
    char *reason = NULL;
    ces_event_t *event = ces_event_new ();
    ces_event_set_max_depth (event, shared->max_depth);
    if (size > shared->max_message)
        problem = "event is larger than this edge's max-message limit";
    else if (ces_event_parse (event, body, size))
        problem = ces_event_error (event);
    else if (!ces_event_affected_room (event))
        problem = "event has no affected-room.roomID to route it by";
    else if (ces_frame_check_room (ces_event_affected_room (event),
                                   strlen (ces_event_affected_room (event))))
        problem = "affected-room.roomID is not a valid room ID (1-128 bytes, "
                  "no spaces or control characters)";
    else
        problem = s_room_too_long (shared, ces_event_affected_room (event));
    if (!problem &&
        !ces_grant_may_send (grant, ces_event_affected_room (event))) {
        atomic_fetch_add (&shared->denied, 1);
        reason = zsys_sprintf ("your token does not allow you to send to room "
                               "%s\n",
                               ces_event_affected_room (event));
        ces_http_reply (conn, 403, "text/plain", reason);
        zstr_free (&reason);
    } else if (problem) {
        reason = zsys_sprintf ("%s\n", problem);
        ces_http_reply (conn, 400, "text/plain", reason);
        zstr_free (&reason);
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "BADPOST");
        s_worker_send (s_worker (conn), &msg);
    } else {
        zframe_t *frame =
            ces_frame_build (ces_event_affected_room (event), body, size);
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "POST");
        zmsg_append (msg, &frame);
        char *verdict = s_worker_ask (s_worker (conn), &msg);
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
    ces_grant_destroy (&grant);
    ces_event_destroy (&event);
    freen (body);
    return 1;
}

static int
s_http_connect_plain (struct mg_connection *conn, void *cbdata)
{
    shared_t *shared = (shared_t *)cbdata;
    atomic_fetch_add (&shared->refused_bad, 1);
    const char *uri = mg_get_request_info (conn)->local_uri;
    ces_http_reply (conn, 400, "text/plain",
                    s_role_of_uri (shared, uri)
                        ? "this endpoint needs a WebSocket upgrade\n"
                    : shared->repeater
                        ? "use /connect/ROOM/ID: a room ID and your name\n"
                        : "unknown connection type; use /connect/messenger, "
                          "/connect/repeater or /connect/hub\n");
    return 1;
}

static int
s_http_page (struct mg_connection *conn, void *cbdata)
{
    shared_t *shared = (shared_t *)cbdata;
    if (shared->repeater) {
        ces_http_reply (conn, 404, "text/plain",
                        "this is a repeater: POST /send, a WebSocket on "
                        "/connect/ROOM/ID, /status, /metrics, /health\n");
        return 1;
    }
    if (!streq (mg_get_request_info (conn)->local_uri, "/")) {
        ces_http_reply (conn, 404, "text/plain",
                        "not found; try /, /status, /metrics, /health, "
                        "POST /event or a WebSocket on /connect/messenger\n");
        return 1;
    }
    ces_http_reply (conn, 200, "text/html; charset=utf-8", ces_edge_page);
    return 1;
}

//  --------------------------------------------------------------------------
//  Actor side: writing to clients

static void
s_client_poll (self_t *self, client_t *client, bool on)
{
    if (on && !client->in_poll)
        zlistx_add_end (self->blocked, client);
    else if (!on && client->in_poll) {
        void *handle = zlistx_find (self->blocked, client);
        if (handle)
            zlistx_delete (self->blocked, handle);
    }
    client->in_poll = on;
}

//  shutdown() ends civetweb's read loop, on a socket civetweb has not
//  closed yet
static void
s_client_shutdown (self_t *self, client_t *client)
{
    if (!client->shut && client->wire) {
        pthread_mutex_lock (&client->wire->lock);
        if (!client->wire->closed)
            shutdown (client->wire->fd, SHUT_RDWR);
        pthread_mutex_unlock (&client->wire->lock);
    }
    client->shut = true;
    client->out_sent = client->out_used = 0;
    s_client_poll (self, client, false);
}

//  Sends what the client's buffer holds, as far as the socket takes it
static void
s_client_flush (self_t *self, client_t *client)
{
    while (client->out_sent < client->out_used && !client->shut) {
        pthread_mutex_lock (&client->wire->lock);
        ssize_t sent = -1;
        errno = EPIPE; //  a closed wire is a peer gone
        if (!client->wire->closed)
            sent = send (client->wire->fd, client->out + client->out_sent,
                         client->out_used - client->out_sent,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        pthread_mutex_unlock (&client->wire->lock);
        if (sent > 0)
            client->out_sent += (size_t)sent;
        else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            s_client_poll (self, client, true);
            return;
        } else {
            s_client_shutdown (self, client); //  peer gone
            return;
        }
    }
    client->out_sent = client->out_used = 0;
    client->stuck_since = 0;
    s_client_poll (self, client, false);
    if (client->closing)
        s_client_shutdown (self, client);
}

//  Queues one frame if the buffer has room; force is for control frames
static bool
s_client_write (self_t *self, client_t *client, int opcode, const void *data,
                size_t size, bool force)
{
    if (client->shut || (client->closing && opcode != WS_OP_CLOSE))
        return false;
    size_t pending = client->out_used - client->out_sent;
    //  An empty queue takes any one event, so that an event as large as
    //  max-message reaches a client even with a smaller client-queue
    if (!force && pending && pending + size + 10 > self->client_queue) {
        client->dropped++;
        self->counters.dropped_queue_full++;
        if (!client->stuck_since)
            client->stuck_since = zclock_mono ();
        return false;
    }
    if (client->out_sent &&
        client->out_used + size + 10 > client->out_capacity) {
        memmove (client->out, client->out + client->out_sent, pending);
        client->out_used = pending;
        client->out_sent = 0;
    }
    if (client->out_used + size + 10 > client->out_capacity) {
        size_t capacity = (client->out_used + size + 10) * 2;
        client->out = (byte *)realloc (client->out, capacity);
        assert (client->out);
        client->out_capacity = capacity;
    }
    client->out_used +=
        s_frame_header (client->out + client->out_used, opcode, size);
    if (size)
        memcpy (client->out + client->out_used, data, size);
    client->out_used += size;
    //  Sent at the end of the batch, one send() for all its frames, or
    //  now when that is already a socket buffer's worth
    if (client->in_poll)
        return true;
    if (client->out_used - client->out_sent >= FLUSH_AT)
        s_client_flush (self, client);
    else if (!client->dirty) {
        client->dirty = true;
        zlistx_add_end (self->dirty, client);
    }
    return true;
}

static void
s_flush_dirty (self_t *self)
{
    client_t *client = (client_t *)zlistx_first (self->dirty);
    while (client) {
        client->dirty = false;
        if (!client->in_poll)
            s_client_flush (self, client);
        client = (client_t *)zlistx_next (self->dirty);
    }
    zlistx_purge (self->dirty);
}

static void
s_client_send_event (self_t *self, client_t *client, const byte *data,
                     size_t size)
{
    if (s_client_write (self, client, WS_OP_BINARY, data, size, false)) {
        client->events_out++;
        self->counters.delivered++;
    }
}

static void
s_client_close (self_t *self, client_t *client, int code, const char *reason)
{
    if (client->closing || client->shut)
        return;
    ces_info (self->log_level, "edge: closing client %s (%s, %s): %d %s",
              client->id_text, client->role, client->remote, code, reason);
    byte payload[125];
    payload[0] = (byte)(code >> 8);
    payload[1] = (byte)code;
    size_t size = strlen (reason) > 123 ? 123 : strlen (reason);
    memcpy (payload + 2, reason, size);
    client->closing = true;
    client->close_deadline = zclock_mono () + CLOSE_GRACE;
    s_client_write (self, client, WS_OP_CLOSE, payload, size + 2, true);
}

static void
s_client_text (self_t *self, client_t *client, const char *text)
{
    s_client_write (self, client, WS_OP_TEXT, text, strlen (text), true);
}

//  --------------------------------------------------------------------------
//  Actor side: rooms

static void
s_subs_change (self_t *self, const char *room, int delta, zlist_t *fresh)
{
    size_t count = (size_t)(uintptr_t)zhashx_lookup (self->subs, room);
    if (delta > 0 && count++ == 0)
        zlist_append (fresh, (void *)room);
    if (delta < 0 && --count == 0) {
        zlist_t *gone = zlist_new ();
        zlist_append (gone, (void *)room);
        ces_link_unregister (self->link, SUBS_CONN, gone);
        zlist_destroy (&gone);
    }
    if (count)
        zhashx_update (self->subs, room, (void *)(uintptr_t)count);
    else
        zhashx_delete (self->subs, room);
}

static void
s_room_index_remove (self_t *self, client_t *client, const char *room)
{
    if (streq (room, "*")) {
        void *handle = zlistx_find (self->star, client);
        if (handle)
            zlistx_delete (self->star, handle);
        return;
    }
    zlistx_t *list = (zlistx_t *)zhashx_lookup (self->room_index, room);
    if (!list)
        return;
    void *handle = zlistx_find (list, client);
    if (handle)
        zlistx_delete (list, handle);
    if (zlistx_size (list) == 0)
        zhashx_delete (self->room_index, room);
}

static void
s_client_unregister (self_t *self, client_t *client, const char *room)
{
    if (!zhashx_lookup (client->rooms, room))
        return;
    zhashx_delete (client->rooms, room);
    s_room_index_remove (self, client, room);
    s_subs_change (self, room, -1, NULL);
}

static void
s_client_unregister_all (self_t *self, client_t *client)
{
    zlistx_t *rooms = zhashx_keys (client->rooms);
    const char *room = (const char *)zlistx_first (rooms);
    while (room) {
        s_client_unregister (self, client, room);
        room = (const char *)zlistx_next (rooms);
    }
    zlistx_destroy (&rooms);
}

static void
s_send_registered (self_t *self, client_t *client, zlist_t *rooms)
{
    cJSON *notice = cJSON_CreateObject ();
    cJSON *list = cJSON_AddArrayToObject (notice, "registered");
    const char *room = (const char *)zlist_first (rooms);
    while (room) {
        cJSON_AddItemToArray (list, cJSON_CreateString (room));
        room = (const char *)zlist_next (rooms);
    }
    char *text = cJSON_PrintUnformatted (notice);
    cJSON_Delete (notice);
    s_client_text (self, client, text);
    freen (text);
}

//  A client waiting for {"registered":[...]}: its id, then its rooms
static zlist_t *
s_waiter_new (client_t *client, zlist_t *rooms)
{
    zlist_t *waiter = zlist_new ();
    zlist_autofree (waiter);
    zlist_append (waiter, client->id_text);
    const char *room = (const char *)zlist_first (rooms);
    while (room) {
        zlist_append (waiter, (void *)room);
        room = (const char *)zlist_next (rooms);
    }
    return waiter;
}

static void
s_list_destroy (void **item_p)
{
    zlist_t *list = (zlist_t *)*item_p;
    zlist_destroy (&list);
    *item_p = NULL;
}

static void
s_wait_on (self_t *self, const char *token, zlist_t *waiter)
{
    zlistx_t *waiters = (zlistx_t *)zhashx_lookup (self->waiting, token);
    if (!waiters) {
        waiters = zlistx_new ();
        zlistx_set_destructor (waiters, s_list_destroy);
        zhashx_insert (self->waiting, token, waiters);
    }
    zlistx_add_end (waiters, waiter);
}

//  Sends the notice if the client is still there
static void
s_notify (self_t *self, zlist_t *waiter)
{
    client_t *client = (client_t *)zhashx_lookup (
        self->clients, (const char *)zlist_first (waiter));
    if (!client)
        return;
    zlist_t *rooms = zlist_new ();
    const char *room = (const char *)zlist_next (waiter);
    while (room) {
        zlist_append (rooms, (void *)room);
        room = (const char *)zlist_next (waiter);
    }
    s_send_registered (self, client, rooms);
    zlist_destroy (&rooms);
}

//  Registers rooms for a client; tells it {"registered":[...]} once the hub
//  confirmed that events for them will arrive (old clients ignore Text)
static void
s_client_register (self_t *self, client_t *client, zmsg_t *request)
{
    size_t asked = zmsg_size (request);
    if (self->max_rooms &&
        zhashx_size (client->rooms) + asked > (size_t)self->max_rooms) {
        //  Rooms it holds already may be asked again: count the new ones
        size_t fresh = 0;
        for (zframe_t *frame = zmsg_first (request); frame;
             frame = zmsg_next (request)) {
            char *room = zframe_strdup (frame);
            fresh += zhashx_lookup (client->rooms, room) == NULL;
            zstr_free (&room);
        }
        if (zhashx_size (client->rooms) + fresh > (size_t)self->max_rooms) {
            client->errors++;
            self->counters.over_limit++;
            char *text = zsys_sprintf (
                "{\"error\":\"registration refused: a client may hold at "
                "most %d rooms here (max-rooms-per-client)\"}",
                self->max_rooms);
            s_client_text (self, client, text);
            zstr_free (&text);
            return;
        }
    }
    zlist_t *requested = zlist_new ();
    zlist_autofree (requested);
    zlist_t *fresh = zlist_new ();
    char *room;
    while ((room = zmsg_popstr (request))) {
        zlist_append (requested, room);
        if (!zhashx_lookup (client->rooms, room)) {
            zhashx_insert (client->rooms, room, (void *)"");
            if (streq (room, "*"))
                zlistx_add_end (self->star, client);
            else {
                zlistx_t *list =
                    (zlistx_t *)zhashx_lookup (self->room_index, room);
                if (!list) {
                    list = zlistx_new ();
                    zhashx_insert (self->room_index, room, list);
                }
                zlistx_add_end (list, client);
            }
            s_subs_change (self, (const char *)zlist_last (requested), 1,
                           fresh);
        }
        zstr_free (&room);
    }
    const char *token = zlist_size (fresh)
                            ? ces_link_register (self->link, SUBS_CONN, fresh)
                            : NULL;
    if (token) {
        zstr_free (&self->last_token);
        self->last_token = strdup (token);
    }
    //  The hub confirms registers in the order they were sent, so a client
    //  whose rooms are already on their way waits for the newest one
    zlist_t *waiter = s_waiter_new (client, requested);
    bool in_flight =
        self->last_token && !(self->confirmed_token &&
                              streq (self->last_token, self->confirmed_token));
    if (!ces_link_connected (self->link))
        zlistx_add_end (self->hub_waiters, waiter);
    else if (in_flight)
        s_wait_on (self, self->last_token, waiter);
    else {
        s_notify (self, waiter);
        zlist_destroy (&waiter);
    }
    zlist_destroy (&fresh);
    zlist_destroy (&requested);
}

static void
s_on_registered (self_t *self, const char *token)
{
    zstr_free (&self->confirmed_token);
    self->confirmed_token = strdup (token);
    zlistx_t *waiters = (zlistx_t *)zhashx_lookup (self->waiting, token);
    zlist_t *waiter = waiters ? (zlist_t *)zlistx_first (waiters) : NULL;
    while (waiter) {
        s_notify (self, waiter);
        waiter = (zlist_t *)zlistx_next (waiters);
    }
    zhashx_delete (self->waiting, token);
}

//  After WELCOME the link registered all our rooms again with one token;
//  everyone still waiting waits for that (an old hub's tokens are void)
static void
s_on_connected (self_t *self)
{
    zlistx_t *waiters = (zlistx_t *)zhashx_first (self->waiting);
    while (waiters) {
        void *waiter;
        while ((waiter = zlistx_detach (waiters, NULL)))
            zlistx_add_end (self->hub_waiters, waiter);
        waiters = (zlistx_t *)zhashx_next (self->waiting);
    }
    zhashx_purge (self->waiting);
    zstr_free (&self->last_token);
    zstr_free (&self->confirmed_token);
    if (ces_link_room_count (self->link, SUBS_CONN) > 0)
        self->last_token = strdup (ces_link_token (self->link));
    void *waiter;
    while ((waiter = zlistx_detach (self->hub_waiters, NULL))) {
        if (self->last_token)
            s_wait_on (self, self->last_token, (zlist_t *)waiter);
        else {
            zlist_t *done = (zlist_t *)waiter;
            s_notify (self, done);
            zlist_destroy (&done);
        }
    }
}

//  --------------------------------------------------------------------------
//  Actor side: events from the hub

static void
s_fan_out (self_t *self)
{
    const byte *data = ces_link_data (self->link);
    size_t size = ces_link_size (self->link);
    const char *room = ces_link_room (self->link);
    const char *sender = NULL;
    if (!ces_link_is_origin (self->link, ces_link_origin (self->link), &sender))
        sender = NULL;
    zlistx_t *list = (zlistx_t *)zhashx_lookup (self->room_index, room);
    client_t *client = list ? (client_t *)zlistx_first (list) : NULL;
    while (client) {
        if (!sender || !streq (sender, client->id_text))
            s_client_send_event (self, client, data, size);
        client = (client_t *)zlistx_next (list);
    }
    client = (client_t *)zlistx_first (self->star);
    while (client) {
        //  A client registered for the room and * gets it once
        if ((!sender || !streq (sender, client->id_text)) &&
            !zhashx_lookup (client->rooms, room))
            s_client_send_event (self, client, data, size);
        client = (client_t *)zlistx_next (self->star);
    }
}

//  A peer that has its own inbound link open for the room gets the event
//  back over it (ces_targets_inbound_fn)
static bool
s_send_to_peer (void *arg, const char *peer, const char *room,
                zframe_t *message)
{
    self_t *self = (self_t *)arg;
    char *key = zsys_sprintf ("%s\n%s", room, peer);
    client_t *client = (client_t *)zhashx_lookup (self->peers, key);
    zstr_free (&key);
    if (!client || client->closing || client->shut)
        return false;
    client->last_event = zclock_mono (); //  the link is in use
    s_client_send_event (self, client, zframe_data (message),
                         zframe_size (message));
    return true;
}

//  The hub chose this repeater for an event: its room's targets and the
//  "*" targets get it
static void
s_to_targets (self_t *self, zframe_t *message)
{
    const char *data = (const char *)zframe_data (message);
    const char *newline =
        (const char *)memchr (data, '\n', zframe_size (message));
    if (!newline || newline - data > CES_ROOM_MAX)
        return;
    char room[CES_ROOM_MAX + 1];
    memcpy (room, data, (size_t)(newline - data));
    room[newline - data] = 0;
    self->counters.to_targets++;
    if (ces_targets_dispatch (self->targets, room, message, s_send_to_peer,
                              self) == 0)
        self->counters.no_target++;
}

static void
s_on_link_event (self_t *self, ces_link_event_t event)
{
    switch (event) {
        case CES_LINK_PUBLISHED:
            s_fan_out (self);
            break;
        case CES_LINK_DELIVER: {
            if (self->targets &&
                streq (ces_link_conn (self->link), REPEATER_CONN)) {
                s_to_targets (self, ces_link_message (self->link));
                break;
            }
            client_t *client = (client_t *)zhashx_lookup (
                self->clients, ces_link_conn (self->link));
            if (client)
                s_client_send_event (self, client, ces_link_data (self->link),
                                     ces_link_size (self->link));
            break;
        }
        case CES_LINK_REGISTERED:
            s_on_registered (self, ces_link_token (self->link));
            break;
        case CES_LINK_CONNECTED:
            s_on_connected (self);
            break;
        default:
            break;
    }
}

//  --------------------------------------------------------------------------
//  Actor side: what the workers tell us

static void
s_client_free (void **item_p)
{
    client_t *client = (client_t *)*item_p;
    s_wire_release (&client->wire);
    zhashx_destroy (&client->rooms);
    zstr_free (&client->peer_key);
    freen (client->out);
    freen (client);
    *item_p = NULL;
}

static void
s_client_open (self_t *self, const char *id, zmsg_t *request)
{
    char *role = zmsg_popstr (request);
    zframe_t *wire = zmsg_pop (request);
    char *expiry = zmsg_popstr (request);
    char *remote = zmsg_popstr (request);
    char *uri = zmsg_popstr (request);
    assert (role && wire && zframe_size (wire) == sizeof (wire_t *) && remote &&
            uri);
    client_t *client = (client_t *)zmalloc (sizeof (client_t));
    assert (client);
    snprintf (client->id_text, sizeof (client->id_text), "%s", id);
    client->role = streq (role, CES_ROLE_MESSENGER)  ? CES_ROLE_MESSENGER
                   : streq (role, CES_ROLE_REPEATER) ? CES_ROLE_REPEATER
                   : streq (role, CES_ROLE_HUB)      ? CES_ROLE_HUB
                                                     : CES_ROLE_OUTSIDE;
    memcpy (&client->wire, zframe_data (wire), sizeof (wire_t *));
    client->expiry = expiry ? strtoll (expiry, NULL, 10) : 0;
    snprintf (client->remote, sizeof (client->remote), "%s", remote);
    client->rooms = zhashx_new ();
    int64_t now = zclock_mono ();
    client->last_heard = now;
    client->last_event = now;
    client->next_ping = now + self->ping_interval;
    zhashx_insert (self->clients, id, client);
    ces_link_attach (self->link, id, client->role);
    if (streq (client->role, CES_ROLE_OUTSIDE)) {
        //  /connect/ROOM/ID[/]: checked by the worker already
        const char *room = uri + strlen ("/connect/");
        const char *slash = strchr (room, '/');
        client->peer_key =
            zsys_sprintf ("%.*s\n%s", (int)(slash - room), room, slash + 1);
        size_t size = strlen (client->peer_key);
        if (client->peer_key[size - 1] == '/')
            client->peer_key[size - 1] = 0;
        zhashx_update (self->peers, client->peer_key, client);
    }
    if (!client->wire) {
        ces_error (self->log_level,
                   "edge: cannot find the socket of client %s; closing it", id);
        client->shut = true;
    }
    ces_debug (self->log_level, "edge: client %s connected as %s from %s", id,
               client->role, client->remote);
    zstr_free (&role);
    zframe_destroy (&wire);
    zstr_free (&expiry);
    zstr_free (&remote);
    zstr_free (&uri);
}

static void
s_client_gone (self_t *self, client_t *client)
{
    ces_debug (self->log_level, "edge: client %s (%s) gone", client->id_text,
               client->role);
    //  Neither side closed: a cut connection, or a frame cut short
    if (!client->closing)
        self->counters.closed_abruptly++;
    s_client_unregister_all (self, client);
    s_client_poll (self, client, false);
    if (client->dirty) {
        void *handle = zlistx_find (self->dirty, client);
        if (handle)
            zlistx_delete (self->dirty, handle);
    }
    ces_link_detach (self->link, client->id_text);
    self->trim.gone_since++;
    if (client->peer_key &&
        zhashx_lookup (self->peers, client->peer_key) == client)
        zhashx_delete (self->peers, client->peer_key);
    zhashx_delete (self->clients, client->id_text);
}

//  The hub is linked but does not keep up: count, and say so at most once
//  a second
static void
s_hub_busy (self_t *self)
{
    self->counters.dropped_hub_busy++;
    int64_t now = zclock_mono ();
    if (now < self->counters.hub_busy_next_log)
        return;
    ces_warn (self->log_level,
              "edge: the hub does not keep up; dropped %" PRIu64
              " event(s) at a full queue to it",
              self->counters.dropped_hub_busy - self->counters.hub_busy_logged);
    self->counters.hub_busy_logged = self->counters.dropped_hub_busy;
    self->counters.hub_busy_next_log = now + 1000;
}

static bool
s_forward_event (self_t *self, client_t *client, const char *conn,
                 zframe_t *message)
{
    int rc = ces_link_send (self->link, conn, message);
    if (rc == 0)
        return true;
    if (rc == -2)
        s_hub_busy (self);
    else
        self->counters.dropped_hub_unreachable++;
    if (client) {
        client->dropped++;
        s_client_text (self, client,
                       rc == -2 ? "{\"error\":\"hub busy (its queue is full); "
                                  "the event was dropped\"}"
                                : "{\"error\":\"hub unreachable; the event "
                                  "was dropped\"}");
    }
    return false;
}

static char *s_status_json (self_t *self);
static char *s_metrics_text (self_t *self);

static void
s_handle_inbox_command (self_t *self, zframe_t **routing_p, char *command,
                        zmsg_t *request)
{
    if (streq (command, "STATUS") || streq (command, "METRICS") ||
        streq (command, "HEALTH")) {
        char *answer = streq (command, "STATUS") ? s_status_json (self)
                       : streq (command, "METRICS")
                           ? s_metrics_text (self)
                           : strdup (ces_link_connected (self->link)
                                         ? "ok"
                                         : "hub unreachable\n");
        zframe_send (routing_p, self->inbox, ZFRAME_MORE);
        zstr_send (self->inbox, answer);
        freen (answer);
    } else if (streq (command, "POST")) {
        zframe_t *message = zmsg_pop (request);
        //  A repeater's POST /send is an outside system's event, on the
        //  connection that is attached whether or not we have targets
        bool sent = s_forward_event (
            self, NULL, self->shared.repeater ? INBOUND_CONN : HTTP_CONN,
            message);
        self->counters.posted += sent;
        zframe_destroy (&message);
        zframe_send (routing_p, self->inbox, ZFRAME_MORE);
        zstr_send (self->inbox, sent ? "ok"
                                : ces_link_connected (self->link)
                                    ? "hub busy"
                                    : "hub unreachable");
    } else if (streq (command, "BADPOST"))
        self->counters.malformed++;
    else {
        char *id = zmsg_popstr (request);
        client_t *client =
            id ? (client_t *)zhashx_lookup (self->clients, id) : NULL;
        if (streq (command, "OPEN") && id)
            s_client_open (self, id, request);
        else if (client) {
            client->last_heard = zclock_mono ();
            if (streq (command, "EVENT")) {
                zframe_t *message = zmsg_pop (request);
                client->events_in++;
                client->last_event = client->last_heard;
                self->counters.events_in++;
                s_forward_event (self, client, client->id_text, message);
                zframe_destroy (&message);
            } else if (streq (command, "REGISTER"))
                s_client_register (self, client, request);
            else if (streq (command, "UNREGISTER")) {
                if (zmsg_size (request) == 0)
                    s_client_unregister_all (self, client);
                char *room;
                while ((room = zmsg_popstr (request))) {
                    s_client_unregister (self, client, room);
                    zstr_free (&room);
                }
            } else if (streq (command, "DENIED")) {
                char *text = zmsg_popstr (request);
                client->errors++; //  counted in shared.denied by the worker
                s_client_text (self, client, text);
                zstr_free (&text);
            } else if (streq (command, "ERROR")) {
                char *text = zmsg_popstr (request);
                client->errors++;
                self->counters.malformed++;
                s_client_text (self, client, text);
                zstr_free (&text);
            } else if (streq (command, "PING")) {
                zframe_t *payload = zmsg_pop (request);
                s_client_write (self, client, WS_OP_PONG, zframe_data (payload),
                                zframe_size (payload), true);
                zframe_destroy (&payload);
            } else if (streq (command, "CLOSE")) {
                //  Answer the client's close with its own code
                //  The client's own code, or ours with a reason when the
                //  worker found a protocol error
                zframe_t *code = zmsg_pop (request);
                char *reason = zmsg_popstr (request);
                int value =
                    zframe_size (code) == 2
                        ? (zframe_data (code)[0] << 8) | zframe_data (code)[1]
                        : 1000;
                s_client_close (self, client, value, reason ? reason : "");
                if (reason)
                    ces_info (self->log_level, "edge: closed %s with %d: %s",
                              client->remote, value, reason);
                zstr_free (&reason);
                zframe_destroy (&code);
            } else if (streq (command, "GONE"))
                s_client_gone (self, client);
        }
        if (streq (command, "OPEN")) {
            zframe_send (routing_p, self->inbox, ZFRAME_MORE);
            zstr_send (self->inbox, "opened");
        }
        if (streq (command, "CLOSE")) {
            //  Its worker waits for this before civetweb closes the socket
            s_flush_dirty (self);
            zframe_send (routing_p, self->inbox, ZFRAME_MORE);
            zstr_send (self->inbox, "closed");
        }
        zstr_free (&id);
    }
}

//  A client's event, the message on every event's path: read frame by
//  frame, with no allocation but the event's own frame
static void
s_handle_inbox_event (self_t *self, zmq_msg_t *part)
{
    void *inbox = zsock_resolve (self->inbox);
    char id[32] = "";
    zframe_t *message = NULL;
    if (zmq_msg_recv (part, inbox, 0) >= 0) {
        size_t size = zmq_msg_size (part);
        if (size < sizeof (id)) {
            memcpy (id, zmq_msg_data (part), size);
            id[size] = 0;
        }
        if (zmq_msg_more (part))
            message = zframe_recv (self->inbox);
    }
    while (zsock_rcvmore (self->inbox) && zmq_msg_recv (part, inbox, 0) >= 0)
        ; //  nothing more is expected
    client_t *client = (client_t *)zhashx_lookup (self->clients, id);
    if (client && message) {
        client->last_heard = zclock_mono ();
        client->events_in++;
        client->last_event = client->last_heard;
        self->counters.events_in++;
        s_forward_event (self, client, client->id_text, message);
    }
    zframe_destroy (&message);
}

static void
s_handle_inbox (self_t *self)
{
    void *inbox = zsock_resolve (self->inbox);
    zmq_msg_t part;
    zmq_msg_init (&part);
    if (zmq_msg_recv (&part, inbox, 0) < 0) {
        zmq_msg_close (&part);
        return;
    }
    //  The routing ID, kept for an answer (ZeroMQ makes 5-byte ones)
    byte routing[256];
    size_t routing_size = zmq_msg_size (&part);
    if (routing_size > sizeof (routing))
        routing_size = sizeof (routing);
    memcpy (routing, zmq_msg_data (&part), routing_size);
    bool command_ok =
        zmq_msg_more (&part) && zmq_msg_recv (&part, inbox, 0) >= 0;
    if (command_ok && zmq_msg_size (&part) == 5 &&
        memcmp (zmq_msg_data (&part), "EVENT", 5) == 0 &&
        zmq_msg_more (&part)) {
        s_handle_inbox_event (self, &part);
        zmq_msg_close (&part);
        return;
    }
    zframe_t *routing_id = zframe_new (routing, routing_size);
    char *command = command_ok ? strndup ((const char *)zmq_msg_data (&part),
                                          zmq_msg_size (&part))
                               : NULL;
    zmsg_t *request = command_ok && zmq_msg_more (&part)
                          ? zmsg_recv (self->inbox)
                          : zmsg_new ();
    zmq_msg_close (&part);
    if (command && request)
        s_handle_inbox_command (self, &routing_id, command, request);
    zstr_free (&command);
    zframe_destroy (&routing_id);
    zmsg_destroy (&request);
}

//  --------------------------------------------------------------------------
//  Actor side: keep-alive, stuck clients, closing clients

//  A thousand civetweb threads spread their buffers over glibc's arenas,
//  which keep what is freed: the edge hands it back soon after clients
//  leave (what they used is free then), and at least once a minute
static void
s_trim_if_due (self_t *self, int64_t now)
{
    int64_t since = now - self->trim.last;
    if (since < 60000 && (self->trim.gone_since == 0 || since < 5000))
        return;
    int64_t start = zclock_usecs ();
    malloc_trim (0);
    self->trim.last_usecs = zclock_usecs () - start;
    self->trim.last = now;
    self->trim.gone_since = 0;
    self->trim.count++;
}

static void
s_tick (self_t *self)
{
    int64_t now = zclock_mono ();
    int64_t wall = (int64_t)time (NULL);
    zlistx_t *ids = zhashx_keys (self->clients);
    const char *id = (const char *)zlistx_first (ids);
    while (id) {
        client_t *client = (client_t *)zhashx_lookup (self->clients, id);
        if (client->closing && !client->shut && now >= client->close_deadline)
            s_client_shutdown (self, client); //  it never took the close
        else if (client->expiry && wall >= client->expiry && !client->closing) {
            self->counters.closed_expired++;
            s_client_close (self, client, 1008,
                            "token expired; reconnect with a new one");
        } else if (client->stuck_since &&
                   now - client->stuck_since > self->stuck_timeout) {
            self->counters.closed_stuck++;
            char reason[100];
            snprintf (reason, sizeof (reason),
                      "client is not reading; %" PRIu64 " events dropped",
                      client->dropped);
            client->stuck_since = 0;
            s_client_close (self, client, 1008, reason);
        } else if (streq (client->role, CES_ROLE_OUTSIDE) &&
                   now - client->last_event > self->idle_timeout) {
            self->counters.closed_idle++;
            s_client_close (self, client, 1001, "idle; reconnect to send");
        } else if (now - client->last_heard > self->pong_timeout) {
            self->counters.closed_silent++;
            s_client_close (self, client, 1001, "no answer to pings");
        } else if (now >= client->next_ping) {
            s_client_write (self, client, WS_OP_PING, "ces", 3, true);
            client->next_ping = now + self->ping_interval;
        }
        id = (const char *)zlistx_next (ids);
    }
    zlistx_destroy (&ids);
    self->next_tick = now + 250;
    s_trim_if_due (self, now);
}

//  --------------------------------------------------------------------------
//  Status and metrics

static int
s_role_slot (client_t *client)
{
    return streq (client->role, CES_ROLE_MESSENGER)  ? 0
           : streq (client->role, CES_ROLE_REPEATER) ? 1
           : streq (client->role, CES_ROLE_HUB)      ? 2
                                                     : 3;
}

static char *
s_hub_answer (self_t *self, const char *question)
{
    if (!self->hub)
        return NULL;
    zstr_send (self->hub, question);
    return zstr_recv (self->hub);
}

//  What the heap holds, from glibc's own accounting over all arenas: when
//  RSS grows, "in_use" growing means memory still held (a leak), and "free"
//  growing means freed memory the allocator keeps (fragmentation)
typedef struct {
    size_t in_use;
    size_t free;
} heap_t;

static heap_t
s_heap (void)
{
    struct mallinfo2 info = mallinfo2 ();
    heap_t heap = {info.uordblks + info.hblkhd, info.fordblks};
    return heap;
}

static void
s_memory_status (self_t *self, cJSON *edge)
{
    heap_t heap = s_heap ();
    cJSON *memory = cJSON_AddObjectToObject (edge, "memory");
    cJSON_AddNumberToObject (memory, "heap_in_use", (double)heap.in_use);
    cJSON_AddNumberToObject (memory, "heap_free", (double)heap.free);
    cJSON_AddNumberToObject (memory, "trims", (double)self->trim.count);
    cJSON_AddNumberToObject (memory, "last_trim_usecs",
                             (double)self->trim.last_usecs);
    const char *tunables = getenv ("GLIBC_TUNABLES");
    cJSON_AddStringToObject (memory, "glibc_tunables",
                             tunables ? tunables : "");
}

static char *
s_status_json (self_t *self)
{
    cJSON *root = cJSON_CreateObject ();
    cJSON *edge = cJSON_AddObjectToObject (root, "edge");
    cJSON_AddStringToObject (edge, "listen", self->listen);
    cJSON_AddStringToObject (edge, "link_id", ces_link_id (self->link));
    cJSON_AddStringToObject (
        edge, "hub",
        ces_link_connected (self->link) ? ces_link_hub_id (self->link) : "");
    cJSON_AddBoolToObject (edge, "hub_connected",
                           ces_link_connected (self->link));
    cJSON_AddBoolToObject (edge, "hub_curve", self->curve != NULL);
    cJSON_AddNumberToObject (edge, "hub_refused_handshakes",
                             (double)ces_link_refused (self->link));
    size_t by_role[4] = {0, 0, 0, 0};
    cJSON *clients = cJSON_AddArrayToObject (edge, "clients");
    client_t *client = (client_t *)zhashx_first (self->clients);
    while (client) {
        by_role[s_role_slot (client)]++;
        cJSON *item = cJSON_CreateObject ();
        cJSON_AddStringToObject (item, "id", client->id_text);
        cJSON_AddStringToObject (item, "role", client->role);
        cJSON_AddStringToObject (item, "remote", client->remote);
        cJSON_AddNumberToObject (item, "rooms",
                                 (double)zhashx_size (client->rooms));
        cJSON_AddNumberToObject (item, "queued_bytes",
                                 (double)(client->out_used - client->out_sent));
        cJSON_AddNumberToObject (item, "events_in", (double)client->events_in);
        cJSON_AddNumberToObject (item, "events_out",
                                 (double)client->events_out);
        cJSON_AddNumberToObject (item, "dropped", (double)client->dropped);
        cJSON_AddNumberToObject (item, "errors", (double)client->errors);
        cJSON_AddBoolToObject (item, "closing", client->closing);
        cJSON_AddItemToArray (clients, item);
        client = (client_t *)zhashx_next (self->clients);
    }
    cJSON *roles = cJSON_AddObjectToObject (edge, "clients_by_role");
    cJSON_AddNumberToObject (roles, "messenger", (double)by_role[0]);
    cJSON_AddNumberToObject (roles, "repeater", (double)by_role[1]);
    cJSON_AddNumberToObject (roles, "hub", (double)by_role[2]);
    if (self->shared.repeater)
        cJSON_AddNumberToObject (roles, "outside", (double)by_role[3]);
    if (self->targets) {
        cJSON *repeater = cJSON_AddObjectToObject (root, "repeater");
        cJSON_AddStringToObject (repeater, "system_id", self->system_id);
        cJSON_AddBoolToObject (repeater, "in_rotation", self->in_rotation);
        cJSON_AddNumberToObject (repeater, "events_to_targets",
                                 (double)self->counters.to_targets);
        cJSON_AddNumberToObject (repeater, "events_for_no_target",
                                 (double)self->counters.no_target);
        cJSON_AddNumberToObject (repeater, "events_from_links",
                                 (double)self->counters.from_links);
        cJSON_AddNumberToObject (repeater, "closed_idle",
                                 (double)self->counters.closed_idle);
        ces_targets_status (self->targets, repeater);
    }
    cJSON *rooms = cJSON_AddObjectToObject (edge, "rooms");
    void *count = zhashx_first (self->subs);
    while (count) {
        cJSON_AddNumberToObject (rooms,
                                 (const char *)zhashx_cursor (self->subs),
                                 (double)(uintptr_t)count);
        count = zhashx_next (self->subs);
    }
    cJSON *totals = cJSON_AddObjectToObject (edge, "counters");
    cJSON_AddNumberToObject (totals, "events_in",
                             (double)self->counters.events_in);
    cJSON_AddNumberToObject (totals, "posted", (double)self->counters.posted);
    cJSON_AddNumberToObject (totals, "delivered",
                             (double)self->counters.delivered);
    cJSON_AddNumberToObject (totals, "lost_upstream",
                             (double)ces_link_lost (self->link));
    cJSON *drops = cJSON_AddObjectToObject (totals, "drops");
    cJSON_AddNumberToObject (drops, "queue_full",
                             (double)self->counters.dropped_queue_full);
    cJSON_AddNumberToObject (drops, "hub_unreachable",
                             (double)self->counters.dropped_hub_unreachable);
    cJSON_AddNumberToObject (drops, "hub_busy",
                             (double)self->counters.dropped_hub_busy);
    cJSON_AddNumberToObject (drops, "malformed",
                             (double)self->counters.malformed);
    cJSON_AddNumberToObject (totals, "closed_stuck",
                             (double)self->counters.closed_stuck);
    cJSON_AddNumberToObject (totals, "closed_silent",
                             (double)self->counters.closed_silent);
    cJSON_AddNumberToObject (totals, "closed_abruptly",
                             (double)self->counters.closed_abruptly);
    cJSON_AddNumberToObject (totals, "refused_full",
                             (double)atomic_load (&self->shared.refused_full));
    cJSON_AddNumberToObject (totals, "refused_bad_request",
                             (double)atomic_load (&self->shared.refused_bad));
    cJSON_AddNumberToObject (totals, "refused_auth",
                             (double)atomic_load (&self->shared.refused_auth));
    cJSON_AddNumberToObject (totals, "refused_by_http",
                             (double)atomic_load (&self->shared.http_errors));
    cJSON_AddNumberToObject (
        totals, "protocol_errors",
        (double)atomic_load (&self->shared.protocol_errors));
    cJSON_AddNumberToObject (totals, "denied",
                             (double)atomic_load (&self->shared.denied));
    cJSON_AddNumberToObject (totals, "closed_expired",
                             (double)self->counters.closed_expired);
    cJSON_AddNumberToObject (totals, "rate_limited",
                             (double)atomic_load (&self->shared.rate_limited));
    cJSON_AddNumberToObject (totals, "over_room_limit",
                             (double)self->counters.over_limit);
    cJSON_AddBoolToObject (totals, "auth_required",
                           ces_auth_required (self->shared.auth));
    s_memory_status (self, edge);
    char *hub = s_hub_answer (self, "STATUS");
    if (hub)
        cJSON_AddItemToObject (root, "hub", cJSON_Parse (hub));
    zstr_free (&hub);
    char *text = cJSON_PrintUnformatted (root);
    cJSON_Delete (root);
    return text;
}

static char *
s_metrics_text (self_t *self)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    size_t by_role[4] = {0, 0, 0, 0};
    client_t *client = (client_t *)zhashx_first (self->clients);
    while (client) {
        by_role[s_role_slot (client)]++;
        client = (client_t *)zhashx_next (self->clients);
    }
    fprintf (out, "# HELP ces_edge_clients Open WebSocket clients, by role.\n"
                  "# TYPE ces_edge_clients gauge\n");
    const char *roles[] = {"messenger", "repeater", "hub", "outside"};
    for (int i = 0; i < 4; i++)
        fprintf (out, "ces_edge_clients{role=\"%s\"} %zu\n", roles[i],
                 by_role[i]);
    fprintf (out,
             "# HELP ces_edge_events_in_total Events from clients.\n"
             "# TYPE ces_edge_events_in_total counter\n"
             "ces_edge_events_in_total{via=\"websocket\"} %" PRIu64 "\n"
             "ces_edge_events_in_total{via=\"http\"} %" PRIu64 "\n"
             "# HELP ces_edge_delivered_total Events written to clients.\n"
             "# TYPE ces_edge_delivered_total counter\n"
             "ces_edge_delivered_total %" PRIu64 "\n"
             "# HELP ces_edge_drops_total Events not delivered, by reason.\n"
             "# TYPE ces_edge_drops_total counter\n"
             "ces_edge_drops_total{reason=\"queue_full\"} %" PRIu64 "\n"
             "ces_edge_drops_total{reason=\"hub_unreachable\"} %" PRIu64 "\n"
             "ces_edge_drops_total{reason=\"hub_busy\"} %" PRIu64 "\n"
             "ces_edge_drops_total{reason=\"malformed\"} %" PRIu64 "\n"
             "ces_edge_drops_total{reason=\"lost_upstream\"} %" PRIu64 "\n"
             "# HELP ces_edge_closed_total Clients closed by the edge, or "
             "gone with no Close frame (abrupt).\n"
             "# TYPE ces_edge_closed_total counter\n"
             "ces_edge_closed_total{reason=\"stuck\"} %" PRIu64 "\n"
             "ces_edge_closed_total{reason=\"silent\"} %" PRIu64 "\n"
             "ces_edge_closed_total{reason=\"abrupt\"} %" PRIu64 "\n"
             "# HELP ces_edge_refused_total Connections refused.\n"
             "# TYPE ces_edge_refused_total counter\n"
             "ces_edge_refused_total{reason=\"full\"} %" PRIu64 "\n"
             "ces_edge_refused_total{reason=\"bad_request\"} %" PRIu64 "\n"
             "ces_edge_refused_total{reason=\"auth\"} %" PRIu64 "\n"
             "# HELP ces_edge_rooms Rooms the edge subscribes to at the hub.\n"
             "# TYPE ces_edge_rooms gauge\nces_edge_rooms %zu\n"
             "# HELP ces_edge_hub_connected 1 when the hub link is up.\n"
             "# TYPE ces_edge_hub_connected gauge\nces_edge_hub_connected %d\n",
             self->counters.events_in, self->counters.posted,
             self->counters.delivered, self->counters.dropped_queue_full,
             self->counters.dropped_hub_unreachable,
             self->counters.dropped_hub_busy, self->counters.malformed,
             ces_link_lost (self->link), self->counters.closed_stuck,
             self->counters.closed_silent, self->counters.closed_abruptly,
             (uint64_t)atomic_load (&self->shared.refused_full),
             (uint64_t)atomic_load (&self->shared.refused_bad),
             (uint64_t)atomic_load (&self->shared.refused_auth),
             zhashx_size (self->subs), ces_link_connected (self->link) ? 1 : 0);
    fprintf (out,
             "# HELP ces_edge_denied_total Registers and sends outside a "
             "client's token grant.\n# TYPE ces_edge_denied_total counter\n"
             "ces_edge_denied_total %" PRIu64 "\n"
             "# HELP ces_edge_protocol_errors_total WebSocket frames RFC 6455 "
             "forbids; each closed its connection (1002 or 1007).\n"
             "# TYPE ces_edge_protocol_errors_total counter\n"
             "ces_edge_protocol_errors_total %" PRIu64 "\n"
             "# HELP ces_edge_http_refused_total Requests refused before a "
             "handler saw them: too slow (handshake-timeout), too large, "
             "not HTTP.\n# TYPE ces_edge_http_refused_total counter\n"
             "ces_edge_http_refused_total %" PRIu64 "\n"
             "# HELP ces_edge_closed_expired_total Connections closed when "
             "their token expired.\n"
             "# TYPE ces_edge_closed_expired_total counter\n"
             "ces_edge_closed_expired_total %" PRIu64 "\n"
             "# HELP ces_edge_limited_total Events and registrations over a "
             "per-client limit.\n# TYPE ces_edge_limited_total counter\n"
             "ces_edge_limited_total{limit=\"max_rate\"} %" PRIu64 "\n"
             "ces_edge_limited_total{limit=\"max_rooms_per_client\"} %" PRIu64
             "\n",
             (uint64_t)atomic_load (&self->shared.denied),
             (uint64_t)atomic_load (&self->shared.protocol_errors),
             (uint64_t)atomic_load (&self->shared.http_errors),
             self->counters.closed_expired,
             (uint64_t)atomic_load (&self->shared.rate_limited),
             self->counters.over_limit);
    if (self->targets) {
        fprintf (out,
                 "# HELP ces_repeater_events_total Events through this "
                 "repeater.\n# TYPE ces_repeater_events_total counter\n"
                 "ces_repeater_events_total{path=\"to_targets\"} %" PRIu64 "\n"
                 "ces_repeater_events_total{path=\"no_target\"} %" PRIu64 "\n"
                 "ces_repeater_events_total{path=\"from_links\"} %" PRIu64 "\n",
                 self->counters.to_targets, self->counters.no_target,
                 self->counters.from_links);
        ces_targets_metrics (self->targets, out);
    }
    heap_t heap = s_heap ();
    fprintf (out,
             "# HELP ces_edge_heap_bytes The heap: bytes in use, and bytes "
             "freed but kept by the allocator.\n"
             "# TYPE ces_edge_heap_bytes gauge\n"
             "ces_edge_heap_bytes{state=\"in_use\"} %zu\n"
             "ces_edge_heap_bytes{state=\"free\"} %zu\n",
             heap.in_use, heap.free);
    char *hub = s_hub_answer (self, "METRICS");
    if (hub)
        fputs (hub, out);
    zstr_free (&hub);
    fclose (out);
    return text;
}

//  --------------------------------------------------------------------------
//  Starting and stopping

//  A repeater takes events from the hub's round-robin only while it has
//  somewhere to send them; otherwise another repeater should get them
static void
s_join_rotation (self_t *self)
{
    bool wanted = ces_targets_size (self->targets) > 0;
    if (wanted && !self->in_rotation)
        ces_link_attach (self->link, REPEATER_CONN, CES_ROLE_REPEATER);
    else if (!wanted && self->in_rotation)
        ces_link_detach (self->link, REPEATER_CONN);
    if (wanted != self->in_rotation)
        ces_info (self->log_level, "repeater: %s the hub's repeater rotation",
                  wanted ? "in" : "out of");
    self->in_rotation = wanted;
}

//  SET answers with a signal only: say why here
static int
s_auth_refusal (self_t *self, int rc, const char *reason)
{
    if (rc)
        ces_error (self->log_level, "edge: %s", reason);
    return rc;
}

static int
s_set_option (self_t *self, const char *name, const char *value)
{
    char reason[256] = "";
    if (!name || !value || self->civet ||
        ces_options_check (CES_OPTIONS_EDGE | CES_OPTIONS_REPEATER, name,
                           value))
        return -1;
    char *end;
    long number = strtol (value, &end, 10);
    bool is_number = *value && !*end && number > 0;
    if (streq (name, "listen"))
        zstr_free (&self->listen), self->listen = strdup (value);
    else if (streq (name, "hub-router"))
        zstr_free (&self->hub_router), self->hub_router = strdup (value);
    else if (streq (name, "hub-pub"))
        zstr_free (&self->hub_pub), self->hub_pub = strdup (value);
    else if (streq (name, "curve-cert"))
        zstr_free (&self->curve_cert), self->curve_cert = strdup (value);
    else if (streq (name, "hub-key"))
        zstr_free (&self->hub_key), self->hub_key = strdup (value);
    else if (streq (name, "auth-secret") && *value)
        ces_auth_set_secret (self->shared.auth, value);
    else if (streq (name, "auth-key-file") && *value)
        return s_auth_refusal (self,
                               ces_auth_set_key_file (self->shared.auth, value,
                                                      reason, sizeof (reason)),
                               reason);
    else if (streq (name, "auth-open-networks"))
        return s_auth_refusal (self,
                               ces_auth_set_open (self->shared.auth, value,
                                                  reason, sizeof (reason)),
                               reason);
    else if (streq (name, "allowed-origins"))
        ces_auth_set_origins (self->shared.auth, value);
    else if (streq (name, "hub-control") && *value)
        zstr_free (&self->shared.hub_control),
            self->shared.hub_control = strdup (value);
    //  Each client costs one file descriptor, its socket, and a thread;
    //  the machine allows 20,000 descriptors and 32,768 threads
    else if (streq (name, "max-clients") && is_number && number <= 15000)
        self->shared.max_clients = (int)number;
    else if (streq (name, "max-message") && is_number)
        self->shared.max_message = (size_t)number;
    else if (streq (name, "max-rooms-per-client") && *value && !*end &&
             number >= 0)
        self->max_rooms = (int)number;
    else if (streq (name, "max-rate") && *value && !*end && number >= 0)
        self->shared.max_rate = (int)number;
    else if (streq (name, "max-depth") && is_number &&
             number <= CES_DEPTH_LIMIT)
        self->shared.max_depth = (int)number;
    else if (streq (name, "max-room-length") && is_number &&
             number <= CES_ROOM_MAX)
        self->shared.max_room_length = (size_t)number;
    else if (streq (name, "handshake-timeout") && is_number)
        self->handshake_timeout = (int)number;
    else if (streq (name, "max-clients-per-address") && *value && !*end &&
             number >= 0)
        self->shared.max_per_address = (int)number;
    else if (streq (name, "client-queue") && is_number)
        self->client_queue = (size_t)number;
    else if (streq (name, "stuck-timeout") && is_number)
        self->stuck_timeout = (int)number;
    else if (streq (name, "ping-interval") && is_number)
        self->ping_interval = (int)number;
    else if (streq (name, "pong-timeout") && is_number)
        self->pong_timeout = (int)number;
    else if (streq (name, "validate") &&
             (streq (value, "true") || streq (value, "false")))
        self->shared.validate = streq (value, "true");
    else if (streq (name, "mode") &&
             (streq (value, "messenger") || streq (value, "repeater")))
        self->shared.repeater = streq (value, "repeater");
    else if (streq (name, "system-id") && *value)
        zstr_free (&self->system_id), self->system_id = strdup (value);
    else if (streq (name, "targets"))
        zstr_free (&self->targets_file), self->targets_file = strdup (value);
    else if (streq (name, "central"))
        zstr_free (&self->central), self->central = strdup (value);
    else if (streq (name, "link-idle") && is_number)
        self->link_idle = (int)number;
    else if (streq (name, "idle-timeout") && is_number)
        self->idle_timeout = (int)number;
    else if (streq (name, "log-level") && ces_log_level_parse (value) >= 0)
        self->log_level = ces_log_level_parse (value);
    else
        return -1;
    return 0;
}

static int
s_log_message (const struct mg_connection *conn, const char *message)
{
    (void)conn;
    zsys_warning ("edge: civetweb: %s", message);
    return 1;
}

//  Both or neither of the certificate and the hub key; NULL or a reason
static char *
s_load_curve (self_t *self)
{
    bool cert = self->curve_cert && *self->curve_cert;
    bool key = self->hub_key && *self->hub_key;
    if (!cert && !key)
        return NULL;
    if (!cert || !key)
        return strdup ("CURVE needs both this edge's certificate "
                       "(--curve-cert) and the hub's public key (--hub-key)");
    char reason[256];
    self->curve =
        ces_curve_new (self->curve_cert, self->hub_key, reason, sizeof reason);
    return self->curve ? NULL : strdup (reason);
}

//  civetweb refuses a request itself (too slow, too large, not HTTP):
//  count it, then let civetweb answer
static int
s_http_error (struct mg_connection *conn, int status, const char *message)
{
    shared_t *shared = (shared_t *)mg_get_user_data (mg_get_context (conn));
    atomic_fetch_add (&shared->http_errors, 1);
    const struct mg_request_info *request = mg_get_request_info (conn);
    ces_debug (shared->log_level, "edge: refused a request from %s with %d: %s",
               request ? request->remote_addr : "?", status,
               message ? message : "");
    return 1;
}

static void
s_start (self_t *self)
{
    if (self->civet) {
        zstr_sendx (self->pipe, "-1", "edge is already started", NULL);
        return;
    }
    char *curve_error = s_load_curve (self);
    if (curve_error) {
        zstr_sendx (self->pipe, "-1", curve_error, NULL);
        zstr_free (&curve_error);
        return;
    }
    //  One ZeroMQ socket per worker asking at once, plus ours
    size_t needed = (size_t)HTTP_WORKERS * 2 + 64;
    if (zsys_socket_limit () < needed) {
        char *reason = zsys_sprintf (
            "max-clients %d needs %zu ZeroMQ sockets; this process allows %zu "
            "(zsys_set_max_sockets before the first socket)",
            self->shared.max_clients, needed, zsys_socket_limit ());
        zstr_sendx (self->pipe, "-1", reason, NULL);
        zstr_free (&reason);
        return;
    }
    zuuid_t *uuid = zuuid_new ();
    char *link_id = zsys_sprintf ("%c-%.12s", self->shared.repeater ? 'r' : 'e',
                                  zuuid_str (uuid));
    self->shared.inbox_endpoint =
        zsys_sprintf ("inproc://ces-edge-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    self->inbox = zsock_new (ZMQ_ROUTER);
    assert (self->inbox);
    zsock_set_rcvhwm (self->inbox, 100000);
    self->shared.sender = zsock_new (ZMQ_DEALER);
    assert (self->shared.sender);
    zsock_set_sndtimeo (self->shared.sender, 200);
    zsock_set_sndhwm (self->shared.sender, 100000);
    self->stop_poller = zpoller_new (self->inbox, NULL);
    int rc = zsock_bind (self->inbox, "%s", self->shared.inbox_endpoint);
    assert (rc == 0);
    rc = zsock_connect (self->shared.sender, "%s", self->shared.inbox_endpoint);
    assert (rc == 0);
    char *name = zsys_sprintf (
        "%s %s", self->shared.repeater ? "repeater" : "edge", self->listen);
    self->link = ces_link_new (self->hub_router,
                               self->shared.repeater ? NULL : self->hub_pub,
                               link_id, name, self->curve);
    zstr_free (&name);
    zstr_free (&link_id);
    if (!self->link) {
        zstr_sendx (self->pipe, "-1", "invalid hub endpoints", NULL);
        return;
    }
    ces_link_set_log_level (self->link, self->log_level);
    if (self->shared.repeater) {
        ces_link_attach (self->link, INBOUND_CONN, CES_ROLE_OUTSIDE);
        self->targets =
            ces_targets_new (self->system_id, self->link_idle, self->log_level);
        char reason[256];
        if (ces_targets_configure (self->targets, self->targets_file,
                                   self->central, reason, sizeof (reason))) {
            zstr_sendx (self->pipe, "-1", reason, NULL);
            return;
        }
        s_join_rotation (self);
    } else {
        ces_link_attach (self->link, SUBS_CONN, CES_ROLE_MESSENGER);
        ces_link_attach (self->link, HTTP_CONN, CES_ROLE_MESSENGER);
    }

    char threads[16];
    snprintf (threads, sizeof (threads), "%d",
              self->shared.max_clients + HTTP_WORKERS);
    char handshake_timeout[16];
    snprintf (handshake_timeout, sizeof (handshake_timeout), "%d",
              self->handshake_timeout);
    self->shared.log_level = self->log_level;
    snprintf (self->shared.room_too_long, sizeof (self->shared.room_too_long),
              "room ID longer than %zu bytes (this edge's max-room-length)",
              self->shared.max_room_length);
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
    struct mg_init_data init = {&callbacks, &self->shared, options};
    struct mg_error_data error;
    char error_text[256] = "";
    memset (&error, 0, sizeof (error));
    error.text = error_text;
    error.text_buffer_size = sizeof (error_text);
    self->civet = mg_start2 (&init, &error);
    if (!self->civet) {
        char *reason =
            zsys_sprintf ("cannot listen on %s: %s", self->listen, error_text);
        zstr_sendx (self->pipe, "-1", reason, NULL);
        zstr_free (&reason);
        return;
    }
    mg_set_websocket_handler (self->civet, "/connect", s_ws_connect, s_ws_ready,
                              s_ws_data, s_ws_close, &self->shared);
    mg_set_request_handler (self->civet, "/connect", s_http_connect_plain,
                            &self->shared);
    mg_set_request_handler (self->civet,
                            self->shared.repeater ? "/send" : "/event",
                            s_http_event, &self->shared);
    if (!self->shared.repeater)
        mg_set_request_handler (self->civet, "/interconnect",
                                s_http_interconnect, &self->shared);
    mg_set_request_handler (self->civet, "/status", s_http_status,
                            &self->shared);
    mg_set_request_handler (self->civet, "/metrics", s_http_status,
                            &self->shared);
    mg_set_request_handler (self->civet, "/health", s_http_status,
                            &self->shared);
    mg_set_request_handler (self->civet, "/", s_http_page, &self->shared);

    struct mg_server_port ports[4];
    int count = mg_get_server_ports (self->civet, 4, ports);
    self->port = count > 0 ? ports[0].port : 0;
    if (self->shared.repeater)
        ces_info (self->log_level,
                  "repeater %s: outside systems on ws://%s/connect/ROOM/ID and "
                  "POST /send, hub %s, %zu targets",
                  self->system_id, self->listen, self->hub_router,
                  ces_targets_size (self->targets));
    else
        ces_info (self->log_level,
                  "edge: WebSockets on ws://%s/connect/messenger, hub %s, up "
                  "to %d clients",
                  self->listen, self->hub_router, self->shared.max_clients);
    char port[16];
    snprintf (port, sizeof (port), "%d", self->port);
    zstr_sendx (self->pipe, "0", port, NULL);
    self->next_tick = zclock_mono () + 250;
}

static void
s_handle_pipe (self_t *self)
{
    zmsg_t *request = zmsg_recv (self->pipe);
    if (!request)
        return;
    char *command = zmsg_popstr (request);
    assert (command);
    if (streq (command, "$TERM"))
        self->terminated = true;
    else if (streq (command, "SET")) {
        char *name = zmsg_popstr (request);
        char *value = zmsg_popstr (request);
        zsock_signal (self->pipe, s_set_option (self, name, value) ? 1 : 0);
        zstr_free (&name);
        zstr_free (&value);
    } else if (streq (command, "HUB")) {
        zframe_t *pointer = zmsg_pop (request);
        assert (pointer && zframe_size (pointer) == sizeof (void *));
        memcpy (&self->hub, zframe_data (pointer), sizeof (void *));
        zframe_destroy (&pointer);
        zsock_signal (self->pipe, 0);
    } else if (streq (command, "RELOAD")) {
        char reason[256] = "not a repeater";
        int rc =
            self->targets
                ? ces_targets_configure (self->targets, self->targets_file,
                                         self->central, reason, sizeof (reason))
                : -1;
        if (rc)
            ces_warn (self->log_level, "repeater: reload refused: %s", reason);
        else {
            ces_info (self->log_level, "repeater: reloaded, %zu targets",
                      ces_targets_size (self->targets));
            s_join_rotation (self);
        }
        zstr_sendx (self->pipe, rc ? "-1" : "0", rc ? reason : "", NULL);
    } else if (streq (command, "START"))
        s_start (self);
    else if (streq (command, "STATUS") || streq (command, "METRICS")) {
        char *answer = !self->link                 ? strdup ("{}")
                       : streq (command, "STATUS") ? s_status_json (self)
                                                   : s_metrics_text (self);
        zstr_send (self->pipe, answer);
        freen (answer);
    } else if (streq (command, "VERBOSE"))
        self->log_level = CES_LOG_DEBUG;
    else {
        zsys_error ("edge: invalid pipe command '%s'", command);
        assert (false);
    }
    zstr_free (&command);
    zmsg_destroy (&request);
}

static void
s_listx_destroy (void **item_p)
{
    zlistx_t *list = (zlistx_t *)*item_p;
    zlistx_destroy (&list);
    *item_p = NULL;
}

static self_t *
s_self_new (zsock_t *pipe, bool repeater)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->log_level = CES_LOG_INFO;
    self->shared.repeater = repeater;
    self->listen = strdup (repeater ? CES_REPEATER_LISTEN : CES_EDGE_LISTEN);
    self->hub_router = strdup (CES_HUB_ROUTER);
    self->hub_pub = strdup (CES_HUB_PUB);
    self->shared.max_clients = 1000;
    self->shared.auth = ces_auth_new ();
    self->shared.addresses = zhashx_new ();
    assert (self->shared.addresses);
    pthread_mutex_init (&self->shared.addresses_lock, NULL);
    self->max_rooms = 10000;
    pthread_mutex_init (&self->shared.sender_lock, NULL);
    self->shared.max_message = CES_PAYLOAD_MAX;
    self->shared.max_depth = CES_DEPTH_MAX;
    self->shared.max_room_length = CES_ROOM_MAX;
    self->handshake_timeout = 10000;
    self->shared.validate = true;
    self->client_queue = 1024 * 1024;
    self->stuck_timeout = 10000;
    self->ping_interval = 30000;
    self->pong_timeout = 60000;
    self->link_idle = 7000;
    self->idle_timeout = 30000;
    char hostname[64] = "ces";
    gethostname (hostname, sizeof (hostname) - 1);
    self->system_id = strdup (hostname);
    self->clients = zhashx_new ();
    zhashx_set_destructor (self->clients, s_client_free);
    self->room_index = zhashx_new ();
    zhashx_set_destructor (self->room_index, s_listx_destroy);
    self->star = zlistx_new ();
    self->subs = zhashx_new ();
    self->waiting = zhashx_new ();
    zhashx_set_destructor (self->waiting, s_listx_destroy);
    self->hub_waiters = zlistx_new ();
    zlistx_set_destructor (self->hub_waiters, s_list_destroy);
    self->blocked = zlistx_new ();
    self->dirty = zlistx_new ();
    self->peers = zhashx_new ();
    return self;
}

static void *
s_civetweb_stopper (void *civet)
{
    mg_stop ((struct mg_context *)civet);
    return NULL;
}

//  civetweb's master thread looks at its stop flag only between polls of
//  the listening socket (2 s quanta); a connection wakes it up
static void
s_wake_listener (self_t *self)
{
    ces_http_wake (self->listen, self->port);
}

//  Closes every client with 1001 and stops civetweb on a helper thread,
//  draining what workers still send us meanwhile (they may be waiting on
//  us), and waking civetweb's listener so that it notices at once
static void
s_stop (self_t *self)
{
    if (!self->civet)
        return;
    client_t *client = (client_t *)zhashx_first (self->clients);
    while (client) {
        s_client_close (self, client, 1001, "edge is shutting down");
        client = (client_t *)zhashx_next (self->clients);
    }
    s_flush_dirty (self);
    atomic_store (&self->shared.stopping, true);
    pthread_t stopper;
    int rc = pthread_create (&stopper, NULL, s_civetweb_stopper, self->civet);
    assert (rc == 0);
    while (pthread_tryjoin_np (stopper, NULL) == EBUSY) {
        while (zsock_events (self->inbox) & ZMQ_POLLIN)
            s_handle_inbox (self);
        s_wake_listener (self);
        zsock_t *which = (zsock_t *)zpoller_wait (self->stop_poller, 10);
        (void)which;
    }
    self->civet = NULL;
    while (zsock_events (self->inbox) & ZMQ_POLLIN)
        s_handle_inbox (self);
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        s_stop (self);
        zhashx_destroy (&self->waiting);
        zlistx_destroy (&self->hub_waiters);
        zstr_free (&self->last_token);
        zstr_free (&self->confirmed_token);
        zhashx_destroy (&self->room_index);
        zlistx_destroy (&self->star);
        zlistx_destroy (&self->blocked);
        zlistx_destroy (&self->dirty);
        zhashx_destroy (&self->peers);
        zhashx_destroy (&self->clients);
        zhashx_destroy (&self->subs);
        ces_targets_destroy (&self->targets);
        zstr_free (&self->system_id);
        zstr_free (&self->targets_file);
        zstr_free (&self->central);
        ces_link_destroy (&self->link);
        zpoller_destroy (&self->stop_poller);
        zsock_destroy (&self->shared.sender);
        pthread_mutex_destroy (&self->shared.sender_lock);
        zsock_destroy (&self->inbox);
        zstr_free (&self->shared.inbox_endpoint);
        zstr_free (&self->listen);
        zstr_free (&self->hub_router);
        zstr_free (&self->hub_pub);
        zstr_free (&self->curve_cert);
        zstr_free (&self->hub_key);
        ces_curve_destroy (&self->curve);
        zstr_free (&self->shared.hub_control);
        ces_auth_destroy (&self->shared.auth);
        zhashx_destroy (&self->shared.addresses);
        pthread_mutex_destroy (&self->shared.addresses_lock);
        freen (self);
        *self_p = NULL;
    }
}

//  A peer at the far end of a link we dialled sent an event: it comes in
//  like one from an outside system
static void
s_on_target_report (self_t *self)
{
    zframe_t *inbound = ces_targets_recv (self->targets);
    if (!inbound)
        return;
    self->counters.from_links++;
    s_forward_event (self, NULL, INBOUND_CONN, inbound);
    zframe_destroy (&inbound);
}

//  zmq_poll, because client sockets waiting for POLLOUT are plain fds
static void
s_poll_once (self_t *self)
{
    //  START creates the link while we handle the pipe: decide once
    bool linked = self->link != NULL;
    size_t fixed = linked ? 5 : 1;
    size_t count = fixed + zlistx_size (self->blocked);
    zmq_pollitem_t *items =
        (zmq_pollitem_t *)zmalloc (count * sizeof (zmq_pollitem_t));
    assert (items);
    items[0].socket = zsock_resolve (self->pipe);
    if (linked) {
        items[1].socket = zsock_resolve (self->inbox);
        items[2].socket = zsock_resolve (ces_link_dealer (self->link));
        items[3].socket = zsock_resolve (ces_link_sub (self->link));
        if (self->targets)
            items[4].socket =
                zsock_resolve (ces_targets_reports (self->targets));
        else
            items[4].fd = -1;
    }
    for (size_t i = 0; i < fixed; i++)
        items[i].events = ZMQ_POLLIN;
    client_t **blocked =
        (client_t **)zmalloc ((count - fixed + 1) * sizeof (client_t *));
    size_t index = fixed;
    client_t *client = (client_t *)zlistx_first (self->blocked);
    while (client) {
        blocked[index - fixed] = client;
        items[index].fd = client->wire->fd;
        items[index].events = ZMQ_POLLOUT;
        index++;
        client = (client_t *)zlistx_next (self->blocked);
    }
    long timeout = -1;
    if (self->link) {
        int64_t now = zclock_mono ();
        int64_t next = now + ces_link_timeout (self->link);
        if (self->next_tick < next)
            next = self->next_tick;
        timeout = next > now ? (long)(next - now) : 0;
    }
    int rc = zmq_poll (items, (int)count, timeout);
    if (rc > 0) {
        if (items[0].revents & ZMQ_POLLIN)
            s_handle_pipe (self);
        if (linked && !self->terminated) {
            //  Bounded batches, so that no source starves the others
            for (int n = 0; n < 1000 && (items[1].revents & ZMQ_POLLIN) &&
                            (zsock_events (self->inbox) & ZMQ_POLLIN);
                 n++)
                s_handle_inbox (self);
            for (int n = 0;
                 n < 1000 && (items[2].revents & ZMQ_POLLIN) &&
                 (zsock_events (ces_link_dealer (self->link)) & ZMQ_POLLIN);
                 n++)
                s_on_link_event (self, ces_link_recv_dealer (self->link));
            for (int n = 0;
                 n < 1000 && (items[3].revents & ZMQ_POLLIN) &&
                 (zsock_events (ces_link_sub (self->link)) & ZMQ_POLLIN);
                 n++)
                s_on_link_event (self, ces_link_recv_sub (self->link));
            s_flush_dirty (self);
            for (int n = 0;
                 n < 1000 && self->targets && (items[4].revents & ZMQ_POLLIN) &&
                 (zsock_events (ces_targets_reports (self->targets)) &
                  ZMQ_POLLIN);
                 n++)
                s_on_target_report (self);
            for (size_t i = fixed; i < count; i++)
                if (items[i].revents &&
                    zlistx_find (self->blocked, blocked[i - fixed]))
                    s_client_flush (self, blocked[i - fixed]);
        }
    }
    freen (blocked);
    freen (items);
    if (self->link && !self->terminated) {
        s_on_link_event (self, ces_link_tick (self->link));
        if (zclock_mono () >= self->next_tick)
            s_tick (self);
    }
    s_flush_dirty (self);
}

void
ces_edge_serve (zsock_t *pipe, bool repeater)
{
    self_t *self = s_self_new (pipe, repeater);
    zsock_signal (pipe, 0);
    while (!self->terminated)
        s_poll_once (self);
    s_self_destroy (&self);
}

void
ces_edge_actor (zsock_t *pipe, void *args)
{
    (void)args;
    ces_edge_serve (pipe, false);
}

//  --------------------------------------------------------------------------
//  Self test: the edge's HTTP surface over a real socket. WebSocket
//  behaviour is tested end to end in tests/ with real clients.

void
ces_edge_test (bool verbose)
{
    printf (" * ces_edge: ");
    //  @selftest
    zactor_t *hub = zactor_new (ces_hub_actor, NULL);
    zstr_sendx (hub, "SET", "log-level", verbose ? "debug" : "warn", NULL);
    assert (zsock_wait (hub) == 0);
    zstr_sendx (hub, "BIND", "inproc://edge-test-router",
                "inproc://edge-test-pub", NULL);
    char *status, *router, *pub;
    zstr_recvx (hub, &status, &router, &pub, NULL);
    assert (streq (status, "0"));
    zstr_free (&status);

    zactor_t *edge = zactor_new (ces_edge_actor, NULL);
    zstr_sendx (edge, "SET", "listen", "127.0.0.1:0", NULL);
    assert (zsock_wait (edge) == 0);
    zstr_sendx (edge, "SET", "max-clients", "nonsense", NULL);
    assert (zsock_wait (edge) != 0);
    zstr_sendx (edge, "SET", "max-clients", "16", NULL);
    assert (zsock_wait (edge) == 0);
    zstr_sendx (edge, "SET", "hub-router", router, NULL);
    assert (zsock_wait (edge) == 0);
    zstr_sendx (edge, "SET", "hub-pub", pub, NULL);
    assert (zsock_wait (edge) == 0);
    zstr_sendx (edge, "SET", "log-level", verbose ? "debug" : "warn", NULL);
    assert (zsock_wait (edge) == 0);
    zsock_send (edge, "sp", "HUB", hub);
    assert (zsock_wait (edge) == 0);
    zstr_send (edge, "START");
    char *port_text;
    zstr_recvx (edge, &status, &port_text, NULL);
    assert (streq (status, "0"));
    int port = atoi (port_text);
    assert (port > 0);

    char *reply =
        ces_http_test_request (port, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
    assert (strstr (reply, "200 OK"));
    assert (strstr (reply, "\"clients_by_role\""));
    assert (strstr (reply, "\"hub\":{"));
    freen (reply);
    reply = ces_http_test_request (port,
                                   "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert (strstr (reply, "ces_edge_clients{role=\"messenger\"} 0"));
    assert (strstr (reply, "ces_hub_links"));
    freen (reply);
    reply = ces_http_test_request (
        port, "GET /connect/emperor HTTP/1.1\r\nHost: x\r\n\r\n");
    assert (strstr (reply, "400 Bad Request"));
    freen (reply);
    reply = ces_http_test_request (port, "POST /event HTTP/1.1\r\nHost: x\r\n"
                                         "Content-Length: 5\r\n\r\n{\"a\":");
    assert (strstr (reply, "400 Bad Request"));
    assert (strstr (reply, "not valid JSON"));
    freen (reply);
    reply = ces_http_test_request (port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert (strstr (reply, "<html"));
    freen (reply);

    zactor_destroy (&edge);
    zstr_free (&status);
    zstr_free (&port_text);
    zstr_free (&router);
    zstr_free (&pub);
    zactor_destroy (&hub);
    //  @end
    printf ("OK\n");
}
