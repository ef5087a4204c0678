/*  =========================================================================
    ces_hub - the router: a ROUTER for ingress, an XPUB for egress
    =========================================================================
*/
#include "ces_classes.h"

//  The first three are also the sources of the routing table; an outside
//  system behind a repeater is a repeater source that never receives
typedef enum {
    ROLE_MESSENGER,
    ROLE_REPEATER,
    ROLE_HUB,
    SOURCES,
    ROLE_OUTSIDE = SOURCES,
    ROLES
} role_index_t;
//  A link is one DEALER peer of the ROUTER: an edge, a repeater program,
//  an embedded messenger. It hosts connections.
typedef struct {
    char *id;             //  routing ID as text
    zframe_t *routing_id; //  routing ID as the ROUTER wants it
    char *name;           //  what the peer called itself in HELLO
    int64_t last_heard;   //  when the peer last said anything
    bool dead;            //  found gone mid-route; removed at a safe point
    bool mesh;            //  a peer hub's link: ces_mesh handles its state
    zhashx_t *conns;      //  conn id -> conn_t
} link_t;

//  A connection is one client behind a link, with one role
typedef struct {
    link_t *link;
    char *id;
    const char *role; //  one of the CES_ROLE_ constants
    role_index_t role_index;
    char *origin;    //  "link/conn", what subscribers compare to skip it
    zhashx_t *rooms; //  rooms it registered ("*" included), as a set
} conn_t;

//  A room at least one connection registered
typedef struct {
    size_t subscribers;
    uint64_t seq; //  per-room sequence, lets subscribers count PUB loss
} room_t;

//  A register that waits for its sync subscription to reach the XPUB, so
//  that REGISTERED means "events for these rooms will reach you"
typedef struct {
    bool registered;
    bool subscribed;
    zframe_t *routing_id;
    char *conn;
    int64_t created;
} sync_t;

typedef enum {
    DROP_NO_ROUTE,
    DROP_PEER_GONE,
    DROP_QUEUE_FULL,
    DROP_MALFORMED,
    DROP_UNKNOWN_PEER,
    DROP_UNCONNECTED, //  registered, but the subscriber's SUB is not here
    DROP_REASONS
} drop_reason_t;

static const char *const s_drop_names[DROP_REASONS] = {
    "no_route",  "peer_gone",    "queue_full",
    "malformed", "unknown_peer", "unconnected"};

static const char *const s_role_names[ROLES] = {
    CES_ROLE_MESSENGER, CES_ROLE_REPEATER, CES_ROLE_HUB, CES_ROLE_OUTSIDE};

typedef struct {
    uint64_t events_in[SOURCES];
    uint64_t published;
    uint64_t no_subscriber; //  events for a room no local messenger held
    uint64_t delivered_repeater;
    uint64_t delivered_hub;
    uint64_t drops[DROP_REASONS];
    uint64_t drops_logged[DROP_REASONS];
    size_t connections[ROLES];
} counters_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    zsock_t *pub;     //  an XPUB, so that sync subscriptions can be seen
    zsock_t *control; //  HTTP threads ask for mesh changes here
    char *control_endpoint;
    char *self_endpoint; //  the ROUTER, reachable inside this process
    ces_mesh_t *mesh;
    char *advertise; //  the ROUTER address peer hubs dial back
    zpoller_t *poller;
    bool terminated;
    int log_level;
    char *hub_id;
    char *router_endpoint;
    char *pub_endpoint;
    char *http_listen; //  serve /status, /metrics, /health here, if set
    ces_http_t *http;
    uint32_t heartbeat;
    bool validate;
    size_t max_payload;
    int sndhwm;
    ces_proto_t *proto;
    ces_frame_t *frame;
    ces_event_t *event;
    zhashx_t *links; //  link id -> link_t
    zhashx_t *rooms; //  room -> room_t
    size_t star_subscribers;
    zlistx_t *repeaters; //  conn_t, not owned, in attach order
    zlistx_t *hub_peers; //  conn_t, not owned
    uint64_t next_repeater;
    zhashx_t *syncs;  //  token -> sync_t
    zhashx_t *topics; //  room ("\n" for "*") -> SUB subscriptions at the XPUB
    int64_t next_housekeeping;
    bool some_link_dead; //  a link was found gone while routing
    counters_t counters;

    //  CURVE, when a certificate is set: zauth checks client keys against
    //  the clients directory (or lets any in, "*"); monitors count refusals
    ces_curve_t *curve;
    char *curve_clients;
    zactor_t *auth;
    zsock_t *router_monitor;
    zsock_t *pub_monitor;
    uint64_t curve_refused;
    uint64_t curve_refused_logged;
    int64_t curve_next_log;
} self_t;

static role_index_t
s_role_index (const char *role)
{
    for (int index = 0; index < ROLES; index++)
        if (streq (role, s_role_names[index]))
            return (role_index_t)index;
    assert (false);
    return ROLE_MESSENGER;
}

//  --------------------------------------------------------------------------
//  Rooms, connections and links

static void
s_room_destroy (void **item_p)
{
    freen (*item_p);
    *item_p = NULL;
}

static void
s_sync_destroy (void **item_p)
{
    sync_t *sync = (sync_t *)*item_p;
    zframe_destroy (&sync->routing_id);
    zstr_free (&sync->conn);
    freen (sync);
    *item_p = NULL;
}

static void
s_room_add (self_t *self, conn_t *conn, const char *room)
{
    if (zhashx_lookup (conn->rooms, room))
        return; //  registering twice is idempotent
    zhashx_insert (conn->rooms, room, (void *)"");
    if (streq (room, "*")) {
        if (self->star_subscribers++ == 0 && self->mesh)
            ces_mesh_want (self->mesh, room, true);
        return;
    }
    room_t *entry = (room_t *)zhashx_lookup (self->rooms, room);
    if (!entry) {
        entry = (room_t *)zmalloc (sizeof (room_t));
        assert (entry);
        zhashx_insert (self->rooms, room, entry);
        if (self->mesh)
            ces_mesh_want (self->mesh, room, true);
    }
    entry->subscribers++;
}

static void
s_room_remove (self_t *self, conn_t *conn, const char *room)
{
    if (!zhashx_lookup (conn->rooms, room))
        return;
    zhashx_delete (conn->rooms, room);
    if (streq (room, "*")) {
        if (--self->star_subscribers == 0 && self->mesh)
            ces_mesh_want (self->mesh, room, false);
        return;
    }
    room_t *entry = (room_t *)zhashx_lookup (self->rooms, room);
    assert (entry && entry->subscribers > 0);
    if (--entry->subscribers == 0) {
        //  Copy: room may be the key being deleted
        char *gone = strdup (room);
        zhashx_delete (self->rooms, gone);
        if (self->mesh)
            ces_mesh_want (self->mesh, gone, false);
        freen (gone);
    }
}

static void
s_conn_remove_all_rooms (self_t *self, conn_t *conn)
{
    zlistx_t *rooms = zhashx_keys (conn->rooms);
    const char *room = (const char *)zlistx_first (rooms);
    while (room) {
        s_room_remove (self, conn, room);
        room = (const char *)zlistx_next (rooms);
    }
    zlistx_destroy (&rooms);
}

static zlistx_t *
s_role_list (self_t *self, const char *role)
{
    if (streq (role, CES_ROLE_REPEATER))
        return self->repeaters;
    if (streq (role, CES_ROLE_HUB))
        return self->hub_peers;
    return NULL;
}

static void
s_conn_detach (self_t *self, link_t *link, const char *conn_id)
{
    conn_t *conn = (conn_t *)zhashx_lookup (link->conns, conn_id);
    if (!conn)
        return;
    s_conn_remove_all_rooms (self, conn);
    zlistx_t *list = s_role_list (self, conn->role);
    if (list) {
        void *handle = zlistx_find (list, conn);
        if (handle)
            zlistx_delete (list, handle);
    }
    self->counters.connections[s_role_index (conn->role)]--;
    ces_debug (self->log_level, "hub: %s detached (%s)", conn->origin,
               conn->role);
    zhashx_delete (link->conns, conn_id);
}

