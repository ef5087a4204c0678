/*  =========================================================================
    ces_mesh_tell - what this hub tells a peer hub, over either of its links
    =========================================================================
*/
#include "ces_classes.h"

#define ROOMS_PER_SEND 500 //  interest goes out in messages this large

struct _ces_mesh_tell_t {
    char *hub_id;
    zsock_t *router; //  borrowed: the hub's
    ces_proto_t *proto;
};

ces_mesh_tell_t *
ces_mesh_tell_new (const char *hub_id, zsock_t *router)
{
    assert (hub_id && router);
    ces_mesh_tell_t *self = (ces_mesh_tell_t *)zmalloc (sizeof (*self));
    assert (self);
    self->hub_id = strdup (hub_id);
    self->router = router;
    self->proto = ces_proto_new ();
    assert (self->hub_id && self->proto);
    return self;
}

void
ces_mesh_tell_destroy (ces_mesh_tell_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_mesh_tell_t *self = *self_p;
        ces_proto_destroy (&self->proto);
        zstr_free (&self->hub_id);
        freen (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Sending to a peer over one channel

static int
s_send_on (ces_mesh_tell_t *self, ces_mesh_peer_t *peer,
           ces_mesh_channel_t channel)
{
    if (channel == CES_MESH_CHANNEL_DIAL)
        return ces_proto_send (self->proto, ces_link_dealer (peer->dial));
    ces_proto_set_routing_id (self->proto, peer->inbound_routing_id);
    return ces_proto_send (self->proto, self->router);
}

void
ces_mesh_tell_hello (ces_mesh_tell_t *self, ces_mesh_peer_t *peer,
                     const char *address)
{
    assert (self && peer && address);
    ces_proto_set_id (self->proto, CES_PROTO_MESH);
    ces_proto_set_hub_id (self->proto, self->hub_id);
    ces_proto_set_address (self->proto, address);
    s_send_on (self, peer, CES_MESH_CHANNEL_DIAL);
}

void
ces_mesh_tell_peers (ces_mesh_tell_t *self, ces_mesh_peer_t *peer,
                     ces_mesh_channel_t channel, zlistx_t *peers)
{
    assert (self && peer && peers);
    zlist_t *linked = zlist_new ();
    zlist_autofree (linked);
    ces_mesh_peer_t *other = (ces_mesh_peer_t *)zlistx_first (peers);
    while (other) {
        if (other != peer && !other->original && *other->hub_id &&
            ces_mesh_peer_channel (other, self->hub_id) !=
                CES_MESH_CHANNEL_NONE) {
            char *entry = zsys_sprintf ("%s %s", other->hub_id, other->address);
            zlist_append (linked, entry);
            zstr_free (&entry);
        }
        other = (ces_mesh_peer_t *)zlistx_next (peers);
    }
    ces_proto_set_id (self->proto, CES_PROTO_PEERS);
    ces_proto_set_peers (self->proto, linked);
    s_send_on (self, peer, channel);
    zlist_destroy (&linked);
}

void
ces_mesh_tell_rooms (ces_mesh_tell_t *self, ces_mesh_peer_t *peer,
                     ces_mesh_channel_t channel, bool wanted, zlist_t *rooms)
{
    assert (self && peer && rooms);
    ces_proto_set_id (self->proto,
                      wanted ? CES_PROTO_REGISTER : CES_PROTO_UNREGISTER);
    ces_proto_set_conn (self->proto, CES_MESH_CONN);
    ces_proto_set_token (self->proto, "");
    ces_proto_set_rooms (self->proto, rooms);
    if (s_send_on (self, peer, channel))
        peer->drops++;
}

//  The whole interest set, after a link (re)starts: the far side starts
//  from "wants nothing" on every new link
void
ces_mesh_tell_interest (ces_mesh_tell_t *self, ces_mesh_peer_t *peer,
                        ces_mesh_channel_t channel, zhashx_t *wants)
{
    assert (self && peer && wants);
    zlist_t *rooms = zlist_new ();
    const char *room = (const char *)zhashx_first (wants);
    while (room) {
        zlist_append (rooms, (void *)zhashx_cursor (wants));
        if (zlist_size (rooms) == ROOMS_PER_SEND) {
            ces_mesh_tell_rooms (self, peer, channel, true, rooms);
            zlist_purge (rooms);
        }
        room = (const char *)zhashx_next (wants);
    }
    if (zlist_size (rooms))
        ces_mesh_tell_rooms (self, peer, channel, true, rooms);
    zlist_destroy (&rooms);
}

void
ces_mesh_tell_unlink (ces_mesh_tell_t *self, ces_mesh_peer_t *peer)
{
    assert (self && peer);
    ces_proto_set_id (self->proto, CES_PROTO_UNLINK);
    if (ces_mesh_peer_dial_up (peer))
        s_send_on (self, peer, CES_MESH_CHANNEL_DIAL);
    if (peer->inbound_id)
        s_send_on (self, peer, CES_MESH_CHANNEL_INBOUND);
}

int
ces_mesh_tell_event (ces_mesh_tell_t *self, ces_mesh_peer_t *peer,
                     ces_mesh_channel_t channel, zframe_t *message)
{
    assert (self && peer && message && channel != CES_MESH_CHANNEL_NONE);
    ces_proto_set_id (self->proto, channel == CES_MESH_CHANNEL_DIAL
                                       ? CES_PROTO_EVENT
                                       : CES_PROTO_DELIVER);
    ces_proto_set_conn (self->proto, CES_MESH_CONN);
    //  Lent to the codec for the send, not copied
    zframe_t *lent = message;
    ces_proto_set_message (self->proto, &lent);
    int rc = s_send_on (self, peer, channel);
    int error = zmq_errno ();
    lent = ces_proto_take_message (self->proto);
    assert (lent == message);
    return rc == 0 ? 0 : error;
}

//  --------------------------------------------------------------------------
//  Self test: hub A tells hub B over B's DEALER to A's ROUTER, and hub C
//  over A's dial to a ROUTER standing in for C's

//  Receives one command on socket; asserts its ID
static ces_proto_t *
s_test_recv (ces_proto_t *proto, zsock_t *socket, ces_proto_id_t id)
{
    assert (ces_proto_recv (proto, socket) == 0);
    assert (ces_proto_id (proto) == id);
    return proto;
}

void
ces_mesh_tell_test (bool verbose)
{
    printf (" * ces_mesh_tell: ");
    (void)verbose;
    //  @selftest
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    assert (router);
    zsock_set_router_mandatory (router, 1);
    zsock_set_rcvtimeo (router, 5000);
    ces_mesh_tell_t *tell = ces_mesh_tell_new ("hub-a", router);
    ces_proto_t *proto = ces_proto_new ();

    //  Hub B's DEALER to our ROUTER: it says something first, so the
    //  ROUTER knows it
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_identity (dealer, "mesh.hub-b");
    zsock_set_rcvtimeo (dealer, 5000);
    assert (zsock_connect (dealer, "%s", zsock_endpoint (router)) == 0);
    zstr_send (dealer, "hello");
    zmsg_t *hello = zmsg_recv (router);
    assert (hello);
    zmsg_destroy (&hello);
    ces_mesh_peer_t *b = ces_mesh_peer_new ("tcp://10.0.0.2:7200", false);
    ces_mesh_peer_set_hub_id (b, "hub-b");
    b->inbound_id = strdup ("mesh.hub-b");
    b->inbound_routing_id = zframe_from ("mesh.hub-b");

    //  Our dial to hub C (the ROUTER here), which has not welcomed us yet
    ces_mesh_peer_t *c = ces_mesh_peer_new (zsock_endpoint (router), true);
    c->dial = ces_link_new (c->address, NULL, "mesh.hub-a", "hub hub-a", NULL);
    assert (c->dial);
    ces_mesh_peer_test_hello (c->dial, router, proto);
    ces_mesh_peer_set_hub_id (c, "hub-c");
    ces_mesh_tell_hello (tell, c, "tcp://10.0.0.1:7200");
    s_test_recv (proto, router, CES_PROTO_MESH);
    assert (streq (ces_proto_hub_id (proto), "hub-a"));
    assert (streq (ces_proto_address (proto), "tcp://10.0.0.1:7200"));

    //  PEERS to B: the other hubs we are linked to (D, not C: not up)
    ces_mesh_peer_t *d = ces_mesh_peer_new ("tcp://10.0.0.4:7200", false);
    ces_mesh_peer_set_hub_id (d, "hub-d");
    d->inbound_id = strdup ("mesh.hub-d");
    zlistx_t *peers = zlistx_new ();
    zlistx_add_end (peers, b);
    zlistx_add_end (peers, c);
    zlistx_add_end (peers, d);
    ces_mesh_tell_peers (tell, b, CES_MESH_CHANNEL_INBOUND, peers);
    s_test_recv (proto, dealer, CES_PROTO_PEERS);
    assert (zlist_size (ces_proto_peers (proto)) == 1);
    assert (streq ((char *)zlist_first (ces_proto_peers (proto)),
                   "hub-d tcp://10.0.0.4:7200"));

    //  Our interest, 501 rooms: in two messages
    zhashx_t *wants = zhashx_new ();
    for (int index = 0; index < 501; index++) {
        char room[32];
        snprintf (room, sizeof (room), "R-%d", index);
        zhashx_insert (wants, room, (void *)"");
    }
    ces_mesh_tell_interest (tell, b, CES_MESH_CHANNEL_INBOUND, wants);
    s_test_recv (proto, dealer, CES_PROTO_REGISTER);
    assert (streq (ces_proto_conn (proto), CES_MESH_CONN));
    size_t rooms = zlist_size (ces_proto_rooms (proto));
    s_test_recv (proto, dealer, CES_PROTO_REGISTER);
    rooms += zlist_size (ces_proto_rooms (proto));
    assert (rooms == 501);
    zlist_t *one = zlist_new ();
    zlist_append (one, (void *)"R-7");
    ces_mesh_tell_rooms (tell, b, CES_MESH_CHANNEL_INBOUND, false, one);
    s_test_recv (proto, dealer, CES_PROTO_UNREGISTER);
    assert (streq ((char *)zlist_first (ces_proto_rooms (proto)), "R-7"));

    //  An event over our dial: lent, not taken
    zframe_t *event = zframe_from ("R-1\n{\"n\":1}");
    assert (ces_mesh_tell_event (tell, c, CES_MESH_CHANNEL_DIAL, event) == 0);
    s_test_recv (proto, router, CES_PROTO_EVENT);
    assert (zframe_eq (ces_proto_message (proto), event));
    //  UNLINK goes over the links that are up: B's, not our dial to C
    ces_mesh_tell_unlink (tell, c);
    ces_mesh_tell_unlink (tell, b);
    s_test_recv (proto, dealer, CES_PROTO_UNLINK);
    assert (ces_mesh_tell_event (tell, c, CES_MESH_CHANNEL_DIAL, event) == 0);
    s_test_recv (proto, router, CES_PROTO_EVENT);

    //  A peer whose link is gone: the send fails, a REGISTER counts a drop
    ces_mesh_peer_t *gone = ces_mesh_peer_new ("", false);
    gone->inbound_id = strdup ("mesh.hub-x");
    gone->inbound_routing_id = zframe_from ("mesh.hub-x");
    assert (ces_mesh_tell_event (tell, gone, CES_MESH_CHANNEL_INBOUND, event) ==
            EHOSTUNREACH);
    ces_mesh_tell_rooms (tell, gone, CES_MESH_CHANNEL_INBOUND, true, one);
    assert (gone->drops == 1);

    zframe_destroy (&event);
    zlist_destroy (&one);
    zhashx_destroy (&wants);
    zlistx_destroy (&peers);
    ces_mesh_peer_destroy (&gone);
    ces_mesh_peer_destroy (&d);
    ces_mesh_peer_destroy (&c);
    ces_mesh_peer_destroy (&b);
    ces_proto_destroy (&proto);
    ces_mesh_tell_destroy (&tell);
    ces_mesh_tell_destroy (&tell);
    assert (!tell);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    //  @end
    printf ("OK\n");
}
