/*  =========================================================================
    ces_mesh_peer - one peer hub of the mesh: who it is, its two links to
    this hub, what it wants over each, and its counters
    =========================================================================
*/
#include "ces_classes.h"

//  Rooms, "*" and patterns ("ITB-*"), all of them keys of rooms; patterns
//  again in patterns, to be found by a room
struct _ces_mesh_wants_t {
    zhashx_t *rooms;
    ces_patterns_t *patterns;
};

//  Each peer's, in its /status entry and in series labelled peer="address"
static const ces_counter_t s_peer_counters[] = {
    {"events_in", "ces_hub_mesh_events_total", "direction=\"in\"", CES_COUNTER,
     "Events to and from each peer hub.",
     offsetof (ces_mesh_peer_t, events_in)},
    {"events_out", "ces_hub_mesh_events_total", "direction=\"out\"",
     CES_COUNTER, NULL, offsetof (ces_mesh_peer_t, events_out)},
    {"not_wanted", "ces_hub_mesh_events_total", "direction=\"not_wanted\"",
     CES_COUNTER, NULL, offsetof (ces_mesh_peer_t, not_wanted)},
    {"drops", "ces_hub_mesh_events_total", "direction=\"dropped\"", CES_COUNTER,
     NULL, offsetof (ces_mesh_peer_t, drops)},
    {NULL, "ces_hub_mesh_peer_up", NULL, CES_GAUGE,
     "Whether the link to a peer hub is up.", offsetof (ces_mesh_peer_t, up)},
};

//  --------------------------------------------------------------------------
//  What it wants

static ces_mesh_wants_t *
s_wants_new (void)
{
    ces_mesh_wants_t *wants = (ces_mesh_wants_t *)zmalloc (sizeof (*wants));
    assert (wants);
    wants->rooms = zhashx_new ();
    wants->patterns = ces_patterns_new (NULL);
    assert (wants->rooms);
    return wants;
}

static void
s_wants_destroy (ces_mesh_wants_t **wants_p)
{
    if (*wants_p) {
        zhashx_destroy (&(*wants_p)->rooms);
        ces_patterns_destroy (&(*wants_p)->patterns);
        freen (*wants_p);
        *wants_p = NULL;
    }
}

static void
s_wants_purge (ces_mesh_wants_t *wants)
{
    zhashx_purge (wants->rooms);
    ces_patterns_purge (wants->patterns);
}

static ces_mesh_wants_t *
s_wants_of (ces_mesh_peer_t *self, ces_mesh_channel_t channel)
{
    assert (channel != CES_MESH_CHANNEL_NONE);
    return channel == CES_MESH_CHANNEL_DIAL ? self->dial_wants
                                            : self->inbound_wants;
}

static void
s_apply_interest (ces_mesh_wants_t *wants, ces_proto_t *proto)
{
    zlist_t *rooms = ces_proto_rooms (proto);
    if (ces_proto_id (proto) == CES_PROTO_UNREGISTER && !zlist_size (rooms)) {
        s_wants_purge (wants);
        return;
    }
    const char *room = (const char *)zlist_first (rooms);
    while (room) {
        bool pattern = ces_patterns_is_pattern (room);
        if (ces_proto_id (proto) == CES_PROTO_REGISTER) {
            zhashx_insert (wants->rooms, room, (void *)"");
            if (pattern)
                ces_patterns_insert (wants->patterns, room, (void *)"");
        } else {
            zhashx_delete (wants->rooms, room);
            if (pattern)
                ces_patterns_delete (wants->patterns, room);
        }
        room = (const char *)zlist_next (rooms);
    }
}

static void
s_apply_peers (ces_mesh_peer_t *self, ces_proto_t *proto)
{
    zlist_purge (self->their_peers);
    const char *entry = (const char *)zlist_first (ces_proto_peers (proto));
    while (entry) {
        zlist_append (self->their_peers, (void *)entry);
        entry = (const char *)zlist_next (ces_proto_peers (proto));
    }
}

