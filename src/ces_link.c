/*  =========================================================================
    ces_link - a peer's side of the hub protocol
    =========================================================================
*/
#include "ces_classes.h"

#define BACKOFF_MIN       10
#define BACKOFF_MAX       5000
#define HELLO_UNCONNECTED 50 //  msecs between local checks for a connection

struct _ces_link_t {
    zsock_t *dealer;
    zsock_t *sub;
    char *link_id;
    char *name;
    char *router_endpoint;
    char *pub_endpoint; //  NULL for a peer that wants no room events
    char *hub_id;
    int log_level;
    bool validated;    //  says so in HELLO: its events were checked here
    bool old_hub;      //  refused HELLO with flags: a hub from before them
    bool presence;     //  says so in HELLO: PRESENT tells who holds what
    bool hub_presence; //  the hub's WELCOME said "presence"
    ces_proto_t *proto;

    bool connected;
    uint32_t heartbeat;
    int64_t last_heard;
    int64_t next_heartbeat;
    int64_t next_hello;
    int backoff;

    ces_link_conns_t *conns; //  each one's role, rooms and presence
    zhashx_t *tokens;        //  pending sync token -> conn id
    uint64_t token_count;
    //  The DEALER's connection, from its ZeroMQ monitor: whether a hub is
    //  there at all (a failed send is then "busy", not "unreachable"), and
    //  handshakes the hub refused
    ces_handshakes_t *handshakes;

    //  Details of the last event
    ces_published_t *published; //  the SUB's last PUBLISHED
    zframe_t *message;          //  of the last DELIVER, borrowed
    const byte *data;           //  of the last DELIVER or PUBLISHED
    size_t size;
    char conn[256];
    char token[256];
    char reason[256];
};

static void
s_free (void **item_p)
{
    freen (*item_p);
    *item_p = NULL;
}

ces_link_t *
ces_link_new (const char *router_endpoint, const char *pub_endpoint,
              const char *link_id, const char *name, const ces_curve_t *curve)
{
    assert (router_endpoint && link_id && name);
    ces_link_t *self = (ces_link_t *)zmalloc (sizeof (ces_link_t));
    assert (self);
    self->link_id = strdup (link_id);
    self->name = strdup (name);
    self->router_endpoint = strdup (router_endpoint);
    self->pub_endpoint = pub_endpoint ? strdup (pub_endpoint) : NULL;
    self->hub_id = strdup ("");
    self->log_level = CES_LOG_INFO;
    self->proto = ces_proto_new ();
    self->heartbeat = CES_HEARTBEAT_MSEC;
    self->backoff = BACKOFF_MIN;
    self->conns = ces_link_conns_new ();
    self->tokens = zhashx_new ();
    self->published = ces_published_new ();
    assert (self->tokens);
    zhashx_set_destructor (self->tokens, s_free);

    self->dealer = zsock_new (ZMQ_DEALER);
    self->sub = zsock_new (ZMQ_SUB);
    assert (self->dealer && self->sub);
    zsock_set_identity (self->dealer, link_id);
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
    //  A SUB drops subscriptions past its send high-water mark (1000) with
    //  no error: a registration of thousands of rooms must all get through
    zsock_set_sndhwm (self->sub, 0);
    if (curve) {
        ces_curve_secure_client (curve, self->dealer);
        ces_curve_secure_client (curve, self->sub);
    }
    self->handshakes = ces_handshakes_new (self->dealer, curve != NULL);
    //  A repeater needs no published events: it may have no PUB endpoint
    if (zsock_connect (self->dealer, "%s", router_endpoint) ||
        (pub_endpoint && zsock_connect (self->sub, "%s", pub_endpoint))) {
        ces_link_destroy (&self);
        return NULL;
    }
    return self;
}

static void
s_send (ces_link_t *self)
{
    if (ces_proto_send (self->proto, self->dealer))
        ces_debug (self->log_level, "link %s: could not send %s: %s",
                   self->link_id, ces_proto_command (self->proto),
                   zmq_strerror (zmq_errno ()));
}

