/*  =========================================================================
    ces_mesh_peer - one peer hub of the mesh: who it is, its two links to
    this hub, what it wants over each, and its counters

    A peer hub can be linked twice: our DEALER to its ROUTER (the dial, a
    ces_link) and its DEALER to our ROUTER (inbound). Each side says over
    each link what it wants (REGISTER, UNREGISTER) and whom it is linked to
    (PEERS), and starts from "wants nothing" on every new link; events take
    one channel, the link dialled by the hub with the smaller ID when both
    are up. An original (Go) hub is a peer too, served by a ces_hubpeer.

    The record is plain data: ces_mesh reads and sets its links as they
    come and go; our dial is made here, and what it wants is kept here.
    =========================================================================
*/
#ifndef CES_MESH_PEER_H_INCLUDED
#define CES_MESH_PEER_H_INCLUDED

#define CES_MESH_CONN "mesh" //  the one connection a mesh link carries

//  Where an event for a peer goes: our DEALER to it, or its DEALER to our
//  ROUTER
typedef enum {
    CES_MESH_CHANNEL_NONE,
    CES_MESH_CHANNEL_DIAL,
    CES_MESH_CHANNEL_INBOUND
} ces_mesh_channel_t;

//  What a peer hub wants over one link: rooms, "*" and patterns
typedef struct _ces_mesh_wants_t ces_mesh_wants_t;

typedef struct {
    char *address;    //  tcp://host:port we dial; "" if it cannot be
    char *hub_id;     //  "" until the peer said who it is
    char *origin;     //  stamped on what it sends us through our dial
    bool requested;   //  asked for here (request, flag), not learned
    ces_link_t *dial; //  our link to it, or NULL
    ces_mesh_wants_t *dial_wants; //  rooms it wants, as told over our dial
    char *inbound_id;             //  its link on our ROUTER, or NULL
    zframe_t *inbound_routing_id;
    ces_mesh_wants_t *inbound_wants; //  rooms it wants, as told over its link
    zlist_t *their_peers; //  "hub-id address" of the hubs it is linked to
    zactor_t *original;   //  for an original hub: its ces_hubpeer
    atomic_bool original_stop;
    char *original_status; //  what it last reported
    int64_t last_heard;
    int64_t up_since;
    uint64_t events_in;
    uint64_t events_out;
    uint64_t not_wanted;
    uint64_t drops;
    uint64_t up; //  1 while a link is up: set just before /metrics
} ces_mesh_peer_t;

//  A peer at address ("" if it gave none), not yet linked; requested: asked
//  for here rather than learned from it.
ces_mesh_peer_t *ces_mesh_peer_new (const char *address, bool requested);

//  Destroy the peer, its dial and its original-hub actor; idempotent.
void ces_mesh_peer_destroy (ces_mesh_peer_t **self_p);

//  The peer said who it is: its hub ID and the origin of its events.
void ces_mesh_peer_set_hub_id (ces_mesh_peer_t *self, const char *hub_id);

//  Dial the peer as hub own_id (over CURVE with curve, if not NULL),
//  unless we dial it already or it gave no address. Returns 0 when a new
//  dial was made (the caller polls its DEALER), else -1.
int ces_mesh_peer_dial (ces_mesh_peer_t *self, const char *own_id,
                        const ces_curve_t *curve, int log_level);

//  Close our dial (the caller no longer polls it), and forget what the
//  peer wanted over it.
void ces_mesh_peer_hang_up (ces_mesh_peer_t *self);

//  Is our dial connected?
bool ces_mesh_peer_dial_up (ces_mesh_peer_t *self);

//  The one channel events for this peer take, seen from hub own_id. With
//  two links to the same hub, the one dialled by the hub with the smaller
//  ID is used (ces_mesh closes the other).
ces_mesh_channel_t ces_mesh_peer_channel (ces_mesh_peer_t *self,
                                          const char *own_id);

//  "original", "up", "retrying" or "waiting", seen from hub own_id.
const char *ces_mesh_peer_state (ces_mesh_peer_t *self, const char *own_id);

//  A REGISTER, UNREGISTER (none: all) or PEERS the peer sent over channel.
void ces_mesh_peer_apply (ces_mesh_peer_t *self, ces_mesh_channel_t channel,
                          ces_proto_t *proto);

//  A link (re)started or ended: what the peer wanted over it is forgotten.
void ces_mesh_peer_forget (ces_mesh_peer_t *self, ces_mesh_channel_t channel);

//  Does the peer want room (by name, "*" or a pattern) over channel?
bool ces_mesh_peer_wants (ces_mesh_peer_t *self, ces_mesh_channel_t channel,
                          const char *room);

//  The same hub dials us from another address (alias): its inbound link,
//  and what it wants over it, become this record's, if this has none.
void ces_mesh_peer_take_inbound (ces_mesh_peer_t *self, ces_mesh_peer_t *alias);

//  The peer's /status entry, seen from hub own_id at now (msecs, mono).
//  Caller owns the object.
cJSON *ces_mesh_peer_status (ces_mesh_peer_t *self, const char *own_id,
                             int64_t now);

//  The peers' series in Prometheus text, labelled peer="address"; their
//  "up" fields must be set.
void ces_mesh_peer_metrics (const void **peers, const char **addresses,
                            size_t count, FILE *out);

void ces_mesh_peer_test (bool verbose);

#endif
