/*  =========================================================================
    ces_edge - the WebSocket edge: the actor that composes it

    An edge is civetweb's worker threads (ces_webserver: admission, RFC
    6455, checks) telling this actor what clients sent (ces_inbox), and
    this actor forwarding it to the hub (ces_link), fanning the hub's
    events out to the clients that want them (ces_room_index) and writing to
    every client from this one thread through its bounded output
    (ces_client). In repeater mode it also owns the outside systems'
    machinery (ces_outside). docs/ARCHITECTURE.md draws the path.
    =========================================================================
*/
#include "ces_classes.h"

#define SUBS_CONN "subs" //  the link connection holding the rooms union
#define HTTP_CONN "http" //  the link connection of POST /event
#define TICK      250    //  msecs between timer checks
//  Messages read from one source per poll. Under load a larger turn gives
//  each client more events per send(): with 1000 rooms of one subscriber,
//  4000 halved the sends per delivery (0.46 -> 0.24) and took ~15% off the
//  server's CPU per delivery against 1000. A full turn is tens of ms.
#define BATCH 4000

typedef struct {
    zsock_t *pipe;
    bool terminated;
    ces_edge_options_t *options; //  what SET said; owns the auth
    ces_auth_t *auth;
    ces_curve_t *curve;
    zactor_t *hub; //  optional hub in the same process
    //  Made by START
    ces_inbox_t *inbox;
    ces_webserver_t *webserver;
    ces_link_t *link;
    ces_room_index_t *room_index; //  messenger mode
    ces_outside_t *outside;       //  repeater mode
    ces_fanout_t *fanout;
    const char *post_conn; //  the link connection of POSTed events
    int port;
    zhashx_t *clients;       //  id -> ces_client_t (owns)
    ces_edge_rooms_t *rooms; //  /rooms questions, version 2 syncs
    ces_client_lists_t lists;
    int64_t next_tick;
    ces_heap_t *heap;
    ces_edge_counts_t counters;
} self_t;

//  --------------------------------------------------------------------------
//  Events to the hub

//  The hub is linked but does not keep up: count, and say so at most once
//  a second
static void
s_hub_busy (self_t *self)
{
    self->counters.dropped_hub_busy++;
    int64_t now = zclock_mono ();
    if (now < self->counters.hub_busy_next_log)
        return;
    ces_warn (self->options->limits.log_level,
              "edge: the hub does not keep up; dropped %" PRIu64
              " event(s) at a full queue to it",
              self->counters.dropped_hub_busy - self->counters.hub_busy_logged);
    self->counters.hub_busy_logged = self->counters.dropped_hub_busy;
    self->counters.hub_busy_next_log = now + 1000;
}

//  Sends an event on conn; a client that sent it hears why when it fails
static bool
s_forward_event (self_t *self, ces_client_t *client, const char *conn,
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
        ces_client_count_drop (client);
        ces_client_send_text (
            client, rc == -2 ? "{\"error\":\"hub busy (its queue is full); "
                               "the event was dropped\"}"
                             : "{\"error\":\"hub unreachable; the event was "
                               "dropped\"}");
    }
    return false;
}

//  --------------------------------------------------------------------------
//  Events from the hub (ces_fanout)

//  ces_outside_write_fn
static void
s_write_to_outside (ces_client_t *client, const byte *data, size_t size,
                    void *arg)
{
    ces_fanout_deliver ((ces_fanout_t *)arg, client, data, size);
}

//  An event the hub gave one connection of ours
static void
s_on_deliver (self_t *self)
{
    const char *conn = ces_link_conn (self->link);
    if (self->outside && ces_outside_deliver (self->outside, conn,
                                              ces_link_message (self->link)))
        return;
    ces_client_t *client = (ces_client_t *)zhashx_lookup (self->clients, conn);
    if (client)
        ces_fanout_deliver (self->fanout, client, ces_link_data (self->link),
                            ces_link_size (self->link));
}

static void
s_on_link_event (self_t *self, ces_link_event_t event)
{
    switch (event) {
        case CES_LINK_SYNCED:
            ces_edge_rooms_on_synced (self->rooms);
            break;
        case CES_LINK_ANSWER:
            ces_edge_rooms_on_answer (self->rooms);
            break;
        case CES_LINK_PUBLISHED:
            ces_fanout_published (self->fanout);
            break;
        case CES_LINK_DELIVER:
            s_on_deliver (self);
            break;
        case CES_LINK_REGISTERED:
            if (self->room_index)
                ces_room_index_on_registered (self->room_index,
                                              ces_link_token (self->link));
            break;
        case CES_LINK_CONNECTED:
            if (self->room_index)
                ces_room_index_on_connected (self->room_index);
            break;
        default:
            break;
    }
}

