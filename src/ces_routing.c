/*  =========================================================================
    ces_routing - the hub's routing table: what each peer message does,
    and where each event goes (the links and connections are kept in
    ces_hub_links)
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_routing_t {
    char *hub_id;
    zsock_t *router; //  borrowed from the hub
    zsock_t *pub;    //  borrowed: an XPUB, so sync subscriptions are seen
    void *router_handle;
    ces_mesh_t *mesh; //  borrowed, may be NULL
    int log_level;
    uint32_t heartbeat;
    bool trust_all; //  believe every link that says "validated"
    bool curve;     //  every link is authenticated: believe them too
    ces_proto_t *proto;
    ces_hub_links_t *links;   //  who is linked, and their connections
    ces_rooms_t *rooms;       //  room interest, and publishing
    ces_presence_t *presence; //  who holds which room (the room view)
    ces_store_t *store;       //  borrowed, may be NULL: what rooms remember
    ces_hub_route_t *route;   //  where each event goes
    int64_t received;         //  when the message being handled was read (us)
    ces_routing_counters_t counters;
    uint64_t drops_logged[CES_DROP_REASONS];
};

static const char *const s_drop_names[CES_DROP_REASONS] = {
    "no_route",  "peer_gone",    "queue_full",
    "malformed", "unknown_peer", "unconnected"};

static void
s_count_drop (ces_routing_t *self, ces_drop_reason_t reason)
{
    self->counters.drops[reason]++;
}

//  --------------------------------------------------------------------------
//  Replies to peers

static void
s_send_to (ces_routing_t *self, zframe_t *routing_id)
{
    ces_proto_set_routing_id (self->proto, routing_id);
    if (ces_proto_send (self->proto, self->router))
        ces_debug (self->log_level, "hub: could not send %s: %s",
                   ces_proto_command (self->proto),
                   zmq_strerror (zmq_errno ()));
}

static void
s_send_error (ces_routing_t *self, zframe_t *routing_id, const char *code,
              const char *reason)
{
    if (!routing_id)
        return;
    ces_proto_set_id (self->proto, CES_PROTO_ERROR);
    ces_proto_set_code (self->proto, code);
    ces_proto_set_error_reason (self->proto, reason);
    s_send_to (self, routing_id);
}

//  --------------------------------------------------------------------------
//  Routing an event (where it goes: ces_hub_route)

static void
s_handle_event (ces_routing_t *self, ces_hub_link_t *link)
{
    zframe_t *routing_id = ces_proto_routing_id (self->proto);
    ces_hub_conn_t *sender = (ces_hub_conn_t *)zhashx_lookup (
        link->conns, ces_proto_conn (self->proto));
    if (!sender) {
        s_count_drop (self, CES_DROP_UNKNOWN_PEER);
        s_send_error (self, routing_id, CES_PROTO_ERR_UNKNOWN_CONN,
                      "connection is not attached; send ATTACH first");
        return;
    }
    const char *reason = NULL;
    const char *code = ces_hub_route_check (
        self->route, ces_proto_message (self->proto), link->validated, &reason);
    if (code) {
        s_send_error (self, routing_id, code, reason);
        return;
    }
    //  Ours now: the codec's slot is reused for replies and deliveries
    zframe_t *message = ces_proto_take_message (self->proto);
    ces_hub_route_send (self->route, message, sender->role, sender->origin,
                        sender, self->received);
    zframe_destroy (&message);
    ces_histogram_observe (&self->counters.routing_time,
                           ces_histogram_now () - self->received);
}

void
ces_routing_mesh_event (ces_routing_t *self, zframe_t **message_p,
                        const char *origin)
{
    assert (self && message_p && *message_p && origin);
    self->received = ces_histogram_now ();
    const char *reason = NULL;
    const char *code =
        ces_hub_route_check (self->route, *message_p, false, &reason);
    if (code)
        ces_debug (self->log_level, "hub: peer hub %s sent a bad event: %s",
                   origin, reason);
    else {
        ces_hub_route_send (self->route, *message_p, CES_ROLE_INDEX_HUB, origin,
                            NULL, self->received);
        ces_histogram_observe (&self->counters.routing_time,
                               ces_histogram_now () - self->received);
    }
    zframe_destroy (message_p);
}

//  --------------------------------------------------------------------------
//  Peer messages other than EVENT

//  A peer hub said MESH on its link: the link is now the mesh's
static void
s_handle_mesh_hello (ces_routing_t *self, ces_hub_link_t *link)
{
    if (!ces_mesh_inbound (self->mesh, link->id, link->routing_id,
                           self->proto)) {
        s_send_error (self, link->routing_id, CES_PROTO_ERR_MALFORMED,
                      "that hub ID is this hub's own; hub IDs must be unique");
        return;
    }
    ces_hub_links_attach_mesh (self->links, link);
}

//  PRESENT and ABSENT: which rooms the clients of a presence link hold
static void
s_handle_presence (ces_routing_t *self, ces_hub_link_t *link, bool present)
{
    const char *conn_id = ces_proto_conn (self->proto);
    ces_hub_conn_t *conn =
        (ces_hub_conn_t *)zhashx_lookup (link->conns, conn_id);
    if (!conn) {
        s_send_error (self, link->routing_id, CES_PROTO_ERR_UNKNOWN_CONN,
                      "connection is not attached; send ATTACH first");
        return;
    }
    ces_presence_update (self->presence, conn->origin,
                         ces_proto_rooms (self->proto), present);
}

static void
s_handle_register (ces_routing_t *self, ces_hub_link_t *link, bool is_register)
{
    zframe_t *routing_id = ces_proto_routing_id (self->proto);
    const char *conn_id = ces_proto_conn (self->proto);
    ces_hub_conn_t *conn =
        (ces_hub_conn_t *)zhashx_lookup (link->conns, conn_id);
    if (!conn) {
        s_send_error (self, routing_id, CES_PROTO_ERR_UNKNOWN_CONN,
                      "connection is not attached; send ATTACH first");
        return;
    }
    zlist_t *rooms = ces_proto_rooms (self->proto);
    if (!is_register && zlist_size (rooms) == 0) {
        ces_rooms_remove_all (self->rooms, conn->rooms);
        if (!link->presence)
            ces_presence_remove (self->presence, conn->origin, NULL);
        return;
    }
    const char *room = (const char *)zlist_first (rooms);
    while (room) {
        if (is_register)
            ces_rooms_add (self->rooms, conn->rooms, room);
        else
            ces_rooms_remove (self->rooms, conn->rooms, room);
        //  A presence link's REGISTERs are the union its clients hold
        if (!link->presence && is_register)
            ces_presence_add (self->presence, conn->origin, room);
        else if (!link->presence)
            ces_presence_remove (self->presence, conn->origin, room);
        room = (const char *)zlist_next (rooms);
    }
    const char *token = ces_proto_token (self->proto);
    if (is_register && *token)
        ces_rooms_sync_registered (self->rooms, token, routing_id, conn_id);
}

//  A peer that validated its events says so in HELLO; the hub believes it
//  when it cannot be another: in this process (no ZeroMQ metadata), with
//  CURVE on, or when told to trust every link
static bool
s_trusted (ces_routing_t *self)
{
    return self->trust_all || self->curve || ces_proto_inproc (self->proto);
}

static void
s_handle_hello (ces_routing_t *self)
{
    zframe_t *routing_id = ces_proto_routing_id (self->proto);
    if (!streq (ces_proto_version (self->proto), CES_PROTO_VERSION)) {
        s_send_error (self, routing_id, CES_PROTO_ERR_VERSION,
                      "this hub speaks protocol version " CES_PROTO_VERSION);
        return;
    }
    ces_hub_link_t *link = ces_hub_links_lookup (self->links, routing_id);
    if (link)
        ces_hub_links_remove (self->links, link, "said HELLO again (restarted)",
                              true);
    link = ces_hub_links_add (self->links, routing_id,
                              ces_proto_name (self->proto));
    link->validated =
        ces_proto_has_flag (self->proto, "validated") && s_trusted (self);
    link->one_frame = ces_proto_has_flag (self->proto, "one-frame");
    link->presence = ces_proto_has_flag (self->proto, "presence");
    //  A peer that sent flags understands a WELCOME with flags
    bool flags = *ces_proto_flags (self->proto) != 0;
    ces_info (self->log_level, "hub: link %s (%s) connected%s", link->id,
              link->name, link->validated ? ", events validated there" : "");
    ces_proto_set_id (self->proto, CES_PROTO_WELCOME);
    ces_proto_set_hub_id (self->proto, self->hub_id);
    ces_proto_set_heartbeat (self->proto, self->heartbeat);
    ces_proto_set_flags (self->proto, flags ? "one-frame presence" : "");
    s_send_to (self, routing_id);
    ces_proto_set_flags (self->proto, "");
}

//  REGISTER, UNREGISTER, PEERS and UNLINK: the mesh's on a mesh link
static void
s_handle_interest (ces_routing_t *self, ces_hub_link_t *link, ces_proto_id_t id)
{
    if (link->mesh)
        ces_mesh_inbound (self->mesh, link->id, link->routing_id, self->proto);
    else if (id == CES_PROTO_REGISTER || id == CES_PROTO_UNREGISTER)
        s_handle_register (self, link, id == CES_PROTO_REGISTER);
    else
        s_send_error (self, link->routing_id, CES_PROTO_ERR_MALFORMED,
                      "mesh command on a link that did not say MESH");
}

//  SYNC: a client's position, recovery and state, from the store
static void
s_handle_sync (ces_routing_t *self, ces_hub_link_t *link)
{
    if (!zhashx_lookup (link->conns, ces_proto_conn (self->proto))) {
        s_send_error (self, link->routing_id, CES_PROTO_ERR_UNKNOWN_CONN,
                      "connection is not attached; send ATTACH first");
        return;
    }
    const char *reason = "this hub keeps no room history (--history 0 and "
                         "--state-keys 0)";
    if (!self->store || ces_replay_sync (self->store, self->proto, &reason)) {
        s_send_error (self, link->routing_id, CES_PROTO_ERR_MALFORMED, reason);
        return;
    }
    //  Delivered with the room's earlier events: a full queue would split
    //  them from the live ones, so it is counted, and the client's edge
    //  times out its wait
    ces_proto_set_routing_id (self->proto, link->routing_id);
    if (ces_proto_send (self->proto, self->router))
        s_count_drop (self, zmq_errno () == EHOSTUNREACH ? CES_DROP_PEER_GONE
                                                         : CES_DROP_QUEUE_FULL);
    ces_proto_purge_events (self->proto);
}

//  GET /rooms/ROOM (the "room" view) lists who holds the room: "presence"
static void
s_query_presence (ces_routing_t *self, const char *request, size_t size,
                  const char *room, cJSON *answer)
{
    cJSON *query = cJSON_ParseWithLength (request, size);
    const char *view =
        cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (query, "view"));
    if (view && streq (view, "room"))
        ces_routing_presence (self, room,
                              cJSON_AddArrayToObject (answer, "presence"));
    cJSON_Delete (query);
}

cJSON *
ces_routing_query (ces_routing_t *self, const char *request, size_t size,
                   int *status)
{
    assert (self && request && status);
    if (!self->store) {
        *status = 404;
        cJSON *answer = cJSON_CreateObject ();
        cJSON_AddStringToObject (answer, "error",
                                 "this hub keeps no room history");
        return answer;
    }
    char room[CES_ROOM_MAX + 1];
    cJSON *answer = ces_replay_query (self->store, request, size, status, room);
    if (*status == 404 && *room) {
        //  No event yet, but someone may hold it: then it is a room too
        cJSON *presence = cJSON_CreateObject ();
        s_query_presence (self, request, size, room, presence);
        if (cJSON_GetArraySize (cJSON_GetObjectItem (presence, "presence"))) {
            cJSON_Delete (answer);
            answer = presence;
            cJSON_AddStringToObject (answer, "room", room);
            cJSON_AddNullToObject (answer, "epoch");
            cJSON_AddNumberToObject (answer, "seq", 0);
            cJSON_AddNumberToObject (
                answer, "subscribers",
                (double)ces_rooms_subscribers (self->rooms, room));
            *status = 200;
            return answer;
        }
        cJSON_Delete (presence);
    }
    if (*status == 200 && *room)
        cJSON_AddNumberToObject (
            answer, "subscribers",
            (double)ces_rooms_subscribers (self->rooms, room));
    if (*status == 200 && *room)
        s_query_presence (self, request, size, room, answer);
    return answer;
}

//  QUERY: a /rooms view for an edge's HTTP client
static void
s_handle_query (ces_routing_t *self, ces_hub_link_t *link)
{
    zframe_t *request = ces_proto_message (self->proto);
    int status = 400;
    cJSON *answer =
        ces_routing_query (self, (const char *)zframe_data (request),
                           zframe_size (request), &status);
    char *text = cJSON_PrintUnformatted (answer);
    cJSON_Delete (answer);
    char code[8];
    snprintf (code, sizeof code, "%d", status);
    zframe_t *body = zframe_new (text, strlen (text));
    freen (text);
    ces_proto_set_id (self->proto, CES_PROTO_ANSWER);
    ces_proto_set_code (self->proto, code);
    ces_proto_set_message (self->proto, &body);
    s_send_to (self, link->routing_id);
}

//  A message from a link that said HELLO
static void
s_handle_linked (ces_routing_t *self, ces_hub_link_t *link, ces_proto_id_t id)
{
    link->last_heard = zclock_mono ();
    if (link->mesh)
        ces_mesh_inbound_heard (self->mesh, link->id, id == CES_PROTO_EVENT);
    switch (id) {
        case CES_PROTO_EVENT:
            s_handle_event (self, link);
            break;
        case CES_PROTO_ATTACH:
            ces_hub_links_attach (
                self->links, link, ces_proto_conn (self->proto),
                ces_proto_role (self->proto), ces_proto_remote (self->proto),
                ces_proto_subject (self->proto));
            break;
        case CES_PROTO_PRESENT:
        case CES_PROTO_ABSENT:
            s_handle_presence (self, link, id == CES_PROTO_PRESENT);
            break;
        case CES_PROTO_DETACH:
            ces_hub_links_detach (self->links, link,
                                  ces_proto_conn (self->proto));
            break;
        case CES_PROTO_MESH:
            s_handle_mesh_hello (self, link);
            break;
        case CES_PROTO_REGISTER:
        case CES_PROTO_UNREGISTER:
        case CES_PROTO_PEERS:
        case CES_PROTO_UNLINK:
            s_handle_interest (self, link, id);
            break;
        case CES_PROTO_SYNC:
            s_handle_sync (self, link);
            break;
        case CES_PROTO_QUERY:
            s_handle_query (self, link);
            break;
        case CES_PROTO_HEARTBEAT:
            ces_proto_set_id (self->proto, CES_PROTO_HEARTBEAT);
            s_send_to (self, link->routing_id);
            break;
        case CES_PROTO_BYE:
            ces_hub_links_remove (self->links, link, "said BYE", false);
            break;
        default:
            s_count_drop (self, CES_DROP_MALFORMED);
            s_send_error (self, link->routing_id, CES_PROTO_ERR_MALFORMED,
                          "command is not one a peer sends to a hub");
            break;
    }
}

//  One message from the ROUTER, already received into the codec
static void
s_handle_message (ces_routing_t *self, int rc)
{
    zframe_t *routing_id = ces_proto_routing_id (self->proto);
    if (rc == -2) {
        s_count_drop (self, CES_DROP_MALFORMED);
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
    ces_hub_link_t *link = ces_hub_links_lookup (self->links, routing_id);
    if (!link) {
        //  A peer of a hub that restarted, or one we expired: it must
        //  say HELLO again and re-attach
        if (id == CES_PROTO_EVENT)
            s_count_drop (self, CES_DROP_UNKNOWN_PEER);
        if (id != CES_PROTO_BYE)
            s_send_error (self, routing_id, CES_PROTO_ERR_UNKNOWN_LINK,
                          "this hub does not know you; send HELLO");
        return;
    }
    s_handle_linked (self, link, id);
    ces_hub_links_reap (self->links);
}

int
ces_routing_recv_router (ces_routing_t *self, int max)
{
    assert (self);
    int count = 0;
    while (count < max) {
        //  The event's receive time, stamped into what is published
        self->received = ces_histogram_now ();
        int rc = ces_proto_recv_nowait (self->proto, self->router);
        if (rc == -1)
            break;
        s_handle_message (self, rc);
        count++;
    }
    return count;
}

//  --------------------------------------------------------------------------
//  Housekeeping, counters, status

void
ces_routing_flush (ces_routing_t *self)
{
    assert (self);
    ces_rooms_flush (self->rooms);
}

void
ces_routing_recv_subscription (ces_routing_t *self)
{
    assert (self);
    ces_rooms_recv_subscription (self->rooms);
}

void
ces_routing_housekeeping (ces_routing_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    ces_hub_links_expire (self->links, now, 3 * (int64_t)self->heartbeat);
    ces_rooms_expire_syncs (self->rooms);
    if (self->store)
        ces_store_expire (self->store);
    //  Drops are logged once per interval, not once per event
    for (int reason = 0; reason < CES_DROP_REASONS; reason++) {
        uint64_t fresh =
            self->counters.drops[reason] - self->drops_logged[reason];
        if (fresh)
            ces_warn (self->log_level, "hub: dropped %" PRIu64 " events (%s)",
                      fresh, s_drop_names[reason]);
        self->drops_logged[reason] = self->counters.drops[reason];
    }
}

const ces_routing_counters_t *
ces_routing_counters (ces_routing_t *self)
{
    assert (self);
    self->counters.links = ces_hub_links_size (self->links);
    for (int role = 0; role < CES_ROLE_INDEXES; role++)
        self->counters.connections[role] =
            ces_hub_links_connections (self->links, (ces_role_index_t)role);
    self->counters.rooms = ces_rooms_registered (self->rooms);
    self->counters.star_subscribers = ces_rooms_star_subscribers (self->rooms);
    self->counters.repeaters =
        zlistx_size (ces_hub_links_repeaters (self->links));
    return &self->counters;
}

void
ces_routing_status (ces_routing_t *self, cJSON *root)
{
    assert (self && root);
    ces_hub_links_status (self->links, cJSON_AddArrayToObject (root, "links"));
    cJSON *rooms = cJSON_AddObjectToObject (root, "rooms");
    ces_rooms_status (self->rooms, rooms);
}

void
ces_routing_presence (ces_routing_t *self, const char *room, cJSON *array)
{
    assert (self && room && array);
    ces_presence_list (self->presence, room, array);
}

//  --------------------------------------------------------------------------
//  Construction and options

ces_routing_t *
ces_routing_new (const char *hub_id, zsock_t *router, zsock_t *pub,
                 ces_mesh_t *mesh, ces_store_t *store)
{
    assert (hub_id && router && pub);
    ces_routing_t *self = (ces_routing_t *)zmalloc (sizeof (ces_routing_t));
    assert (self);
    self->hub_id = strdup (hub_id);
    self->router = router;
    self->pub = pub;
    self->router_handle = zsock_resolve (router);
    self->mesh = mesh;
    self->log_level = CES_LOG_INFO;
    self->heartbeat = CES_HEARTBEAT_MSEC;
    self->proto = ces_proto_new ();
    self->store = store;
    self->rooms = ces_rooms_new (router, pub, mesh, store);
    self->presence = ces_presence_new ();
    self->links = ces_hub_links_new (self->rooms, self->presence, mesh);
    self->route = ces_hub_route_new (router, self->links, self->rooms, mesh,
                                     store, &self->counters);
    return self;
}

void
ces_routing_destroy (ces_routing_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_routing_t *self = *self_p;
        //  The links first: they borrow the rooms and the presence
        ces_hub_route_destroy (&self->route);
        ces_hub_links_destroy (&self->links);
        ces_presence_destroy (&self->presence);
        ces_rooms_destroy (&self->rooms);
        ces_proto_destroy (&self->proto);
        zstr_free (&self->hub_id);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_routing_set_options (ces_routing_t *self,
                         const ces_routing_options_t *options)
{
    assert (self && options);
    self->log_level = options->log_level;
    self->heartbeat = options->heartbeat;
    self->trust_all = options->trust_all;
    self->curve = options->curve;
    ces_hub_links_set_log_level (self->links, options->log_level);
    ces_hub_route_set_options (self->route, options->validate,
                               options->max_payload, options->max_depth);
}

//  --------------------------------------------------------------------------
//  Self test: raw DEALERs and a SUB speak the protocol to a routing table
//  on sockets of the test's own

//  Sends a message, lets the table handle everything that arrives
static void
s_test_send (ces_routing_t *self, zpoller_t *poller, zsock_t *dealer,
             const char *command, ...)
{
    zmsg_t *msg = zmsg_new ();
    va_list args;
    va_start (args, command);
    for (const char *frame = command; frame; frame = va_arg (args, char *))
        zmsg_addstr (msg, frame);
    va_end (args);
    zmsg_send (&msg, dealer);
    void *which;
    while ((which = zpoller_wait (poller, 20))) {
        if (which == self->router)
            ces_routing_recv_router (self, 100);
        else
            ces_routing_recv_subscription (self);
    }
}

//  The next message's command and its second field
static void
s_test_expect (zsock_t *dealer, const char *command, const char *field)
{
    zmsg_t *msg = zmsg_recv (dealer);
    assert (msg);
    char *name = zmsg_popstr (msg);
    char *first = zmsg_popstr (msg);
    char *second = zmsg_popstr (msg);
    if (!streq (name, command) || (field && !streq (second, field)))
        zsys_error ("expected %s %s, got %s %s", command, field, name, second);
    assert (streq (name, command) && (!field || streq (second, field)));
    zstr_free (&name);
    zstr_free (&first);
    zstr_free (&second);
    zmsg_destroy (&msg);
}

static zsock_t *
s_test_dealer (const char *identity)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_identity (dealer, identity);
    zsock_set_rcvtimeo (dealer, 2000);
    assert (zsock_connect (dealer, "inproc://routing-test-router") == 0);
    return dealer;
}

//  Links say HELLO and attach; a messenger's event is published and given
//  to the one repeater
static void
s_test_event_path (ces_routing_t *routing, zpoller_t *poller, zsock_t *edge,
                   zsock_t *repeater, zsock_t *sub)
{
    //  An unknown link is told to say HELLO; HELLO gets WELCOME, with
    //  flags only if it had some
    s_test_send (routing, poller, edge, "HEARTBEAT", NULL);
    s_test_expect (edge, "ERROR", "this hub does not know you; send HELLO");
    s_test_send (routing, poller, edge, "HELLO", "1", "edge", NULL);
    s_test_expect (edge, "WELCOME", "test-hub");
    s_test_send (routing, poller, repeater, "HELLO", "1", "rep", "one-frame",
                 NULL);
    s_test_expect (repeater, "WELCOME", "test-hub");
    s_test_send (routing, poller, edge, "ATTACH", "1", "messenger", NULL);
    s_test_send (routing, poller, edge, "ATTACH", "2", "messenger", NULL);
    s_test_send (routing, poller, repeater, "ATTACH", "r", "repeater", NULL);

    //  REGISTERED comes once the sync subscription reached the hub
    zsock_set_subscribe (sub, "ITB-1101\n");
    zsock_set_subscribe (sub, CES_SYNC_PREFIX "tok-1");
    s_test_send (routing, poller, edge, "REGISTER", "1", "tok-1", "ITB-1101",
                 NULL);
    s_test_expect (edge, "REGISTERED", "tok-1");

    //  A messenger's event: published (origin, sequence number) and given
    //  to the one repeater, in one frame as it asked
    s_test_send (routing, poller, edge, "EVENT", "2",
                 "ITB-1101\n{\"key\":\"power\"}", NULL);
    zframe_t *published = zframe_recv (sub);
    const char *expected = "ITB-1101\n{\"key\":\"power\"}edge/2";
    size_t expected_size = strlen (expected);
    assert (published &&
            zframe_size (published) == expected_size + CES_ROOMS_FOOTER);
    byte *data = zframe_data (published);
    assert (memcmp (data, expected, expected_size) == 0);
    assert (data[expected_size] == 0 && data[expected_size + 1] == 6);
    assert (data[expected_size + 25] == 1); //  the room's first event
    //  Stamped with the hub's receive time
    int64_t stamp = (int64_t)ces_position_number_get (data + expected_size + 2);
    assert (stamp <= ces_histogram_now () &&
            stamp > ces_histogram_now () - 60 * 1000000LL);
    assert (routing->counters.routing_time.count >= 1);
    zframe_destroy (&published);
    char *deliver = zstr_recv (repeater);
    assert (deliver &&
            streq (deliver, "DELIVER r\nITB-1101\n{\"key\":\"power\"}"));
    zstr_free (&deliver);
}

//  Bad events are refused; a trusted link's events are not scanned again
static void
s_test_refusals (ces_routing_t *routing, zpoller_t *poller, zsock_t *edge,
                 zsock_t *sub)
{
    //  Malformed input gets an error and the table keeps serving
    s_test_send (routing, poller, edge, "EVENT", "1", "ITB-1101\nnot json",
                 NULL);
    s_test_expect (edge, "ERROR", NULL);
    s_test_send (routing, poller, edge, "EVENT", "1", "ITB 1101\n{}", NULL);
    s_test_expect (edge, "ERROR", NULL);
    s_test_send (routing, poller, edge, "EVENT", "9", "ITB-1101\n{}", NULL);
    s_test_expect (edge, "ERROR", NULL);

    //  A link over inproc:// that says it validated is believed: its
    //  events are not scanned again (only the frame is checked)
    s_test_send (routing, poller, edge, "HELLO", "1", "edge", "validated",
                 NULL);
    s_test_expect (edge, "WELCOME", "test-hub");
    s_test_send (routing, poller, edge, "ATTACH", "1", "repeater", NULL);
    s_test_send (routing, poller, edge, "REGISTER", "1", "", "ITB-1101", NULL);
    s_test_send (routing, poller, edge, "EVENT 1\nITB-1101\ntrusted", NULL);
    zframe_t *published = zframe_recv (sub);
    assert (published);
    assert (memcmp (zframe_data (published), "ITB-1101\ntrusted", 16) == 0);
    zframe_destroy (&published);
}

//  The presence of room: how many connections, and the one of id (or
//  NULL)
static cJSON *
s_test_presence_of (ces_routing_t *routing, const char *room, const char *id,
                    int *count)
{
    cJSON *array = cJSON_CreateArray ();
    ces_routing_presence (routing, room, array);
    *count = cJSON_GetArraySize (array);
    cJSON *found = NULL, *item;
    cJSON_ArrayForEach (item, array)
    {
        if (streq (cJSON_GetStringValue (cJSON_GetObjectItem (item, "id")), id))
            found = cJSON_Duplicate (item, true);
    }
    cJSON_Delete (array);
    return found;
}

static const char *
s_test_field (cJSON *item, const char *name)
{
    return cJSON_GetStringValue (cJSON_GetObjectItem (item, name));
}

//  An edge says what its clients hold (its REGISTERs are their union); a
//  messenger link's REGISTERs are its own
static void
s_test_presence (ces_routing_t *routing, zpoller_t *poller)
{
    zsock_t *edge = s_test_dealer ("p-edge");
    zsock_t *embedded = s_test_dealer ("p-embedded");
    s_test_send (routing, poller, edge, "HELLO", "1", "edge :7100",
                 "one-frame presence", NULL);
    s_test_expect (edge, "WELCOME", "test-hub");
    s_test_send (routing, poller, embedded, "HELLO", "1", "app", NULL);
    s_test_expect (embedded, "WELCOME", "test-hub");
    int64_t before = zclock_time ();
    s_test_send (routing, poller, edge, "ATTACH", "subs", "messenger", NULL);
    s_test_send (routing, poller, edge, "ATTACH", "c1", "messenger",
                 "192.0.2.1:5000", "alice", NULL);
    s_test_send (routing, poller, edge, "ATTACH", "c2", "messenger",
                 "192.0.2.2:6000", NULL);
    s_test_send (routing, poller, edge, "REGISTER", "subs", "", "ITB-1101",
                 "ITB-*", NULL);
    s_test_send (routing, poller, edge, "PRESENT", "c1", "ITB-1101", "IT*",
                 NULL);
    s_test_send (routing, poller, edge, "PRESENT", "c2", "ITB-*", NULL);
    s_test_send (routing, poller, embedded, "ATTACH", "0", "messenger", NULL);
    s_test_send (routing, poller, embedded, "REGISTER", "0", "", "*", NULL);
    s_test_send (routing, poller, edge, "PRESENT", "c9", "R", NULL);
    s_test_expect (edge, "ERROR",
                   "connection is not attached; send ATTACH "
                   "first");

    int count;
    cJSON *one = s_test_presence_of (routing, "ITB-1101", "p-edge/c1", &count);
    assert (count == 3); //  c1, c2, the messenger's "*"; not the union
    assert (one && streq (s_test_field (one, "via"), "ITB-1101"));
    assert (streq (s_test_field (one, "role"), "messenger"));
    assert (streq (s_test_field (one, "edge"), "edge :7100"));
    assert (streq (s_test_field (one, "remote"), "192.0.2.1:5000"));
    assert (streq (s_test_field (one, "subject"), "alice"));
    double since = cJSON_GetNumberValue (cJSON_GetObjectItem (one, "since"));
    assert (since >= (double)before && since <= (double)zclock_time ());
    cJSON_Delete (one);
    cJSON *two = s_test_presence_of (routing, "ITB-1101", "p-edge/c2", &count);
    assert (two && streq (s_test_field (two, "via"), "ITB-*"));
    assert (!cJSON_GetObjectItem (two, "subject"));
    cJSON_Delete (two);
    cJSON *app =
        s_test_presence_of (routing, "ITB-1101", "p-embedded/0", &count);
    assert (app && streq (s_test_field (app, "via"), "*"));
    assert (streq (s_test_field (app, "edge"), "app"));
    assert (!cJSON_GetObjectItem (app, "remote"));
    cJSON_Delete (app);
    //  ITB-2202: c1 by its longest pattern IT*, c2 by ITB-*
    one = s_test_presence_of (routing, "ITB-2202", "p-edge/c1", &count);
    assert (count == 3 && streq (s_test_field (one, "via"), "IT*"));
    cJSON_Delete (one);
    assert (!s_test_presence_of (routing, "JFSB-1", "p-edge/c1", &count));
    assert (count == 1);

    //  GET /rooms/ROOM (the room view of a QUERY) carries the same list
    s_test_send (routing, poller, edge, "EVENT", "c1", "ITB-3303\n{}", NULL);
    const char *request = "{\"view\":\"room\",\"room\":\"ITB-3303\"}";
    int status = 0;
    cJSON *answer =
        ces_routing_query (routing, request, strlen (request), &status);
    assert (status == 200);
    assert (cJSON_GetArraySize (cJSON_GetObjectItem (answer, "presence")) == 3);
    cJSON_Delete (answer);

    //  ABSENT, DETACH and UNREGISTER take them away
    s_test_send (routing, poller, edge, "ABSENT", "c2", "ITB-*", NULL);
    assert (!s_test_presence_of (routing, "ITB-2202", "p-edge/c2", &count));
    s_test_send (routing, poller, edge, "DETACH", "c1", NULL);
    s_test_send (routing, poller, embedded, "UNREGISTER", "0", NULL);
    assert (!s_test_presence_of (routing, "ITB-2202", "p-edge/c2", &count));
    assert (count == 0);
    s_test_send (routing, poller, edge, "BYE", NULL);
    s_test_send (routing, poller, embedded, "BYE", NULL);
    zsock_destroy (&edge);
    zsock_destroy (&embedded);
}

void
ces_routing_test (bool verbose)
{
    printf (" * ces_routing: ");
    //  @selftest
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_t *pub = zsock_new (ZMQ_XPUB);
    zsock_set_router_mandatory (router, 1);
    zsock_set_sndtimeo (router, 0);
    zsock_set_xpub_verbose (pub, 1);
    zsock_set_xpub_verboser (pub, 1);
    assert (zsock_bind (router, "inproc://routing-test-router") == 0);
    assert (zsock_bind (pub, "inproc://routing-test-pub") == 0);
    ces_store_limits_t limits = {CES_STORE_HISTORY,
                                 CES_STORE_HISTORY_AGE,
                                 CES_STORE_HISTORY_BYTES,
                                 CES_STORE_STATE_KEYS,
                                 NULL,
                                 0};
    char *error = NULL;
    ces_store_t *store = ces_store_new (&limits, &error);
    ces_routing_t *routing =
        ces_routing_new ("test-hub", router, pub, NULL, store);
    ces_routing_options_t options = {verbose ? CES_LOG_DEBUG : CES_LOG_ERROR,
                                     1000,
                                     true,
                                     false,
                                     false,
                                     CES_PAYLOAD_MAX,
                                     CES_DEPTH_MAX};
    ces_routing_set_options (routing, &options);
    zpoller_t *poller = zpoller_new (router, pub, NULL);
    zsock_t *edge = s_test_dealer ("edge");
    zsock_t *repeater = s_test_dealer ("repeater");
    zsock_t *sub = zsock_new_sub ("inproc://routing-test-pub", NULL);
    zsock_set_rcvtimeo (sub, 2000);

    s_test_presence (routing, poller);
    s_test_event_path (routing, poller, edge, repeater, sub);
    s_test_refusals (routing, poller, edge, sub);

    const ces_routing_counters_t *counters = ces_routing_counters (routing);
    //  (one of them the presence test's, which no SUB could get)
    assert (counters->events_in[CES_ROLE_INDEX_MESSENGER] == 2);
    assert (counters->events_in[CES_ROLE_INDEX_REPEATER] == 1);
    assert (counters->published == 2 && counters->delivered_repeater == 1);
    assert (counters->drops[CES_DROP_MALFORMED] == 2);
    assert (counters->drops[CES_DROP_UNKNOWN_PEER] == 1);
    assert (counters->drops[CES_DROP_UNCONNECTED] == 1);
    assert (counters->links == 2 && counters->rooms == 1);
    assert (counters->connections[CES_ROLE_INDEX_REPEATER] == 2);
    cJSON *status = cJSON_CreateObject ();
    ces_routing_status (routing, status);
    assert (cJSON_GetArraySize (cJSON_GetObjectItem (status, "links")) == 2);
    cJSON_Delete (status);

    //  BYE releases the link and all it held
    s_test_send (routing, poller, repeater, "BYE", NULL);
    assert (ces_routing_counters (routing)->links == 1);
    ces_routing_housekeeping (routing);

    zsock_destroy (&sub);
    zsock_destroy (&repeater);
    zsock_destroy (&edge);
    zpoller_destroy (&poller);
    ces_routing_destroy (&routing);
    ces_routing_destroy (&routing);
    ces_store_destroy (&store);
    assert (!routing);
    zsock_destroy (&pub);
    zsock_destroy (&router);
    //  @end
    printf ("OK\n");
}