void
ces_link_destroy (ces_link_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_link_t *self = *self_p;
        if (self->connected) {
            ces_proto_set_id (self->proto, CES_PROTO_BYE);
            s_send (self);
        }
        ces_handshakes_destroy (&self->handshakes);
        zsock_destroy (&self->dealer);
        zsock_destroy (&self->sub);
        ces_link_conns_destroy (&self->conns);
        zhashx_destroy (&self->tokens);
        ces_published_destroy (&self->published);
        ces_proto_destroy (&self->proto);
        zstr_free (&self->link_id);
        zstr_free (&self->name);
        zstr_free (&self->router_endpoint);
        zstr_free (&self->pub_endpoint);
        zstr_free (&self->hub_id);
        freen (self);
        *self_p = NULL;
    }
}

zsock_t *
ces_link_dealer (ces_link_t *self)
{
    assert (self);
    return self->dealer;
}

zsock_t *
ces_link_sub (ces_link_t *self)
{
    assert (self);
    return self->sub;
}

void
ces_link_set_log_level (ces_link_t *self, int level)
{
    assert (self);
    self->log_level = level;
}

void
ces_link_set_validated (ces_link_t *self, bool validated)
{
    assert (self);
    self->validated = validated;
}

void
ces_link_set_presence (ces_link_t *self, bool presence)
{
    assert (self);
    self->presence = presence;
}

//  --------------------------------------------------------------------------
//  Subscriptions. ZeroMQ counts subscriptions per topic, so each (conn,
//  room) pair subscribes once and unsubscribes once.

static void
s_subscribe (ces_link_t *self, const char *room, bool on)
{
    char topic[CES_ROOM_MAX + 2];
    //  Topics end in a newline so that ITB-1101 does not match ITB-11010;
    //  a pattern's is its prefix, which ZeroMQ matches as one. A SUB gets
    //  a message once however many of its topics match it.
    if (streq (room, "*"))
        topic[0] = 0;
    else if (ces_patterns_is_pattern (room))
        ces_patterns_topic (room, topic);
    else
        snprintf (topic, sizeof (topic), "%s\n", room);
    if (on)
        zsock_set_subscribe (self->sub, topic);
    else
        zsock_set_unsubscribe (self->sub, topic);
}

static void
s_sync_subscribe (ces_link_t *self, const char *token, bool on)
{
    char *topic = zsys_sprintf ("%s%s", CES_SYNC_PREFIX, token);
    if (on)
        zsock_set_subscribe (self->sub, topic);
    else
        zsock_set_unsubscribe (self->sub, topic);
    zstr_free (&topic);
}

//  --------------------------------------------------------------------------
//  Connections and rooms

static void
s_send_attach (ces_link_t *self, const char *conn_id)
{
    const char *remote = ces_link_conns_remote (self->conns, conn_id);
    const char *subject = ces_link_conns_subject (self->conns, conn_id);
    ces_proto_set_id (self->proto, CES_PROTO_ATTACH);
    ces_proto_set_conn (self->proto, conn_id);
    ces_proto_set_role (self->proto,
                        ces_link_conns_role (self->conns, conn_id));
    bool more = self->hub_presence;
    ces_proto_set_remote (self->proto, more && remote ? remote : "");
    ces_proto_set_subject (self->proto, more && subject ? subject : "");
    s_send (self);
    ces_proto_set_remote (self->proto, "");
    ces_proto_set_subject (self->proto, "");
}

//  PRESENT or ABSENT, to a hub that takes them
static void
s_send_presence (ces_link_t *self, const char *conn_id, zlist_t *rooms,
                 bool present)
{
    if (!self->connected || !self->hub_presence)
        return;
    ces_proto_set_id (self->proto,
                      present ? CES_PROTO_PRESENT : CES_PROTO_ABSENT);
    ces_proto_set_conn (self->proto, conn_id);
    ces_proto_set_rooms (self->proto, rooms);
    s_send (self);
}

