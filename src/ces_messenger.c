/*  =========================================================================
    ces_messenger - embed a messenger in any C service
    =========================================================================
*/
#include "ces_classes.h"

#define MSGPIPE_HWM 100000
#define CONN_ID     "0"

//  What the façade hands the actor at start
typedef struct {
    const char *router_endpoint;
    const char *pub_endpoint;
    const char *role;
    const char *link_id;
    const char *msgpipe_endpoint;
    const ces_curve_t *curve;
} actor_args_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *msgpipe; //  PAIR to the host, events only
    zpoller_t *poller;
    ces_link_t *link;
    bool terminated;
    int log_level;
    bool reregistering; //  rooms are being restored after a WELCOME

    ces_waiters_t *waiters; //  the host's REGISTER, waiting for the hub
    bool register_waiting;
    int64_t register_deadline;
    int register_timeout;
    bool connect_waiting;
    int64_t connect_deadline;

    uint64_t received;
    uint64_t sent;
    uint64_t dropped;

    //  RECALL: the messenger's place in each room's stream, once asked
    ces_cursor_t *cursor;
    char *recall_room;    //  the RECALL waiting for REGISTERED, then SYNCED
    char *recall_options; //  its {"state":B,"since":{...}}
    bool recall_syncing;
} self_t;

static const char *
s_state (self_t *self)
{
    return ces_link_connected (self->link) ? "connected" : "retrying";
}

static void
s_register_reply (self_t *self, const char *status, const char *reason)
{
    if (self->register_waiting) {
        zstr_sendx (self->pipe, status, reason, NULL);
        self->register_waiting = false;
    }
}

//  ces_waiters_fn: the hub confirmed the host's REGISTER; a RECALL asks
//  for the room's place in its stream now that events for it will come
static void
s_registered (void *waiter, void *arg)
{
    (void)waiter;
    self_t *self = (self_t *)arg;
    if (!self->recall_room) {
        s_register_reply (self, "0", "");
        return;
    }
    zlist_t *rooms = zlist_new ();
    zlist_append (rooms, self->recall_room);
    zlist_t *requests =
        ces_cursor_confirmed (self->cursor, rooms, self->recall_options);
    const char *request = (const char *)zlist_first (requests);
    if (request && ces_link_sync (self->link, CONN_ID, request) == 0)
        self->recall_syncing = true;
    else
        s_register_reply (self, "-1", "the hub is not there to ask");
    zlist_destroy (&requests);
    zlist_destroy (&rooms);
    zstr_free (&self->recall_room);
    zstr_free (&self->recall_options);
}

static void
s_connect_reply (self_t *self)
{
    if (self->connect_waiting) {
        zstr_send (self->pipe, s_state (self));
        self->connect_waiting = false;
    }
}

