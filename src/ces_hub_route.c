/*  =========================================================================
    ces_hub_route - where one event goes at the hub, by its source role
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_hub_route_t {
    zsock_t *router;                  //  borrowed from the hub
    ces_hub_links_t *links;           //  borrowed: repeaters, hub peers
    ces_rooms_t *rooms;               //  borrowed: publishing
    ces_mesh_t *mesh;                 //  borrowed, may be NULL
    ces_store_t *store;               //  borrowed, may be NULL
    ces_routing_counters_t *counters; //  borrowed: the routing table's
    ces_proto_t *proto;               //  for DELIVERs
    ces_frame_t *frame;
    ces_event_t *event;
    bool validate;
    char device[CES_EVENT_ADDRESS_MAX + 1]; //  the checked event's state
    char key[CES_EVENT_ADDRESS_MAX + 1];    //  address ("" when none)
    uint64_t next_repeater;                 //  the rotation's position
};

static void
s_count_drop (ces_hub_route_t *self, ces_drop_reason_t reason)
{
    self->counters->drops[reason]++;
}

//  Sends DELIVER to one connection; false if it could not take it
static bool
s_deliver (ces_hub_route_t *self, ces_hub_conn_t *conn, zframe_t *message)
{
    if (conn->link->dead)
        return false;
    ces_proto_set_id (self->proto, CES_PROTO_DELIVER);
    ces_proto_set_conn (self->proto, conn->id);
    //  Lent to the codec for the send, not copied
    zframe_t *lent = message;
    ces_proto_set_message (self->proto, &lent);
    ces_proto_set_routing_id (self->proto, conn->link->routing_id);
    ces_proto_set_one_frame (self->proto, conn->link->one_frame);
    int rc = ces_proto_send (self->proto, self->router);
    int error = zmq_errno ();
    ces_proto_set_one_frame (self->proto, false);
    lent = ces_proto_take_message (self->proto);
    assert (lent == message);
    if (rc == 0)
        return true;
    if (error == EHOSTUNREACH) {
        s_count_drop (self, CES_DROP_PEER_GONE);
        ces_hub_links_mark_dead (self->links, conn->link);
    } else
        s_count_drop (self, CES_DROP_QUEUE_FULL);
    return false;
}

static bool
s_send_to_one_repeater (ces_hub_route_t *self, zframe_t *message,
                        ces_hub_conn_t *sender)
{
    zlistx_t *repeaters = ces_hub_links_repeaters (self->links);
    size_t count = zlistx_size (repeaters);
    for (size_t attempt = 0; attempt < count; attempt++) {
        size_t index = (size_t)(self->next_repeater++ % count);
        ces_hub_conn_t *repeater = (ces_hub_conn_t *)zlistx_first (repeaters);
        while (index--)
            repeater = (ces_hub_conn_t *)zlistx_next (repeaters);
        if (repeater != sender && s_deliver (self, repeater, message)) {
            self->counters->delivered_repeater++;
            return true;
        }
    }
    return false;
}

static bool
s_send_to_hub_peers (ces_hub_route_t *self, zframe_t *message,
                     ces_hub_conn_t *sender)
{
    bool any = false;
    zlistx_t *hub_peers = ces_hub_links_hub_peers (self->links);
    ces_hub_conn_t *peer = (ces_hub_conn_t *)zlistx_first (hub_peers);
    while (peer) {
        if (peer != sender && s_deliver (self, peer, message)) {
            self->counters->delivered_hub++;
            any = true;
        }
        peer = (ces_hub_conn_t *)zlistx_next (hub_peers);
    }
    return any;
}

//  Mesh peers get what they registered; ces_mesh counts per peer
static bool
s_send_to_mesh (ces_hub_route_t *self, const char *room, zframe_t *message)
{
    size_t queue_full = 0, peer_gone = 0;
    size_t peers = self->mesh ? ces_mesh_send (self->mesh, room, message,
                                               &queue_full, &peer_gone)
                              : 0;
    self->counters->delivered_hub += peers;
    self->counters->drops[CES_DROP_QUEUE_FULL] += queue_full;
    self->counters->drops[CES_DROP_PEER_GONE] += peer_gone;
    return peers > 0;
}

const char *
ces_hub_route_check (ces_hub_route_t *self, zframe_t *message, bool validated,
                     const char **reason)
{
    assert (self && message && reason);
    ces_frame_error_t rc = ces_frame_parse (self->frame, zframe_data (message),
                                            zframe_size (message));
    if (rc != CES_FRAME_OK) {
        s_count_drop (self, CES_DROP_MALFORMED);
        *reason = ces_frame_strerror (rc);
        return CES_PROTO_ERR_MALFORMED;
    }
    const char *payload = (const char *)ces_frame_payload (self->frame);
    size_t size = ces_frame_payload_size (self->frame);
    bool check = self->validate && !validated;
    self->device[0] = self->key[0] = 0;
    //  With a store the scan also finds the state address: one pass
    int problem = self->store ? ces_event_address (self->event, payload, size,
                                                   self->device, self->key)
                  : check     ? ces_event_check (self->event, payload, size)
                              : 0;
    if (problem && check) {
        s_count_drop (self, CES_DROP_MALFORMED);
        *reason = ces_event_error (self->event);
        return CES_PROTO_ERR_NOT_JSON;
    }
    return NULL;
}

//  The routing table, for a checked event (self->frame holds its room)
void
ces_hub_route_send (ces_hub_route_t *self, zframe_t *message,
                    ces_role_index_t role, const char *origin,
                    ces_hub_conn_t *sender, int64_t received)
{
    assert (self && message && origin);
    if (role == CES_ROLE_INDEX_OUTSIDE)
        role = CES_ROLE_INDEX_REPEATER;
    self->counters->events_in[role]++;
    const char *room = ces_frame_room (self->frame);
    ces_rooms_publish_t published = ces_rooms_publish (
        self->rooms, room, message, origin, self->device, self->key, received);
    bool delivered = published == CES_ROOMS_PUBLISHED;
    if (delivered)
        self->counters->published++;
    else if (published == CES_ROOMS_UNCONNECTED)
        s_count_drop (self, CES_DROP_UNCONNECTED);
    else
        self->counters->no_subscriber++;
    if (role == CES_ROLE_INDEX_MESSENGER || role == CES_ROLE_INDEX_REPEATER) {
        delivered |= s_send_to_hub_peers (self, message, sender);
        delivered |= s_send_to_mesh (self, room, message);
    }
    if (role == CES_ROLE_INDEX_MESSENGER)
        delivered |= s_send_to_one_repeater (self, message, sender);
    if (!delivered)
        s_count_drop (self, CES_DROP_NO_ROUTE);
}

//  --------------------------------------------------------------------------
//  Construction and options

ces_hub_route_t *
ces_hub_route_new (zsock_t *router, ces_hub_links_t *links, ces_rooms_t *rooms,
                   ces_mesh_t *mesh, ces_store_t *store,
                   ces_routing_counters_t *counters)
{
    assert (router && links && rooms && counters);
    ces_hub_route_t *self = (ces_hub_route_t *)zmalloc (sizeof (*self));
    assert (self);
    self->router = router;
    self->links = links;
    self->rooms = rooms;
    self->mesh = mesh;
    self->store = store;
    self->counters = counters;
    self->validate = true;
    self->proto = ces_proto_new ();
    self->frame = ces_frame_new (CES_PAYLOAD_MAX);
    self->event = ces_event_new ();
    return self;
}

void
ces_hub_route_destroy (ces_hub_route_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_hub_route_t *self = *self_p;
        ces_proto_destroy (&self->proto);
        ces_frame_destroy (&self->frame);
        ces_event_destroy (&self->event);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_hub_route_set_options (ces_hub_route_t *self, bool validate,
                           size_t max_payload, int max_depth)
{
    assert (self);
    self->validate = validate;
    ces_frame_destroy (&self->frame);
    self->frame = ces_frame_new (max_payload);
    ces_event_set_max_depth (self->event, max_depth);
}

//  --------------------------------------------------------------------------
//  Self test: a ROUTER of the test's own, DEALERs as a repeater program
//  (two repeater connections) and an original hub's peer

static zsock_t *
s_test_dealer (zsock_t *router, const char *identity)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_identity (dealer, identity);
    zsock_set_rcvtimeo (dealer, 2000);
    assert (zsock_connect (dealer, "inproc://hub-route-test") == 0);
    //  Once the ROUTER read from it, it knows the routing ID
    zstr_send (dealer, "HELLO");
    zmsg_t *hello = zmsg_recv (router);
    assert (hello);
    zmsg_destroy (&hello);
    return dealer;
}

//  Routes one event from sender, checked first
static void
s_test_route (ces_hub_route_t *route, const char *text, ces_hub_conn_t *sender)
{
    zframe_t *message = zframe_new (text, strlen (text));
    const char *reason = NULL;
    assert (ces_hub_route_check (route, message, false, &reason) == NULL);
    ces_hub_route_send (route, message, sender->role, sender->origin, sender,
                        ces_histogram_now ());
    zframe_destroy (&message);
}

static void
s_test_expect (zsock_t *dealer, const char *expected)
{
    char *deliver = zstr_recv (dealer);
    if (!deliver || !streq (deliver, expected))
        zsys_error ("expected %s, got %s", expected, deliver);
    assert (deliver && streq (deliver, expected));
    zstr_free (&deliver);
}

void
ces_hub_route_test (bool verbose)
{
    printf (" * ces_hub_route: ");
    //  @selftest
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_t *pub = zsock_new (ZMQ_XPUB);
    zsock_set_router_mandatory (router, 1);
    zsock_set_sndtimeo (router, 0);
    assert (zsock_bind (router, "inproc://hub-route-test") == 0);
    ces_rooms_t *rooms = ces_rooms_new (router, pub, NULL, NULL);
    ces_presence_t *presence = ces_presence_new ();
    ces_hub_links_t *links = ces_hub_links_new (rooms, presence, NULL);
    ces_hub_links_set_log_level (links,
                                 verbose ? CES_LOG_DEBUG : CES_LOG_ERROR);
    ces_routing_counters_t counters;
    memset (&counters, 0, sizeof (counters));
    ces_hub_route_t *route =
        ces_hub_route_new (router, links, rooms, NULL, NULL, &counters);
    ces_hub_route_set_options (route, true, CES_PAYLOAD_MAX, CES_DEPTH_MAX);

    zsock_t *repeater = s_test_dealer (router, "rep");
    zsock_t *original = s_test_dealer (router, "orig");
    zframe_t *id = zframe_new ("edge", 4);
    ces_hub_link_t *edge = ces_hub_links_add (links, id, "edge");
    zframe_reset (id, "rep", 3);
    ces_hub_link_t *rep = ces_hub_links_add (links, id, "repeater");
    rep->one_frame = true;
    zframe_reset (id, "orig", 4);
    ces_hub_link_t *orig = ces_hub_links_add (links, id, "hub peer");
    zframe_destroy (&id);
    ces_hub_conn_t *alice =
        ces_hub_links_attach (links, edge, "1", CES_ROLE_MESSENGER, NULL, NULL);
    ces_hub_conn_t *first =
        ces_hub_links_attach (links, rep, "r1", CES_ROLE_REPEATER, NULL, NULL);
    ces_hub_links_attach (links, rep, "r2", CES_ROLE_REPEATER, NULL, NULL);
    ces_hub_conn_t *hub =
        ces_hub_links_attach (links, orig, "0", CES_ROLE_HUB, NULL, NULL);

    //  A messenger's events: to the hub peer, and to one repeater at a
    //  time, in turn (in one frame for a link that asked for it)
    s_test_route (route, "R\n{\"n\":1}", alice);
    s_test_expect (repeater, "DELIVER r1\nR\n{\"n\":1}");
    s_test_expect (original, "DELIVER");
    zmsg_t *rest = zmsg_recv (original);
    zmsg_destroy (&rest);
    s_test_route (route, "R\n{\"n\":2}", alice);
    s_test_expect (repeater, "DELIVER r2\nR\n{\"n\":2}");
    s_test_expect (original, "DELIVER");
    rest = zmsg_recv (original);
    zmsg_destroy (&rest);
    assert (counters.delivered_repeater == 2 && counters.delivered_hub == 2);
    //  A repeater's goes to hub peers, never to a repeater
    s_test_route (route, "R\n{\"n\":3}", first);
    s_test_expect (original, "DELIVER");
    rest = zmsg_recv (original);
    zmsg_destroy (&rest);
    //  A hub's only to the room's messengers: here nobody, no route
    s_test_route (route, "R\n{\"n\":4}", hub);
    assert (counters.drops[CES_DROP_NO_ROUTE] == 1);
    assert (counters.events_in[CES_ROLE_INDEX_MESSENGER] == 2);
    assert (counters.events_in[CES_ROLE_INDEX_REPEATER] == 1);
    assert (counters.events_in[CES_ROLE_INDEX_HUB] == 1);
    assert (counters.no_subscriber == 4);

    //  Bad events are refused and counted; a checked link's JSON is not
    //  scanned again
    const char *reason = NULL;
    zframe_t *bad = zframe_new ("R\nnot json", 10);
    assert (streq (ces_hub_route_check (route, bad, false, &reason),
                   CES_PROTO_ERR_NOT_JSON));
    assert (ces_hub_route_check (route, bad, true, &reason) == NULL);
    zframe_reset (bad, "R R\n{}", 6);
    assert (streq (ces_hub_route_check (route, bad, true, &reason),
                   CES_PROTO_ERR_MALFORMED));
    zframe_destroy (&bad);
    assert (counters.drops[CES_DROP_MALFORMED] == 2);

    //  A repeater that is gone is skipped and its link marked for removal
    zsock_destroy (&repeater);
    zframe_t *message = zframe_new ("R\n{}", 4);
    int64_t deadline = zclock_mono () + 2000;
    while (!counters.drops[CES_DROP_PEER_GONE] && zclock_mono () < deadline) {
        assert (ces_hub_route_check (route, message, false, &reason) == NULL);
        ces_hub_route_send (route, message, CES_ROLE_INDEX_MESSENGER,
                            alice->origin, alice, ces_histogram_now ());
        rest = zmsg_recv (original);
        zmsg_destroy (&rest);
        zclock_sleep (10); //  polling a condition, with a deadline
    }
    zframe_destroy (&message);
    assert (rep->dead && counters.drops[CES_DROP_PEER_GONE] >= 1);
    ces_hub_links_reap (links);
    assert (zlistx_size (ces_hub_links_repeaters (links)) == 0);

    ces_hub_route_destroy (&route);
    ces_hub_route_destroy (&route);
    assert (!route);
    zsock_destroy (&original);
    ces_hub_links_destroy (&links);
    ces_presence_destroy (&presence);
    ces_rooms_destroy (&rooms);
    zsock_destroy (&pub);
    zsock_destroy (&router);
    //  @end
    printf ("OK\n");
}