//  Sends REGISTER with a fresh sync token; the hub answers REGISTERED once
//  our SUB's subscriptions have reached it
static const char *
s_send_register (ces_link_t *self, const char *conn_id, zlist_t *rooms)
{
    char *token =
        zsys_sprintf ("%s:%" PRIu64, self->link_id, ++self->token_count);
    s_sync_subscribe (self, token, true);
    zhashx_insert (self->tokens, token, strdup (conn_id));
    ces_proto_set_id (self->proto, CES_PROTO_REGISTER);
    ces_proto_set_conn (self->proto, conn_id);
    ces_proto_set_token (self->proto, token);
    ces_proto_set_rooms (self->proto, rooms);
    s_send (self);
    snprintf (self->token, sizeof (self->token), "%s", token);
    zstr_free (&token);
    return self->token;
}

void
ces_link_attach (ces_link_t *self, const char *conn_id, const char *role)
{
    ces_link_attach_client (self, conn_id, role, NULL, NULL);
}

void
ces_link_attach_client (ces_link_t *self, const char *conn_id, const char *role,
                        const char *remote, const char *subject)
{
    assert (self && conn_id);
    assert (ces_proto_role_valid (role));
    ces_link_detach (self, conn_id);
    ces_link_conns_attach (self->conns, conn_id, role, remote, subject);
    if (self->connected)
        s_send_attach (self, conn_id);
}

//  Each room of rooms subscribed, or unsubscribed
static void
s_subscribe_all (ces_link_t *self, zlist_t *rooms, bool on)
{
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms))
        s_subscribe (self, room, on);
}

void
ces_link_detach (ces_link_t *self, const char *conn_id)
{
    assert (self && conn_id);
    zlist_t *rooms = ces_link_conns_detach (self->conns, conn_id);
    if (!rooms)
        return;
    s_subscribe_all (self, rooms, false);
    zlist_destroy (&rooms);
    if (self->connected) {
        ces_proto_set_id (self->proto, CES_PROTO_DETACH);
        ces_proto_set_conn (self->proto, conn_id);
        s_send (self);
    }
}

const char *
ces_link_register (ces_link_t *self, const char *conn_id, zlist_t *rooms)
{
    assert (self && conn_id && rooms);
    zlist_t *fresh = ces_link_conns_add_rooms (self->conns, conn_id, rooms);
    s_subscribe_all (self, fresh, true);
    const char *token = NULL;
    if (zlist_size (fresh) && self->connected)
        token = s_send_register (self, conn_id, fresh);
    zlist_destroy (&fresh);
    return token;
}

void
ces_link_unregister (ces_link_t *self, const char *conn_id, zlist_t *rooms)
{
    assert (self && conn_id);
    zlist_t *removed =
        ces_link_conns_remove_rooms (self->conns, conn_id, rooms);
    if (!removed)
        return;
    s_subscribe_all (self, removed, false);
    zlist_destroy (&removed);
    if (self->connected) {
        ces_proto_set_id (self->proto, CES_PROTO_UNREGISTER);
        ces_proto_set_conn (self->proto, conn_id);
        ces_proto_set_rooms (self->proto, rooms);
        s_send (self);
    }
}

void
ces_link_present (ces_link_t *self, const char *conn_id, zlist_t *rooms,
                  bool present)
{
    assert (self && conn_id);
    zlist_t *changed =
        ces_link_conns_hold (self->conns, conn_id, rooms, present);
    //  None: all of them, said as ABSENT with no rooms
    bool all = !present && (!rooms || zlist_size (rooms) == 0);
    if (changed && zlist_size (changed))
        s_send_presence (self, conn_id, all ? NULL : changed, present);
    zlist_destroy (&changed);
}

bool
ces_link_has_room (ces_link_t *self, const char *conn_id, const char *room)
{
    assert (self);
    return ces_link_conns_has_room (self->conns, conn_id, room);
}

size_t
ces_link_room_count (ces_link_t *self, const char *conn_id)
{
    assert (self);
    return ces_link_conns_room_count (self->conns, conn_id);
}