//  An event for the host: its message, its sequence number and its room's
//  epoch (8 octets each, big-endian; 0 for directed events)
static void
s_to_host (self_t *self, const byte *data, size_t size, uint64_t seq,
           uint64_t epoch)
{
    byte numbers[16];
    ces_position_number_put (numbers, seq);
    ces_position_number_put (numbers + 8, epoch);
    void *msgpipe = zsock_resolve (self->msgpipe);
    //  Once ZeroMQ takes the first part it takes the rest
    if (zmq_send (msgpipe, data, size, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0) {
        self->dropped++; //  the host is not reading
        return;
    }
    zmq_send (msgpipe, numbers, 8, ZMQ_SNDMORE);
    zmq_send (msgpipe, numbers + 8, 8, 0);
    self->received++;
}

//  A notice for the host: an empty frame, then its JSON
static void
s_notice_to_host (self_t *self, char **text_p)
{
    if (!*text_p)
        return;
    void *msgpipe = zsock_resolve (self->msgpipe);
    if (zmq_send (msgpipe, "", 0, ZMQ_DONTWAIT | ZMQ_SNDMORE) == 0)
        zmq_send (msgpipe, *text_p, strlen (*text_p), 0);
    zstr_free (text_p);
}

//  A room event, through the cursor once the host asked for a recall
static void
s_published (self_t *self, bool own)
{
    const char *room = ces_link_room (self->link);
    uint64_t epoch = ces_link_epoch (self->link);
    uint64_t seq = ces_link_seq (self->link);
    const char *notice = NULL;
    ces_cursor_verdict_t verdict = CES_CURSOR_DELIVER;
    if (self->cursor) {
        if (ces_cursor_holding (self->cursor)) {
            ces_cursor_hold (self->cursor, room, epoch, seq,
                             ces_link_data (self->link),
                             ces_link_size (self->link), own);
            return;
        }
        if (own) {
            ces_cursor_own (self->cursor, room, epoch, seq);
            return;
        }
        verdict = ces_cursor_live (self->cursor, room, epoch, seq, &notice);
    }
    if (own || verdict == CES_CURSOR_SKIP)
        return;
    if (notice) {
        char *copy = strdup (notice);
        s_notice_to_host (self, &copy);
    }
    s_to_host (self, ces_link_data (self->link), ces_link_size (self->link),
               seq, epoch);
}

//  Live events held while a recall was synced, in order
static void
s_release_held (self_t *self)
{
    char room[CES_ROOM_MAX + 1];
    uint64_t epoch, seq;
    const byte *data;
    size_t size;
    bool own;
    while (ces_cursor_next_held (self->cursor, room, &epoch, &seq, &data, &size,
                                 &own)) {
        if (own) {
            ces_cursor_own (self->cursor, room, epoch, seq);
            continue;
        }
        const char *notice = NULL;
        if (ces_cursor_live (self->cursor, room, epoch, seq, &notice) ==
            CES_CURSOR_SKIP)
            continue;
        if (notice) {
            char *copy = strdup (notice);
            s_notice_to_host (self, &copy);
        }
        s_to_host (self, data, size, seq, epoch);
    }
}

//  The hub answered the recall's SYNC: replies and events to the host,
//  then the pipe's answer
static void
s_synced (self_t *self)
{
    if (!self->recall_syncing)
        return;
    char *header = strndup ((const char *)ces_link_data (self->link),
                            ces_link_size (self->link));
    cJSON *parsed = cJSON_Parse (header);
    uint64_t epoch = ces_position_epoch_of (
        cJSON_GetStringValue (cJSON_GetObjectItem (parsed, "epoch")));
    cJSON_Delete (parsed);
    char *before, *after, *registered;
    int rc =
        ces_cursor_synced (self->cursor, header, &before, &after, &registered);
    freen (header);
    if (rc)
        return;
    s_notice_to_host (self, &before);
    zlist_t *events = ces_proto_events (ces_link_proto (self->link));
    for (zframe_t *event = (zframe_t *)zlist_first (events); event;
         event = (zframe_t *)zlist_next (events)) {
        const byte *data = zframe_data (event);
        s_to_host (self, data + 8, zframe_size (event) - 8,
                   ces_position_number_get (data), epoch);
    }
    s_notice_to_host (self, &after);
    s_notice_to_host (self, &registered);
    self->recall_syncing = false;
    s_register_reply (self, "0", "");
    s_release_held (self);
}

//  Acts on what the link reports
static void
s_on_link_event (self_t *self, ces_link_event_t event)
{
    const char *conn = NULL;
    switch (event) {
        case CES_LINK_CONNECTED:
            //  The link sent our rooms again; a waiting register now waits
            //  for that confirmation
            self->reregistering = ces_link_room_count (self->link, CONN_ID) > 0;
            ces_waiters_connected (
                self->waiters,
                self->reregistering ? ces_link_token (self->link) : NULL);
            s_connect_reply (self);
            break;
        case CES_LINK_REGISTERED:
            if (self->reregistering)
                ces_info (self->log_level,
                          "messenger %s: rooms registered at the hub",
                          ces_link_id (self->link));
            self->reregistering = false;
            ces_waiters_confirmed (self->waiters, ces_link_token (self->link));
            break;
        case CES_LINK_DELIVER:
            s_to_host (self, ces_link_data (self->link),
                       ces_link_size (self->link), 0, 0);
            break;
        case CES_LINK_PUBLISHED:
            //  Our own events come back from the hub; skip them
            s_published (self, ces_link_is_origin (self->link,
                                                   ces_link_origin (self->link),
                                                   &conn) &&
                                   streq (conn, CONN_ID));
            break;
        case CES_LINK_SYNCED:
            s_synced (self);
            break;
        case CES_LINK_REFUSED:
            self->dropped++;
            break;
        default:
            break;
    }
}

//  --------------------------------------------------------------------------
//  Pipe commands

static zlist_t *
s_pop_rooms (zmsg_t *request, bool *valid)
{
    zlist_t *rooms = zlist_new ();
    zlist_autofree (rooms);
    char *room;
    *valid = true;
    while ((room = zmsg_popstr (request))) {
        if (ces_patterns_is_pattern (room)
                ? ces_patterns_check (room) != NULL
                : !streq (room, "*") &&
                      ces_frame_check_room (room, strlen (room)) !=
                          CES_FRAME_OK)
            *valid = false;
        zlist_append (rooms, room); //  autofree copies
        zstr_free (&room);
    }
    return rooms;
}

static void
s_cmd_register (self_t *self, zmsg_t *request)
{
    bool valid;
    zlist_t *rooms = s_pop_rooms (request, &valid);
    if (!valid)
        zstr_sendx (self->pipe, "-1",
                    "a room ID is empty, longer than 128 bytes, or has a "
                    "space or control character",
                    NULL);
    else {
        bool fresh = false;
        const char *room = (const char *)zlist_first (rooms);
        while (room) {
            fresh |= !ces_link_has_room (self->link, CONN_ID, room);
            room = (const char *)zlist_next (rooms);
        }
        ces_waiters_sent (self->waiters,
                          ces_link_register (self->link, CONN_ID, rooms));
        if (!fresh)
            zstr_sendx (self->pipe, "0", "", NULL); //  idempotent
        else {
            //  Confirmed by the next REGISTERED: now, or after WELCOME
            self->register_waiting = true;
            self->register_deadline = zclock_mono () + self->register_timeout;
            ces_waiters_add (self->waiters, self,
                             ces_link_connected (self->link));
        }
    }
    zlist_destroy (&rooms);
}

//  RECALL room state epoch seq: REGISTER the room, then SYNC it
static void
s_cmd_recall (self_t *self, zmsg_t *request)
{
    char *room = zmsg_popstr (request);
    char *state = zmsg_popstr (request);
    char *epoch = zmsg_popstr (request);
    char *seq = zmsg_popstr (request);
    assert (room && state && epoch && seq);
    if (ces_frame_check_room (room, strlen (room)) != CES_FRAME_OK)
        zstr_sendx (self->pipe, "-1",
                    "a room ID is empty, longer than 128 bytes, or has a "
                    "space or control character",
                    NULL);
    else {
        if (!self->cursor)
            self->cursor = ces_cursor_new ();
        cJSON *options = cJSON_CreateObject ();
        cJSON_AddBoolToObject (options, "state", streq (state, "1"));
        if (*epoch) {
            cJSON *position = cJSON_CreateObject ();
            cJSON_AddStringToObject (position, "epoch", epoch);
            cJSON_AddNumberToObject (position, "seq",
                                     (double)strtoull (seq, NULL, 10));
            cJSON_AddItemToObject (cJSON_AddObjectToObject (options, "since"),
                                   room, position);
        }
        zstr_free (&self->recall_options);
        self->recall_options = cJSON_PrintUnformatted (options);
        cJSON_Delete (options);
        zstr_free (&self->recall_room);
        self->recall_room = strdup (room);
        zlist_t *rooms = zlist_new ();
        zlist_append (rooms, room);
        ces_waiters_sent (self->waiters,
                          ces_link_register (self->link, CONN_ID, rooms));
        zlist_destroy (&rooms);
        self->register_waiting = true;
        self->register_deadline = zclock_mono () + self->register_timeout;
        ces_waiters_add (self->waiters, self, ces_link_connected (self->link));
    }
    zstr_free (&room);
    zstr_free (&state);
    zstr_free (&epoch);
    zstr_free (&seq);
}

static void
s_cmd_unregister (self_t *self, zmsg_t *request)
{
    bool valid;
    zlist_t *rooms = s_pop_rooms (request, &valid);
    ces_link_unregister (self->link, CONN_ID, rooms);
    zlist_destroy (&rooms);
    zstr_sendx (self->pipe, "0", "", NULL);
}

static void
s_cmd_send (self_t *self, zmsg_t *request)
{
    zframe_t *message = zmsg_pop (request);
    if (!message)
        return;
    if (ces_link_send (self->link, CONN_ID, message) == 0)
        self->sent++;
    else
        self->dropped++; //  hub unreachable or queue full; not queued
    zframe_destroy (&message);
}

static void
s_cmd_set (self_t *self, zmsg_t *request)
{
    char *name = zmsg_popstr (request);
    char *value = zmsg_popstr (request);
    //  The option table checks the name and the value's range
    int rc = ces_options_check (CES_OPTIONS_MESSENGER, name, value);
    if (rc == 0 && streq (name, "register-timeout"))
        self->register_timeout = atoi (value);
    else if (rc == 0 && streq (name, "log-level")) {
        self->log_level = ces_log_level_parse (value);
        ces_link_set_log_level (self->link, self->log_level);
    }
    zsock_signal (self->pipe, rc ? 1 : 0);
    zstr_free (&name);
    zstr_free (&value);
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
    else if (streq (command, "SEND"))
        s_cmd_send (self, request);
    else if (streq (command, "REGISTER"))
        s_cmd_register (self, request);
    else if (streq (command, "UNREGISTER"))
        s_cmd_unregister (self, request);
    else if (streq (command, "RECALL"))
        s_cmd_recall (self, request);
    else if (streq (command, "STATE"))
        zstr_send (self->pipe, s_state (self));
    else if (streq (command, "WAIT")) {
        char *msecs = zmsg_popstr (request);
        assert (msecs);
        self->connect_waiting = true;
        self->connect_deadline = zclock_mono () + atoi (msecs);
        zstr_free (&msecs);
        if (ces_link_connected (self->link))
            s_connect_reply (self);
    } else if (streq (command, "STATS")) {
        char numbers[4][24];
        snprintf (numbers[0], 24, "%" PRIu64, self->received);
        snprintf (numbers[1], 24, "%" PRIu64, self->sent);
        snprintf (numbers[2], 24, "%" PRIu64, self->dropped);
        snprintf (numbers[3], 24, "%" PRIu64, ces_link_lost (self->link));
        zstr_sendx (self->pipe, numbers[0], numbers[1], numbers[2], numbers[3],
                    NULL);
    } else if (streq (command, "SET"))
        s_cmd_set (self, request);
    else if (streq (command, "VERBOSE")) {
        self->log_level = CES_LOG_DEBUG;
        ces_link_set_log_level (self->link, CES_LOG_DEBUG);
    } else {
        zsys_error ("messenger: invalid pipe command '%s'", command);
        assert (false);
    }
    zstr_free (&command);
    zmsg_destroy (&request);
}

//  --------------------------------------------------------------------------
//  The actor

static int
s_next_timeout (self_t *self)
{
    int64_t now = zclock_mono ();
    int64_t next = now + ces_link_timeout (self->link);
    if (self->register_waiting && self->register_deadline < next)
        next = self->register_deadline;
    if (self->connect_waiting && self->connect_deadline < next)
        next = self->connect_deadline;
    return next > now ? (int)(next - now) : 0;
}

static void
s_command_deadlines (self_t *self)
{
    int64_t now = zclock_mono ();
    if (self->register_waiting && now >= self->register_deadline) {
        ces_waiters_purge (self->waiters); //  a late answer is not awaited
        zstr_free (&self->recall_room);
        zstr_free (&self->recall_options);
        self->recall_syncing = false;
        if (self->cursor) {
            //  A late SYNCED is ignored; what was held goes to the host
            zlist_t *notices =
                ces_cursor_expire (self->cursor, now + CES_CURSOR_SYNC_TIMEOUT);
            zlist_destroy (&notices);
            s_release_held (self);
        }
        s_register_reply (self, "-1",
                          "hub did not confirm in time; the rooms are kept "
                          "and registered again when the hub answers");
    }
    if (self->connect_waiting && now >= self->connect_deadline)
        s_connect_reply (self);
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        zpoller_destroy (&self->poller);
        ces_link_destroy (&self->link);
        zsock_destroy (&self->msgpipe);
        ces_waiters_destroy (&self->waiters);
        ces_cursor_destroy (&self->cursor);
        zstr_free (&self->recall_room);
        zstr_free (&self->recall_options);
        freen (self);
        *self_p = NULL;
    }
}

