/*  =========================================================================
    ces_mesh_tell - what this hub tells a peer hub, over either of its links

    One codec and the hub's ROUTER: a command for a peer goes out on our
    DEALER to it (the dial, a ces_link) or, addressed by its routing ID, on
    our ROUTER to its DEALER (inbound). What it tells: who we are (MESH),
    whom we are linked to (PEERS), the rooms our messengers want (REGISTER,
    UNREGISTER), to drop the link (UNLINK), and the events it wants.
    =========================================================================
*/
#ifndef CES_MESH_TELL_H_INCLUDED
#define CES_MESH_TELL_H_INCLUDED

typedef struct _ces_mesh_tell_t ces_mesh_tell_t;

//  Tell the peers of hub hub_id; sends on inbound links go out on router
//  (borrowed).
ces_mesh_tell_t *ces_mesh_tell_new (const char *hub_id, zsock_t *router);

//  Destroy the codec; idempotent.
void ces_mesh_tell_destroy (ces_mesh_tell_t **self_p);

//  MESH over our dial: our hub ID and the ROUTER address to dial us back
//  at ("" = none).
void ces_mesh_tell_hello (ces_mesh_tell_t *self, ces_mesh_peer_t *peer,
                          const char *address);

//  PEERS over channel: "hub-id address" of each other hub of peers that we
//  are linked to (not original hubs). Walks peers with its cursor.
void ces_mesh_tell_peers (ces_mesh_tell_t *self, ces_mesh_peer_t *peer,
                          ces_mesh_channel_t channel, zlistx_t *peers);

//  REGISTER (wanted) or UNREGISTER rooms over channel; a send that fails
//  counts a drop of the peer's.
void ces_mesh_tell_rooms (ces_mesh_tell_t *self, ces_mesh_peer_t *peer,
                          ces_mesh_channel_t channel, bool wanted,
                          zlist_t *rooms);

//  REGISTER every room of wants (the keys), in messages of at most 500.
void ces_mesh_tell_interest (ces_mesh_tell_t *self, ces_mesh_peer_t *peer,
                             ces_mesh_channel_t channel, zhashx_t *wants);

//  UNLINK over each of the peer's links that is up.
void ces_mesh_tell_unlink (ces_mesh_tell_t *self, ces_mesh_peer_t *peer);

//  An event (EVENT over our dial, DELIVER over its link); message is lent
//  for the send, not taken. Returns 0, or ZeroMQ's errno of the failed send
//  (EHOSTUNREACH: the link is gone; else its queue is full).
int ces_mesh_tell_event (ces_mesh_tell_t *self, ces_mesh_peer_t *peer,
                         ces_mesh_channel_t channel, zframe_t *message);

void ces_mesh_tell_test (bool verbose);

#endif