static void
s_conn_free (void **item_p)
{
    conn_t *conn = (conn_t *)*item_p;
    zhashx_destroy (&conn->rooms);
    zstr_free (&conn->id);
    zstr_free (&conn->origin);
    freen (conn);
    *item_p = NULL;
}

static conn_t *
s_conn_attach (self_t *self, link_t *link, const char *conn_id,
               const char *role)
{
    conn_t *existing = (conn_t *)zhashx_lookup (link->conns, conn_id);
    if (existing && streq (existing->role, role))
        return existing;
    s_conn_detach (self, link, conn_id);

    conn_t *conn = (conn_t *)zmalloc (sizeof (conn_t));
    assert (conn);
    conn->link = link;
    conn->id = strdup (conn_id);
    conn->role_index = s_role_index (role);
    conn->role = s_role_names[conn->role_index];
    conn->origin = zsys_sprintf ("%s/%s", link->id, conn_id);
    conn->rooms = zhashx_new ();
    assert (conn->rooms);
    zhashx_insert (link->conns, conn_id, conn);
    zlistx_t *list = s_role_list (self, conn->role);
    if (list)
        zlistx_add_end (list, conn);
    self->counters.connections[s_role_index (conn->role)]++;
    ces_debug (self->log_level, "hub: %s attached as %s", conn->origin,
               conn->role);
    return conn;
}

static void
s_link_free (void **item_p)
{
    link_t *link = (link_t *)*item_p;
    zhashx_destroy (&link->conns);
    zframe_destroy (&link->routing_id);
    zstr_free (&link->id);
    zstr_free (&link->name);
    freen (link);
    *item_p = NULL;
}

//  Releases everything the link held: connections, registrations, its
//  place in the repeater rotation
static void
s_link_remove (self_t *self, link_t *link, const char *why, bool comes_back)
{
    ces_info (self->log_level, "hub: link %s (%s) %s; released %zu connections",
              link->id, link->name, why, zhashx_size (link->conns));
    if (link->mesh)
        ces_mesh_inbound_gone (self->mesh, link->id, !comes_back);
    zlistx_t *conn_ids = zhashx_keys (link->conns);
    const char *conn_id = (const char *)zlistx_first (conn_ids);
    while (conn_id) {
        s_conn_detach (self, link, conn_id);
        conn_id = (const char *)zlistx_next (conn_ids);
    }
    zlistx_destroy (&conn_ids);
    zhashx_delete (self->links, link->id);
}

static void
s_hex (const byte *data, size_t size, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * size] = 0;
}

static char *
s_routing_id_text (zframe_t *routing_id)
{
    //  Peers set printable identities; anything else is shown in hex
    size_t size = zframe_size (routing_id);
    byte *data = zframe_data (routing_id);
    for (size_t i = 0; i < size; i++)
        if (data[i] <= ' ' || data[i] >= 0x7f || data[i] == '/') {
            char *text = (char *)malloc (2 * size + 1);
            assert (text);
            s_hex (data, size, text);
            return text;
        }
    return zframe_strdup (routing_id);
}

static link_t *
s_link_new (self_t *self, zframe_t *routing_id, const char *name)
{
    link_t *link = (link_t *)zmalloc (sizeof (link_t));
    assert (link);
    link->id = s_routing_id_text (routing_id);
    link->routing_id = zframe_dup (routing_id);
    link->name = strdup (name);
    link->last_heard = zclock_mono ();
    link->conns = zhashx_new ();
    assert (link->conns);
    zhashx_set_destructor (link->conns, s_conn_free);
    zhashx_insert (self->links, link->id, link);
    return link;
}

//  On the path of every message: no allocation for printable IDs
static link_t *
s_link_lookup (self_t *self, zframe_t *routing_id)
{
    char key[256];
    size_t size = zframe_size (routing_id);
    const byte *data = zframe_data (routing_id);
    bool printable = size < sizeof (key);
    for (size_t i = 0; printable && i < size; i++)
        printable = data[i] > ' ' && data[i] < 0x7f && data[i] != '/';
    if (printable) {
        memcpy (key, data, size);
        key[size] = 0;
        return (link_t *)zhashx_lookup (self->links, key);
    }
    //  ZeroMQ's own routing IDs (5 bytes) are shown in hex, as in
    //  s_routing_id_text, on the stack
    if (size * 2 < sizeof (key)) {
        s_hex (data, size, key);
        return (link_t *)zhashx_lookup (self->links, key);
    }
    char *id = s_routing_id_text (routing_id);
    link_t *link = (link_t *)zhashx_lookup (self->links, id);
    zstr_free (&id);
    return link;
}

//  Removes links found dead while routing; called between messages
static void
s_reap_dead_links (self_t *self)
{
    if (!self->some_link_dead)
        return;
    self->some_link_dead = false;
    zlistx_t *dead = zlistx_new ();
    link_t *link = (link_t *)zhashx_first (self->links);
    while (link) {
        if (link->dead)
            zlistx_add_end (dead, link);
        link = (link_t *)zhashx_next (self->links);
    }
    link = (link_t *)zlistx_first (dead);
    while (link) {
        s_link_remove (self, link, "is gone (send failed)", false);
        link = (link_t *)zlistx_next (dead);
    }
    zlistx_destroy (&dead);
}

//  --------------------------------------------------------------------------
//  Replies to peers

static void
s_send_to (self_t *self, zframe_t *routing_id)
{
    ces_proto_set_routing_id (self->proto, routing_id);
    if (ces_proto_send (self->proto, self->router))
        ces_debug (self->log_level, "hub: could not send %s: %s",
                   ces_proto_command (self->proto),
                   zmq_strerror (zmq_errno ()));
}

static void
s_send_error (self_t *self, zframe_t *routing_id, const char *code,
              const char *reason)
{
    if (!routing_id)
        return;
    ces_proto_set_id (self->proto, CES_PROTO_ERROR);
    ces_proto_set_code (self->proto, code);
    ces_proto_set_error_reason (self->proto, reason);
    s_send_to (self, routing_id);
}

static void
s_count_drop (self_t *self, drop_reason_t reason)
{
    self->counters.drops[reason]++;
}

//  --------------------------------------------------------------------------
//  Register sync: REGISTERED goes back once both the REGISTER and the sync
//  subscription have arrived, in either order

static sync_t *
s_sync_require (self_t *self, const char *token)
{
    sync_t *sync = (sync_t *)zhashx_lookup (self->syncs, token);
    if (!sync) {
        sync = (sync_t *)zmalloc (sizeof (sync_t));
        assert (sync);
        sync->created = zclock_mono ();
        zhashx_insert (self->syncs, token, sync);
    }
    return sync;
}

static void
s_sync_complete (self_t *self, const char *token)
{
    sync_t *sync = (sync_t *)zhashx_lookup (self->syncs, token);
    if (!sync || !sync->registered || !sync->subscribed)
        return;
    ces_proto_set_id (self->proto, CES_PROTO_REGISTERED);
    ces_proto_set_conn (self->proto, sync->conn);
    ces_proto_set_token (self->proto, token);
    s_send_to (self, sync->routing_id);
    zhashx_delete (self->syncs, token);
}

//  Room topics are "ROOM\n", every room's is ""
static void
s_count_topic (self_t *self, const char *topic, size_t size, bool on)
{
    if (size > CES_ROOM_MAX + 1 || (size && topic[size - 1] != '\n'))
        return; //  not one of ours
    char key[CES_ROOM_MAX + 2] = "\n";
    if (size) {
        memcpy (key, topic, size - 1);
        key[size - 1] = 0;
    }
    uintptr_t count = (uintptr_t)zhashx_lookup (self->topics, key);
    count = on ? count + 1 : count ? count - 1 : 0;
    if (count)
        zhashx_update (self->topics, key, (void *)count);
    else
        zhashx_delete (self->topics, key);
}

static void
s_handle_subscription (self_t *self)
{
    zframe_t *frame = zframe_recv (self->pub);
    if (!frame)
        return;
    size_t prefix = strlen (CES_SYNC_PREFIX);
    const char *data = (const char *)zframe_data (frame);
    size_t size = zframe_size (frame);
    if (size > 1 + prefix && data[0] == 1 &&
        memcmp (data + 1, CES_SYNC_PREFIX, prefix) == 0) {
        char *token = strndup (data + 1 + prefix, size - 1 - prefix);
        s_sync_require (self, token)->subscribed = true;
        s_sync_complete (self, token);
        freen (token);
    } else if (size >= 1 && (data[0] == 0 || data[0] == 1))
        s_count_topic (self, data + 1, size - 1, data[0] == 1);
    zframe_destroy (&frame);
}