void
ces_mesh_peer_apply (ces_mesh_peer_t *self, ces_mesh_channel_t channel,
                     ces_proto_t *proto)
{
    assert (self && proto);
    ces_proto_id_t id = ces_proto_id (proto);
    if (id == CES_PROTO_REGISTER || id == CES_PROTO_UNREGISTER)
        s_apply_interest (s_wants_of (self, channel), proto);
    else if (id == CES_PROTO_PEERS)
        s_apply_peers (self, proto);
}

void
ces_mesh_peer_forget (ces_mesh_peer_t *self, ces_mesh_channel_t channel)
{
    assert (self);
    s_wants_purge (s_wants_of (self, channel));
}

bool
ces_mesh_peer_wants (ces_mesh_peer_t *self, ces_mesh_channel_t channel,
                     const char *room)
{
    assert (self && room);
    ces_mesh_wants_t *wants = s_wants_of (self, channel);
    return zhashx_lookup (wants->rooms, room) ||
           zhashx_lookup (wants->rooms, "*") ||
           ces_patterns_first_match (wants->patterns, room);
}

void
ces_mesh_peer_take_inbound (ces_mesh_peer_t *self, ces_mesh_peer_t *alias)
{
    assert (self && alias);
    if (self->inbound_id || !alias->inbound_id)
        return;
    self->inbound_id = alias->inbound_id, alias->inbound_id = NULL;
    self->inbound_routing_id = alias->inbound_routing_id;
    alias->inbound_routing_id = NULL;
    ces_mesh_wants_t *wants = self->inbound_wants;
    self->inbound_wants = alias->inbound_wants;
    alias->inbound_wants = wants;
}

//  --------------------------------------------------------------------------
//  The record, its links

ces_mesh_peer_t *
ces_mesh_peer_new (const char *address, bool requested)
{
    assert (address);
    ces_mesh_peer_t *self = (ces_mesh_peer_t *)zmalloc (sizeof (*self));
    assert (self);
    self->address = strdup (address);
    self->hub_id = strdup ("");
    self->origin = strdup ("/" CES_MESH_CONN);
    self->requested = requested;
    self->dial_wants = s_wants_new ();
    self->inbound_wants = s_wants_new ();
    self->their_peers = zlist_new ();
    assert (self->dial_wants && self->inbound_wants && self->their_peers);
    zlist_autofree (self->their_peers);
    return self;
}

void
ces_mesh_peer_destroy (ces_mesh_peer_t **self_p)
{
    assert (self_p);
    ces_mesh_peer_t *self = *self_p;
    if (!self)
        return;
    ces_link_destroy (&self->dial);
    if (self->original) {
        atomic_store (&self->original_stop, true);
        zactor_destroy (&self->original);
    }
    zstr_free (&self->original_status);
    s_wants_destroy (&self->dial_wants);
    s_wants_destroy (&self->inbound_wants);
    zlist_destroy (&self->their_peers);
    zframe_destroy (&self->inbound_routing_id);
    zstr_free (&self->inbound_id);
    zstr_free (&self->address);
    zstr_free (&self->hub_id);
    zstr_free (&self->origin);
    freen (self);
    *self_p = NULL;
}

void
ces_mesh_peer_set_hub_id (ces_mesh_peer_t *self, const char *hub_id)
{
    assert (self && hub_id);
    if (streq (self->hub_id, hub_id))
        return;
    zstr_free (&self->hub_id);
    zstr_free (&self->origin);
    self->hub_id = strdup (hub_id);
    self->origin = zsys_sprintf ("%s/" CES_MESH_CONN, hub_id);
}

int
ces_mesh_peer_dial (ces_mesh_peer_t *self, const char *own_id,
                    const ces_curve_t *curve, int log_level)
{
    assert (self && own_id);
    if (self->dial || !*self->address)
        return -1;
    char *link_id = zsys_sprintf ("mesh.%s", own_id);
    char *name = zsys_sprintf ("hub %s", own_id);
    self->dial = ces_link_new (self->address, NULL, link_id, name, curve);
    zstr_free (&link_id);
    zstr_free (&name);
    if (!self->dial) {
        ces_warn (log_level, "mesh: cannot dial %s", self->address);
        return -1;
    }
    ces_link_set_log_level (self->dial, log_level);
    ces_mesh_peer_forget (self, CES_MESH_CHANNEL_DIAL);
    ces_info (log_level, "mesh: dialling %s", self->address);
    return 0;
}