static self_t *
s_self_new (zsock_t *pipe, actor_args_t *args)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->log_level = CES_LOG_INFO;
    //  Defaults come from the option table
    self->register_timeout =
        atoi (ces_options_default (CES_OPTIONS_MESSENGER, "register-timeout"));
    self->waiters = ces_waiters_new (s_registered, self);
    self->msgpipe = zsock_new (ZMQ_PAIR);
    assert (self->msgpipe);
    zsock_set_sndhwm (self->msgpipe, MSGPIPE_HWM);
    self->link = ces_link_new (args->router_endpoint, args->pub_endpoint,
                               args->link_id, args->role, args->curve);
    if (!self->link ||
        zsock_connect (self->msgpipe, "%s", args->msgpipe_endpoint)) {
        s_self_destroy (&self);
        return NULL;
    }
    ces_link_attach (self->link, CONN_ID, args->role);
    self->poller = zpoller_new (pipe, ces_link_dealer (self->link),
                                ces_link_sub (self->link), NULL);
    assert (self->poller);
    zpoller_set_nonstop (self->poller, true);
    return self;
}

static void
s_messenger_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (actor_args_t *)args);
    zsock_signal (pipe, self ? 0 : 1);
    if (!self)
        return;
    while (!self->terminated) {
        void *which = zpoller_wait (self->poller, s_next_timeout (self));
        if (which == self->pipe)
            s_handle_pipe (self);
        else if (which == ces_link_dealer (self->link))
            s_on_link_event (self, ces_link_recv_dealer (self->link));
        else if (which == ces_link_sub (self->link))
            s_on_link_event (self, ces_link_recv_sub (self->link));
        s_on_link_event (self, ces_link_tick (self->link));
        s_command_deadlines (self);
    }
    s_self_destroy (&self);
}