//  A peer at the far end of a link we dialled sent an event: it comes in
//  like one from an outside system
static void
s_on_outside_report (self_t *self)
{
    zframe_t *inbound = ces_outside_recv (self->outside);
    if (inbound)
        s_forward_event (self, NULL, CES_OUTSIDE_CONN, inbound);
    zframe_destroy (&inbound);
}

//  --------------------------------------------------------------------------
//  What the workers tell us

static void
s_client_open (self_t *self)
{
    const char *id = ces_inbox_id (self->inbox);
    ces_client_t *client = ces_client_new (
        id, ces_inbox_role (self->inbox),
        (ces_wire_t *)ces_inbox_wire (self->inbox),
        ces_inbox_remote (self->inbox), ces_inbox_expiry (self->inbox),
        &self->options->limits, &self->lists);
    zhashx_insert (self->clients, id, client);
    if (streq (ces_inbox_protocol (self->inbox), CES_PROTOCOL_V2))
        ces_client_set_v2 (client);
    ces_link_attach_client (self->link, id, ces_client_role (client),
                            ces_client_remote (client),
                            ces_inbox_subject (self->inbox));
    if (self->outside && streq (ces_client_role (client), CES_ROLE_OUTSIDE))
        ces_outside_open (self->outside, client, ces_inbox_uri (self->inbox));
    if (ces_client_state (client) == CES_CLIENT_SHUT)
        ces_error (self->options->limits.log_level,
                   "edge: cannot find the socket of client %s; closing it", id);
    ces_debug (self->options->limits.log_level,
               "edge: client %s connected as %s from %s", id,
               ces_client_role (client), ces_client_remote (client));
}

static void
s_client_gone (self_t *self, ces_client_t *client)
{
    ces_debug (self->options->limits.log_level, "edge: client %s (%s) gone",
               ces_client_id (client), ces_client_role (client));
    //  Neither side closed: a cut connection, or a frame cut short
    if (ces_client_state (client) == CES_CLIENT_OPEN)
        self->counters.closed_abruptly++;
    if (self->room_index)
        ces_room_index_unregister_all (self->room_index, client);
    if (self->outside)
        ces_outside_gone (self->outside, client);
    ces_link_detach (self->link, ces_client_id (client));
    ces_heap_client_gone (self->heap);
    zhashx_delete (self->clients, ces_client_id (client));
}

static void
s_client_register (self_t *self, ces_client_t *client)
{
    if (!self->room_index)
        return;
    char *options = ces_client_take_recall (client);
    //  A version 2 client's live events wait from now, not only from the
    //  hub's confirmation: its rooms' events may already flow here
    ces_cursor_t *cursor = ces_client_cursor (client);
    if (cursor)
        ces_cursor_registering (cursor);
    if (ces_room_index_register (
            self->room_index, client, ces_inbox_rooms (self->inbox),
            (size_t)self->options->max_rooms, &options) == 0)
        return;
    if (cursor) {
        ces_cursor_refused (cursor);
        ces_client_expire_syncs (client, zclock_mono ());
    }
    ces_client_count_error (client);
    self->counters.over_limit++;
    char *text = zsys_sprintf ("{\"error\":\"registration refused: a client "
                               "may hold at most %d rooms here "
                               "(max-rooms-per-client)\"}",
                               self->options->max_rooms);
    ces_client_send_text (client, text);
    zstr_free (&text);
}

static void
s_client_unregister (self_t *self, ces_client_t *client)
{
    if (!self->room_index)
        return;
    zlist_t *rooms = ces_inbox_rooms (self->inbox);
    if (zlist_size (rooms) == 0)
        ces_room_index_unregister_all (self->room_index, client);
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms))
        ces_room_index_unregister (self->room_index, client, room);
}