//  --------------------------------------------------------------------------
//  Routing

//  Sends DELIVER to one connection; false if it could not take it
static bool
s_deliver (self_t *self, conn_t *conn, zframe_t *message)
{
    if (conn->link->dead)
        return false;
    ces_proto_set_id (self->proto, CES_PROTO_DELIVER);
    ces_proto_set_conn (self->proto, conn->id);
    //  Lent to the codec for the send, not copied
    zframe_t *lent = message;
    ces_proto_set_message (self->proto, &lent);
    ces_proto_set_routing_id (self->proto, conn->link->routing_id);
    int rc = ces_proto_send (self->proto, self->router);
    int error = zmq_errno ();
    lent = ces_proto_take_message (self->proto);
    assert (lent == message);
    if (rc == 0)
        return true;
    if (error == EHOSTUNREACH) {
        s_count_drop (self, DROP_PEER_GONE);
        conn->link->dead = true;
        self->some_link_dead = true;
    } else
        s_count_drop (self, DROP_QUEUE_FULL);
    return false;
}

typedef enum { PUBLISHED, NO_SUBSCRIBER, UNCONNECTED } publish_t;

//  Publishes to messengers. One frame: the message, then the origin, its
//  length (2 octets) and the room's sequence number (8 octets), so that a
//  subscriber gets the room topic first and each event costs one ZeroMQ
//  message end to end
static publish_t
s_publish (self_t *self, const char *room_id, zframe_t *message,
           const char *origin)
{
    room_t *room = (room_t *)zhashx_lookup (self->rooms, room_id);
    if (!room && self->star_subscribers == 0)
        return NO_SUBSCRIBER;
    //  Registered over the DEALER, but no SUB has subscribed yet (a peer
    //  whose SUB reconnects after its DEALER): the PUB would drop it unseen
    if (!zhashx_lookup (self->topics, room_id) &&
        !zhashx_lookup (self->topics, "\n")) {
        s_count_drop (self, DROP_UNCONNECTED);
        return UNCONNECTED;
    }
    uint64_t seq = room ? ++room->seq : 0;
    size_t size = zframe_size (message);
    size_t origin_size = strlen (origin);
    if (origin_size > 0xFFFF)
        origin_size = 0xFFFF;
    zmq_msg_t out;
    int rc = zmq_msg_init_size (&out, size + origin_size + 10);
    assert (rc == 0);
    byte *data = (byte *)zmq_msg_data (&out);
    memcpy (data, zframe_data (message), size);
    memcpy (data + size, origin, origin_size);
    byte *footer = data + size + origin_size;
    footer[0] = (byte)(origin_size >> 8);
    footer[1] = (byte)origin_size;
    for (int i = 0; i < 8; i++)
        footer[2 + i] = (byte)(seq >> (56 - 8 * i));
    if (zmq_msg_send (&out, zsock_resolve (self->pub), 0) < 0)
        zmq_msg_close (&out);
    self->counters.published++;
    return PUBLISHED;
}

static bool
s_send_to_one_repeater (self_t *self, zframe_t *message, conn_t *sender)
{
    size_t count = zlistx_size (self->repeaters);
    for (size_t attempt = 0; attempt < count; attempt++) {
        size_t index = (size_t)(self->next_repeater++ % count);
        conn_t *repeater = (conn_t *)zlistx_first (self->repeaters);
        while (index--)
            repeater = (conn_t *)zlistx_next (self->repeaters);
        if (repeater != sender && s_deliver (self, repeater, message)) {
            self->counters.delivered_repeater++;
            return true;
        }
    }
    return false;
}

static bool
s_send_to_hub_peers (self_t *self, zframe_t *message, conn_t *sender)
{
    bool any = false;
    conn_t *peer = (conn_t *)zlistx_first (self->hub_peers);
    while (peer) {
        if (peer != sender && s_deliver (self, peer, message)) {
            self->counters.delivered_hub++;
            any = true;
        }
        peer = (conn_t *)zlistx_next (self->hub_peers);
    }
    return any;
}

//  Checks an event; on error counts it and returns the code and reason
static const char *
s_check_event (self_t *self, zframe_t *message, const char **reason)
{
    ces_frame_error_t rc = ces_frame_parse (self->frame, zframe_data (message),
                                            zframe_size (message));
    if (rc != CES_FRAME_OK) {
        s_count_drop (self, DROP_MALFORMED);
        *reason = ces_frame_strerror (rc);
        return CES_PROTO_ERR_MALFORMED;
    }
    if (self->validate &&
        ces_event_check (self->event, ces_frame_payload (self->frame),
                         ces_frame_payload_size (self->frame))) {
        s_count_drop (self, DROP_MALFORMED);
        *reason = ces_event_error (self->event);
        return CES_PROTO_ERR_NOT_JSON;
    }
    return NULL;
}

//  The routing table, for a checked event (self->frame holds its room)
static void
s_route (self_t *self, zframe_t *message, role_index_t role, const char *origin,
         conn_t *sender)
{
    if (role == ROLE_OUTSIDE)
        role = ROLE_REPEATER;
    self->counters.events_in[role]++;
    const char *room = ces_frame_room (self->frame);
    publish_t published = s_publish (self, room, message, origin);
    bool delivered = published == PUBLISHED;
    if (published == NO_SUBSCRIBER)
        self->counters.no_subscriber++;
    if (role == ROLE_MESSENGER || role == ROLE_REPEATER) {
        delivered |= s_send_to_hub_peers (self, message, sender);
        size_t queue_full = 0, peer_gone = 0;
        size_t peers =
            ces_mesh_send (self->mesh, room, message, &queue_full, &peer_gone);
        self->counters.delivered_hub += peers;
        self->counters.drops[DROP_QUEUE_FULL] += queue_full;
        self->counters.drops[DROP_PEER_GONE] += peer_gone;
        delivered |= peers > 0;
    }
    if (role == ROLE_MESSENGER)
        delivered |= s_send_to_one_repeater (self, message, sender);
    if (!delivered)
        s_count_drop (self, DROP_NO_ROUTE);
}

static void
s_handle_event (self_t *self, link_t *link)
{
    zframe_t *routing_id = ces_proto_routing_id (self->proto);
    conn_t *sender =
        (conn_t *)zhashx_lookup (link->conns, ces_proto_conn (self->proto));
    if (!sender) {
        s_count_drop (self, DROP_UNKNOWN_PEER);
        s_send_error (self, routing_id, CES_PROTO_ERR_UNKNOWN_CONN,
                      "connection is not attached; send ATTACH first");
        return;
    }
    const char *reason = NULL;
    const char *code =
        s_check_event (self, ces_proto_message (self->proto), &reason);
    if (code) {
        s_send_error (self, routing_id, code, reason);
        return;
    }
    //  Ours now: the codec's slot is reused for replies and deliveries
    zframe_t *message = ces_proto_take_message (self->proto);
    s_route (self, message, sender->role_index, sender->origin, sender);
    zframe_destroy (&message);
}

//  An event a peer hub sent over the link we dialled: hub-sourced
static void
s_handle_mesh_event (self_t *self, zframe_t **message_p, const char *origin)
{
    const char *reason = NULL;
    const char *code = s_check_event (self, *message_p, &reason);
    if (code)
        ces_debug (self->log_level, "hub: peer hub %s sent a bad event: %s",
                   origin, reason);
    else
        s_route (self, *message_p, ROLE_HUB, origin, NULL);
    zframe_destroy (message_p);
}

//  A peer hub said MESH on its link: the link is now the mesh's
static void
s_handle_mesh_hello (self_t *self, link_t *link)
{
    if (!ces_mesh_inbound (self->mesh, link->id, link->routing_id,
                           self->proto)) {
        s_send_error (self, link->routing_id, CES_PROTO_ERR_MALFORMED,
                      "that hub ID is this hub's own; hub IDs must be unique");
        return;
    }
    link->mesh = true;
    conn_t *conn = s_conn_attach (self, link, "mesh", CES_ROLE_HUB);
    //  Not an original hub: it gets what it registers, through ces_mesh
    void *handle = zlistx_find (self->hub_peers, conn);
    if (handle)
        zlistx_delete (self->hub_peers, handle);
}