void
ces_mesh_peer_hang_up (ces_mesh_peer_t *self)
{
    assert (self);
    if (!self->dial)
        return;
    ces_link_destroy (&self->dial);
    ces_mesh_peer_forget (self, CES_MESH_CHANNEL_DIAL);
}

bool
ces_mesh_peer_dial_up (ces_mesh_peer_t *self)
{
    assert (self);
    return self->dial && ces_link_connected (self->dial);
}

ces_mesh_channel_t
ces_mesh_peer_channel (ces_mesh_peer_t *self, const char *own_id)
{
    assert (self && own_id);
    bool dial = ces_mesh_peer_dial_up (self);
    bool inbound = self->inbound_id != NULL;
    if (dial && inbound)
        return strcmp (own_id, self->hub_id) < 0 ? CES_MESH_CHANNEL_DIAL
                                                 : CES_MESH_CHANNEL_INBOUND;
    return dial      ? CES_MESH_CHANNEL_DIAL
           : inbound ? CES_MESH_CHANNEL_INBOUND
                     : CES_MESH_CHANNEL_NONE;
}

const char *
ces_mesh_peer_state (ces_mesh_peer_t *self, const char *own_id)
{
    assert (self && own_id);
    if (self->original)
        return "original";
    if (ces_mesh_peer_channel (self, own_id) != CES_MESH_CHANNEL_NONE)
        return "up";
    return self->dial ? "retrying" : "waiting";
}

//  --------------------------------------------------------------------------
//  Status and metrics

//  An original hub's counters are its link's own, from what its
//  ces_hubpeer last reported
static void
s_status_original (ces_mesh_peer_t *self, cJSON *item)
{
    cJSON *original =
        self->original_status ? cJSON_Parse (self->original_status) : NULL;
    if (!original)
        return;
    const char *fields[] = {"events_in", "events_out", "drops"};
    for (int i = 0; i < 3; i++) {
        cJSON *value = cJSON_GetObjectItem (original, fields[i]);
        if (cJSON_IsNumber (value))
            cJSON_SetNumberValue (cJSON_GetObjectItem (item, fields[i]),
                                  value->valuedouble);
    }
    cJSON_AddItemToObject (item, "original", original);
}

cJSON *
ces_mesh_peer_status (ces_mesh_peer_t *self, const char *own_id, int64_t now)
{
    assert (self && own_id);
    cJSON *item = cJSON_CreateObject ();
    cJSON_AddStringToObject (item, "address", self->address);
    cJSON_AddStringToObject (item, "hub_id", self->hub_id);
    cJSON_AddStringToObject (item, "state", ces_mesh_peer_state (self, own_id));
    ces_mesh_channel_t channel = ces_mesh_peer_channel (self, own_id);
    cJSON_AddStringToObject (item, "link",
                             self->original                        ? "websocket"
                             : channel == CES_MESH_CHANNEL_DIAL    ? "dialled"
                             : channel == CES_MESH_CHANNEL_INBOUND ? "accepted"
                                                                   : "none");
    cJSON_AddBoolToObject (item, "requested", self->requested);
    if (self->last_heard)
        cJSON_AddNumberToObject (item, "last_heard_ms_ago",
                                 (double)(now - self->last_heard));
    if (self->up_since && channel != CES_MESH_CHANNEL_NONE)
        cJSON_AddNumberToObject (item, "up_ms", (double)(now - self->up_since));
    cJSON *their = cJSON_AddArrayToObject (item, "wants");
    if (channel != CES_MESH_CHANNEL_NONE) {
        zhashx_t *rooms = s_wants_of (self, channel)->rooms;
        const char *room = (const char *)zhashx_first (rooms);
        while (room) {
            cJSON_AddItemToArray (
                their,
                cJSON_CreateString ((const char *)zhashx_cursor (rooms)));
            room = (const char *)zhashx_next (rooms);
        }
    }
    ces_counters_json (s_peer_counters, CES_COUNTERS_SIZE (s_peer_counters),
                       self, item);
    s_status_original (self, item);
    return item;
}

