/*  =========================================================================
    ces_link - a peer's side of the hub protocol: one DEALER to the hub's
    ROUTER and one SUB to its PUB, and the state machine around them.

    Every component that talks to a hub (embedded messenger, edge, repeater)
    owns one link and drives it from its actor loop: poll the two sockets,
    call ces_link_recv_dealer / ces_link_recv_sub when they are readable,
    call ces_link_tick when ces_link_timeout has passed, and act on the
    returned ces_link_event_t.

    The link says HELLO (again, with exponential backoff and jitter, until
    the hub answers), heartbeats, notices a silent or restarted hub, and on
    every WELCOME attaches its connections and registers their rooms again,
    so its owner never has to. Not thread-safe: one actor owns it.
    =========================================================================
*/
#ifndef CES_LINK_H_INCLUDED
#define CES_LINK_H_INCLUDED

typedef enum {
    CES_LINK_NOTHING = 0, //  nothing for the owner to do
    CES_LINK_CONNECTED,   //  WELCOME: connections and rooms are restored
    CES_LINK_LOST,        //  the hub went silent or forgot us; retrying
    CES_LINK_REGISTERED,  //  rooms are live: see ces_link_conn, _token
    CES_LINK_DELIVER,     //  directed event: see ces_link_conn, _message
    CES_LINK_PUBLISHED,   //  room event: see ces_link_data, _size, _origin
    CES_LINK_REFUSED,     //  the hub refused something: see _reason
    CES_LINK_MESH,        //  a peer hub's mesh command: see ces_link_proto
    CES_LINK_SYNCED,      //  answer to a SYNC: ces_link_conn, _data (its
                          //  JSON header), ces_proto_events of _proto
    CES_LINK_ANSWER       //  answer to a QUERY: ces_link_conn (its ID),
                          //  _data (JSON), ces_proto_code of _proto
} ces_link_event_t;

//  Create a link; it says HELLO at once. link_id must be unique per process
//  and printable (it becomes the DEALER identity); name is for the hub's
//  logs. pub_endpoint may be NULL for a peer that wants no room events.
//  With curve keys (see ces_curve; NULL = plain) both sockets are CURVE
//  clients of the hub. Returns NULL if an endpoint is invalid.
ces_link_t *ces_link_new (const char *router_endpoint, const char *pub_endpoint,
                          const char *link_id, const char *name,
                          const ces_curve_t *curve);

//  Destroy the link; says BYE if the hub is there. Idempotent.
void ces_link_destroy (ces_link_t **self_p);

//  The sockets to poll.
zsock_t *ces_link_dealer (ces_link_t *self);
zsock_t *ces_link_sub (ces_link_t *self);

//  Attach a connection with a role; kept across hub restarts.
void ces_link_attach (ces_link_t *self, const char *conn, const char *role);

//  The same, for a client whose presence the hub shows: its address as
//  seen here and its token's subject (either may be NULL). They go in
//  ATTACH only to a hub whose WELCOME said "presence" (hubs from before
//  take two fields and no more).
void ces_link_attach_client (ces_link_t *self, const char *conn,
                             const char *role, const char *remote,
                             const char *subject);

//  Detach a connection and drop its rooms.
void ces_link_detach (ces_link_t *self, const char *conn);

//  Register rooms ("*" = every room) for an attached connection. Returns
//  the sync token that a later CES_LINK_REGISTERED will carry, or NULL if
//  every room was registered already (or the hub is not there: the rooms
//  go out on the next WELCOME). The token belongs to the link.
const char *ces_link_register (ces_link_t *self, const char *conn,
                               zlist_t *rooms);

//  Unregister rooms; NULL or an empty list means all of them.
void ces_link_unregister (ces_link_t *self, const char *conn, zlist_t *rooms);

//  Does the connection hold the room?
bool ces_link_has_room (ces_link_t *self, const char *conn, const char *room);

//  How many rooms the connection holds.
size_t ces_link_room_count (ces_link_t *self, const char *conn);

//  Send an event from a connection without blocking. Returns 0, -1 if the
//  hub is not there, or -2 if the queue to it is full (a slow or stalled
//  hub); the caller counts the drop.
int ces_link_send (ces_link_t *self, const char *conn, zframe_t *message);