static void
s_handle_register (self_t *self, link_t *link, bool is_register)
{
    zframe_t *routing_id = ces_proto_routing_id (self->proto);
    const char *conn_id = ces_proto_conn (self->proto);
    conn_t *conn = (conn_t *)zhashx_lookup (link->conns, conn_id);
    if (!conn) {
        s_send_error (self, routing_id, CES_PROTO_ERR_UNKNOWN_CONN,
                      "connection is not attached; send ATTACH first");
        return;
    }
    zlist_t *rooms = ces_proto_rooms (self->proto);
    if (!is_register && zlist_size (rooms) == 0) {
        s_conn_remove_all_rooms (self, conn);
        return;
    }
    const char *room = (const char *)zlist_first (rooms);
    while (room) {
        if (is_register)
            s_room_add (self, conn, room);
        else
            s_room_remove (self, conn, room);
        room = (const char *)zlist_next (rooms);
    }
    const char *token = ces_proto_token (self->proto);
    if (is_register && *token) {
        sync_t *sync = s_sync_require (self, token);
        sync->registered = true;
        zframe_destroy (&sync->routing_id);
        sync->routing_id = zframe_dup (routing_id);
        zstr_free (&sync->conn);
        sync->conn = strdup (conn_id);
        //  Copy the token: the reply below reuses the codec's fields
        char *token_copy = strdup (token);
        s_sync_complete (self, token_copy);
        freen (token_copy);
    }
}

static void
s_handle_hello (self_t *self)
{
    zframe_t *routing_id = ces_proto_routing_id (self->proto);
    if (!streq (ces_proto_version (self->proto), CES_PROTO_VERSION)) {
        s_send_error (self, routing_id, CES_PROTO_ERR_VERSION,
                      "this hub speaks protocol version " CES_PROTO_VERSION);
        return;
    }
    link_t *link = s_link_lookup (self, routing_id);
    if (link)
        s_link_remove (self, link, "said HELLO again (restarted)", true);
    link = s_link_new (self, routing_id, ces_proto_name (self->proto));
    ces_info (self->log_level, "hub: link %s (%s) connected", link->id,
              link->name);
    ces_proto_set_id (self->proto, CES_PROTO_WELCOME);
    ces_proto_set_hub_id (self->proto, self->hub_id);
    ces_proto_set_heartbeat (self->proto, self->heartbeat);
    s_send_to (self, routing_id);
}

static void
s_handle_router (self_t *self)
{
    int rc = ces_proto_recv (self->proto, self->router);
    if (rc == -1)
        return;
    zframe_t *routing_id = ces_proto_routing_id (self->proto);
    if (rc == -2) {
        s_count_drop (self, DROP_MALFORMED);
        ces_debug (self->log_level, "hub: malformed message: %s",
                   ces_proto_reason (self->proto));
        s_send_error (self, routing_id, CES_PROTO_ERR_MALFORMED,
                      ces_proto_reason (self->proto));
        return;
    }
    ces_proto_id_t id = ces_proto_id (self->proto);
    if (id == CES_PROTO_HELLO) {
        s_handle_hello (self);
        return;
    }
    link_t *link = s_link_lookup (self, routing_id);
    if (!link) {
        //  A peer of a hub that restarted, or one we expired: it must
        //  say HELLO again and re-attach
        if (id == CES_PROTO_EVENT)
            s_count_drop (self, DROP_UNKNOWN_PEER);
        if (id != CES_PROTO_BYE)
            s_send_error (self, routing_id, CES_PROTO_ERR_UNKNOWN_LINK,
                          "this hub does not know you; send HELLO");
        return;
    }
    link->last_heard = zclock_mono ();
    if (link->mesh)
        ces_mesh_inbound_heard (self->mesh, link->id, id == CES_PROTO_EVENT);
    switch (id) {
        case CES_PROTO_ATTACH:
            s_conn_attach (self, link, ces_proto_conn (self->proto),
                           ces_proto_role (self->proto));
            break;
        case CES_PROTO_DETACH:
            s_conn_detach (self, link, ces_proto_conn (self->proto));
            break;
        case CES_PROTO_MESH:
            s_handle_mesh_hello (self, link);
            break;
        case CES_PROTO_REGISTER:
        case CES_PROTO_UNREGISTER:
        case CES_PROTO_PEERS:
        case CES_PROTO_UNLINK:
            if (link->mesh)
                ces_mesh_inbound (self->mesh, link->id, link->routing_id,
                                  self->proto);
            else if (id == CES_PROTO_REGISTER || id == CES_PROTO_UNREGISTER)
                s_handle_register (self, link, id == CES_PROTO_REGISTER);
            else
                s_send_error (self, routing_id, CES_PROTO_ERR_MALFORMED,
                              "mesh command on a link that did not say MESH");
            break;
        case CES_PROTO_EVENT:
            s_handle_event (self, link);
            break;
        case CES_PROTO_HEARTBEAT:
            ces_proto_set_id (self->proto, CES_PROTO_HEARTBEAT);
            s_send_to (self, routing_id);
            break;
        case CES_PROTO_BYE:
            s_link_remove (self, link, "said BYE", false);
            break;
        default:
            s_count_drop (self, DROP_MALFORMED);
            s_send_error (self, routing_id, CES_PROTO_ERR_MALFORMED,
                          "command is not one a peer sends to a hub");
            break;
    }
    s_reap_dead_links (self);
}

static char *s_status_json (self_t *self);
static char *s_metrics_text (self_t *self);

static void
s_publish_snapshot (self_t *self)
{
    if (!self->http)
        return;
    char *status = s_status_json (self);
    char *metrics = s_metrics_text (self);
    ces_http_publish (self->http, true, status, metrics);
    freen (status);
    freen (metrics);
}

//  --------------------------------------------------------------------------
//  Housekeeping: expire silent links, forget stale syncs, log drops

static void
s_housekeeping (self_t *self)
{
    int64_t now = zclock_mono ();
    int64_t expiry = 3 * (int64_t)self->heartbeat;
    zlistx_t *silent = zlistx_new ();
    link_t *link = (link_t *)zhashx_first (self->links);
    while (link) {
        if (now - link->last_heard > expiry)
            zlistx_add_end (silent, link);
        link = (link_t *)zhashx_next (self->links);
    }
    link = (link_t *)zlistx_first (silent);
    while (link) {
        s_link_remove (self, link, "fell silent for 3 heartbeats", false);
        link = (link_t *)zlistx_next (silent);
    }
    zlistx_destroy (&silent);

    zlistx_t *stale = zlistx_new ();
    zlistx_set_destructor (stale, (zlistx_destructor_fn *)zstr_free);
    sync_t *sync = (sync_t *)zhashx_first (self->syncs);
    while (sync) {
        if (now - sync->created > 10000)
            zlistx_add_end (stale,
                            strdup ((char *)zhashx_cursor (self->syncs)));
        sync = (sync_t *)zhashx_next (self->syncs);
    }
    char *token = (char *)zlistx_first (stale);
    while (token) {
        zhashx_delete (self->syncs, token);
        token = (char *)zlistx_next (stale);
    }
    zlistx_destroy (&stale);

    //  Drops are logged once per interval, not once per event
    for (int reason = 0; reason < DROP_REASONS; reason++) {
        uint64_t fresh =
            self->counters.drops[reason] - self->counters.drops_logged[reason];
        if (fresh)
            ces_warn (self->log_level, "hub: dropped %" PRIu64 " events (%s)",
                      fresh, s_drop_names[reason]);
        self->counters.drops_logged[reason] = self->counters.drops[reason];
    }
    s_publish_snapshot (self);
    self->next_housekeeping = now + self->heartbeat;
}

//  --------------------------------------------------------------------------
//  Status and metrics