int
ces_link_send (ces_link_t *self, const char *conn_id, zframe_t *message)
{
    assert (self && conn_id && message);
    if (!self->connected)
        return -1;
    ces_proto_set_id (self->proto, CES_PROTO_EVENT);
    ces_proto_set_conn (self->proto, conn_id);
    //  Lent to the codec for the send, not copied: it goes out by reference
    zframe_t *lent = message;
    ces_proto_set_message (self->proto, &lent);
    int rc = ces_proto_send (self->proto, self->dealer);
    lent = ces_proto_take_message (self->proto);
    assert (lent == message);
    if (rc == 0)
        return 0;
    //  No room at a hub that is there, or no hub at all (gone before its
    //  silence was noticed)
    ces_handshakes_drain (self->handshakes);
    return ces_handshakes_up (self->handshakes) ? -2 : -1;
}

//  SYNC and QUERY: a JSON request on behalf of conn (or a query ID)
static int
s_send_request (ces_link_t *self, ces_proto_id_t id, const char *conn,
                const char *request)
{
    if (!self->connected)
        return -1;
    ces_proto_set_id (self->proto, id);
    ces_proto_set_conn (self->proto, conn);
    zframe_t *frame = zframe_new (request, strlen (request));
    ces_proto_set_message (self->proto, &frame);
    int rc = ces_proto_send (self->proto, self->dealer);
    frame = ces_proto_take_message (self->proto);
    zframe_destroy (&frame);
    return rc == 0 ? 0 : ces_handshakes_up (self->handshakes) ? -2 : -1;
}

int
ces_link_sync (ces_link_t *self, const char *conn, const char *request)
{
    assert (self && conn && request);
    return s_send_request (self, CES_PROTO_SYNC, conn, request);
}

int
ces_link_query (ces_link_t *self, const char *id, const char *request)
{
    assert (self && id && request);
    return s_send_request (self, CES_PROTO_QUERY, id, request);
}

//  --------------------------------------------------------------------------
//  Joining and losing the hub

static void
s_send_hello (ces_link_t *self)
{
    ces_proto_set_id (self->proto, CES_PROTO_HELLO);
    ces_proto_set_name (self->proto, self->name);
    //  Three frames per event until a hub says it reads one
    ces_proto_set_one_frame (self->proto, false);
    char flags[64];
    snprintf (flags, sizeof flags, "one-frame%s%s",
              self->validated ? " validated" : "",
              self->presence ? " presence" : "");
    ces_proto_set_flags (self->proto, self->old_hub ? "" : flags);
    if (ces_proto_send (self->proto, self->dealer)) {
        //  No connection to a hub yet (the DEALER is "immediate"): nothing
        //  went on the wire, so look again soon without backing off
        self->next_hello = zclock_mono () + HELLO_UNCONNECTED;
        return;
    }
    //  A hub got it and may be struggling: exponential backoff with +-25%
    //  jitter, so peers of a restarted hub do not all come back at once
    int jitter = self->backoff / 4;
    int delay = self->backoff - jitter + (jitter ? randof (2 * jitter) : 0);
    self->next_hello = zclock_mono () + delay;
    self->backoff =
        self->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : self->backoff * 2;
}

static ces_link_event_t
s_lost_hub (ces_link_t *self, const char *why, bool silent)
{
    bool was_connected = self->connected;
    if (silent) {
        //  The TCP connection may be dead without either end knowing (a
        //  cut cable): HELLOs would queue on it until the kernel gives up.
        //  New connections, now; subscriptions are sent again on the SUB.
        zsock_disconnect (self->dealer, "%s", self->router_endpoint);
        zsock_connect (self->dealer, "%s", self->router_endpoint);
        if (self->pub_endpoint) {
            zsock_disconnect (self->sub, "%s", self->pub_endpoint);
            zsock_connect (self->sub, "%s", self->pub_endpoint);
        }
    }
    if (was_connected)
        ces_info (self->log_level, "link %s: %s; reconnecting", self->link_id,
                  why);
    self->connected = false;
    self->backoff = BACKOFF_MIN;
    //  Syncs in flight will never be answered by a hub that forgot them
    const char *token = (const char *)zhashx_first (self->tokens);
    while (token) {
        s_sync_subscribe (self, (const char *)zhashx_cursor (self->tokens),
                          false);
        token = (const char *)zhashx_next (self->tokens);
    }
    zhashx_purge (self->tokens);
    s_send_hello (self);
    snprintf (self->reason, sizeof (self->reason), "%s", why);
    return was_connected ? CES_LINK_LOST : CES_LINK_NOTHING;
}