//  The client's own code, or ours with a reason when the worker found a
//  protocol error; its worker waits for this before civetweb closes it
static void
s_client_close (self_t *self, ces_client_t *client)
{
    int code = ces_inbox_code (self->inbox);
    const char *reason = ces_inbox_reason (self->inbox);
    ces_client_close (client, code ? code : 1000, reason ? reason : "");
    if (reason)
        ces_info (self->options->limits.log_level,
                  "edge: closed %s with %d: %s", ces_client_remote (client),
                  code, reason);
}

static void
s_client_says (self_t *self, ces_inbox_command_t command, ces_client_t *client)
{
    zframe_t *frame = ces_inbox_frame (self->inbox);
    ces_client_heard (client, command == CES_INBOX_EVENT);
    switch (command) {
        case CES_INBOX_EVENT:
            self->counters.events_in++;
            s_forward_event (self, client, ces_client_id (client), frame);
            break;
        case CES_INBOX_RECALL: {
            char *options = zframe_strdup (frame);
            ces_client_set_recall (client, options);
            zstr_free (&options);
            break;
        }
        case CES_INBOX_REGISTER:
            s_client_register (self, client);
            break;
        case CES_INBOX_UNREGISTER:
            s_client_unregister (self, client);
            break;
        case CES_INBOX_ERROR:
            self->counters.malformed++;
            //  fall through
        case CES_INBOX_DENIED: { //  counted by the webserver
            char *text = zframe_strdup (frame);
            ces_client_count_error (client);
            ces_client_send_text (client, text);
            zstr_free (&text);
            break;
        }
        case CES_INBOX_PING:
            ces_client_send_control (client, CES_WS_PONG, zframe_data (frame),
                                     zframe_size (frame));
            break;
        case CES_INBOX_CLOSE:
            s_client_close (self, client);
            break;
        case CES_INBOX_GONE:
            s_client_gone (self, client);
            break;
        default:
            break;
    }
}

static char *s_status_json (self_t *self);
static char *s_metrics_text (self_t *self);

//  STATUS, METRICS, HEALTH
static char *
s_answer (self_t *self, ces_inbox_command_t question)
{
    if (question == CES_INBOX_STATUS)
        return s_status_json (self);
    if (question == CES_INBOX_METRICS)
        return s_metrics_text (self);
    return strdup (ces_link_connected (self->link) ? "ok"
                                                   : "hub unreachable\n");
}

//  POST /event or /send: one event, its verdict to the worker
static void
s_post (self_t *self)
{
    bool sent = s_forward_event (self, NULL, self->post_conn,
                                 ces_inbox_frame (self->inbox));
    self->counters.posted += sent;
    ces_inbox_answer (self->inbox, sent ? "ok"
                                   : ces_link_connected (self->link)
                                       ? "hub busy"
                                       : "hub unreachable");
}

//  Reads and acts on one inbox message; false if there was none
static bool
s_handle_inbox (self_t *self)
{
    ces_inbox_command_t command = ces_inbox_recv (self->inbox);
    if (command == CES_INBOX_EMPTY)
        return false;
    ces_client_t *client = (ces_client_t *)zhashx_lookup (
        self->clients, ces_inbox_id (self->inbox));
    if (command == CES_INBOX_STATUS || command == CES_INBOX_METRICS ||
        command == CES_INBOX_HEALTH) {
        char *answer = s_answer (self, command);
        ces_inbox_answer (self->inbox, answer);
        freen (answer);
    } else if (command == CES_INBOX_QUERY)
        ces_edge_rooms_query (self->rooms);
    else if (command == CES_INBOX_POST)
        s_post (self);
    else if (command == CES_INBOX_BADPOST)
        self->counters.malformed++;
    else if (command == CES_INBOX_OPEN && !client)
        s_client_open (self);
    else if (client)
        s_client_says (self, command, client);
    //  A worker waits for CLOSE's answer before civetweb closes the socket:
    //  the Close frame goes out first
    if (command == CES_INBOX_CLOSE)
        ces_client_flush_pending (&self->lists);
    ces_inbox_answer (self->inbox,
                      command == CES_INBOX_OPEN ? "opened" : "closed");
    return true;
}

//  --------------------------------------------------------------------------
//  Timers: keep-alive, stuck, idle and expired clients; freed memory

static void
s_count_verdict (self_t *self, ces_client_verdict_t verdict)
{
    ces_edge_counts_t *counters = &self->counters;
    counters->closed_expired += verdict == CES_CLIENT_EXPIRED;
    counters->closed_stuck += verdict == CES_CLIENT_STUCK;
    counters->closed_idle += verdict == CES_CLIENT_IDLE;
    counters->closed_silent += verdict == CES_CLIENT_SILENT;
}

