/*  =========================================================================
    ces_messenger - embed a messenger in any C service
    =========================================================================
*/
#include "ces_classes.h"

#define BACKOFF_MIN      100
#define BACKOFF_MAX      5000
#define REGISTER_TIMEOUT 5000
#define MSGPIPE_HWM      100000
#define CONN_ID          "0"

typedef enum { STATE_RETRYING, STATE_CONNECTED } state_t;

static const char *const s_state_names[] = {"retrying", "connected"};

//  What the façade hands the actor at start
typedef struct {
    const char *router_endpoint;
    const char *pub_endpoint;
    const char *role;
    const char *link_id;
    const char *msgpipe_endpoint;
} actor_args_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *msgpipe; //  PAIR to the host, events only
    zsock_t *dealer;  //  to the hub's ROUTER
    zsock_t *sub;     //  from the hub's PUB
    zpoller_t *poller;
    bool terminated;
    int log_level;
    char *link_id;
    char *origin; //  what the hub stamps on our own events
    char *role;
    char *router_endpoint;
    ces_proto_t *proto;
    ces_frame_t *frame;

    state_t state;
    uint32_t heartbeat;
    int64_t last_heard;
    int64_t next_heartbeat;
    int64_t next_hello;
    int backoff;

    zhashx_t *rooms;    //  registered rooms, as a set
    zhashx_t *room_seq; //  room -> last sequence seen (uint64_t *)
    uint64_t token_count;
    char *pending_token; //  latest register sync token not yet confirmed
    bool reregistering;  //  the pending register restores rooms after WELCOME
    int register_timeout;
    bool register_waiting;
    int64_t register_deadline;
    bool connect_waiting;
    int64_t connect_deadline;

    uint64_t received;
    uint64_t sent;
    uint64_t dropped;
    uint64_t lost;
} self_t;

//  --------------------------------------------------------------------------
//  Talking to the hub

static void
s_send (self_t *self)
{
    if (ces_proto_send (self->proto, self->dealer))
        ces_debug (self->log_level, "messenger %s: could not send %s: %s",
                   self->link_id, ces_proto_command (self->proto),
                   zmq_strerror (zmq_errno ()));
}

static void
s_send_hello (self_t *self)
{
    ces_proto_set_id (self->proto, CES_PROTO_HELLO);
    ces_proto_set_name (self->proto, self->role);
    s_send (self);
    //  Exponential backoff with +-25% jitter, so peers of a restarted hub
    //  do not all come back in the same millisecond
    int jitter = self->backoff / 4;
    int delay = self->backoff - jitter + (jitter ? randof (2 * jitter) : 0);
    self->next_hello = zclock_mono () + delay;
    self->backoff =
        self->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : self->backoff * 2;
}

static const char *
s_topic (const char *room)
{
    //  Topics end in a newline so that ITB-1101 does not match ITB-11010
    return streq (room, "*") ? "" : room;
}

static void
s_subscribe (self_t *self, const char *room, bool on)
{
    char topic[CES_ROOM_MAX + 2];
    snprintf (topic, sizeof (topic), "%s%s", s_topic (room),
              streq (room, "*") ? "" : "\n");
    if (on)
        zsock_set_subscribe (self->sub, topic);
    else
        zsock_set_unsubscribe (self->sub, topic);
}

static void
s_sync_subscribe (self_t *self, const char *token, bool on)
{
    char *topic = zsys_sprintf ("%s%s", CES_SYNC_PREFIX, token);
    if (on)
        zsock_set_subscribe (self->sub, topic);
    else
        zsock_set_unsubscribe (self->sub, topic);
    zstr_free (&topic);
}