static char *
s_status_json (self_t *self)
{
    cJSON *root = cJSON_CreateObject ();
    cJSON_AddStringToObject (root, "hub_id", self->hub_id);
    cJSON_AddStringToObject (
        root, "router", self->router_endpoint ? self->router_endpoint : "");
    cJSON_AddStringToObject (root, "pub",
                             self->pub_endpoint ? self->pub_endpoint : "");
    cJSON_AddBoolToObject (root, "validate", self->validate);
    cJSON_AddNumberToObject (root, "heartbeat_ms", self->heartbeat);

    cJSON *connections = cJSON_AddObjectToObject (root, "connections");
    for (int role = 0; role < ROLES; role++)
        cJSON_AddNumberToObject (connections, s_role_names[role],
                                 (double)self->counters.connections[role]);

    int64_t now = zclock_mono ();
    cJSON *links = cJSON_AddArrayToObject (root, "links");
    link_t *link = (link_t *)zhashx_first (self->links);
    while (link) {
        cJSON *item = cJSON_CreateObject ();
        cJSON_AddStringToObject (item, "id", link->id);
        cJSON_AddStringToObject (item, "name", link->name);
        cJSON_AddNumberToObject (item, "last_heard_ms_ago",
                                 (double)(now - link->last_heard));
        cJSON_AddNumberToObject (item, "connections",
                                 (double)zhashx_size (link->conns));
        cJSON_AddItemToArray (links, item);
        link = (link_t *)zhashx_next (self->links);
    }
    cJSON *rooms = cJSON_AddObjectToObject (root, "rooms");
    room_t *room = (room_t *)zhashx_first (self->rooms);
    while (room) {
        cJSON_AddNumberToObject (rooms,
                                 (const char *)zhashx_cursor (self->rooms),
                                 (double)room->subscribers);
        room = (room_t *)zhashx_next (self->rooms);
    }
    cJSON_AddNumberToObject (root, "star_subscribers",
                             (double)self->star_subscribers);
    cJSON_AddNumberToObject (root, "repeaters",
                             (double)zlistx_size (self->repeaters));

    cJSON *events_in = cJSON_AddObjectToObject (root, "events_in");
    for (int role = 0; role < SOURCES; role++)
        cJSON_AddNumberToObject (events_in, s_role_names[role],
                                 (double)self->counters.events_in[role]);
    cJSON *deliveries = cJSON_AddObjectToObject (root, "deliveries");
    cJSON_AddNumberToObject (deliveries, "published",
                             (double)self->counters.published);
    cJSON_AddNumberToObject (root, "no_subscriber",
                             (double)self->counters.no_subscriber);
    cJSON_AddNumberToObject (deliveries, "repeater",
                             (double)self->counters.delivered_repeater);
    cJSON_AddNumberToObject (deliveries, "hub",
                             (double)self->counters.delivered_hub);
    cJSON *drops = cJSON_AddObjectToObject (root, "drops");
    for (int reason = 0; reason < DROP_REASONS; reason++)
        cJSON_AddNumberToObject (drops, s_drop_names[reason],
                                 (double)self->counters.drops[reason]);
    cJSON *curve = cJSON_AddObjectToObject (root, "curve");
    cJSON_AddBoolToObject (curve, "enabled", self->curve != NULL);
    if (self->curve) {
        cJSON_AddStringToObject (curve, "public_key",
                                 ces_curve_public_key (self->curve));
        cJSON_AddStringToObject (curve, "clients", self->curve_clients);
    }
    cJSON_AddNumberToObject (curve, "refused", (double)self->curve_refused);
    if (self->mesh)
        ces_mesh_status (self->mesh, root);
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
    fprintf (out, "# HELP ces_hub_events_in_total Events received, by source "
                  "role.\n# TYPE ces_hub_events_in_total counter\n");
    for (int role = 0; role < SOURCES; role++)
        fprintf (out, "ces_hub_events_in_total{source=\"%s\"} %" PRIu64 "\n",
                 s_role_names[role], self->counters.events_in[role]);
    fprintf (out, "# HELP ces_hub_deliveries_total Events sent on, by path.\n"
                  "# TYPE ces_hub_deliveries_total counter\n");
    fprintf (out, "ces_hub_deliveries_total{path=\"publish\"} %" PRIu64 "\n",
             self->counters.published);
    fprintf (out, "ces_hub_deliveries_total{path=\"repeater\"} %" PRIu64 "\n",
             self->counters.delivered_repeater);
    fprintf (out, "ces_hub_deliveries_total{path=\"hub\"} %" PRIu64 "\n",
             self->counters.delivered_hub);
    fprintf (out, "# HELP ces_hub_drops_total Events not delivered, by "
                  "reason.\n# TYPE ces_hub_drops_total counter\n");
    for (int reason = 0; reason < DROP_REASONS; reason++)
        fprintf (out, "ces_hub_drops_total{reason=\"%s\"} %" PRIu64 "\n",
                 s_drop_names[reason], self->counters.drops[reason]);
    fprintf (out, "# HELP ces_hub_connections Attached connections, by role.\n"
                  "# TYPE ces_hub_connections gauge\n");
    for (int role = 0; role < ROLES; role++)
        fprintf (out, "ces_hub_connections{role=\"%s\"} %zu\n",
                 s_role_names[role], self->counters.connections[role]);
    fprintf (out,
             "# HELP ces_hub_links Peers linked to the ROUTER.\n"
             "# TYPE ces_hub_links gauge\nces_hub_links %zu\n",
             zhashx_size (self->links));
    fprintf (out,
             "# HELP ces_hub_rooms Rooms with at least one subscriber.\n"
             "# TYPE ces_hub_rooms gauge\nces_hub_rooms %zu\n",
             zhashx_size (self->rooms));
    fprintf (out,
             "# HELP ces_hub_no_subscriber_total Events for a room no local "
             "messenger held (a repeater or peer hub may still get them).\n"
             "# TYPE ces_hub_no_subscriber_total counter\n"
             "ces_hub_no_subscriber_total %" PRIu64 "\n",
             self->counters.no_subscriber);
    fprintf (out,
             "# HELP ces_hub_curve_refused_total CURVE handshakes refused "
             "(unknown client key, other hub key, or no CURVE).\n"
             "# TYPE ces_hub_curve_refused_total counter\n"
             "ces_hub_curve_refused_total %" PRIu64 "\n",
             self->curve_refused);
    if (self->mesh)
        ces_mesh_metrics (self->mesh, out);
    fclose (out);
    return text;
}

//  --------------------------------------------------------------------------
//  Pipe commands

static int
s_set_curve_cert (self_t *self, const char *path)
{
    ces_curve_destroy (&self->curve);
    if (!*path)
        return 0; //  "" turns CURVE off
    char reason[256];
    self->curve = ces_curve_new (path, NULL, reason, sizeof (reason));
    if (!self->curve) {
        ces_error (self->log_level, "hub: %s", reason);
        return -1;
    }
    return 0;
}

static int
s_set_option (self_t *self, const char *name, const char *value)
{
    if (!name || !value || ces_options_check (CES_OPTIONS_HUB, name, value))
        return -1;
    char *end;
    long number = strtol (value, &end, 10);
    bool is_number = *value && !*end;
    if (streq (name, "heartbeat") && is_number && number >= 10 &&
        number <= 3600000)
        self->heartbeat = (uint32_t)number;
    else if (streq (name, "validate") &&
             (streq (value, "true") || streq (value, "false")))
        self->validate = streq (value, "true");
    else if (streq (name, "max-message") && is_number && number > 0)
        ces_frame_destroy (&self->frame),
            self->frame = ces_frame_new ((size_t)number);
    else if (streq (name, "max-depth") && is_number && number > 0 &&
             number <= CES_DEPTH_LIMIT)
        ces_event_set_max_depth (self->event, (int)number);
    else if (streq (name, "sndhwm") && is_number && number > 0)
        self->sndhwm = (int)number;
    else if (streq (name, "hub-id") && ces_proto_name_valid (value))
        zstr_free (&self->hub_id), self->hub_id = strdup (value);
    else if (streq (name, "advertise"))
        zstr_free (&self->advertise), self->advertise = strdup (value);
    else if (streq (name, "http") && *value)
        zstr_free (&self->http_listen), self->http_listen = strdup (value);
    else if (streq (name, "log-level") && ces_log_level_parse (value) >= 0)
        self->log_level = ces_log_level_parse (value);
    else if (streq (name, "curve-cert") && !self->router)
        return s_set_curve_cert (self, value);
    else if (streq (name, "curve-clients") && *value && !self->router)
        zstr_free (&self->curve_clients), self->curve_clients = strdup (value);
    else
        return -1;
    return 0;
}