//  --------------------------------------------------------------------------
//  The façade

struct _ces_messenger_t {
    zactor_t *actor;
    zsock_t *msgpipe;
    ces_frame_t *frame;
    ces_event_t *event;
    char *payload;
    size_t payload_size;
    char room[CES_ROOM_MAX + 1];
    char reason[256];
    char state[16];
    uint64_t seq;
    char epoch[CES_POSITION_EPOCH_SIZE];
    char *notice;
};

ces_messenger_t *
ces_messenger_new_role (const char *router_endpoint, const char *pub_endpoint,
                        const char *role)
{
    return ces_messenger_new_secure (router_endpoint, pub_endpoint, role, NULL);
}

ces_messenger_t *
ces_messenger_new_secure (const char *router_endpoint, const char *pub_endpoint,
                          const char *role, const ces_curve_t *curve)
{
    assert (router_endpoint && pub_endpoint);
    if (!ces_proto_role_valid (role))
        return NULL;
    ces_messenger_t *self = (ces_messenger_t *)zmalloc (sizeof (*self));
    assert (self);
    zuuid_t *uuid = zuuid_new ();
    char *link_id = zsys_sprintf ("%c-%.12s", role[0], zuuid_str (uuid));
    char *msgpipe_endpoint =
        zsys_sprintf ("inproc://ces-messenger-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    self->msgpipe = zsock_new (ZMQ_PAIR);
    assert (self->msgpipe);
    zsock_set_rcvhwm (self->msgpipe, MSGPIPE_HWM);
    int rc = zsock_bind (self->msgpipe, "%s", msgpipe_endpoint);
    assert (rc == 0);
    self->frame = ces_frame_new (SIZE_MAX / 2);
    self->event = ces_event_new ();

    actor_args_t args = {router_endpoint, pub_endpoint,     role,
                         link_id,         msgpipe_endpoint, curve};
    self->actor = zactor_new (s_messenger_actor, &args);
    zstr_free (&link_id);
    zstr_free (&msgpipe_endpoint);
    if (!self->actor)
        ces_messenger_destroy (&self);
    return self;
}

ces_messenger_t *
ces_messenger_new (const char *router_endpoint, const char *pub_endpoint)
{
    return ces_messenger_new_role (router_endpoint, pub_endpoint,
                                   CES_ROLE_MESSENGER);
}

void
ces_messenger_destroy (ces_messenger_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_messenger_t *self = *self_p;
        zactor_destroy (&self->actor);
        zsock_destroy (&self->msgpipe);
        ces_frame_destroy (&self->frame);
        ces_event_destroy (&self->event);
        freen (self->payload);
        freen (self->notice);
        freen (self);
        *self_p = NULL;
    }
}