static void
s_tick (self_t *self)
{
    int64_t now = zclock_mono ();
    int64_t wall = (int64_t)time (NULL);
    ces_client_t *client = (ces_client_t *)zhashx_first (self->clients);
    while (client) {
        s_count_verdict (self, ces_client_check (client, now, wall));
        ces_client_expire_syncs (client, now);
        ces_client_tell_gaps (client);
        client = (ces_client_t *)zhashx_next (self->clients);
    }
    ces_edge_rooms_expire (self->rooms, now);
    self->next_tick = now + TICK;
    ces_heap_trim_if_due (self->heap, now);
}

//  --------------------------------------------------------------------------
//  Status and metrics (ces_edge_report)

static ces_edge_parts_t
s_parts (self_t *self)
{
    ces_edge_parts_t parts = {self->options, self->clients,   self->link,
                              self->curve,   self->webserver, self->room_index,
                              self->rooms,   self->fanout,    self->outside,
                              self->heap,    self->hub,       &self->counters};
    return parts;
}

static char *
s_status_json (self_t *self)
{
    ces_edge_parts_t parts = s_parts (self);
    return ces_edge_report_status (&parts);
}

static char *
s_metrics_text (self_t *self)
{
    ces_edge_parts_t parts = s_parts (self);
    return ces_edge_report_metrics_text (&parts);
}

//  --------------------------------------------------------------------------
//  Starting and stopping

//  The hub link, with the connections of this edge's mode
static char *
s_link (self_t *self)
{
    ces_edge_options_t *options = self->options;
    self->link = ces_edge_options_link (options, self->curve);
    if (!self->link)
        return strdup ("invalid hub endpoints");
    if (!options->outside) {
        ces_link_attach (self->link, SUBS_CONN, CES_ROLE_MESSENGER);
        ces_link_attach (self->link, HTTP_CONN, CES_ROLE_MESSENGER);
        self->room_index =
            ces_room_index_new (self->link, SUBS_CONN, self->clients);
        self->fanout = ces_fanout_new (self->link, self->room_index);
        self->post_conn = HTTP_CONN;
        return NULL;
    }
    //  A repeater's POST /send is an outside system's event
    self->post_conn = CES_OUTSIDE_CONN;
    self->fanout = ces_fanout_new (self->link, NULL);
    self->outside = ces_outside_new (
        self->link, options->system_id, options->link_idle,
        options->limits.log_level, s_write_to_outside, self->fanout);
    char reason[256];
    if (ces_outside_configure (self->outside, options->targets_file,
                               options->central, reason, sizeof (reason)))
        return strdup (reason);
    return NULL;
}

static void
s_announce (self_t *self)
{
    ces_edge_options_t *options = self->options;
    if (self->outside)
        ces_info (options->limits.log_level,
                  "repeater %s: outside systems on ws://%s/connect/ROOM/ID and "
                  "POST /send, hub %s, %zu targets",
                  options->system_id, options->listen, options->hub_router,
                  ces_outside_targets (self->outside));
    else
        ces_info (options->limits.log_level,
                  "edge: WebSockets on ws://%s/connect/messenger, hub %s, up "
                  "to %d clients",
                  options->listen, options->hub_router,
                  options->web.max_clients);
}

//  Replies "0" and the port, or "-1" and why
static void
s_start (self_t *self)
{
    if (self->webserver) {
        zstr_sendx (self->pipe, "-1", "edge is already started", NULL);
        return;
    }
    char reason[256];
    char *problem = NULL;
    if (ces_edge_options_curve (self->options, &self->curve, reason,
                                sizeof reason))
        problem = strdup (reason);
    else
        problem = s_link (self);
    if (problem) {
        zstr_sendx (self->pipe, "-1", problem, NULL);
        zstr_free (&problem);
        return;
    }
    self->inbox = ces_inbox_new ();
    ces_edge_rooms_destroy (&self->rooms);
    self->rooms = ces_edge_rooms_new (self->link, self->inbox, self->clients);
    if (self->room_index)
        ces_room_index_set_confirmed (self->room_index,
                                      ces_edge_rooms_on_confirmed, self->rooms);
    ces_edge_options_t *options = self->options;
    options->web.listen = options->listen;
    options->web.outside = options->outside;
    options->web.hub_control = options->hub_control;
    options->web.log_level = options->limits.log_level;
    self->webserver =
        ces_webserver_new (&options->web, self->inbox, self->auth);
    self->port = ces_webserver_start (self->webserver, reason, sizeof (reason));
    if (self->port < 0) {
        ces_webserver_destroy (&self->webserver);
        zstr_sendx (self->pipe, "-1", reason, NULL);
        return;
    }
    s_announce (self);
    char port[16];
    snprintf (port, sizeof (port), "%d", self->port);
    zstr_sendx (self->pipe, "0", port, NULL);
    self->next_tick = zclock_mono () + TICK;
}