//  Binds every endpoint of a comma-separated list; returns the endpoints
//  actually bound (ports filled in), or NULL with the one that failed
static char *
s_bind_all (zsock_t *socket, const char *endpoints, char **failed)
{
    char *list = strdup (endpoints);
    char *bound = strdup ("");
    char *saveptr = NULL;
    for (char *endpoint = strtok_r (list, ",", &saveptr); endpoint;
         endpoint = strtok_r (NULL, ",", &saveptr)) {
        if (zsock_bind (socket, "%s", endpoint) < 0) {
            *failed = strdup (endpoint);
            zstr_free (&bound);
            break;
        }
        char *last = zsock_last_endpoint (socket);
        char *joined = zsys_sprintf ("%s%s%s", bound, *bound ? "," : "", last);
        zstr_free (&last);
        zstr_free (&bound);
        bound = joined;
    }
    freen (list);
    return bound;
}

//  The ROUTER address peer hubs can dial back: the first tcp endpoint
//  bound to a real interface, unless "advertise" says otherwise
static char *
s_advertised (self_t *self)
{
    if (self->advertise)
        return strdup (self->advertise);
    char *list = strdup (self->router_endpoint);
    char *saveptr = NULL;
    char *found = NULL;
    for (char *endpoint = strtok_r (list, ",", &saveptr); endpoint && !found;
         endpoint = strtok_r (NULL, ",", &saveptr))
        if (strncmp (endpoint, "tcp://", 6) == 0 &&
            strncmp (endpoint, "tcp://0.0.0.0:", 14) != 0 &&
            strncmp (endpoint, "tcp://*:", 8) != 0 &&
            strncmp (endpoint, "tcp://[::]:", 11) != 0)
            found = strdup (endpoint);
    freen (list);
    if (!found)
        ces_debug (self->log_level,
                   "hub %s: no ROUTER address peer hubs can dial back (bind "
                   "a tcp:// address of an interface, or set --advertise)",
                   self->hub_id);
    return found ? found : strdup ("");
}

//  Peer hubs dial with the hub certificate: without it in the directory
//  the mesh is refused, which is easy to miss
static void
s_check_own_key_authorised (self_t *self)
{
    zcertstore_t *store = zcertstore_new (self->curve_clients);
    assert (store);
    if (!zcertstore_lookup (store, ces_curve_public_key (self->curve)))
        ces_warn (self->log_level,
                  "hub %s: %s does not hold this hub's public certificate; "
                  "peer hubs (which share it) will be refused",
                  self->hub_id, self->curve_clients);
    zcertstore_destroy (&store);
}

//  CURVE: zauth answers the handshakes of every socket in this process
//  that is a CURVE server; only one hub per process may have keys
static char *
s_secure (self_t *self)
{
    if (!self->curve_clients)
        return strdup ("a hub certificate needs a clients directory of "
                       "authorised public certificates, or \"*\" for any "
                       "client that has the hub's public key");
    bool any = streq (self->curve_clients, "*");
    if (!any && !zsys_file_exists (self->curve_clients))
        return zsys_sprintf ("no clients directory %s", self->curve_clients);
    if (!any)
        s_check_own_key_authorised (self);
    self->auth = zactor_new (zauth, NULL);
    assert (self->auth);
    if (self->log_level >= CES_LOG_DEBUG) {
        zstr_sendx (self->auth, "VERBOSE", NULL);
        zsock_wait (self->auth);
    }
    zstr_sendx (self->auth, "CURVE",
                any ? CURVE_ALLOW_ANY : self->curve_clients, NULL);
    zsock_wait (self->auth);
    ces_curve_secure_server (self->curve, self->router);
    ces_curve_secure_server (self->curve, self->pub);
    ces_info (self->log_level, "hub %s: CURVE on, public key %s, clients %s",
              self->hub_id, ces_curve_public_key (self->curve),
              any ? "any that has the key" : self->curve_clients);
    return NULL;
}

static void
s_handle_monitor (self_t *self, zsock_t *monitor)
{
    char *endpoint = NULL;
    ces_curve_refusal_t kind = ces_curve_refusal (monitor, &endpoint);
    if (kind == CES_CURVE_NONE)
        return;
    self->curve_refused++;
    //  A refused client keeps retrying: one line a second at most
    int64_t now = zclock_mono ();
    if (now >= self->curve_next_log) {
        ces_warn (self->log_level,
                  "hub %s: refused %" PRIu64 " CURVE handshake(s) on %s (%s)",
                  self->hub_id,
                  self->curve_refused - self->curve_refused_logged, endpoint,
                  kind == CES_CURVE_NOT_ALLOWED
                      ? "a client key not in the clients directory"
                      : "a client without CURVE or with another hub key");
        self->curve_refused_logged = self->curve_refused;
        self->curve_next_log = now + 1000;
    }
    zstr_free (&endpoint);
}