//  Sends a command with a NULL-terminated list of rooms and reads the
//  [status][reason] reply
static int
s_rooms_command (ces_messenger_t *self, const char *command, const char *room,
                 va_list args)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, command);
    while (room) {
        zmsg_addstr (request, room);
        room = va_arg (args, const char *);
    }
    zmsg_send (&request, self->actor);
    char *status, *reason;
    if (zstr_recvx (self->actor, &status, &reason, NULL) < 0)
        return -1;
    int rc = streq (status, "0") ? 0 : -1;
    snprintf (self->reason, sizeof (self->reason), "%s", reason);
    zstr_free (&status);
    zstr_free (&reason);
    return rc;
}

int
ces_messenger_register (ces_messenger_t *self, const char *room, ...)
{
    assert (self);
    va_list args;
    va_start (args, room);
    int rc = s_rooms_command (self, "REGISTER", room, args);
    va_end (args);
    return rc;
}

int
ces_messenger_unregister (ces_messenger_t *self, const char *room, ...)
{
    assert (self);
    va_list args;
    va_start (args, room);
    int rc = s_rooms_command (self, "UNREGISTER", room, args);
    va_end (args);
    return rc;
}

int
ces_messenger_send (ces_messenger_t *self, const char *room, const char *json)
{
    assert (self);
    assert (room && json);
    size_t size = strlen (json);
    ces_frame_error_t rc = ces_frame_check_event_room (room, strlen (room));
    if (rc == CES_FRAME_OK && size > CES_PAYLOAD_MAX)
        rc = CES_FRAME_TOO_LARGE;
    if (rc != CES_FRAME_OK) {
        snprintf (self->reason, sizeof (self->reason), "%s",
                  ces_frame_strerror (rc));
        return -1;
    }
    if (ces_event_check (self->event, json, size)) {
        snprintf (self->reason, sizeof (self->reason), "%s",
                  ces_event_error (self->event));
        return -1;
    }
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, "SEND");
    zframe_t *message = ces_frame_build (room, json, size);
    zmsg_append (request, &message);
    return zmsg_send (&request, self->actor);
}

//  The 8-octet big-endian number of a frame, 0 if it has none
static uint64_t
s_number (zframe_t *frame)
{
    return frame && zframe_size (frame) == 8
               ? ces_position_number_get (zframe_data (frame))
               : 0;
}

int
ces_messenger_recv (ces_messenger_t *self, int timeout)
{
    assert (self);
    zsock_set_rcvtimeo (self->msgpipe, timeout);
    zmsg_t *msg = zmsg_recv (self->msgpipe);
    zframe_t *message = msg ? zmsg_pop (msg) : NULL;
    if (!message) {
        zmsg_destroy (&msg);
        snprintf (self->reason, sizeof (self->reason), "no event in time");
        return -1;
    }
    int rc = -1;
    if (zframe_size (message) == 0) {
        //  A notice of a recall: {"state":...}, {"recovered":...}, ...
        freen (self->notice);
        self->notice = zmsg_popstr (msg);
        rc = self->notice ? 1 : -1;
    } else if (ces_frame_parse (self->frame, zframe_data (message),
                                zframe_size (message)) == CES_FRAME_OK) {
        strcpy (self->room, ces_frame_room (self->frame));
        self->payload_size = ces_frame_payload_size (self->frame);
        freen (self->payload);
        self->payload = (char *)malloc (self->payload_size + 1);
        assert (self->payload);
        memcpy (self->payload, ces_frame_payload (self->frame),
                self->payload_size);
        self->payload[self->payload_size] = 0;
        zframe_t *seq = zmsg_pop (msg);
        zframe_t *epoch = zmsg_pop (msg);
        self->seq = s_number (seq);
        ces_position_epoch_text (s_number (epoch), self->epoch);
        zframe_destroy (&seq);
        zframe_destroy (&epoch);
        rc = 0;
    }
    if (rc == -1)
        snprintf (self->reason, sizeof (self->reason), "malformed event");
    zframe_destroy (&message);
    zmsg_destroy (&msg);
    return rc;
}

int
ces_messenger_recall (ces_messenger_t *self, const char *room, bool state,
                      const char *epoch, uint64_t seq)
{
    assert (self && room);
    char number[24];
    snprintf (number, sizeof number, "%" PRIu64, seq);
    zstr_sendx (self->actor, "RECALL", room, state ? "1" : "0",
                epoch ? epoch : "", number, NULL);
    char *status = NULL, *reason = NULL;
    zstr_recvx (self->actor, &status, &reason, NULL);
    int rc = status && streq (status, "0") ? 0 : -1;
    snprintf (self->reason, sizeof (self->reason), "%s", reason ? reason : "");
    zstr_free (&status);
    zstr_free (&reason);
    return rc;
}

uint64_t
ces_messenger_seq (ces_messenger_t *self)
{
    assert (self);
    return self->seq;
}

const char *
ces_messenger_epoch (ces_messenger_t *self)
{
    assert (self);
    return self->epoch;
}

