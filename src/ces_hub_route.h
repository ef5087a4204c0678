/*  =========================================================================
    ces_hub_route - where one event goes at the hub, by its source role

    The routing table of docs/PROTOCOL.md ("Routing"), for one event that
    ces_routing read off the ROUTER (or that ces_mesh received from a peer
    hub): the event is checked (its frame; its JSON unless the link checked
    it before), published to its room, and given by its source role:
      messenger -> every hub peer and mesh peer that wants it, and exactly
                   one repeater (a rotation in attach order; never the
                   sender)
      repeater  -> every hub peer and mesh peer that wants it
      hub       -> the room's messengers only
    Nothing blocks: a DELIVER that cannot be sent is counted, and a link
    found gone is marked for ces_hub_links to remove.
    =========================================================================
*/
#ifndef CES_HUB_ROUTE_H_INCLUDED
#define CES_HUB_ROUTE_H_INCLUDED

typedef struct _ces_hub_route_t ces_hub_route_t;

//  Create the router of events. router (a ROUTER), links and rooms are
//  borrowed; mesh and store are borrowed and may be NULL. Counts into
//  counters, the routing table's (borrowed).
ces_hub_route_t *ces_hub_route_new (zsock_t *router, ces_hub_links_t *links,
                                    ces_rooms_t *rooms, ces_mesh_t *mesh,
                                    ces_store_t *store,
                                    ces_routing_counters_t *counters);

//  Destroy it; idempotent, nulls the caller's pointer.
void ces_hub_route_destroy (ces_hub_route_t **self_p);

//  validate: check that each payload is a JSON object; max_payload (bytes)
//  and max_depth (JSON nesting) are the checks' limits.
void ces_hub_route_set_options (ces_hub_route_t *self, bool validate,
                                size_t max_payload, int max_depth);

//  Check an event: NULL when it may be routed, or an ERROR code with a
//  reason in *reason (counted as malformed). The JSON scan is skipped when
//  validated (its link checked it before), unless the store needs the
//  state address the scan finds.
const char *ces_hub_route_check (ces_hub_route_t *self, zframe_t *message,
                                 bool validated, const char **reason);

//  Route the event just checked, from a connection of role (its origin
//  stamped on what is published; sender, or NULL for a mesh peer's event,
//  is never given it back). received: when it was read (usecs, the
//  publish stamp). The message is lent, not taken.
void ces_hub_route_send (ces_hub_route_t *self, zframe_t *message,
                         ces_role_index_t role, const char *origin,
                         ces_hub_conn_t *sender, int64_t received);

void ces_hub_route_test (bool verbose);

#endif