//  The mesh, the in-process ROUTER endpoint original-hub peers use, and
//  the control socket HTTP threads ask for /interconnect changes on
static void
s_start_mesh (self_t *self)
{
    //  Unique names: a hub that just ended may still hold its own
    zuuid_t *uuid = zuuid_new ();
    self->self_endpoint =
        zsys_sprintf ("inproc://ces-hub-%s", zuuid_str (uuid));
    int rc = zsock_bind (self->router, "%s", self->self_endpoint);
    assert (rc == 0);
    self->control_endpoint =
        zsys_sprintf ("inproc://ces-hub-control-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    self->control = zsock_new (ZMQ_ROUTER);
    assert (self->control);
    rc = zsock_bind (self->control, "%s", self->control_endpoint);
    assert (rc == 0);
    self->mesh = ces_mesh_new (self->hub_id, self->router, self->poller,
                               self->self_endpoint);
    ces_mesh_set_log_level (self->mesh, self->log_level);
    char *address = s_advertised (self);
    ces_mesh_set_address (self->mesh, address);
    zstr_free (&address);
}

static void
s_bind (self_t *self, const char *router_endpoint, const char *pub_endpoint)
{
    if (self->router) {
        zstr_sendx (self->pipe, "-1", "hub is already bound", "", "", NULL);
        return;
    }
    self->router = zsock_new (ZMQ_ROUTER);
    self->pub = zsock_new (ZMQ_XPUB);
    assert (self->router && self->pub);
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_router_handover (self->router, 1);
    zsock_set_sndtimeo (self->router, 0);
    zsock_set_sndhwm (self->router, self->sndhwm);
    zsock_set_rcvhwm (self->router, self->sndhwm);
    zsock_set_sndhwm (self->pub, self->sndhwm);
    zsock_set_xpub_verbose (self->pub, 1);
    //  Every subscribe and unsubscribe, also for a SUB that goes away: the
    //  hub counts which rooms have a SUB connected (self->topics)
    zsock_set_xpub_verboser (self->pub, 1);
    //  Subscriptions are tiny and must never be dropped (see ces_link)
    zsock_set_rcvhwm (self->pub, 0);
    zsock_set_sndtimeo (self->pub, 0);
    zsock_set_linger (self->router, 100);
    char *reason = self->curve ? s_secure (self) : NULL;
    if (reason) {
        zsock_destroy (&self->router);
        zsock_destroy (&self->pub);
        zstr_sendx (self->pipe, "-1", reason, "", "", NULL);
        zstr_free (&reason);
        return;
    }
    char *failed = NULL;
    self->router_endpoint = s_bind_all (self->router, router_endpoint, &failed);
    if (self->router_endpoint)
        self->pub_endpoint = s_bind_all (self->pub, pub_endpoint, &failed);
    if (!self->router_endpoint || !self->pub_endpoint) {
        char *reason = zsys_sprintf ("cannot bind %s: %s", failed,
                                     zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->router);
        zsock_destroy (&self->pub);
        zstr_free (&self->router_endpoint);
        zstr_free (&failed);
        zstr_sendx (self->pipe, "-1", reason, "", "", NULL);
        zstr_free (&reason);
        return;
    }
    s_start_mesh (self);
    if (self->curve) {
        self->router_monitor =
            ces_curve_monitor (self->router, CES_CURVE_REFUSALS);
        self->pub_monitor = ces_curve_monitor (self->pub, CES_CURVE_REFUSALS);
        zpoller_add (self->poller, self->router_monitor);
        zpoller_add (self->poller, self->pub_monitor);
        ces_mesh_set_curve (self->mesh, self->curve);
    }
    if (self->http_listen) {
        char error[256] = "";
        self->http = ces_http_new (self->http_listen, error, sizeof (error));
        if (self->http)
            ces_http_set_control (self->http, self->control_endpoint);
        if (!self->http) {
            char *reason = zsys_sprintf ("cannot serve HTTP on %s: %s",
                                         self->http_listen, error);
            ces_mesh_destroy (&self->mesh);
            zsock_destroy (&self->control);
            zsock_destroy (&self->router);
            zsock_destroy (&self->pub);
            zstr_free (&self->router_endpoint);
            zstr_free (&self->pub_endpoint);
            zstr_sendx (self->pipe, "-1", reason, "", "", NULL);
            zstr_free (&reason);
            return;
        }
        ces_info (self->log_level, "hub %s: status on port %d", self->hub_id,
                  ces_http_port (self->http));
    }
    s_publish_snapshot (self);
    zpoller_add (self->poller, self->router);
    zpoller_add (self->poller, self->pub);
    zpoller_add (self->poller, self->control);
    self->next_housekeeping = zclock_mono () + self->heartbeat;
    ces_info (self->log_level, "hub %s: ROUTER %s, PUB %s, heartbeat %u ms%s",
              self->hub_id, self->router_endpoint, self->pub_endpoint,
              self->heartbeat, self->validate ? "" : ", validation off");
    char http[64] = "";
    if (self->http)
        snprintf (
            http, sizeof (http), "%.*s:%d",
            (int)(strrchr (self->http_listen, ':')
                      ? strrchr (self->http_listen, ':') - self->http_listen
                      : 0),
            self->http_listen, ces_http_port (self->http));
    zstr_sendx (self->pipe, "0", self->router_endpoint, self->pub_endpoint,
                http, self->control_endpoint, NULL);
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
    else if (streq (command, "VERBOSE"))
        self->log_level = CES_LOG_DEBUG;
    else if (streq (command, "SET")) {
        char *name = zmsg_popstr (request);
        char *value = zmsg_popstr (request);
        zsock_signal (self->pipe, s_set_option (self, name, value) ? 1 : 0);
        zstr_free (&name);
        zstr_free (&value);
    } else if (streq (command, "BIND")) {
        char *router_endpoint = zmsg_popstr (request);
        char *pub_endpoint = zmsg_popstr (request);
        assert (router_endpoint && pub_endpoint);
        s_bind (self, router_endpoint, pub_endpoint);
        zstr_free (&router_endpoint);
        zstr_free (&pub_endpoint);
    } else if (streq (command, "LINK") || streq (command, "UNLINK")) {
        char *address = zmsg_popstr (request);
        assert (address);
        char *reply = NULL;
        int rc = !self->mesh ? (reply = strdup ("hub is not bound"), -1)
                 : streq (command, "LINK")
                     ? ces_mesh_link (self->mesh, address, &reply)
                     : ces_mesh_unlink (self->mesh, address, &reply);
        zstr_sendx (self->pipe, rc < 0 ? "-1" : rc ? "1" : "0", reply, NULL);
        zstr_free (&reply);
        zstr_free (&address);
    } else if (streq (command, "STATUS")) {
        char *json = s_status_json (self);
        zstr_send (self->pipe, json);
        freen (json);
    } else if (streq (command, "METRICS")) {
        char *text = s_metrics_text (self);
        zstr_send (self->pipe, text);
        freen (text);
    } else {
        zsys_error ("hub: invalid pipe command '%s'", command);
        assert (false);
    }
    zstr_free (&command);
    zmsg_destroy (&request);
}

//  What arrives on a link the mesh dialled
static void
s_handle_mesh_dial (self_t *self, void *which)
{
    //  Only the pipe, router, pub, control and the mesh's sockets are polled
    for (int count = 0; count < 1000; count++) {
        const char *origin = NULL;
        zframe_t *message = ces_mesh_recv (self->mesh, which, &origin);
        if (message)
            s_handle_mesh_event (self, &message, origin);
        //  The mesh may have closed the link while handling it
        if (!ces_mesh_owns (self->mesh, which) ||
            !(zsock_events (which) & ZMQ_POLLIN))
            break;
    }
}

//  /interconnect from an HTTP thread: [method, address] -> [status, body]
static void
s_handle_control (self_t *self)
{
    zmsg_t *request = zmsg_recv (self->control);
    if (!request)
        return;
    zframe_t *routing_id = zmsg_pop (request);
    char *method = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *reply = NULL;
    const char *status = "400";
    if (!method || !address)
        reply = strdup ("bad control request");
    else if (streq (method, "GET")) {
        cJSON *root = cJSON_CreateObject ();
        cJSON_AddStringToObject (root, "hub_id", self->hub_id);
        ces_mesh_status (self->mesh, root);
        reply = cJSON_PrintUnformatted (root);
        cJSON_Delete (root);
        status = "200";
    } else if (streq (method, "POST")) {
        int rc = ces_mesh_link (self->mesh, address, &reply);
        status = rc < 0 ? "400" : rc ? "200" : "201";
    } else if (streq (method, "DELETE")) {
        int rc = ces_mesh_unlink (self->mesh, address, &reply);
        status = rc < 0 ? "404" : "200";
    } else {
        reply = strdup ("use POST to link, DELETE to unlink, GET to list");
        status = "405";
    }
    zmsg_t *answer = zmsg_new ();
    zmsg_append (answer, &routing_id);
    zmsg_addstr (answer, status);
    zmsg_addstr (answer, reply);
    zmsg_send (&answer, self->control);
    zstr_free (&reply);
    zstr_free (&method);
    zstr_free (&address);
    zframe_destroy (&routing_id);
    zmsg_destroy (&request);
}

//  --------------------------------------------------------------------------
//  The actor

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        self_t *self = *self_p;
        //  The mesh takes its sockets out of the poller first
        ces_mesh_destroy (&self->mesh);
        zpoller_destroy (&self->poller);
        ces_http_destroy (&self->http);
        zstr_free (&self->http_listen);
        zsock_destroy (&self->control);
        zstr_free (&self->control_endpoint);
        zstr_free (&self->self_endpoint);
        zstr_free (&self->advertise);
        ces_curve_monitor_stop (self->router, &self->router_monitor);
        ces_curve_monitor_stop (self->pub, &self->pub_monitor);
        zsock_destroy (&self->router);
        zsock_destroy (&self->pub);
        zactor_destroy (&self->auth);
        ces_curve_destroy (&self->curve);
        zstr_free (&self->curve_clients);
        zhashx_destroy (&self->syncs);
        zhashx_destroy (&self->topics);
        zlistx_destroy (&self->repeaters);
        zlistx_destroy (&self->hub_peers);
        zhashx_destroy (&self->links);
        zhashx_destroy (&self->rooms);
        ces_proto_destroy (&self->proto);
        ces_frame_destroy (&self->frame);
        ces_event_destroy (&self->event);
        zstr_free (&self->hub_id);
        zstr_free (&self->router_endpoint);
        zstr_free (&self->pub_endpoint);
        freen (self);
        *self_p = NULL;
    }
}

static self_t *
s_self_new (zsock_t *pipe)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->log_level = CES_LOG_INFO;
    zuuid_t *uuid = zuuid_new ();
    self->hub_id = zsys_sprintf ("hub-%.8s", zuuid_str_canonical (uuid));
    zuuid_destroy (&uuid);
    self->heartbeat = CES_HEARTBEAT_MSEC;
    self->validate = true;
    self->sndhwm = CES_HUB_SNDHWM;
    self->proto = ces_proto_new ();
    self->frame = ces_frame_new (CES_PAYLOAD_MAX);
    self->event = ces_event_new ();
    self->links = zhashx_new ();
    self->rooms = zhashx_new ();
    self->syncs = zhashx_new ();
    self->topics = zhashx_new ();
    assert (self->topics);
    self->repeaters = zlistx_new ();
    self->hub_peers = zlistx_new ();
    self->poller = zpoller_new (pipe, NULL);
    assert (self->links && self->rooms && self->syncs && self->poller);
    zhashx_set_destructor (self->links, s_link_free);
    zhashx_set_destructor (self->rooms, s_room_destroy);
    zhashx_set_destructor (self->syncs, s_sync_destroy);
    //  Never steal the host's signals: only $TERM ends the actor
    zpoller_set_nonstop (self->poller, true);
    return self;
}

