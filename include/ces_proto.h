/*  =========================================================================
    ces_proto - codec for the hub protocol (docs/PROTOCOL.md)

    Every component that talks to a hub's ROUTER (edges, repeaters, embedded
    messengers, peer hubs) uses this one codec. A message is a ZeroMQ
    multipart: on a ROUTER socket the routing ID frame comes first, then the
    command name, then the command's fields as frames.

    Receive never asserts on input: malformed messages return -2 and
    ces_proto_reason says what was wrong.
    =========================================================================
*/
#ifndef CES_PROTO_H_INCLUDED
#define CES_PROTO_H_INCLUDED

#define CES_PROTO_VERSION "1"

typedef enum {
    CES_PROTO_HELLO = 1,  //  peer -> hub: version, name
    CES_PROTO_WELCOME,    //  hub -> peer: version, hub_id, heartbeat
    CES_PROTO_ATTACH,     //  peer -> hub: conn, role [remote [subject]]
    CES_PROTO_DETACH,     //  peer -> hub: conn
    CES_PROTO_REGISTER,   //  peer -> hub: conn, token, rooms
    CES_PROTO_UNREGISTER, //  peer -> hub: conn, rooms (none = all)
    CES_PROTO_REGISTERED, //  hub -> peer: conn, token
    CES_PROTO_EVENT,      //  peer -> hub: conn, message
    CES_PROTO_DELIVER,    //  hub -> peer: conn, message
    CES_PROTO_HEARTBEAT,  //  both ways, no fields
    CES_PROTO_BYE,        //  peer -> hub, no fields
    CES_PROTO_ERROR,      //  hub -> peer: code, reason
    CES_PROTO_MESH,       //  peer hub -> hub: hub_id, address
    CES_PROTO_PEERS,      //  between hubs, both ways: peers ("id address")
    CES_PROTO_UNLINK,     //  between hubs, both ways, no fields
    CES_PROTO_SYNC,       //  peer -> hub: conn, request (JSON)
    CES_PROTO_SYNCED,     //  hub -> peer: conn, header (JSON), events
    CES_PROTO_QUERY,      //  peer -> hub: conn (a query ID), request (JSON)
    CES_PROTO_ANSWER,     //  hub -> peer: conn (its ID), status, body (JSON)
    CES_PROTO_PRESENT,    //  peer -> hub: conn, rooms its client holds
    CES_PROTO_ABSENT      //  peer -> hub: conn, rooms (none = all)
} ces_proto_id_t;

//  Error codes the hub sends in ERROR
#define CES_PROTO_ERR_MALFORMED    "malformed"
#define CES_PROTO_ERR_UNKNOWN_LINK "unknown-link"
#define CES_PROTO_ERR_UNKNOWN_CONN "unknown-conn"
#define CES_PROTO_ERR_VERSION      "version"
#define CES_PROTO_ERR_NOT_JSON     "not-json"

//  Roles a connection can have
#define CES_ROLE_MESSENGER "messenger"
#define CES_ROLE_REPEATER  "repeater"
#define CES_ROLE_HUB       "hub"
//  An outside system behind a repeater: its events are repeater-sourced,
//  and it is never given any (it is not in the repeater rotation)
#define CES_ROLE_OUTSIDE "outside"

//  Prefix of register sync topics; 0x7f cannot start a room ID
#define CES_SYNC_PREFIX                                                        \
    "\x7f"                                                                     \
    "sync "

ces_proto_t *ces_proto_new (void);
void ces_proto_destroy (ces_proto_t **self_p);

//  Receive one message. Returns 0, -1 if interrupted or nothing to read,
//  -2 if malformed (the message is consumed; see ces_proto_reason).
int ces_proto_recv (ces_proto_t *self, zsock_t *input);

//  The same, but never waits: -1 at once if nothing is there to read.
int ces_proto_recv_nowait (ces_proto_t *self, zsock_t *input);

//  Send the message without blocking the caller when the socket has a zero
//  send timeout. Returns 0, or -1 with errno from ZeroMQ (EAGAIN: queue full,
//  EHOSTUNREACH: ROUTER peer gone). The message frame is kept for reuse.
int ces_proto_send (ces_proto_t *self, zsock_t *output);

//  Why the last receive was malformed.
const char *ces_proto_reason (ces_proto_t *self);

//  Name of a command, for logs.
const char *ces_proto_command (ces_proto_t *self);

//  Is role one of the known roles?
bool ces_proto_role_valid (const char *role);

//  Is name usable as a link or hub ID: printable, no space, no '/'?
bool ces_proto_name_valid (const char *name);