//  Sends REGISTER for the rooms with a fresh sync token; the hub answers
//  REGISTERED once our SUB's subscriptions have reached it
static void
s_send_register (self_t *self, zlist_t *rooms)
{
    if (self->pending_token) {
        s_sync_subscribe (self, self->pending_token, false);
        zstr_free (&self->pending_token);
    }
    self->pending_token =
        zsys_sprintf ("%s:%" PRIu64, self->link_id, ++self->token_count);
    s_sync_subscribe (self, self->pending_token, true);
    ces_proto_set_id (self->proto, CES_PROTO_REGISTER);
    ces_proto_set_conn (self->proto, CONN_ID);
    ces_proto_set_token (self->proto, self->pending_token);
    ces_proto_set_rooms (self->proto, rooms);
    s_send (self);
}

static void
s_register_reply (self_t *self, const char *status, const char *reason)
{
    if (self->register_waiting) {
        zstr_sendx (self->pipe, status, reason, NULL);
        self->register_waiting = false;
    }
}

static void
s_connect_reply (self_t *self)
{
    if (self->connect_waiting) {
        zstr_send (self->pipe, s_state_names[self->state]);
        self->connect_waiting = false;
    }
}

static void
s_lost_hub (self_t *self, const char *why)
{
    if (self->state == STATE_CONNECTED)
        ces_info (self->log_level, "messenger %s: %s; reconnecting",
                  self->link_id, why);
    self->state = STATE_RETRYING;
    self->backoff = BACKOFF_MIN;
    self->next_hello = zclock_mono ();
}

static void
s_on_welcome (self_t *self)
{
    int64_t now = zclock_mono ();
    self->state = STATE_CONNECTED;
    self->heartbeat = ces_proto_heartbeat (self->proto);
    self->last_heard = now;
    self->next_heartbeat = now + self->heartbeat;
    self->backoff = BACKOFF_MIN;
    ces_info (self->log_level, "messenger %s: connected to %s (%s)",
              self->link_id, ces_proto_hub_id (self->proto),
              self->router_endpoint);
    ces_proto_set_id (self->proto, CES_PROTO_ATTACH);
    ces_proto_set_conn (self->proto, CONN_ID);
    ces_proto_set_role (self->proto, self->role);
    s_send (self);
    if (zhashx_size (self->rooms)) {
        zlistx_t *keys = zhashx_keys (self->rooms);
        zlist_t *rooms = zlist_new ();
        const char *room = (const char *)zlistx_first (keys);
        while (room) {
            zlist_append (rooms, (void *)room);
            room = (const char *)zlistx_next (keys);
        }
        s_send_register (self, rooms);
        self->reregistering = true;
        zlist_destroy (&rooms);
        zlistx_destroy (&keys);
    } else
        s_register_reply (self, "0", "");
    s_connect_reply (self);
}

static void
s_to_host (self_t *self, zframe_t *message)
{
    if (zmq_send (zsock_resolve (self->msgpipe), zframe_data (message),
                  zframe_size (message), ZMQ_DONTWAIT) < 0)
        self->dropped++; //  the host is not reading
    else
        self->received++;
}

static void
s_handle_dealer (self_t *self)
{
    int rc = ces_proto_recv (self->proto, self->dealer);
    if (rc == -1)
        return;
    if (rc == -2) {
        ces_warn (self->log_level,
                  "messenger %s: malformed message from hub: %s", self->link_id,
                  ces_proto_reason (self->proto));
        return;
    }
    self->last_heard = zclock_mono ();
    switch (ces_proto_id (self->proto)) {
        case CES_PROTO_WELCOME:
            s_on_welcome (self);
            break;
        case CES_PROTO_REGISTERED:
            if (self->pending_token &&
                streq (ces_proto_token (self->proto), self->pending_token)) {
                s_sync_subscribe (self, self->pending_token, false);
                zstr_free (&self->pending_token);
                if (self->reregistering)
                    ces_info (self->log_level,
                              "messenger %s: %zu rooms registered at the hub",
                              self->link_id, zhashx_size (self->rooms));
                self->reregistering = false;
                s_register_reply (self, "0", "");
            }
            break;
        case CES_PROTO_DELIVER:
            s_to_host (self, ces_proto_message (self->proto));
            break;
        case CES_PROTO_ERROR: {
            const char *code = ces_proto_code (self->proto);
            if (streq (code, CES_PROTO_ERR_UNKNOWN_LINK) ||
                streq (code, CES_PROTO_ERR_UNKNOWN_CONN)) {
                self->state = STATE_CONNECTED; //  log the loss once
                s_lost_hub (self, "hub does not know us (restarted?)");
                s_send_hello (self);
            } else {
                self->dropped++;
                ces_warn (self->log_level, "messenger %s: hub refused: %s (%s)",
                          self->link_id, ces_proto_error_reason (self->proto),
                          code);
            }
            break;
        }
        default:
            break;
    }
}

