/*  =========================================================================
    ces_rooms - the hub's room interest: which rooms its connections
    registered, which room topics some SUB holds at the XPUB, the register
    syncs that wait for both, and publishing an event to a room

    ces_routing owns one and lends it the hub's ROUTER (for REGISTERED) and
    XPUB. A connection's own set of rooms (a zhashx_t used as a set, "*"
    included) belongs to the connection; this class keeps the counts over
    all of them. The words are those of src/ces_routing.h; a topic is a SUB
    subscription seen on the XPUB ("ROOM\n", "" for every room).
    =========================================================================
*/
#ifndef CES_ROOMS_H_INCLUDED
#define CES_ROOMS_H_INCLUDED

typedef struct _ces_rooms_t ces_rooms_t;

//  What became of an event given to ces_rooms_publish
typedef enum {
    CES_ROOMS_PUBLISHED,     //  some SUB holds its room (or "*")
    CES_ROOMS_NO_SUBSCRIBER, //  no connection registered its room or "*"
    CES_ROOMS_UNCONNECTED    //  registered, but no SUB subscribed yet
} ces_rooms_publish_t;

//  Create the room interest of a hub. router (a ROUTER) and pub (a verbose
//  XPUB) are borrowed; mesh may be NULL and is borrowed: it is told when a
//  room gets its first registration and loses its last.
//  store (may be NULL, borrowed) numbers and keeps every published event.
ces_rooms_t *ces_rooms_new (zsock_t *router, zsock_t *pub, ces_mesh_t *mesh,
                            ces_store_t *store);

//  Destroy it; idempotent, nulls the caller's pointer.
void ces_rooms_destroy (ces_rooms_t **self_p);

//  A connection registers room ("*" for every room) or unregisters it;
//  held is the connection's own set of rooms, updated here. Idempotent.
void ces_rooms_add (ces_rooms_t *self, zhashx_t *held, const char *room);
void ces_rooms_remove (ces_rooms_t *self, zhashx_t *held, const char *room);

//  Unregister every room of held.
void ces_rooms_remove_all (ces_rooms_t *self, zhashx_t *held);

//  A REGISTER with a token came from routing_id for connection conn:
//  REGISTERED goes back once the sync subscription reached the XPUB too.
void ces_rooms_sync_registered (ces_rooms_t *self, const char *token,
                                zframe_t *routing_id, const char *conn);

//  Handle one subscription, unsubscription or sync subscription waiting
//  on the XPUB.
void ces_rooms_recv_subscription (ces_rooms_t *self);

//  Forget register syncs older than 10 s (their peer went away).
void ces_rooms_expire_syncs (ces_rooms_t *self);

//  Octets after the message and origin in a published frame
#define CES_ROOMS_FOOTER 26

//  Publish message ("ROOMID\n...", room its room ID) to the SUBs, as one
//  frame: the message, origin, the origin's length (2 octets), stamp (8
//  octets: when the hub received the event, CLOCK_REALTIME microseconds; 0
//  = not stamped), the room's epoch (8 octets) and the event's sequence
//  number in it (8 octets; both 0 without a store). device and key are the
//  event's state address (""). With a data directory the frame is held
//  until ces_rooms_flush.
ces_rooms_publish_t ces_rooms_publish (ces_rooms_t *self, const char *room,
                                       zframe_t *message, const char *origin,
                                       const char *device, const char *key,
                                       int64_t stamp);

//  Commit what the store appended, then send the held frames. The hub
//  calls it after each batch of events.
void ces_rooms_flush (ces_rooms_t *self);

//  Connections that registered room itself.
size_t ces_rooms_subscribers (ces_rooms_t *self, const char *room);

//  Rooms some connection registered, and connections registered for "*".
size_t ces_rooms_registered (ces_rooms_t *self);
size_t ces_rooms_star_subscribers (ces_rooms_t *self);

//  Add {room: registrations} of every registered room to a JSON object.
void ces_rooms_status (ces_rooms_t *self, cJSON *rooms);

#endif