//  What workers still tell us while civetweb stops (they may be waiting)
static void
s_drain_inbox (void *arg)
{
    self_t *self = (self_t *)arg;
    while (s_handle_inbox (self))
        ;
}

//  Closes every client with 1001, then stops civetweb
static void
s_stop (self_t *self)
{
    if (!self->webserver)
        return;
    ces_client_t *client = (ces_client_t *)zhashx_first (self->clients);
    while (client) {
        ces_client_close (client, 1001, "edge is shutting down");
        client = (ces_client_t *)zhashx_next (self->clients);
    }
    ces_client_flush_pending (&self->lists);
    ces_webserver_stop (self->webserver, s_drain_inbox, self);
    s_drain_inbox (self);
}

static void
s_reload (self_t *self)
{
    char reason[256] = "not a repeater";
    ces_edge_options_t *options = self->options;
    int rc =
        self->outside
            ? ces_outside_configure (self->outside, options->targets_file,
                                     options->central, reason, sizeof (reason))
            : -1;
    if (rc)
        ces_warn (options->limits.log_level, "repeater: reload refused: %s",
                  reason);
    else
        ces_info (options->limits.log_level, "repeater: reloaded, %zu targets",
                  ces_outside_targets (self->outside));
    zstr_sendx (self->pipe, rc ? "-1" : "0", rc ? reason : "", NULL);
}

//  SET while the edge serves (a reload): only what can change while
//  running; the rest was refused by the program already
static int
s_set_running (self_t *self, const char *name, const char *value)
{
    ces_edge_options_t *options = self->options;
    if (!name || !value)
        return -1;
    if (streq (name, "log-level") || streq (name, "targets") ||
        streq (name, "central"))
        return ces_edge_options_set (options, name, value);
    if (!streq (name, "auth-secret") && !streq (name, "auth-key-file") &&
        !streq (name, "auth-open-networks") && !streq (name, "allowed-origins"))
        return -1;
    char reason[256] = "";
    ces_auth_t *auth = ces_edge_options_auth_with (options, name, value, reason,
                                                   sizeof reason);
    if (!auth) {
        ces_error (options->limits.log_level, "edge: %s: %s", name, reason);
        return -1;
    }
    ces_webserver_set_auth (self->webserver, auth);
    ces_auth_destroy (&options->auth);
    options->auth = self->auth = auth;
    return 0;
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
        int rc = self->webserver
                     ? s_set_running (self, name, value)
                     : ces_edge_options_set (self->options, name, value);
        zsock_signal (self->pipe, rc == 0 ? 0 : 1);
        zstr_free (&name);
        zstr_free (&value);
    } else if (streq (command, "HUB")) {
        zframe_t *pointer = zmsg_pop (request);
        assert (pointer && zframe_size (pointer) == sizeof (void *));
        memcpy (&self->hub, zframe_data (pointer), sizeof (void *));
        zframe_destroy (&pointer);
        zsock_signal (self->pipe, 0);
    } else if (streq (command, "RELOAD"))
        s_reload (self);
    else if (streq (command, "START"))
        s_start (self);
    else if (streq (command, "STATUS") || streq (command, "METRICS")) {
        char *answer = !self->webserver            ? strdup ("{}")
                       : streq (command, "STATUS") ? s_status_json (self)
                                                   : s_metrics_text (self);
        zstr_send (self->pipe, answer);
        freen (answer);
    } else if (streq (command, "VERBOSE"))
        self->options->limits.log_level = CES_LOG_DEBUG;
    else {
        zsys_error ("edge: invalid pipe command '%s'", command);
        assert (false);
    }
    zstr_free (&command);
    zmsg_destroy (&request);
}