static void
s_track_sequence (self_t *self, const char *room, zframe_t *seq_frame)
{
    if (!seq_frame || zframe_size (seq_frame) != 8)
        return;
    byte *data = zframe_data (seq_frame);
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = (seq << 8) | data[i];
    if (seq == 0)
        return;
    uint64_t *last = (uint64_t *)zhashx_lookup (self->room_seq, room);
    if (!last) {
        last = (uint64_t *)zmalloc (sizeof (uint64_t));
        assert (last);
        zhashx_insert (self->room_seq, room, last);
    } else if (seq > *last + 1)
        self->lost += seq - *last - 1;
    *last = seq;
}

static void
s_handle_sub (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->sub);
    if (!msg)
        return;
    zframe_t *message = zmsg_first (msg);
    zframe_t *origin = zmsg_next (msg);
    zframe_t *seq = zmsg_next (msg);
    const char *data = (const char *)zframe_data (message);
    const char *newline =
        (const char *)memchr (data, '\n', zframe_size (message));
    if (newline && newline - data <= CES_ROOM_MAX) {
        char room[CES_ROOM_MAX + 1];
        memcpy (room, data, newline - data);
        room[newline - data] = 0;
        s_track_sequence (self, room, seq);
        if (!origin || !zframe_streq (origin, self->origin))
            s_to_host (self, message);
    }
    zmsg_destroy (&msg);
}

//  --------------------------------------------------------------------------
//  Pipe commands

static void
s_cmd_register (self_t *self, zmsg_t *request)
{
    zlist_t *fresh = zlist_new ();
    zlist_autofree (fresh);
    char *room;
    bool valid = true;
    while ((room = zmsg_popstr (request))) {
        if (!streq (room, "*") &&
            ces_frame_check_room (room, strlen (room)) != CES_FRAME_OK)
            valid = false;
        else if (!zhashx_lookup (self->rooms, room))
            zlist_append (fresh, room); //  autofree copies
        zstr_free (&room);
    }
    if (!valid) {
        zstr_sendx (self->pipe, "-1",
                    "a room ID is empty, longer than 128 bytes, or has a "
                    "space or control character",
                    NULL);
        zlist_destroy (&fresh);
        return;
    }
    if (zlist_size (fresh) == 0) {
        zstr_sendx (self->pipe, "0", "", NULL); //  idempotent
        zlist_destroy (&fresh);
        return;
    }
    const char *name = (const char *)zlist_first (fresh);
    while (name) {
        zhashx_insert (self->rooms, name, (void *)"");
        s_subscribe (self, name, true);
        name = (const char *)zlist_next (fresh);
    }
    self->register_waiting = true;
    self->register_deadline = zclock_mono () + self->register_timeout;
    //  While retrying, the rooms go out with everything else on WELCOME
    if (self->state == STATE_CONNECTED) {
        s_send_register (self, fresh);
        self->reregistering = false;
    }
    zlist_destroy (&fresh);
}

static void
s_unregister_room (self_t *self, const char *room)
{
    if (!zhashx_lookup (self->rooms, room))
        return;
    s_subscribe (self, room, false);
    zhashx_delete (self->rooms, room);
    if (streq (room, "*"))
        zhashx_purge (self->room_seq);
    else
        zhashx_delete (self->room_seq, room);
}

