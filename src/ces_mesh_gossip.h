/*  =========================================================================
    ces_mesh_gossip - whom this hub is linked to, told to its peers, and the
    hubs they are linked to that it is not (the incomplete-mesh report)

    Events cross one link and are not sent on, so a hub's messengers reach
    only the hubs it is linked to itself: every hub must link to every
    other. Each tells its peers whom it is linked to (PEERS, when that
    changes), and reports the hubs its peers name that it has no link to:
    in the log when the report changes, and in /status.
    =========================================================================
*/
#ifndef CES_MESH_GOSSIP_H_INCLUDED
#define CES_MESH_GOSSIP_H_INCLUDED

typedef struct _ces_mesh_gossip_t ces_mesh_gossip_t;

//  The gossip of hub hub_id.
ces_mesh_gossip_t *ces_mesh_gossip_new (const char *hub_id);

//  Destroy it; idempotent.
void ces_mesh_gossip_destroy (ces_mesh_gossip_t **self_p);

void ces_mesh_gossip_set_log_level (ces_mesh_gossip_t *self, int level);

//  Tell every peer of peers (ces_mesh_peer_t) over each link that is up
//  whom we are linked to, if that changed since we last told them.
void ces_mesh_gossip_tell (ces_mesh_gossip_t *self, zlistx_t *peers,
                           ces_mesh_tell_t *tell);

//  Log the incomplete-mesh report when it changed (and "complete again").
void ces_mesh_gossip_check (ces_mesh_gossip_t *self, zlistx_t *peers);

//  Add "complete" and "missing" (each "hub-id address") to the mesh's
//  status object.
void ces_mesh_gossip_status (ces_mesh_gossip_t *self, zlistx_t *peers,
                             cJSON *mesh);

void ces_mesh_gossip_test (bool verbose);

#endif