void
ces_mesh_peer_metrics (const void **peers, const char **addresses, size_t count,
                       FILE *out)
{
    assert (peers && addresses && out);
    ces_counters_metrics_each (s_peer_counters,
                               CES_COUNTERS_SIZE (s_peer_counters), peers,
                               "peer", addresses, count, out);
}

//  --------------------------------------------------------------------------
//  Self test: a peer's interest over its inbound link, its channel, its
//  status; the record of an alias taken over

//  Applies command (REGISTER, UNREGISTER or PEERS) with items
static void
s_test_apply (ces_mesh_peer_t *peer, ces_proto_t *proto, ces_proto_id_t id,
              const char *item, ...)
{
    zlist_t *items = zlist_new ();
    va_list args;
    va_start (args, item);
    for (; item; item = va_arg (args, const char *))
        zlist_append (items, (void *)item);
    va_end (args);
    ces_proto_set_id (proto, id);
    if (id == CES_PROTO_PEERS)
        ces_proto_set_peers (proto, items);
    else
        ces_proto_set_rooms (proto, items);
    ces_mesh_peer_apply (peer, CES_MESH_CHANNEL_INBOUND, proto);
    zlist_destroy (&items);
}

void
ces_mesh_peer_test_hello (ces_link_t *dial, zsock_t *router, ces_proto_t *proto)
{
    zpoller_t *poller = zpoller_new (router, NULL);
    int64_t deadline = zclock_mono () + 5000;
    while (!zpoller_wait (poller, ces_link_timeout (dial))) {
        assert (zclock_mono () < deadline);
        ces_link_tick (dial);
    }
    zpoller_destroy (&poller);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_HELLO);
}

