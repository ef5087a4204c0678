/*  =========================================================================
    ces_mesh - a hub's links to the other hubs of the mesh

    Not an actor: the hub actor owns it, feeds it what arrives from peer
    hubs, and asks it where events go. Between two hubs there is one link,
    a DEALER (a ces_link) of one hub to the other's ROUTER, carrying both
    directions (docs/PROTOCOL.md, "The mesh"):

      - the dialling hub says MESH (its hub ID and its ROUTER address) after
        every WELCOME; each side then says PEERS (the hubs it is linked to)
        and REGISTERs its interest: the rooms its messengers want;
      - an event crosses the link only if the far side registered its room
        (or "*"), and is hub-sourced there, so nothing loops;
      - if both hubs dial each other, the link dialled by the hub with the
        smaller ID stays and the other is closed, so a pair has one link;
      - the hub that did not dial remembers the other's address and dials
        it if the link falls silent, so a peer that restarted (and forgot)
        comes back without any request;
      - UNLINK, sent by the hub that was asked to drop the link, makes both
        forget it.

    A ws:// address is an original hub: a ces_hubpeer actor dials its
    /connect/hub and attaches to this hub as a hub-role connection, which
    gets everything the routing table owes a hub.
    =========================================================================
*/
#ifndef CES_MESH_H_INCLUDED
#define CES_MESH_H_INCLUDED

typedef struct _ces_mesh_t ces_mesh_t;

//  Create the mesh of hub hub_id. Sends to inbound links go out on router;
//  the sockets of the links it dials are added to (and removed from)
//  poller. self_endpoint is where this hub's ROUTER can be reached from
//  inside the process (for original-hub peers).
ces_mesh_t *ces_mesh_new (const char *hub_id, zsock_t *router,
                          zpoller_t *poller, const char *self_endpoint);

//  Destroy the mesh; says BYE on every link it dialled. Idempotent.
void ces_mesh_destroy (ces_mesh_t **self_p);

//  The ROUTER address peers should dial back ("" = they cannot).
void ces_mesh_set_address (ces_mesh_t *self, const char *address);
void ces_mesh_set_log_level (ces_mesh_t *self, int level);

//  Dial peers over CURVE with the hub's own certificate, expecting them to
//  hold the same public key (hubs of one mesh share one certificate).
//  Before the first link; the mesh keeps a copy.
void ces_mesh_set_curve (ces_mesh_t *self, const ces_curve_t *hub_keys);

//  Link to the hub at address ("host:port", "tcp://host:port", or
//  "ws://host:port" for an original hub). Returns 0 and a JSON reply when
//  the link is new, 1 when it exists already (or is being made), -1 and a
//  reason for a bad address. Caller owns *reply and must free it.
int ces_mesh_link (ces_mesh_t *self, const char *address, char **reply);

//  Drop the link to address (or to the hub with that ID). Returns 0 and a
//  JSON reply, or -1 and a reason when there is no such link.
int ces_mesh_unlink (ces_mesh_t *self, const char *address, char **reply);

//  What a peer hub sent to our ROUTER on link link_id: MESH, PEERS,
//  UNLINK, REGISTER or UNREGISTER. For MESH, returns false if the link is
//  refused (it is this hub itself); the hub then does not attach it.
bool ces_mesh_inbound (ces_mesh_t *self, const char *link_id,
                       zframe_t *routing_id, ces_proto_t *proto);

//  A peer hub's link to our ROUTER sent something (an event if is_event).
void ces_mesh_inbound_heard (ces_mesh_t *self, const char *link_id,
                             bool is_event);

//  A peer hub's link to our ROUTER is gone (silent, BYE, send failed).
void ces_mesh_inbound_gone (ces_mesh_t *self, const char *link_id,
                            bool dial_back);

//  Handle what is readable on socket (a zsock_t or zactor_t from the
//  poller), if it is one of the mesh's. Returns
//  an event a peer hub sent us to publish as hub-sourced (and its origin in
//  *origin, borrowed), or NULL. Caller owns the frame.
zframe_t *ces_mesh_recv (ces_mesh_t *self, void *socket, const char **origin);

//  Is socket one of the mesh's?
bool ces_mesh_owns (ces_mesh_t *self, void *socket);

//  Msecs until ces_mesh_tick must run; run it then (or any time).
int ces_mesh_timeout (ces_mesh_t *self);
void ces_mesh_tick (ces_mesh_t *self);

//  Send a messenger- or repeater-sourced event to every peer hub that
//  wants its room, once each. Returns how many took it; adds those whose
//  queue was full, or whose link was found gone, to the counters.
size_t ces_mesh_send (ces_mesh_t *self, const char *room, zframe_t *message,
                      size_t *queue_full, size_t *peer_gone);

//  This hub's messengers now want room (or "*"), or no longer do.
void ces_mesh_want (ces_mesh_t *self, const char *room, bool wanted);

//  Read a static mesh: a file with one peer hub address per line ('#'
//  starts a comment), appended to addresses (autofree). Returns 0, or -1
//  and a reason when the file cannot be read.
int ces_mesh_read_peers (const char *path, zlist_t *addresses, char *error,
                         size_t error_size);

//  Append the addresses of a comma-separated list (CES_HUB_PEERS) to
//  addresses (autofree).
void ces_mesh_split_peers (const char *list, zlist_t *addresses);

//  Add the "mesh" section to a status object; write Prometheus metrics.
void ces_mesh_status (ces_mesh_t *self, cJSON *status);
void ces_mesh_metrics (ces_mesh_t *self, FILE *out);

#endif