//  Fields. String getters return "" when unset; setters copy.
ces_proto_id_t ces_proto_id (ces_proto_t *self);
void ces_proto_set_id (ces_proto_t *self, ces_proto_id_t id);
zframe_t *ces_proto_routing_id (ces_proto_t *self);
void ces_proto_set_routing_id (ces_proto_t *self, zframe_t *routing_id);
const char *ces_proto_version (ces_proto_t *self);
const char *ces_proto_name (ces_proto_t *self);
void ces_proto_set_name (ces_proto_t *self, const char *name);
const char *ces_proto_hub_id (ces_proto_t *self);
void ces_proto_set_hub_id (ces_proto_t *self, const char *hub_id);
uint32_t ces_proto_heartbeat (ces_proto_t *self);
void ces_proto_set_heartbeat (ces_proto_t *self, uint32_t msecs);
const char *ces_proto_conn (ces_proto_t *self);
void ces_proto_set_conn (ces_proto_t *self, const char *conn);
const char *ces_proto_role (ces_proto_t *self);
void ces_proto_set_role (ces_proto_t *self, const char *role);
const char *ces_proto_token (ces_proto_t *self);
void ces_proto_set_token (ces_proto_t *self, const char *token);
const char *ces_proto_code (ces_proto_t *self);
void ces_proto_set_code (ces_proto_t *self, const char *code);
const char *ces_proto_error_reason (ces_proto_t *self);
void ces_proto_set_error_reason (ces_proto_t *self, const char *reason);

//  Flags of HELLO and WELCOME: words separated by spaces, "" for none
//  (then the field is not sent, as peers before flags expect). Words a
//  receiver does not know are ignored. In HELLO: "one-frame" (this peer
//  reads EVENT and DELIVER in one frame, and sends them so if the hub says
//  it reads them), "validated" (this peer checked every event it sends; a
//  hub that trusts the link skips its own scan), "presence" (this peer
//  tells which of its connections hold which rooms with PRESENT and ABSENT;
//  its REGISTERs are the union it subscribes). In WELCOME, only to a HELLO
//  that had flags: "one-frame presence" (the hub takes ATTACH with remote
//  and subject, and PRESENT and ABSENT). Receive resets them.
const char *ces_proto_flags (ces_proto_t *self);
void ces_proto_set_flags (ces_proto_t *self, const char *flags);
bool ces_proto_has_flag (ces_proto_t *self, const char *flag);

//  Send EVENT and DELIVER as one frame ("EVENT " conn LF message) instead
//  of three; only to a peer that said it reads them. Messages over 64 KiB
//  still go in three frames (by reference, not copied). Receive takes
//  both. Kept until changed.
void ces_proto_set_one_frame (ces_proto_t *self, bool one_frame);

//  Did the last message received come over inproc:// (it carries no
//  ZeroMQ metadata), that is from this process?
bool ces_proto_inproc (ces_proto_t *self);

//  Of ATTACH, optional: the client's address as its edge saw it, and its
//  token's subject ("" = none; both "" = neither sent, as hubs from before
//  them expect). UTF-8 without control characters, at most 255 bytes.
//  Receive resets them.
const char *ces_proto_remote (ces_proto_t *self);
void ces_proto_set_remote (ces_proto_t *self, const char *remote);
const char *ces_proto_subject (ces_proto_t *self);
void ces_proto_set_subject (ces_proto_t *self, const char *subject);
//  ROUTER address a peer hub can be dialled at, in MESH ("" = none).
const char *ces_proto_address (ces_proto_t *self);
void ces_proto_set_address (ces_proto_t *self, const char *address);

//  Peers of PEERS, each "hub-id address"; the list belongs to the codec.
zlist_t *ces_proto_peers (ces_proto_t *self);
void ces_proto_set_peers (ces_proto_t *self, zlist_t *peers);

//  Rooms of REGISTER/UNREGISTER/PRESENT/ABSENT; the list belongs to the
//  codec.
zlist_t *ces_proto_rooms (ces_proto_t *self);
void ces_proto_set_rooms (ces_proto_t *self, zlist_t *rooms);

//  Message of EVENT/DELIVER, or the JSON of SYNC, SYNCED, QUERY and
//  ANSWER; belongs to the codec. set_message takes
//  ownership of *message_p and nulls it.
zframe_t *ces_proto_message (ces_proto_t *self);
void ces_proto_set_message (ces_proto_t *self, zframe_t **message_p);

//  Events of SYNCED, each a frame of the event's sequence number (8
//  octets, big-endian) then its message. The list belongs to the codec:
//  a sender adds them before ces_proto_send and purges them after; a
//  receive replaces them. The status of ANSWER is the code field.
zlist_t *ces_proto_events (ces_proto_t *self);
void ces_proto_add_event (ces_proto_t *self, uint64_t seq, const byte *message,
                          size_t size);
void ces_proto_purge_events (ces_proto_t *self);

//  Take the message of EVENT/DELIVER away from the codec, without a copy.
//  Caller owns return value and must destroy it when done.
zframe_t *ces_proto_take_message (ces_proto_t *self);

#endif