static void
s_cmd_unregister (self_t *self, zmsg_t *request)
{
    zlist_t *rooms = zlist_new ();
    zlist_autofree (rooms);
    char *room;
    while ((room = zmsg_popstr (request))) {
        zlist_append (rooms, room); //  autofree copies
        zstr_free (&room);
    }
    if (zlist_size (rooms) == 0) {
        zlistx_t *keys = zhashx_keys (self->rooms);
        const char *name = (const char *)zlistx_first (keys);
        while (name) {
            s_unregister_room (self, name);
            name = (const char *)zlistx_next (keys);
        }
        zlistx_destroy (&keys);
    }
    const char *name = (const char *)zlist_first (rooms);
    while (name) {
        s_unregister_room (self, name);
        name = (const char *)zlist_next (rooms);
    }
    if (self->state == STATE_CONNECTED) {
        ces_proto_set_id (self->proto, CES_PROTO_UNREGISTER);
        ces_proto_set_conn (self->proto, CONN_ID);
        ces_proto_set_rooms (self->proto, rooms);
        s_send (self);
    }
    zlist_destroy (&rooms);
    zstr_sendx (self->pipe, "0", "", NULL);
}

static void
s_cmd_send (self_t *self, zmsg_t *request)
{
    zframe_t *message = zmsg_pop (request);
    if (!message)
        return;
    if (self->state != STATE_CONNECTED) {
        self->dropped++; //  hub unreachable; counted, not queued
        zframe_destroy (&message);
        return;
    }
    ces_proto_set_id (self->proto, CES_PROTO_EVENT);
    ces_proto_set_conn (self->proto, CONN_ID);
    ces_proto_set_message (self->proto, &message);
    if (ces_proto_send (self->proto, self->dealer) == 0)
        self->sent++;
    else
        self->dropped++;
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
    else if (streq (command, "STATE"))
        zstr_send (self->pipe, s_state_names[self->state]);
    else if (streq (command, "WAIT")) {
        char *msecs = zmsg_popstr (request);
        assert (msecs);
        self->connect_waiting = true;
        self->connect_deadline = zclock_mono () + atoi (msecs);
        zstr_free (&msecs);
        if (self->state == STATE_CONNECTED)
            s_connect_reply (self);
    } else if (streq (command, "STATS")) {
        char numbers[4][24];
        snprintf (numbers[0], 24, "%" PRIu64, self->received);
        snprintf (numbers[1], 24, "%" PRIu64, self->sent);
        snprintf (numbers[2], 24, "%" PRIu64, self->dropped);
        snprintf (numbers[3], 24, "%" PRIu64, self->lost);
        zstr_sendx (self->pipe, numbers[0], numbers[1], numbers[2], numbers[3],
                    NULL);
    } else if (streq (command, "SET")) {
        char *name = zmsg_popstr (request);
        char *value = zmsg_popstr (request);
        int rc = -1;
        if (name && value && streq (name, "register-timeout") &&
            atoi (value) > 0)
            self->register_timeout = atoi (value), rc = 0;
        else if (name && value && streq (name, "log-level") &&
                 ces_log_level_parse (value) >= 0)
            self->log_level = ces_log_level_parse (value), rc = 0;
        zsock_signal (self->pipe, rc ? 1 : 0);
        zstr_free (&name);
        zstr_free (&value);
    } else if (streq (command, "VERBOSE"))
        self->log_level = CES_LOG_DEBUG;
    else {
        zsys_error ("messenger: invalid pipe command '%s'", command);
        assert (false);
    }
    zstr_free (&command);
    zmsg_destroy (&request);
}

//  --------------------------------------------------------------------------
//  Timers: heartbeats, hub loss, HELLO retries, command deadlines