static ces_link_event_t
s_on_welcome (ces_link_t *self)
{
    int64_t now = zclock_mono ();
    self->connected = true;
    self->heartbeat = ces_proto_heartbeat (self->proto);
    self->last_heard = now;
    self->next_heartbeat = now + self->heartbeat;
    self->backoff = BACKOFF_MIN;
    zstr_free (&self->hub_id);
    self->hub_id = strdup (ces_proto_hub_id (self->proto));
    ces_proto_set_one_frame (self->proto,
                             ces_proto_has_flag (self->proto, "one-frame"));
    self->hub_presence =
        self->presence && ces_proto_has_flag (self->proto, "presence");
    ces_info (self->log_level, "link %s: connected to %s (%s)", self->link_id,
              self->hub_id, self->router_endpoint);
    //  Restore every connection, its rooms and what its client holds
    zlist_t *conn_ids = ces_link_conns_ids (self->conns);
    for (const char *conn_id = (const char *)zlist_first (conn_ids); conn_id;
         conn_id = (const char *)zlist_next (conn_ids)) {
        s_send_attach (self, conn_id);
        zlist_t *rooms = ces_link_conns_rooms (self->conns, conn_id);
        if (zlist_size (rooms))
            s_send_register (self, conn_id, rooms);
        zlist_destroy (&rooms);
        rooms = ces_link_conns_held (self->conns, conn_id);
        if (zlist_size (rooms))
            s_send_presence (self, conn_id, rooms, true);
        zlist_destroy (&rooms);
    }
    zlist_destroy (&conn_ids);
    return CES_LINK_CONNECTED;
}

ces_link_event_t
ces_link_recv_dealer (ces_link_t *self)
{
    assert (self);
    self->message = NULL;
    self->data = NULL;
    self->size = 0;
    int rc = ces_proto_recv (self->proto, self->dealer);
    if (rc == -1)
        return CES_LINK_NOTHING;
    if (rc == -2) {
        ces_warn (self->log_level, "link %s: malformed message from hub: %s",
                  self->link_id, ces_proto_reason (self->proto));
        return CES_LINK_NOTHING;
    }
    self->last_heard = zclock_mono ();
    switch (ces_proto_id (self->proto)) {
        case CES_PROTO_WELCOME:
            return s_on_welcome (self);
        case CES_PROTO_REGISTERED: {
            const char *token = ces_proto_token (self->proto);
            char *conn_id = (char *)zhashx_lookup (self->tokens, token);
            if (!conn_id)
                return CES_LINK_NOTHING; //  superseded by a reconnect
            snprintf (self->conn, sizeof (self->conn), "%s", conn_id);
            snprintf (self->token, sizeof (self->token), "%s", token);
            s_sync_subscribe (self, token, false);
            zhashx_delete (self->tokens, token);
            return CES_LINK_REGISTERED;
        }
        case CES_PROTO_DELIVER:
            snprintf (self->conn, sizeof (self->conn), "%s",
                      ces_proto_conn (self->proto));
            self->message = ces_proto_message (self->proto);
            self->data = zframe_data (self->message);
            self->size = zframe_size (self->message);
            return CES_LINK_DELIVER;
        case CES_PROTO_ERROR: {
            const char *code = ces_proto_code (self->proto);
            if (streq (code, CES_PROTO_ERR_UNKNOWN_LINK))
                return s_lost_hub (self, "hub does not know us (restarted?)",
                                   false);
            if (!self->connected && !self->old_hub &&
                streq (code, CES_PROTO_ERR_MALFORMED) &&
                strstr (ces_proto_error_reason (self->proto), "HELLO")) {
                //  A hub from before HELLO flags: say HELLO without them
                ces_info (self->log_level,
                          "link %s: %s takes HELLO without flags; events go "
                          "in three frames",
                          self->link_id, self->router_endpoint);
                self->old_hub = true;
                self->next_hello = zclock_mono ();
                return CES_LINK_NOTHING;
            }
            snprintf (self->reason, sizeof (self->reason), "%s (%s)",
                      ces_proto_error_reason (self->proto), code);
            ces_warn (self->log_level, "link %s: hub refused: %s",
                      self->link_id, self->reason);
            return CES_LINK_REFUSED;
        }
        case CES_PROTO_SYNCED:
        case CES_PROTO_ANSWER:
            snprintf (self->conn, sizeof (self->conn), "%s",
                      ces_proto_conn (self->proto));
            self->message = ces_proto_message (self->proto);
            self->data = zframe_data (self->message);
            self->size = zframe_size (self->message);
            return ces_proto_id (self->proto) == CES_PROTO_SYNCED
                       ? CES_LINK_SYNCED
                       : CES_LINK_ANSWER;
        case CES_PROTO_REGISTER:
        case CES_PROTO_UNREGISTER:
        case CES_PROTO_PEERS:
        case CES_PROTO_UNLINK:
            return CES_LINK_MESH; //  a peer hub speaking; see ces_link_proto
        default:
            return CES_LINK_NOTHING;
    }
}

