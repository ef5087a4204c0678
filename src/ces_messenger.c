/*  =========================================================================
    ces_messenger - embed a messenger in any C service: the façade, and
    the actor with its pipe and link; ces_msgpipe carries events to the
    host, ces_recall is the RECALL
    =========================================================================
*/
#include "ces_classes.h"

#define CONN_ID "0"

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
    ces_msgpipe_t *msgpipe; //  to the host, events and notices only
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

    uint64_t sent;
    uint64_t dropped; //  not sent (the host's drops: ces_msgpipe), refused

    ces_recall_t *recall; //  RECALL, and the room events after it
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
    if (!ces_recall_waiting (self->recall)) {
        s_register_reply (self, "0", "");
        return;
    }
    char *request = ces_recall_confirmed (self->recall);
    if (request && ces_link_sync (self->link, CONN_ID, request) == 0)
        ces_recall_asked (self->recall);
    else
        s_register_reply (self, "-1", "the hub is not there to ask");
    zstr_free (&request);
}

static void
s_connect_reply (self_t *self)
{
    if (self->connect_waiting) {
        zstr_send (self->pipe, s_state (self));
        self->connect_waiting = false;
    }
}

//  The hub answered the recall's SYNC: replies and events to the host,
//  then the pipe's answer, then the live events held meanwhile
static void
s_synced (self_t *self)
{
    if (ces_recall_synced (self->recall, ces_link_data (self->link),
                           ces_link_size (self->link),
                           ces_proto_events (ces_link_proto (self->link))))
        return;
    s_register_reply (self, "0", "");
    ces_recall_release (self->recall);
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
            ces_msgpipe_send_event (self->msgpipe, ces_link_data (self->link),
                                    ces_link_size (self->link), 0, 0);
            break;
        case CES_LINK_PUBLISHED:
            //  Our own events come back from the hub; skip them
            ces_recall_published (
                self->recall, ces_link_room (self->link),
                ces_link_epoch (self->link), ces_link_seq (self->link),
                ces_link_data (self->link), ces_link_size (self->link),
                ces_link_is_origin (self->link, ces_link_origin (self->link),
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
        ces_recall_ask (self->recall, room, streq (state, "1"), epoch, seq);
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
        snprintf (numbers[0], 24, "%" PRIu64, ces_msgpipe_sent (self->msgpipe));
        snprintf (numbers[1], 24, "%" PRIu64, self->sent);
        snprintf (numbers[2], 24, "%" PRIu64,
                  self->dropped + ces_msgpipe_dropped (self->msgpipe));
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
        ces_recall_expire (self->recall, now);
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
        ces_recall_destroy (&self->recall);
        ces_msgpipe_destroy (&self->msgpipe);
        ces_waiters_destroy (&self->waiters);
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
    self->link = ces_link_new (args->router_endpoint, args->pub_endpoint,
                               args->link_id, args->role, args->curve);
    self->msgpipe = ces_msgpipe_new_actor (args->msgpipe_endpoint);
    if (!self->link || !self->msgpipe) {
        s_self_destroy (&self);
        return NULL;
    }
    self->recall = ces_recall_new (self->msgpipe);
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
    ces_msgpipe_t *msgpipe; //  the host's end: the last event or notice
    ces_event_t *event;
    char reason[256];
    char state[16];
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
    self->msgpipe = ces_msgpipe_new_host (msgpipe_endpoint);
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
        ces_msgpipe_destroy (&self->msgpipe);
        ces_event_destroy (&self->event);
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

int
ces_messenger_recv (ces_messenger_t *self, int timeout)
{
    assert (self);
    int rc = ces_msgpipe_recv (self->msgpipe, timeout);
    if (rc < 0)
        snprintf (self->reason, sizeof (self->reason), "%s",
                  rc == -1 ? "no event in time" : "malformed event");
    return rc < 0 ? -1 : rc;
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
    return ces_msgpipe_seq (self->msgpipe);
}

const char *
ces_messenger_epoch (ces_messenger_t *self)
{
    assert (self);
    return ces_msgpipe_epoch (self->msgpipe);
}

const char *
ces_messenger_notice (ces_messenger_t *self)
{
    assert (self);
    return ces_msgpipe_notice (self->msgpipe);
}

const char *
ces_messenger_room (ces_messenger_t *self)
{
    assert (self);
    return ces_msgpipe_room (self->msgpipe);
}

const char *
ces_messenger_payload (ces_messenger_t *self)
{
    assert (self);
    return ces_msgpipe_payload (self->msgpipe);
}

size_t
ces_messenger_payload_size (ces_messenger_t *self)
{
    assert (self);
    return ces_msgpipe_payload_size (self->msgpipe);
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
    return ces_msgpipe_sock (self->msgpipe);
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
