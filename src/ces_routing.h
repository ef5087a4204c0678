/*  =========================================================================
    ces_routing - the hub's routing table: who is linked, who wants which
    room, and where each event goes (docs/PROTOCOL.md, "Routing")

    The hub actor (ces_hub) owns the sockets, binding, CURVE, the control
    socket and the pipe; it lends its ROUTER and XPUB to this class, which
    reads every peer message from the ROUTER and every subscription from the
    XPUB, and sends replies, DELIVERs and published events.

    Words, one meaning each in this class and in ces_hub:
    - link: one DEALER peer of the hub's ROUTER (an edge, a repeater
      program, an embedded messenger, or a peer hub's inbound link), keyed
      by its routing ID. (ces_link is the class on the peer's side of one.)
    - connection: one client behind a link, with one role (conn in the
      protocol). Its origin, "link/conn", is stamped on what it publishes.
    - hub peer: a hub-role connection that is not a mesh link (an original
      hub behind ces_hubpeer): it gets every event owed to hubs. Mesh links
      get what they registered, through ces_mesh.
    - message: the bytes "ROOMID\nPAYLOAD" of one event. A ZeroMQ frame is
      called a frame, and nothing else is.
    - room interest: the rooms the connections of this hub registered
      (REGISTER), counted per room; a topic is a SUB subscription seen on
      the XPUB ("ROOM\n", "" for every room).
    =========================================================================
*/
#ifndef CES_ROUTING_H_INCLUDED
#define CES_ROUTING_H_INCLUDED

typedef struct _ces_routing_t ces_routing_t;

//  Why an event was not delivered somewhere, as counted
typedef enum {
    CES_DROP_NO_ROUTE,
    CES_DROP_PEER_GONE,
    CES_DROP_QUEUE_FULL,
    CES_DROP_MALFORMED,
    CES_DROP_UNKNOWN_PEER,
    CES_DROP_UNCONNECTED, //  registered, but the subscriber's SUB is not here
    CES_DROP_REASONS
} ces_drop_reason_t;

//  Roles, in the order of the counters; the first three are the sources of
//  the routing table (an outside system is a repeater source)
typedef enum {
    CES_ROLE_INDEX_MESSENGER,
    CES_ROLE_INDEX_REPEATER,
    CES_ROLE_INDEX_HUB,
    CES_ROLE_INDEX_OUTSIDE,
    CES_ROLE_INDEXES,
    CES_SOURCES = CES_ROLE_INDEX_OUTSIDE
} ces_role_index_t;

//  What the hub counts; every field a uint64_t, for ces_counters tables.
//  The gauges at the end are filled in by ces_routing_counters.
typedef struct {
    uint64_t events_in[CES_SOURCES];
    uint64_t published;
    uint64_t no_subscriber; //  events for a room no local messenger held
    uint64_t delivered_repeater;
    uint64_t delivered_hub;
    uint64_t drops[CES_DROP_REASONS];
    uint64_t connections[CES_ROLE_INDEXES];
    uint64_t links;            //  gauge: links that said HELLO
    uint64_t rooms;            //  gauge: rooms some connection registered
    uint64_t star_subscribers; //  gauge: connections registered for "*"
    uint64_t repeaters;        //  gauge: repeater connections in rotation
    //  From reading an event off the ROUTER (or a peer hub's, from ces_mesh)
    //  to having handed it to every socket it goes to
    ces_histogram_t routing_time;
} ces_routing_counters_t;

//  Create a routing table for the hub hub_id. router (a ROUTER) and pub (an
//  XPUB, verbose) are borrowed; mesh and store may be NULL and are
//  borrowed.
ces_routing_t *ces_routing_new (const char *hub_id, zsock_t *router,
                                zsock_t *pub, ces_mesh_t *mesh,
                                ces_store_t *store);

//  Destroy the table; idempotent, nulls the caller's pointer.
void ces_routing_destroy (ces_routing_t **self_p);

//  What the hub's options say about routing
typedef struct {
    int log_level;
    uint32_t heartbeat; //  msecs; a link silent for 3 is removed
    bool validate;      //  check that each payload is a JSON object
    bool trust_all;     //  believe every link that says "validated"
    bool curve;         //  every link holds an authorised key: believe them
    size_t max_payload; //  bytes (the frame check)
    int max_depth;      //  JSON nesting (the event check)
} ces_routing_options_t;

//  Apply options; links over inproc:// that say "validated" are always
//  believed. Call before the first message, and again after a change.
void ces_routing_set_options (ces_routing_t *self,
                              const ces_routing_options_t *options);

//  Handle what is waiting on the ROUTER, up to max messages, without
//  blocking. Returns how many were handled (0: nothing was waiting).
int ces_routing_recv_router (ces_routing_t *self, int max);

//  After a batch of events: commit what the store appended, then publish
//  what waited for it (with a data directory).
void ces_routing_flush (ces_routing_t *self);

//  A /rooms view (a ces_replay request), with the room's subscribers;
//  *status 200, 400 or 404. Caller owns the answer and must destroy it.
cJSON *ces_routing_query (ces_routing_t *self, const char *request, size_t size,
                          int *status);

//  Handle one subscription or unsubscription waiting on the XPUB.
void ces_routing_recv_subscription (ces_routing_t *self);

//  Route an event a peer hub sent over the link this hub dialled (ces_mesh
//  receives those): hub-sourced. Takes ownership of *message_p.
void ces_routing_mesh_event (ces_routing_t *self, zframe_t **message_p,
                             const char *origin);

//  Expire silent links, forget stale register syncs, log new drops once.
//  Call once a heartbeat.
void ces_routing_housekeeping (ces_routing_t *self);

//  The counters, gauges filled in. Belongs to the table.
const ces_routing_counters_t *ces_routing_counters (ces_routing_t *self);

//  Add the links ("links": [...]) and rooms ("rooms": {room: count}) to a
//  /status object.
void ces_routing_status (ces_routing_t *self, cJSON *root);

//  Presence: append to array one object per connection that holds room,
//  a pattern that matches it, or "*" (the objects of ces_presence_list).
//  A connection holds what it REGISTERed, except on a link whose HELLO
//  said "presence" (an edge, whose REGISTERs are the union of its
//  clients'): there what the link said its clients hold (PRESENT).
void ces_routing_presence (ces_routing_t *self, const char *room, cJSON *array);

#endif