ces_proto_t *
ces_link_proto (ces_link_t *self)
{
    assert (self);
    return self->proto;
}

uint64_t
ces_link_seq (ces_link_t *self)
{
    assert (self);
    return ces_published_seq (self->published);
}

int64_t
ces_link_stamp (ces_link_t *self)
{
    assert (self);
    return ces_published_stamp (self->published);
}

uint64_t
ces_link_epoch (ces_link_t *self)
{
    assert (self);
    return ces_published_epoch (self->published);
}

//  The SUB's frames are read by ces_published
ces_link_event_t
ces_link_recv_sub (ces_link_t *self)
{
    assert (self);
    self->message = NULL;
    self->data = NULL;
    self->size = 0;
    if (ces_published_recv (self->published, self->sub))
        return CES_LINK_NOTHING;
    self->data = ces_published_data (self->published);
    self->size = ces_published_size (self->published);
    return CES_LINK_PUBLISHED;
}

int
ces_link_timeout (ces_link_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    int64_t next = self->next_hello;
    if (self->connected) {
        int64_t silence = self->last_heard + 3 * (int64_t)self->heartbeat + 1;
        next = silence < self->next_heartbeat ? silence : self->next_heartbeat;
    }
    return next > now ? (int)(next - now) : 0;
}

ces_link_event_t
ces_link_tick (ces_link_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    ces_handshakes_log (self->handshakes, now, self->log_level, self->link_id,
                        self->router_endpoint);
    if (self->connected) {
        if (now - self->last_heard > 3 * (int64_t)self->heartbeat)
            return s_lost_hub (self, "hub silent for 3 heartbeats", true);
        if (now >= self->next_heartbeat) {
            ces_proto_set_id (self->proto, CES_PROTO_HEARTBEAT);
            s_send (self);
            self->next_heartbeat = now + self->heartbeat;
        }
    } else if (now >= self->next_hello)
        s_send_hello (self);
    return CES_LINK_NOTHING;
}

//  Handshakes that failed (a CURVE refusal, or not a ZeroMQ peer)
uint64_t
ces_link_refused (ces_link_t *self)
{
    assert (self);
    return ces_handshakes_refused (self->handshakes);
}

//  --------------------------------------------------------------------------
//  Accessors

const char *
ces_link_conn (ces_link_t *self)
{
    assert (self);
    return self->conn;
}

const char *
ces_link_token (ces_link_t *self)
{
    assert (self);
    return self->token;
}

const byte *
ces_link_data (ces_link_t *self)
{
    assert (self);
    return self->data;
}

size_t
ces_link_size (ces_link_t *self)
{
    assert (self);
    return self->size;
}

zframe_t *
ces_link_message (ces_link_t *self)
{
    assert (self);
    return self->message;
}

const char *
ces_link_origin (ces_link_t *self)
{
    assert (self);
    return ces_published_origin (self->published);
}

const char *
ces_link_room (ces_link_t *self)
{
    assert (self);
    return ces_published_room (self->published);
}

const char *
ces_link_reason (ces_link_t *self)
{
    assert (self);
    return self->reason;
}

bool
ces_link_connected (ces_link_t *self)
{
    assert (self);
    return self->connected;
}