const char *
ces_messenger_notice (ces_messenger_t *self)
{
    assert (self);
    return self->notice ? self->notice : "";
}

const char *
ces_messenger_room (ces_messenger_t *self)
{
    assert (self);
    return self->room;
}

const char *
ces_messenger_payload (ces_messenger_t *self)
{
    assert (self);
    return self->payload ? self->payload : "";
}

size_t
ces_messenger_payload_size (ces_messenger_t *self)
{
    assert (self);
    return self->payload_size;
}

const char *
ces_messenger_state (ces_messenger_t *self)
{
    assert (self);
    zstr_send (self->actor, "STATE");
    char *state = zstr_recv (self->actor);
    snprintf (self->state, sizeof (self->state), "%s", state ? state : "");
    zstr_free (&state);
    return self->state;
}

int
ces_messenger_wait_connected (ces_messenger_t *self, int timeout)
{
    assert (self);
    char msecs[16];
    snprintf (msecs, sizeof (msecs), "%d", timeout < 0 ? INT32_MAX : timeout);
    zstr_sendx (self->actor, "WAIT", msecs, NULL);
    char *state = zstr_recv (self->actor);
    int rc = state && streq (state, "connected") ? 0 : -1;
    zstr_free (&state);
    return rc;
}

void
ces_messenger_stats (ces_messenger_t *self, uint64_t *received, uint64_t *sent,
                     uint64_t *dropped, uint64_t *lost)
{
    assert (self);
    zstr_send (self->actor, "STATS");
    char *numbers[4] = {NULL, NULL, NULL, NULL};
    zstr_recvx (self->actor, &numbers[0], &numbers[1], &numbers[2], &numbers[3],
                NULL);
    uint64_t *outputs[4] = {received, sent, dropped, lost};
    for (int i = 0; i < 4; i++) {
        if (outputs[i])
            *outputs[i] = numbers[i] ? strtoull (numbers[i], NULL, 10) : 0;
        zstr_free (&numbers[i]);
    }
}

const char *
ces_messenger_reason (ces_messenger_t *self)
{
    assert (self);
    return self->reason;
}

zactor_t *
ces_messenger_actor (ces_messenger_t *self)
{
    assert (self);
    return self->actor;
}

zsock_t *
ces_messenger_msgpipe (ces_messenger_t *self)
{
    assert (self);
    return self->msgpipe;
}

//  --------------------------------------------------------------------------
//  Self test

//  A CURVE hub with authorised, unknown, wrong-key and plain messengers
//  over tcp (here, not in ces_curve: a messenger uses ces_curve)

static bool
s_test_connects (const char *router, const char *pub, const ces_curve_t *keys,
                 int timeout)
{
    ces_messenger_t *messenger =
        ces_messenger_new_secure (router, pub, CES_ROLE_MESSENGER, keys);
    assert (messenger);
    bool connected = ces_messenger_wait_connected (messenger, timeout) == 0;
    ces_messenger_destroy (&messenger);
    return connected;
}

//  The hub counted refused handshakes and shows its key
static void
s_test_curve_status (zactor_t *hub, const ces_curve_t *hub_keys)
{
    zstr_sendx (hub, "STATUS", NULL);
    char *status = zstr_recv (hub);
    cJSON *json = cJSON_Parse (status);
    cJSON *curve = cJSON_GetObjectItem (json, "curve");
    assert (cJSON_IsTrue (cJSON_GetObjectItem (curve, "enabled")));
    assert (
        streq (cJSON_GetStringValue (cJSON_GetObjectItem (curve, "public_key")),
               ces_curve_public_key (hub_keys)));
    assert (cJSON_GetNumberValue (cJSON_GetObjectItem (curve, "refused")) >= 1);
    cJSON_Delete (json);
    zstr_free (&status);
}