void
ces_mesh_peer_test (bool verbose)
{
    printf (" * ces_mesh_peer: ");
    //  @selftest
    ces_proto_t *proto = ces_proto_new ();
    ces_mesh_peer_t *peer = ces_mesh_peer_new ("tcp://127.0.0.1:7200", true);
    assert (streq (peer->hub_id, "") && streq (peer->origin, "/mesh"));
    assert (ces_mesh_peer_channel (peer, "hub-a") == CES_MESH_CHANNEL_NONE);
    assert (streq (ces_mesh_peer_state (peer, "hub-a"), "waiting"));
    ces_mesh_peer_set_hub_id (peer, "hub-b");
    assert (streq (peer->origin, "hub-b/mesh"));

    //  It links to us: events take its link, and go where it wants
    peer->inbound_id = strdup ("mesh.hub-b");
    assert (ces_mesh_peer_channel (peer, "hub-a") == CES_MESH_CHANNEL_INBOUND);
    assert (streq (ces_mesh_peer_state (peer, "hub-a"), "up"));
    s_test_apply (peer, proto, CES_PROTO_REGISTER, "ITB-1101", "JFSB-*", NULL);
    assert (ces_mesh_peer_wants (peer, CES_MESH_CHANNEL_INBOUND, "ITB-1101"));
    assert (ces_mesh_peer_wants (peer, CES_MESH_CHANNEL_INBOUND, "JFSB-2"));
    assert (!ces_mesh_peer_wants (peer, CES_MESH_CHANNEL_INBOUND, "JFS-1"));
    assert (!ces_mesh_peer_wants (peer, CES_MESH_CHANNEL_DIAL, "ITB-1101"));
    s_test_apply (peer, proto, CES_PROTO_UNREGISTER, "JFSB-*", NULL);
    assert (!ces_mesh_peer_wants (peer, CES_MESH_CHANNEL_INBOUND, "JFSB-2"));
    s_test_apply (peer, proto, CES_PROTO_REGISTER, "*", NULL);
    assert (ces_mesh_peer_wants (peer, CES_MESH_CHANNEL_INBOUND, "X-1"));
    s_test_apply (peer, proto, CES_PROTO_PEERS, "hub-c tcp://10.0.0.3:7200",
                  NULL);
    assert (zlist_size (peer->their_peers) == 1);

    //  Its /status entry: the link, what it wants, its counters
    peer->events_in = 3;
    peer->last_heard = peer->up_since = 1000;
    cJSON *item = ces_mesh_peer_status (peer, "hub-a", 1500);
    char *json = cJSON_PrintUnformatted (item);
    cJSON_Delete (item);
    assert (strstr (json, "\"link\":\"accepted\""));
    assert (strstr (json, "\"up_ms\":500"));
    assert (strstr (json, "\"wants\":[\"ITB-1101\",\"*\"]") ||
            strstr (json, "\"wants\":[\"*\",\"ITB-1101\"]"));
    assert (strstr (json, "\"events_in\":3"));
    zstr_free (&json);
    //  UNREGISTER of nothing: it wants nothing now
    s_test_apply (peer, proto, CES_PROTO_UNREGISTER, NULL);
    assert (!ces_mesh_peer_wants (peer, CES_MESH_CHANNEL_INBOUND, "ITB-1101"));

    //  The same hub known at another address: its inbound link moves over
    ces_mesh_peer_t *ours = ces_mesh_peer_new ("tcp://10.0.0.2:7200", true);
    s_test_apply (peer, proto, CES_PROTO_REGISTER, "R", NULL);
    ces_mesh_peer_take_inbound (ours, peer);
    assert (!peer->inbound_id && streq (ours->inbound_id, "mesh.hub-b"));
    ces_mesh_peer_set_hub_id (ours, "hub-b");
    assert (ces_mesh_peer_wants (ours, CES_MESH_CHANNEL_INBOUND, "R"));
    assert (!ces_mesh_peer_wants (peer, CES_MESH_CHANNEL_INBOUND, "R"));
    ces_mesh_peer_forget (ours, CES_MESH_CHANNEL_INBOUND);
    assert (!ces_mesh_peer_wants (ours, CES_MESH_CHANNEL_INBOUND, "R"));

    //  Dialling it: the link says HELLO as this hub; once only; hung up
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    assert (router);
    zsock_set_rcvtimeo (router, 5000);
    ces_mesh_peer_t *dialled =
        ces_mesh_peer_new (zsock_endpoint (router), true);
    int level = verbose ? CES_LOG_DEBUG : CES_LOG_ERROR;
    assert (ces_mesh_peer_dial (dialled, "hub-a", NULL, level) == 0);
    assert (ces_mesh_peer_dial (dialled, "hub-a", NULL, level) == -1);
    ces_mesh_peer_test_hello (dialled->dial, router, proto);
    assert (zframe_streq (ces_proto_routing_id (proto), "mesh.hub-a"));
    assert (streq (ces_proto_name (proto), "hub hub-a"));
    ces_mesh_peer_hang_up (dialled);
    assert (!dialled->dial);
    ces_mesh_peer_hang_up (dialled);
    ces_mesh_peer_destroy (&dialled);
    dialled = ces_mesh_peer_new ("", false); //  it gave no address
    assert (ces_mesh_peer_dial (dialled, "hub-a", NULL, level) == -1);
    ces_mesh_peer_destroy (&dialled);
    zsock_destroy (&router);

    //  Its series, labelled with its address
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    const void *peers[] = {ours};
    const char *addresses[] = {ours->address};
    ours->up = 1;
    ces_mesh_peer_metrics (peers, addresses, 1, out);
    fclose (out);
    assert (
        strstr (text, "ces_hub_mesh_peer_up{peer=\"tcp://10.0.0.2:7200\"} 1"));
    freen (text);

    ces_mesh_peer_destroy (&ours);
    ces_mesh_peer_destroy (&peer);
    ces_mesh_peer_destroy (&peer);
    assert (!peer);
    ces_proto_destroy (&proto);
    //  @end
    printf ("OK\n");
}