const char *
ces_link_id (ces_link_t *self)
{
    assert (self);
    return self->link_id;
}

const char *
ces_link_hub_id (ces_link_t *self)
{
    assert (self);
    return self->hub_id;
}

bool
ces_link_is_origin (ces_link_t *self, const char *origin, const char **conn)
{
    assert (self && origin);
    size_t size = strlen (self->link_id);
    if (strncmp (origin, self->link_id, size) || origin[size] != '/')
        return false;
    if (conn)
        *conn = origin + size + 1;
    return true;
}

uint64_t
ces_link_lost (ces_link_t *self)
{
    assert (self);
    return ces_published_lost (self->published);
}

//  --------------------------------------------------------------------------
//  Self test: a link against a real hub actor

static ces_link_event_t
s_wait_for (ces_link_t *link, ces_link_event_t wanted)
{
    int64_t deadline = zclock_mono () + 5000;
    zpoller_t *poller =
        zpoller_new (ces_link_dealer (link), ces_link_sub (link), NULL);
    ces_link_event_t event = CES_LINK_NOTHING;
    while (event != wanted && zclock_mono () < deadline) {
        void *which = zpoller_wait (poller, ces_link_timeout (link));
        if (which == ces_link_dealer (link))
            event = ces_link_recv_dealer (link);
        else if (which == ces_link_sub (link))
            event = ces_link_recv_sub (link);
        else
            event = ces_link_tick (link);
    }
    zpoller_destroy (&poller);
    return event;
}

void
ces_link_test (bool verbose)
{
    printf (" * ces_link: ");
    //  @selftest
    char *router, *pub;
    zactor_t *hub = ces_hub_test_start (
        "inproc://link-test-router", "inproc://link-test-pub", &router, &pub,
        "log-level", verbose ? "debug" : "warn", NULL);

    ces_link_t *link = ces_link_new (router, pub, "link-a", "selftest", NULL);
    assert (link);
    ces_link_set_log_level (link, verbose ? CES_LOG_DEBUG : CES_LOG_WARN);
    //  Connections attached before the hub answers go out on WELCOME
    ces_link_attach (link, "1", CES_ROLE_MESSENGER);
    ces_link_attach (link, "2", CES_ROLE_MESSENGER);
    assert (s_wait_for (link, CES_LINK_CONNECTED) == CES_LINK_CONNECTED);
    assert (ces_link_connected (link));

    zlist_t *rooms = zlist_new ();
    zlist_append (rooms, "ITB-1101");
    const char *token = ces_link_register (link, "1", rooms);
    assert (token);
    char *expected = strdup (token);
    assert (s_wait_for (link, CES_LINK_REGISTERED) == CES_LINK_REGISTERED);
    assert (streq (ces_link_token (link), expected));
    assert (streq (ces_link_conn (link), "1"));
    freen (expected);
    assert (ces_link_register (link, "1", rooms) == NULL); //  idempotent
    assert (ces_link_has_room (link, "1", "ITB-1101"));

    //  Connection 2 sends; the event comes back stamped with its origin
    zframe_t *message = ces_frame_build ("ITB-1101", "{}", 2);
    assert (ces_link_send (link, "2", message) == 0);
    zframe_destroy (&message);
    assert (s_wait_for (link, CES_LINK_PUBLISHED) == CES_LINK_PUBLISHED);
    assert (streq (ces_link_room (link), "ITB-1101"));
    const char *conn = NULL;
    assert (ces_link_is_origin (link, ces_link_origin (link), &conn));
    assert (streq (conn, "2"));
    assert (ces_link_size (link) == 11 &&
            memcmp (ces_link_data (link), "ITB-1101\n{}", 11) == 0);
    assert (ces_link_message (link) == NULL); //  not a DELIVER
    assert (ces_link_lost (link) == 0);

    ces_link_unregister (link, "1", NULL);
    assert (!ces_link_has_room (link, "1", "ITB-1101"));
    zlist_destroy (&rooms);
    ces_link_destroy (&link);
    ces_link_destroy (&link);
    zstr_free (&router);
    zstr_free (&pub);
    zactor_destroy (&hub);
    //  @end
    printf ("OK\n");
}