static void
s_client_destroy (void **item_p)
{
    ces_client_destroy ((ces_client_t **)item_p);
}

static self_t *
s_self_new (zsock_t *pipe, bool outside)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->options = ces_edge_options_new (outside);
    self->auth = self->options->auth;
    self->clients = zhashx_new ();
    assert (self->clients);
    self->heap = ces_heap_new ();
    zhashx_set_destructor (self->clients, s_client_destroy);
    self->lists.pending = zlistx_new ();
    self->lists.blocked = zlistx_new ();
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        s_stop (self);
        ces_room_index_destroy (&self->room_index);
        ces_outside_destroy (&self->outside);
        ces_fanout_destroy (&self->fanout);
        ces_heap_destroy (&self->heap);
        zhashx_destroy (&self->clients);
        ces_edge_rooms_destroy (&self->rooms);
        zlistx_destroy (&self->lists.pending);
        zlistx_destroy (&self->lists.blocked);
        ces_webserver_destroy (&self->webserver);
        ces_inbox_destroy (&self->inbox);
        ces_link_destroy (&self->link);
        ces_curve_destroy (&self->curve);
        ces_edge_options_destroy (&self->options);
        freen (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  The loop: zmq_poll, because clients waiting for POLLOUT are plain fds

#define FIXED_ITEMS 5 //  pipe, inbox, link DEALER, link SUB, reports

//  Reads up to BATCH messages from one source, so that none starves the
//  others
static void
s_read_sources (self_t *self, zmq_pollitem_t *items)
{
    //  Read until a socket is empty, not asking libzmq first: ZMQ_EVENTS
    //  costs a poll and a getpid per message
    for (int n = 0;
         n < BATCH && (items[1].revents & ZMQ_POLLIN) && s_handle_inbox (self);
         n++)
        ;
    zsock_t *dealer = ces_link_dealer (self->link);
    for (int n = 0; n < BATCH && (items[2].revents & ZMQ_POLLIN) &&
                    (zsock_events (dealer) & ZMQ_POLLIN);
         n++)
        s_on_link_event (self, ces_link_recv_dealer (self->link));
    //  A SUB message the link cannot read also ends the batch early; the
    //  next poll goes on
    ces_link_event_t event;
    for (int n = 0;
         n < BATCH && (items[3].revents & ZMQ_POLLIN) &&
         (event = ces_link_recv_sub (self->link)) != CES_LINK_NOTHING;
         n++)
        s_on_link_event (self, event);
    ces_client_flush_pending (&self->lists);
    for (int n = 0;
         self->outside && n < BATCH && (items[4].revents & ZMQ_POLLIN) &&
         (zsock_events (ces_outside_reports (self->outside)) & ZMQ_POLLIN);
         n++)
        s_on_outside_report (self);
}

static long
s_timeout (self_t *self)
{
    if (!self->webserver)
        return -1;
    int64_t now = zclock_mono ();
    int64_t next = now + ces_link_timeout (self->link);
    if (self->next_tick < next)
        next = self->next_tick;
    return next > now ? (long)(next - now) : 0;
}

static void
s_poll_once (self_t *self)
{
    //  START makes the sources while we handle the pipe: decide once
    bool started = self->webserver != NULL;
    size_t fixed = started ? FIXED_ITEMS : 1;
    size_t count = fixed + zlistx_size (self->lists.blocked);
    zmq_pollitem_t *items =
        (zmq_pollitem_t *)zmalloc (count * sizeof (zmq_pollitem_t));
    ces_client_t **blocked =
        (ces_client_t **)zmalloc ((count - fixed + 1) * sizeof (void *));
    assert (items && blocked);
    items[0].socket = zsock_resolve (self->pipe);
    if (started) {
        zsock_t *sub = ces_link_sub (self->link);
        items[1].socket = zsock_resolve (ces_inbox_socket (self->inbox));
        items[2].socket = zsock_resolve (ces_link_dealer (self->link));
        items[3].socket = sub ? zsock_resolve (sub) : NULL;
        items[3].fd = -1;
        items[4].socket =
            self->outside ? zsock_resolve (ces_outside_reports (self->outside))
                          : NULL;
        items[4].fd = -1;
    }
    for (size_t i = 0; i < fixed; i++)
        items[i].events = ZMQ_POLLIN;
    size_t index = fixed;
    ces_client_t *client = (ces_client_t *)zlistx_first (self->lists.blocked);
    while (client) {
        blocked[index - fixed] = client;
        items[index].fd = ces_client_fd (client);
        items[index].events = ZMQ_POLLOUT;
        index++;
        client = (ces_client_t *)zlistx_next (self->lists.blocked);
    }
    int rc = zmq_poll (items, (int)count, s_timeout (self));
    if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
        s_handle_pipe (self);
    if (rc > 0 && started && !self->terminated) {
        s_read_sources (self, items);
        for (size_t i = fixed; i < count; i++)
            if (items[i].revents &&
                zlistx_find (self->lists.blocked, blocked[i - fixed]))
                ces_client_flush (blocked[i - fixed]);
    }
    freen (blocked);
    freen (items);
    if (started && !self->terminated) {
        s_on_link_event (self, ces_link_tick (self->link));
        if (zclock_mono () >= self->next_tick)
            s_tick (self);
    }
    ces_client_flush_pending (&self->lists);
}

void
ces_edge_actor (zsock_t *pipe, void *args)
{
    bool outside = args && streq ((const char *)args, CES_EDGE_REPEATER);
    self_t *self = s_self_new (pipe, outside);
    zsock_signal (pipe, 0);
    while (!self->terminated)
        s_poll_once (self);
    s_self_destroy (&self);
}

//  --------------------------------------------------------------------------
//  Self test: the edge's HTTP surface over a real socket. WebSocket
//  behaviour is tested end to end in tests/ with real clients.

//  Does the hub's presence of room hold text within 5 s? (false at once
//  for text "via": whether anything is there now)
static bool
s_test_presence_has (zactor_t *hub, const char *room, const char *text)
{
    int64_t deadline = zclock_mono () + (streq (text, "via") ? 0 : 5000);
    do {
        zstr_sendx (hub, "PRESENCE", room, NULL);
        char *json = zstr_recv (hub);
        bool found = strstr (json, text) != NULL;
        zstr_free (&json);
        if (found)
            return true;
        zclock_sleep (10); //  polling a condition, with a deadline
    } while (zclock_mono () < deadline);
    return false;
}

static int
s_test_local_port (ces_wsclient_t *client)
{
    struct sockaddr_in address;
    socklen_t size = sizeof address;
    int rc = getsockname (ces_wsclient_fd (client), (struct sockaddr *)&address,
                          &size);
    assert (rc == 0);
    return ntohs (address.sin_port);
}

void
ces_edge_test (bool verbose)
{
    printf (" * ces_edge: ");
    //  @selftest
    char *router, *pub;
    zactor_t *hub = ces_hub_test_start (
        "inproc://edge-test-router", "inproc://edge-test-pub", &router, &pub,
        "log-level", verbose ? "debug" : "warn", NULL);
    char *status;

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

    //  Presence: a WebSocket client registers a pattern; the hub shows it
    //  in the rooms it matches, with its address, until it unregisters
    int ws_status = 0;
    ces_wsclient_t *client = ces_wsclient_new (
        "127.0.0.1", port, "/connect/messenger", NULL, 2000, &ws_status);
    assert (client && ws_status == 101);
    const char *registration = "{\"rooms\":[\"ITB-*\"],\"create\":true}";
    ces_wsclient_send (client, 1, registration, strlen (registration));
    char *mine = zsys_sprintf ("\"remote\":\"127.0.0.1:%d\"",
                               s_test_local_port (client));
    assert (s_test_presence_has (hub, "ITB-1101", mine));
    assert (s_test_presence_has (hub, "ITB-1101", "\"via\":\"ITB-*\""));
    assert (s_test_presence_has (hub, "ITB-1101", "\"edge\":\"edge "));
    assert (!s_test_presence_has (hub, "ITC-1", "via"));
    registration = "{\"rooms\":[\"ITB-*\"],\"create\":false}";
    ces_wsclient_send (client, 1, registration, strlen (registration));
    assert (s_test_presence_has (hub, "ITB-1101", "[]"));
    zstr_free (&mine);
    ces_wsclient_close (client, 1000);
    ces_wsclient_destroy (&client);

    zactor_destroy (&edge);
    zstr_free (&status);
    zstr_free (&port_text);
    zstr_free (&router);
    zstr_free (&pub);
    zactor_destroy (&hub);
    //  @end
    printf ("OK\n");
}