//  Ask the hub about a room for conn (SYNC) or for an HTTP client (QUERY,
//  id names the question); the JSON requests are those of ces_replay.
//  The answer comes as CES_LINK_SYNCED / CES_LINK_ANSWER. 0, -1 (no hub)
//  or -2 (the queue to it is full).
int ces_link_sync (ces_link_t *self, const char *conn, const char *request);
int ces_link_query (ces_link_t *self, const char *id, const char *request);

//  The epoch and sequence number of the last event ces_link_recv_sub
//  returned (0 and 0 from a hub that keeps no streams).
uint64_t ces_link_epoch (ces_link_t *self);
uint64_t ces_link_seq (ces_link_t *self);
//  When the hub received it (CLOCK_REALTIME microseconds; 0 = not stamped)
int64_t ces_link_stamp (ces_link_t *self);

//  Handle what is readable on the DEALER / the SUB.
ces_link_event_t ces_link_recv_dealer (ces_link_t *self);
ces_link_event_t ces_link_recv_sub (ces_link_t *self);

//  Msecs until ces_link_tick must run; run it then (or any time).
int ces_link_timeout (ces_link_t *self);
ces_link_event_t ces_link_tick (ces_link_t *self);

//  Details of the last event. Borrowed, valid until the next receive on
//  either socket.
const char *ces_link_conn (ces_link_t *self);
const char *ces_link_token (ces_link_t *self);
//  The event of a DELIVER or PUBLISHED: its bytes (ROOMID\nPAYLOAD).
const byte *ces_link_data (ces_link_t *self);
size_t ces_link_size (ces_link_t *self);
//  The event of a DELIVER as a frame (NULL for PUBLISHED).
zframe_t *ces_link_message (ces_link_t *self);
const char *ces_link_origin (ces_link_t *self);
const char *ces_link_room (ces_link_t *self);
const char *ces_link_reason (ces_link_t *self);

//  The codec holding the last message from the hub (for CES_LINK_MESH).
//  Borrowed, valid until the next receive.
ces_proto_t *ces_link_proto (ces_link_t *self);

//  State and identity.
bool ces_link_connected (ces_link_t *self);
const char *ces_link_id (ces_link_t *self);
const char *ces_link_hub_id (ces_link_t *self);
//  "link-id/conn", what the hub stamps on this connection's events.
bool ces_link_is_origin (ces_link_t *self, const char *origin,
                         const char **conn);

//  Events the hub published that never reached us (per-room sequence gaps).
uint64_t ces_link_lost (ces_link_t *self);

//  Handshakes the hub refused (CURVE), or that failed (not a ZeroMQ
//  peer); counted on tick.
uint64_t ces_link_refused (ces_link_t *self);

//  One of the ces_log_level_t values.
void ces_link_set_log_level (ces_link_t *self, int level);

//  A link says "one-frame" in HELLO and, if the hub's WELCOME says it too,
//  sends each EVENT in one frame (docs/PROTOCOL.md, "Flags"); a hub from
//  before flags refuses that HELLO, and the link says HELLO again without
//  them. Nothing changes for the caller.
//
//  Say in every HELLO that each event this link sends was checked here
//  (ces_frame_parse and ces_event_check, with the hub's limits). A hub that
//  trusts the link (over inproc://, with CURVE, or told to with "SET
//  trust-validated true") then skips its own JSON scan. Default false.
void ces_link_set_validated (ces_link_t *self, bool validated);

//  Say "presence" in every HELLO: this link's REGISTERs are the union of
//  what its clients hold, and ces_link_present says which client holds
//  what. Default false (an embedded messenger's REGISTERs are its own).
void ces_link_set_presence (ces_link_t *self, bool presence);

//  An attached connection's client holds rooms (patterns, "*") now, or no
//  longer (present false; NULL or no rooms: none). Kept across hub
//  restarts; told with PRESENT and ABSENT to a hub whose WELCOME said
//  "presence", to nobody else. Subscribes nothing: see ces_link_register.
void ces_link_present (ces_link_t *self, const char *conn, zlist_t *rooms,
                       bool present);

#endif