static void
s_timers (self_t *self)
{
    int64_t now = zclock_mono ();
    if (self->state == STATE_CONNECTED) {
        if (now - self->last_heard > 3 * (int64_t)self->heartbeat)
            s_lost_hub (self, "hub silent for 3 heartbeats");
        else if (now >= self->next_heartbeat) {
            ces_proto_set_id (self->proto, CES_PROTO_HEARTBEAT);
            s_send (self);
            self->next_heartbeat = now + self->heartbeat;
        }
    }
    if (self->state == STATE_RETRYING && now >= self->next_hello)
        s_send_hello (self);
    if (self->register_waiting && now >= self->register_deadline)
        s_register_reply (self, "-1",
                          "hub did not confirm in time; the rooms are kept "
                          "and registered again when the hub answers");
    if (self->connect_waiting && now >= self->connect_deadline)
        s_connect_reply (self);
}

static int
s_next_timeout (self_t *self)
{
    int64_t now = zclock_mono ();
    int64_t next = self->state == STATE_CONNECTED ? self->next_heartbeat
                                                  : self->next_hello;
    if (self->state == STATE_CONNECTED) {
        int64_t silence = self->last_heard + 3 * (int64_t)self->heartbeat + 1;
        next = silence < next ? silence : next;
    }
    if (self->register_waiting && self->register_deadline < next)
        next = self->register_deadline;
    if (self->connect_waiting && self->connect_deadline < next)
        next = self->connect_deadline;
    return next > now ? (int)(next - now) : 0;
}

//  --------------------------------------------------------------------------
//  The actor