static void
s_test_curve_hubs (const char *dir, bool verbose)
{
    char *clients = zsys_sprintf ("%s/clients", dir);
    char *hub_path = zsys_sprintf ("%s/hub.key", dir);
    char *edge_moved = zsys_sprintf ("%s/edge.key_secret", dir);
    char *stranger_path = zsys_sprintf ("%s/stranger.key", dir);
    char reason[256];
    ces_curve_t *hub_keys = ces_curve_new (hub_path, NULL, reason, 256);
    ces_curve_t *by_secret = ces_curve_new (edge_moved, hub_path, reason, 256);
    ces_curve_t *stranger =
        ces_curve_new (stranger_path, hub_path, reason, 256);
    ces_curve_t *wrong_hub = ces_curve_new (
        edge_moved, ces_curve_public_key (stranger), reason, sizeof reason);
    assert (hub_keys && by_secret && stranger && wrong_hub);
    const char *level = verbose ? "debug" : "error";

    //  A hub that lets in the certificates of the clients directory
    char *router, *pub;
    zactor_t *hub = ces_hub_test_start (
        NULL, NULL, &router, &pub, "log-level", level, "heartbeat", "100",
        "curve-cert", hub_path, "curve-clients", clients, NULL);
    //  Authorised: connects and gets events
    assert (s_test_connects (router, pub, by_secret, 5000));
    ces_messenger_t *sender =
        ces_messenger_new_secure (router, pub, CES_ROLE_MESSENGER, by_secret);
    ces_messenger_t *receiver =
        ces_messenger_new_secure (router, pub, CES_ROLE_MESSENGER, by_secret);
    assert (ces_messenger_wait_connected (sender, 5000) == 0);
    assert (ces_messenger_register (receiver, "CURVE-1", NULL) == 0);
    assert (ces_messenger_send (sender, "CURVE-1", "{\"key\":\"k\"}") == 0);
    assert (ces_messenger_recv (receiver, 5000) == 0);
    assert (streq (ces_messenger_payload (receiver), "{\"key\":\"k\"}"));
    ces_messenger_destroy (&sender);
    ces_messenger_destroy (&receiver);
    //  Refused: an unknown certificate, the wrong hub key, no CURVE at all
    assert (!s_test_connects (router, pub, stranger, 500));
    assert (!s_test_connects (router, pub, wrong_hub, 500));
    assert (!s_test_connects (router, pub, NULL, 500));
    s_test_curve_status (hub, hub_keys);
    zactor_destroy (&hub);
    zstr_free (&router);
    zstr_free (&pub);

    //  A hub with "*" takes any client that knows its key, not plain ones
    hub =
        ces_hub_test_start (NULL, NULL, &router, &pub, "log-level", level,
                            "curve-cert", hub_path, "curve-clients", "*", NULL);
    assert (s_test_connects (router, pub, stranger, 5000));
    assert (!s_test_connects (router, pub, NULL, 500));
    zactor_destroy (&hub);
    zstr_free (&router);
    zstr_free (&pub);

    ces_curve_destroy (&stranger);
    ces_curve_destroy (&wrong_hub);
    ces_curve_destroy (&by_secret);
    ces_curve_destroy (&hub_keys);
    zstr_free (&clients);
    zstr_free (&hub_path);
    zstr_free (&edge_moved);
    zstr_free (&stranger_path);
}

static void
s_test_curve (bool verbose)
{
    char dir[] = "/tmp/ces-messenger-test-XXXXXX";
    assert (mkdtemp (dir));
    assert (zsys_dir_create ("%s/clients", dir) == 0);
    char reason[256];
    char *path = zsys_sprintf ("%s/hub.key", dir);
    assert (ces_curve_generate (path, "hub", reason, sizeof reason) == 0);
    zstr_free (&path);
    path = zsys_sprintf ("%s/stranger.key", dir);
    assert (ces_curve_generate (path, "stranger", reason, sizeof reason) == 0);
    zstr_free (&path);
    //  The clients directory holds the edge's public certificate only
    path = zsys_sprintf ("%s/clients/edge.key", dir);
    assert (ces_curve_generate (path, "edge", reason, sizeof reason) == 0);
    char *secret = zsys_sprintf ("%s_secret", path);
    char *moved = zsys_sprintf ("%s/edge.key_secret", dir);
    assert (rename (secret, moved) == 0);
    zstr_free (&secret);
    zstr_free (&moved);
    zstr_free (&path);

    s_test_curve_hubs (dir, verbose);

    char *command = zsys_sprintf ("rm -rf '%s'", dir);
    assert (system (command) == 0);
    zstr_free (&command);
}

//  Carol joins late: the room's state, then a recovery from a position
static void
s_test_recall (const char *router, const char *pub, ces_messenger_t *bob)
{
    //  Events carry their place in the room's stream: a fresh room
    assert (ces_messenger_send (bob, "ITB-7707",
                                "{\"target-device\":{\"deviceID\":\"D1\"},"
                                "\"key\":\"power\",\"value\":\"on\"}") == 0);
    ces_messenger_t *carol = ces_messenger_new (router, pub);
    assert (ces_messenger_recall (carol, "ITB-7707", true, NULL, 0) == 0);
    //  The state's one event, its summary, the position
    assert (ces_messenger_recv (carol, 2000) == 0);
    assert (ces_messenger_seq (carol) == 1);
    assert (strstr (ces_messenger_payload (carol), "\"on\""));
    char epoch[CES_STORE_EPOCH_SIZE];
    snprintf (epoch, sizeof epoch, "%s", ces_messenger_epoch (carol));
    assert (ces_messenger_recv (carol, 2000) == 1);
    assert (strstr (ces_messenger_notice (carol), "\"count\":1"));
    assert (ces_messenger_recv (carol, 2000) == 1);
    assert (strstr (ces_messenger_notice (carol), "\"positions\""));
    //  Live: the next one, then a recovery of everything after seq 0
    assert (ces_messenger_send (bob, "ITB-7707", "{\"n\":5}") == 0);
    assert (ces_messenger_recv (carol, 2000) == 0);
    assert (ces_messenger_seq (carol) == 2 &&
            streq (ces_messenger_epoch (carol), epoch));
    ces_messenger_destroy (&carol);
    carol = ces_messenger_new (router, pub);
    assert (ces_messenger_recall (carol, "ITB-7707", false, epoch, 0) == 0);
    for (uint64_t seq = 1; seq <= 2; seq++) {
        assert (ces_messenger_recv (carol, 2000) == 0);
        assert (ces_messenger_seq (carol) == seq);
    }
    assert (ces_messenger_recv (carol, 2000) == 1);
    assert (streq (ces_messenger_notice (carol),
                   "{\"recovered\":{\"ITB-7707\":true}}"));
    assert (ces_messenger_recv (carol, 2000) == 1);
    //  A position from another stream: refused, nothing replayed
    assert (ces_messenger_recall (carol, "ITB-7707", false, "0123456789abcdef",
                                  2) == 0);
    assert (ces_messenger_recv (carol, 2000) == 1);
    assert (strstr (ces_messenger_notice (carol), "\"recovered\":{\"ITB-7707\""
                                                  ":false}"));
    assert (ces_messenger_recall (carol, "bad room", true, NULL, 0) == -1);
    ces_messenger_destroy (&carol);
}

