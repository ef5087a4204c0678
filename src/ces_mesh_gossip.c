/*  =========================================================================
    ces_mesh_gossip - whom this hub is linked to, told to its peers, and the
    hubs they are linked to that it is not (the incomplete-mesh report)
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_mesh_gossip_t {
    char *hub_id;
    int log_level;
    char *peers_signature; //  the linked set last told to peers
    char *missing;         //  the incomplete-mesh report last logged
};

ces_mesh_gossip_t *
ces_mesh_gossip_new (const char *hub_id)
{
    assert (hub_id);
    ces_mesh_gossip_t *self = (ces_mesh_gossip_t *)zmalloc (sizeof (*self));
    assert (self);
    self->hub_id = strdup (hub_id);
    self->log_level = CES_LOG_INFO;
    return self;
}

void
ces_mesh_gossip_destroy (ces_mesh_gossip_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_mesh_gossip_t *self = *self_p;
        zstr_free (&self->hub_id);
        zstr_free (&self->peers_signature);
        zstr_free (&self->missing);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_mesh_gossip_set_log_level (ces_mesh_gossip_t *self, int level)
{
    assert (self);
    self->log_level = level;
}

//  The peers, in a list of their own: zlistx has one cursor, and loops
//  whose bodies walk the peers must not share it
static zlistx_t *
s_peers_copy (zlistx_t *peers)
{
    zlistx_t *copy = zlistx_new ();
    assert (copy);
    ces_mesh_peer_t *peer = (ces_mesh_peer_t *)zlistx_first (peers);
    while (peer) {
        zlistx_add_end (copy, peer);
        peer = (ces_mesh_peer_t *)zlistx_next (peers);
    }
    return copy;
}

//  Tells every peer whom we are linked to, when that changed
void
ces_mesh_gossip_tell (ces_mesh_gossip_t *self, zlistx_t *peers,
                      ces_mesh_tell_t *tell)
{
    assert (self && peers && tell);
    char *signature = strdup ("");
    ces_mesh_peer_t *peer = (ces_mesh_peer_t *)zlistx_first (peers);
    while (peer) {
        if (!peer->original && ces_mesh_peer_channel (peer, self->hub_id) !=
                                   CES_MESH_CHANNEL_NONE) {
            char *longer = zsys_sprintf ("%s%s,", signature, peer->hub_id);
            zstr_free (&signature);
            signature = longer;
        }
        peer = (ces_mesh_peer_t *)zlistx_next (peers);
    }
    if (self->peers_signature && streq (signature, self->peers_signature)) {
        zstr_free (&signature);
        return;
    }
    zstr_free (&self->peers_signature);
    self->peers_signature = signature;
    zlistx_t *copy = s_peers_copy (peers);
    peer = (ces_mesh_peer_t *)zlistx_first (copy);
    while (peer) {
        if (ces_mesh_peer_dial_up (peer))
            ces_mesh_tell_peers (tell, peer, CES_MESH_CHANNEL_DIAL, peers);
        if (peer->inbound_id)
            ces_mesh_tell_peers (tell, peer, CES_MESH_CHANNEL_INBOUND, peers);
        peer = (ces_mesh_peer_t *)zlistx_next (copy);
    }
    zlistx_destroy (&copy);
}

//  Hubs our peers are linked to and we are not: the mesh is incomplete,
//  and events from our messengers never reach their messengers. A hub
//  counts as linked when the first record with its ID has a link up.
static char *
s_missing (ces_mesh_gossip_t *self, zlistx_t *peers)
{
    zhashx_t *linked = zhashx_new (); //  hub ID -> "up" or ""
    ces_mesh_peer_t *peer = (ces_mesh_peer_t *)zlistx_first (peers);
    while (peer) {
        bool up =
            ces_mesh_peer_channel (peer, self->hub_id) != CES_MESH_CHANNEL_NONE;
        if (*peer->hub_id) //  insert keeps the first
            zhashx_insert (linked, peer->hub_id, (void *)(up ? "up" : ""));
        peer = (ces_mesh_peer_t *)zlistx_next (peers);
    }
    char *missing = strdup ("");
    peer = (ces_mesh_peer_t *)zlistx_first (peers);
    for (; peer; peer = (ces_mesh_peer_t *)zlistx_next (peers)) {
        if (ces_mesh_peer_channel (peer, self->hub_id) == CES_MESH_CHANNEL_NONE)
            continue;
        const char *entry = (const char *)zlist_first (peer->their_peers);
        while (entry) {
            char hub_id[256];
            if (sscanf (entry, "%255s", hub_id) == 1 &&
                !streq (hub_id, self->hub_id)) {
                const char *known =
                    (const char *)zhashx_lookup (linked, hub_id);
                char *key = zsys_sprintf ("%s;", entry);
                if ((!known || !*known) && !strstr (missing, key)) {
                    char *longer = zsys_sprintf ("%s%s", missing, key);
                    zstr_free (&missing);
                    missing = longer;
                }
                zstr_free (&key);
            }
            entry = (const char *)zlist_next (peer->their_peers);
        }
    }
    zhashx_destroy (&linked);
    return missing;
}

void
ces_mesh_gossip_check (ces_mesh_gossip_t *self, zlistx_t *peers)
{
    assert (self && peers);
    char *missing = s_missing (self, peers);
    if (self->missing && streq (missing, self->missing)) {
        zstr_free (&missing);
        return;
    }
    if (*missing)
        ces_warn (self->log_level,
                  "mesh incomplete: our peers are linked to hubs we are not "
                  "(\"hub-id address;\"): %s — POST /interconnect/<address> "
                  "to link them",
                  missing);
    else if (self->missing && *self->missing)
        ces_info (self->log_level, "mesh complete again");
    zstr_free (&self->missing);
    self->missing = missing;
}

void
ces_mesh_gossip_status (ces_mesh_gossip_t *self, zlistx_t *peers, cJSON *mesh)
{
    assert (self && peers && mesh);
    char *missing = s_missing (self, peers);
    cJSON_AddBoolToObject (mesh, "complete", *missing == 0);
    cJSON *missing_list = cJSON_AddArrayToObject (mesh, "missing");
    char *saveptr = NULL;
    for (char *entry = strtok_r (missing, ";", &saveptr); entry;
         entry = strtok_r (NULL, ";", &saveptr))
        cJSON_AddItemToArray (missing_list, cJSON_CreateString (entry));
    zstr_free (&missing);
}

//  --------------------------------------------------------------------------
//  Self test: hub A linked to B (over B's DEALER to A's ROUTER) and to C;
//  B is linked to C and E

static void
s_test_status (ces_mesh_gossip_t *gossip, zlistx_t *peers, const char *expect)
{
    cJSON *mesh = cJSON_CreateObject ();
    ces_mesh_gossip_status (gossip, peers, mesh);
    char *json = cJSON_PrintUnformatted (mesh);
    cJSON_Delete (mesh);
    assert (streq (json, expect));
    freen (json);
}

void
ces_mesh_gossip_test (bool verbose)
{
    printf (" * ces_mesh_gossip: ");
    //  @selftest
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    assert (router);
    zsock_set_router_mandatory (router, 1);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_identity (dealer, "mesh.hub-b");
    zsock_set_rcvtimeo (dealer, 5000);
    assert (zsock_connect (dealer, "%s", zsock_endpoint (router)) == 0);
    zstr_send (dealer, "hello"); //  so that the ROUTER knows it
    zmsg_t *hello = zmsg_recv (router);
    assert (hello);
    zmsg_destroy (&hello);
    ces_mesh_tell_t *tell = ces_mesh_tell_new ("hub-a", router);
    ces_mesh_gossip_t *gossip = ces_mesh_gossip_new ("hub-a");
    ces_mesh_gossip_set_log_level (gossip,
                                   verbose ? CES_LOG_DEBUG : CES_LOG_ERROR);
    ces_proto_t *proto = ces_proto_new ();

    zlistx_t *peers = zlistx_new ();
    ces_mesh_peer_t *b = ces_mesh_peer_new ("tcp://10.0.0.2:7200", false);
    ces_mesh_peer_set_hub_id (b, "hub-b");
    b->inbound_id = strdup ("mesh.hub-b");
    b->inbound_routing_id = zframe_from ("mesh.hub-b");
    zlist_append (b->their_peers, "hub-a tcp://10.0.0.1:7200");
    zlist_append (b->their_peers, "hub-c tcp://10.0.0.3:7200");
    zlist_append (b->their_peers, "hub-e tcp://10.0.0.5:7200");
    zlistx_add_end (peers, b);
    //  C: linked, but not over a real socket (what it is told is lost)
    ces_mesh_peer_t *c = ces_mesh_peer_new ("tcp://10.0.0.3:7200", false);
    ces_mesh_peer_set_hub_id (c, "hub-c");
    c->inbound_id = strdup ("mesh.hub-c");
    c->inbound_routing_id = zframe_from ("mesh.hub-c");
    zlistx_add_end (peers, c);

    //  B is told we are linked to C; E is missing here
    ces_mesh_gossip_tell (gossip, peers, tell);
    assert (ces_proto_recv (proto, dealer) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_PEERS);
    assert (zlist_size (ces_proto_peers (proto)) == 1);
    assert (streq ((char *)zlist_first (ces_proto_peers (proto)),
                   "hub-c tcp://10.0.0.3:7200"));
    ces_mesh_gossip_check (gossip, peers);
    s_test_status (gossip, peers,
                   "{\"complete\":false,\"missing\":"
                   "[\"hub-e tcp://10.0.0.5:7200\"]}");

    //  Nothing changed: nothing told (the next PEERS B gets is the one
    //  after C's link is gone, and C is missing too)
    ces_mesh_gossip_tell (gossip, peers, tell);
    zstr_free (&c->inbound_id);
    ces_mesh_gossip_tell (gossip, peers, tell);
    assert (ces_proto_recv (proto, dealer) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_PEERS);
    assert (zlist_size (ces_proto_peers (proto)) == 0);
    ces_mesh_gossip_check (gossip, peers);
    s_test_status (gossip, peers,
                   "{\"complete\":false,\"missing\":"
                   "[\"hub-c tcp://10.0.0.3:7200\","
                   "\"hub-e tcp://10.0.0.5:7200\"]}");

    //  B forgets them: the mesh is complete
    zlist_purge (b->their_peers);
    ces_mesh_gossip_check (gossip, peers);
    s_test_status (gossip, peers, "{\"complete\":true,\"missing\":[]}");

    zlistx_destroy (&peers);
    ces_mesh_peer_destroy (&c);
    ces_mesh_peer_destroy (&b);
    ces_proto_destroy (&proto);
    ces_mesh_gossip_destroy (&gossip);
    ces_mesh_gossip_destroy (&gossip);
    assert (!gossip);
    ces_mesh_tell_destroy (&tell);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    //  @end
    printf ("OK\n");
}