static void
s_seq_free (void **item_p)
{
    freen (*item_p);
    *item_p = NULL;
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        zpoller_destroy (&self->poller);
        zsock_destroy (&self->dealer);
        zsock_destroy (&self->sub);
        zsock_destroy (&self->msgpipe);
        zhashx_destroy (&self->rooms);
        zhashx_destroy (&self->room_seq);
        ces_proto_destroy (&self->proto);
        ces_frame_destroy (&self->frame);
        zstr_free (&self->link_id);
        zstr_free (&self->origin);
        zstr_free (&self->role);
        zstr_free (&self->router_endpoint);
        zstr_free (&self->pending_token);
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
    self->link_id = strdup (args->link_id);
    self->origin = zsys_sprintf ("%s/%s", args->link_id, CONN_ID);
    self->role = strdup (args->role);
    self->router_endpoint = strdup (args->router_endpoint);
    self->proto = ces_proto_new ();
    self->rooms = zhashx_new ();
    self->room_seq = zhashx_new ();
    zhashx_set_destructor (self->room_seq, s_seq_free);
    self->register_timeout = REGISTER_TIMEOUT;
    self->heartbeat = CES_HEARTBEAT_MSEC;
    self->backoff = BACKOFF_MIN;
    self->state = STATE_RETRYING;

    self->msgpipe = zsock_new (ZMQ_PAIR);
    zsock_set_sndhwm (self->msgpipe, MSGPIPE_HWM);
    self->dealer = zsock_new (ZMQ_DEALER);
    self->sub = zsock_new (ZMQ_SUB);
    assert (self->msgpipe && self->dealer && self->sub);
    zsock_set_identity (self->dealer, self->link_id);
    //  Do not queue for a hub that is not there; sends fail and are counted
    zsock_set_immediate (self->dealer, 1);
    zsock_set_sndhwm (self->dealer, 10000);
    zsock_set_sndtimeo (self->dealer, 0);
    zsock_set_linger (self->dealer, 200);
    zsock_set_reconnect_ivl (self->dealer, BACKOFF_MIN);
    zsock_set_reconnect_ivl_max (self->dealer, BACKOFF_MAX);
    zsock_set_reconnect_ivl (self->sub, BACKOFF_MIN);
    zsock_set_reconnect_ivl_max (self->sub, BACKOFF_MAX);
    zsock_set_rcvhwm (self->sub, CES_HUB_SNDHWM);
    if (zsock_connect (self->msgpipe, "%s", args->msgpipe_endpoint) ||
        zsock_connect (self->dealer, "%s", args->router_endpoint) ||
        zsock_connect (self->sub, "%s", args->pub_endpoint)) {
        s_self_destroy (&self);
        return NULL;
    }
    self->poller = zpoller_new (pipe, self->dealer, self->sub, NULL);
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
    s_send_hello (self);
    while (!self->terminated) {
        zsock_t *which =
            (zsock_t *)zpoller_wait (self->poller, s_next_timeout (self));
        if (which == self->pipe)
            s_handle_pipe (self);
        else if (which == self->dealer)
            s_handle_dealer (self);
        else if (which == self->sub)
            s_handle_sub (self);
        s_timers (self);
    }
    if (self->state == STATE_CONNECTED) {
        ces_proto_set_id (self->proto, CES_PROTO_BYE);
        s_send (self);
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
};

ces_messenger_t *
ces_messenger_new_role (const char *router_endpoint, const char *pub_endpoint,
                        const char *role)
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

    actor_args_t args = {router_endpoint, pub_endpoint, role, link_id,
                         msgpipe_endpoint};
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
    ces_frame_error_t rc = ces_frame_check_room (room, strlen (room));
    if (rc == CES_FRAME_OK && size > CES_PAYLOAD_MAX)
        rc = CES_FRAME_TOO_LARGE;
    if (rc != CES_FRAME_OK) {
        snprintf (self->reason, sizeof (self->reason), "%s",
                  ces_frame_strerror (rc));
        return -1;
    }
    if (ces_event_parse (self->event, json, size)) {
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

int
ces_messenger_recv (ces_messenger_t *self, int timeout)
{
    assert (self);
    zsock_set_rcvtimeo (self->msgpipe, timeout);
    zframe_t *message = zframe_recv (self->msgpipe);
    if (!message) {
        snprintf (self->reason, sizeof (self->reason), "no event in time");
        return -1;
    }
    int rc = -1;
    if (ces_frame_parse (self->frame, zframe_data (message),
                         zframe_size (message)) == CES_FRAME_OK) {
        strcpy (self->room, ces_frame_room (self->frame));
        self->payload_size = ces_frame_payload_size (self->frame);
        freen (self->payload);
        self->payload = (char *)malloc (self->payload_size + 1);
        assert (self->payload);
        memcpy (self->payload, ces_frame_payload (self->frame),
                self->payload_size);
        self->payload[self->payload_size] = 0;
        rc = 0;
    } else
        snprintf (self->reason, sizeof (self->reason), "malformed event");
    zframe_destroy (&message);
    return rc;
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

void
ces_messenger_test (bool verbose)
{
    printf (" * ces_messenger: ");
    //  @selftest
    zactor_t *hub = zactor_new (ces_hub_actor, NULL);
    zstr_sendx (hub, "SET", "log-level", verbose ? "debug" : "warn", NULL);
    assert (zsock_wait (hub) == 0);
    zstr_sendx (hub, "BIND", "inproc://messenger-test-router",
                "inproc://messenger-test-pub", NULL);
    char *status, *router, *pub;
    zstr_recvx (hub, &status, &router, &pub, NULL);
    assert (streq (status, "0"));

    ces_messenger_t *alice = ces_messenger_new (router, pub);
    ces_messenger_t *bob = ces_messenger_new (router, pub);
    assert (alice && bob);
    assert (ces_messenger_wait_connected (alice, 5000) == 0);
    assert (streq (ces_messenger_state (alice), "connected"));
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

    //  Bad input is refused before anything is sent
    assert (ces_messenger_send (bob, "bad room", "{}") == -1);
    assert (strstr (ces_messenger_reason (bob), "space"));
    assert (ces_messenger_send (bob, "ITB-1101", "[1]") == -1);
    assert (ces_messenger_register (bob, "", NULL) == -1);

    uint64_t received, sent, dropped, lost;
    ces_messenger_stats (alice, &received, &sent, &dropped, &lost);
    assert (received == 2 && sent == 1 && dropped == 0 && lost == 0);

    ces_messenger_destroy (&alice);
    ces_messenger_destroy (&bob);
    ces_messenger_destroy (&bob);
    zstr_free (&status);
    zstr_free (&router);
    zstr_free (&pub);
    zactor_destroy (&hub);
    //  @end
    printf ("OK\n");
}