void
ces_messenger_test (bool verbose)
{
    printf (" * ces_messenger: ");
    //  @selftest
    char *router, *pub;
    zactor_t *hub = ces_hub_test_start (
        "inproc://messenger-test-router", "inproc://messenger-test-pub",
        &router, &pub, "log-level", verbose ? "debug" : "warn", NULL);

    ces_messenger_t *alice = ces_messenger_new (router, pub);
    ces_messenger_t *bob = ces_messenger_new (router, pub);
    assert (alice && bob);
    assert (ces_messenger_wait_connected (alice, 5000) == 0);
    assert (streq (ces_messenger_state (alice), "connected"));
    //  SET takes the options of the table, in their range
    zactor_t *actor = ces_messenger_actor (alice);
    zstr_sendx (actor, "SET", "register-timeout", "5000", NULL);
    assert (zsock_wait (actor) == 0);
    zstr_sendx (actor, "SET", "register-timeout", "5s", NULL);
    assert (zsock_wait (actor) != 0);
    zstr_sendx (actor, "SET", "heartbeat", "100", NULL);
    assert (zsock_wait (actor) != 0);
    assert (ces_messenger_register (alice, "ITB-1101", NULL) == 0);
    assert (ces_messenger_register (bob, "ITB-1101", NULL) == 0);
    //  Registering again is idempotent
    assert (ces_messenger_register (bob, "ITB-1101", NULL) == 0);

    //  Bob's event reaches Alice, not Bob
    assert (ces_messenger_send (bob, "ITB-1101", "{\"key\":\"power\"}") == 0);
    assert (ces_messenger_recv (alice, 2000) == 0);
    assert (streq (ces_messenger_room (alice), "ITB-1101"));
    assert (streq (ces_messenger_payload (alice), "{\"key\":\"power\"}"));
    //  Alice's own event reaches Bob; the next thing Alice sees is Bob's
    assert (ces_messenger_send (alice, "ITB-1101", "{\"n\":1}") == 0);
    assert (ces_messenger_recv (bob, 2000) == 0);
    assert (streq (ces_messenger_payload (bob), "{\"n\":1}"));
    assert (ces_messenger_send (bob, "ITB-1101", "{\"n\":2}") == 0);
    assert (ces_messenger_recv (alice, 2000) == 0);
    assert (streq (ces_messenger_payload (alice), "{\"n\":2}"));

    //  A pattern: every room of the building, each event once (Alice holds
    //  ITB-1101 too), no other building's; unregistered, nothing more
    assert (ces_messenger_register (alice, "ITB-*", NULL) == 0);
    assert (ces_messenger_send (bob, "ITB-1101", "{\"n\":3}") == 0);
    assert (ces_messenger_send (bob, "ITC-1", "{\"n\":4}") == 0);
    assert (ces_messenger_send (bob, "ITB-2202", "{\"n\":5}") == 0);
    assert (ces_messenger_recv (alice, 2000) == 0);
    assert (streq (ces_messenger_payload (alice), "{\"n\":3}"));
    assert (ces_messenger_recv (alice, 2000) == 0);
    assert (streq (ces_messenger_room (alice), "ITB-2202"));
    assert (ces_messenger_unregister (alice, "ITB-*", NULL) == 0);
    assert (ces_messenger_send (bob, "ITB-2202", "{\"n\":6}") == 0);
    assert (ces_messenger_send (bob, "ITB-1101", "{\"n\":7}") == 0);
    assert (ces_messenger_recv (alice, 2000) == 0);
    assert (streq (ces_messenger_payload (alice), "{\"n\":7}"));
    //  A pattern is not a room to send to; a bad pattern is refused
    assert (ces_messenger_send (bob, "ITB-*", "{}") == -1);
    assert (strstr (ces_messenger_reason (bob), "pattern"));
    assert (ces_messenger_register (bob, "ITB-**", NULL) == -1);

    //  Bad input is refused before anything is sent
    assert (ces_messenger_send (bob, "bad room", "{}") == -1);
    assert (strstr (ces_messenger_reason (bob), "space"));
    assert (ces_messenger_send (bob, "ITB-1101", "[1]") == -1);
    assert (ces_messenger_register (bob, "", NULL) == -1);

    uint64_t received, sent, dropped, lost;
    ces_messenger_stats (alice, &received, &sent, &dropped, &lost);
    assert (received == 5 && sent == 1 && dropped == 0 && lost == 0);
    s_test_recall (router, pub, bob);

    ces_messenger_destroy (&alice);
    ces_messenger_destroy (&bob);
    ces_messenger_destroy (&bob);
    zstr_free (&router);
    zstr_free (&pub);
    zactor_destroy (&hub);

    s_test_curve (verbose);
    //  @end
    printf ("OK\n");
}