void
ces_hub_actor (zsock_t *pipe, void *args)
{
    (void)args;
    self_t *self = s_self_new (pipe);
    zsock_signal (pipe, 0);
    while (!self->terminated) {
        int timeout = -1;
        if (self->router) {
            int64_t wait = self->next_housekeeping - zclock_mono ();
            timeout = wait > 0 ? (int)wait : 0;
            int mesh_wait = ces_mesh_timeout (self->mesh);
            if (mesh_wait < timeout)
                timeout = mesh_wait;
        }
        zsock_t *which = (zsock_t *)zpoller_wait (self->poller, timeout);
        if (which == self->pipe)
            s_handle_pipe (self);
        else if (which == self->router) {
            //  Bounded batch, so that the pipe and timers are never starved
            for (int count = 0; count < 1000; count++) {
                s_handle_router (self);
                if (!(zsock_events (self->router) & ZMQ_POLLIN))
                    break;
            }
        } else if (which == self->pub)
            s_handle_subscription (self);
        else if (which && which == self->control)
            s_handle_control (self);
        else if (which &&
                 (which == self->router_monitor || which == self->pub_monitor))
            s_handle_monitor (self, which);
        else if (which)
            s_handle_mesh_dial (self, which);
        if (self->mesh && ces_mesh_timeout (self->mesh) == 0)
            ces_mesh_tick (self->mesh);
        if (self->router && zclock_mono () >= self->next_housekeeping)
            s_housekeeping (self);
    }
    s_self_destroy (&self);
}

int
ces_hub_link (zactor_t *hub, zlist_t *addresses, char **reason)
{
    assert (hub && addresses && reason);
    *reason = NULL;
    for (const char *address = (const char *)zlist_first (addresses);
         address && !*reason; address = (const char *)zlist_next (addresses)) {
        zstr_sendx (hub, "LINK", address, NULL);
        char *rc = NULL, *reply = NULL;
        zstr_recvx (hub, &rc, &reply, NULL);
        if (!rc || streq (rc, "-1"))
            *reason = zsys_sprintf ("%s: %s", address, reply ? reply : "?");
        zstr_free (&rc);
        zstr_free (&reply);
    }
    return *reason ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Self test: a raw DEALER and SUB speak the protocol to a hub

static void
s_expect (ces_proto_t *proto, zsock_t *dealer, ces_proto_id_t id)
{
    int rc = ces_proto_recv (proto, dealer);
    assert (rc == 0);
    if (ces_proto_id (proto) != id)
        zsys_error ("expected %d, got %s", id, ces_proto_command (proto));
    assert (ces_proto_id (proto) == id);
}

void
ces_hub_test (bool verbose)
{
    printf (" * ces_hub: ");
    //  @selftest
    zactor_t *hub = zactor_new (ces_hub_actor, NULL);
    assert (hub);
    if (verbose)
        zstr_send (hub, "VERBOSE");
    zstr_sendx (hub, "SET", "heartbeat", "nonsense", NULL);
    assert (zsock_wait (hub) != 0);
    zstr_sendx (hub, "SET", "hub-id", "selftest-hub", NULL);
    assert (zsock_wait (hub) == 0);
    zstr_sendx (hub, "BIND", "inproc://hub-test-router",
                "inproc://hub-test-pub", NULL);
    char *status, *router_endpoint, *pub_endpoint;
    zstr_recvx (hub, &status, &router_endpoint, &pub_endpoint, NULL);
    assert (streq (status, "0"));
    assert (streq (router_endpoint, "inproc://hub-test-router"));
    zstr_free (&status);
    zstr_free (&router_endpoint);
    zstr_free (&pub_endpoint);

    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_identity (dealer, "selftest");
    zsock_set_rcvtimeo (dealer, 2000);
    assert (zsock_connect (dealer, "inproc://hub-test-router") == 0);
    zsock_t *sub = zsock_new_sub ("inproc://hub-test-pub", NULL);
    zsock_set_rcvtimeo (sub, 2000);
    ces_proto_t *proto = ces_proto_new ();

    //  An unknown link is told to say HELLO
    ces_proto_set_id (proto, CES_PROTO_HEARTBEAT);
    ces_proto_send (proto, dealer);
    s_expect (proto, dealer, CES_PROTO_ERROR);
    assert (streq (ces_proto_code (proto), CES_PROTO_ERR_UNKNOWN_LINK));

    ces_proto_set_id (proto, CES_PROTO_HELLO);
    ces_proto_set_name (proto, "selftest");
    ces_proto_send (proto, dealer);
    s_expect (proto, dealer, CES_PROTO_WELCOME);
    assert (streq (ces_proto_hub_id (proto), "selftest-hub"));

    ces_proto_set_id (proto, CES_PROTO_ATTACH);
    ces_proto_set_conn (proto, "1");
    ces_proto_set_role (proto, CES_ROLE_MESSENGER);
    ces_proto_send (proto, dealer);

    //  REGISTERED comes once the sync subscription reached the hub
    zsock_set_subscribe (sub, "ITB-1101\n");
    zsock_set_subscribe (sub, CES_SYNC_PREFIX "tok-1");
    zlist_t *rooms = zlist_new ();
    zlist_append (rooms, "ITB-1101");
    ces_proto_set_id (proto, CES_PROTO_REGISTER);
    ces_proto_set_token (proto, "tok-1");
    ces_proto_set_rooms (proto, rooms);
    zlist_destroy (&rooms);
    ces_proto_send (proto, dealer);
    s_expect (proto, dealer, CES_PROTO_REGISTERED);
    assert (streq (ces_proto_token (proto), "tok-1"));

    //  A second connection on the same link sends; the first receives it
    ces_proto_set_id (proto, CES_PROTO_ATTACH);
    ces_proto_set_conn (proto, "2");
    ces_proto_send (proto, dealer);
    zframe_t *message = ces_frame_build ("ITB-1101", "{\"key\":\"power\"}", 15);
    ces_proto_set_id (proto, CES_PROTO_EVENT);
    ces_proto_set_message (proto, &message);
    ces_proto_send (proto, dealer);
    //  One frame: message, origin, origin length, sequence number
    zframe_t *published = zframe_recv (sub);
    const char *expected = "ITB-1101\n{\"key\":\"power\"}selftest/2";
    size_t expected_size = strlen (expected);
    assert (published && zframe_size (published) == expected_size + 10);
    byte *data = zframe_data (published);
    assert (memcmp (data, expected, expected_size) == 0);
    assert (data[expected_size] == 0 && data[expected_size + 1] == 10);
    assert (data[expected_size + 9] == 1); //  the room's first event
    zframe_destroy (&published);

    //  Malformed input gets an error and the hub keeps serving
    message = ces_frame_build ("ITB-1101", "not json", 8);
    ces_proto_set_message (proto, &message);
    ces_proto_send (proto, dealer);
    s_expect (proto, dealer, CES_PROTO_ERROR);
    assert (streq (ces_proto_code (proto), CES_PROTO_ERR_NOT_JSON));

    zstr_send (hub, "STATUS");
    char *json = zstr_recv (hub);
    assert (strstr (json, "\"malformed\":1"));
    assert (strstr (json, "\"ITB-1101\":1"));
    zstr_free (&json);
    zstr_send (hub, "METRICS");
    char *metrics = zstr_recv (hub);
    assert (
        strstr (metrics, "ces_hub_events_in_total{source=\"messenger\"} 1"));
    zstr_free (&metrics);

    ces_proto_destroy (&proto);
    zsock_destroy (&sub);
    zsock_destroy (&dealer);
    zactor_destroy (&hub);
    //  @end
    printf ("OK\n");
}
