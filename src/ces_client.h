/*  =========================================================================
    ces_client - one WebSocket client as the edge actor sees it: its output

    The edge actor alone writes to clients. Each client has a bounded
    output buffer (client-queue bytes): frames are queued whole, sent with
    non-blocking sends at the end of the actor's batch (or at once when a
    socket buffer's worth is waiting), and when the socket is full the
    client waits for POLLOUT. A client whose buffer is full loses events
    for itself only; one that keeps losing them for stuck-timeout is
    closed with 1008.

    Its life is an explicit state: OPEN, then CLOSING (a Close frame is
    queued; it has CLOSE_GRACE msecs to take it), then SHUT (the socket is
    shut down, nothing is written any more). Its place in the actor's
    pending and blocked lists is kept as a list handle, NULL when out.
    =========================================================================
*/
#ifndef CES_CLIENT_H_INCLUDED
#define CES_CLIENT_H_INCLUDED

typedef struct _ces_client_t ces_client_t;

typedef enum {
    CES_CLIENT_OPEN,    //  takes events
    CES_CLIENT_CLOSING, //  a Close frame is queued; only it goes out
    CES_CLIENT_SHUT     //  socket shut down; nothing is written
} ces_client_state_t;

//  What a client's timers decided (ces_client_check)
typedef enum {
    CES_CLIENT_FINE,
    CES_CLIENT_EXPIRED, //  its token expired: closed 1008
    CES_CLIENT_STUCK,   //  dropping for stuck-timeout: closed 1008
    CES_CLIENT_IDLE,    //  an outside system idle for idle-timeout: 1001
    CES_CLIENT_SILENT   //  nothing heard for pong-timeout: closed 1001
} ces_client_verdict_t;

//  Limits every client of an edge shares (owned by the edge)
typedef struct {
    size_t queue;      //  client-queue: output buffer bytes
    int stuck_timeout; //  msecs
    int ping_interval; //  msecs
    int pong_timeout;  //  msecs
    int idle_timeout;  //  msecs, for outside systems
    int log_level;
} ces_client_limits_t;

//  The lists the actor flushes: clients with queued output, and clients
//  waiting for POLLOUT; the client adds and removes itself
typedef struct {
    zlistx_t *pending;
    zlistx_t *blocked;
} ces_client_lists_t;

//  wire may be NULL (socket not found): the client is SHUT from the start.
//  The client takes the actor's reference to the wire.
ces_client_t *ces_client_new (const char *id, const char *role,
                              ces_wire_t *wire, const char *remote,
                              int64_t expiry, const ces_client_limits_t *limits,
                              ces_client_lists_t *lists);
void ces_client_destroy (ces_client_t **self_p);

const char *ces_client_id (ces_client_t *self);
const char *ces_client_role (ces_client_t *self);
const char *ces_client_remote (ces_client_t *self);
ces_client_state_t ces_client_state (ces_client_t *self);
//  Its socket, to poll for POLLOUT while it is blocked
int ces_client_fd (ces_client_t *self);
//  Its rooms, a set (keys) the room index keeps
zhashx_t *ces_client_rooms (ces_client_t *self);

//  Queues an event; false if its buffer was full (counted as dropped)
bool ces_client_send_event (ces_client_t *self, const void *data, size_t size);
//  Queues an event of a version 2 client, ROOMID LF SEQ LF payload (data
//  is ROOMID LF payload); force: whatever the buffer holds (a replay).
//  False if its buffer was full (counted as dropped)
bool ces_client_send_sequenced (ces_client_t *self, const void *data,
                                size_t size, uint64_t seq, bool force);
//  What became of an event for a version 2 client
typedef enum {
    CES_CLIENT_DELIVERED,
    CES_CLIENT_DROPPED, //  its queue was full: a gap it is told of later
    CES_CLIENT_SKIPPED, //  it had it already, or it is its own
    CES_CLIENT_HELD     //  it waits for a registration to be synced
} ces_client_delivery_t;

//  A live event of room (epoch, seq) for a version 2 client, through its
//  cursor; own: it sent it (its position moves, nothing is written)
ces_client_delivery_t
ces_client_deliver_sequenced (ces_client_t *self, const char *room,
                              uint64_t epoch, uint64_t seq, const byte *data,
                              size_t size, bool own);
//  The hub's SYNCED for it (header: its JSON; events: frames of an 8-octet
//  sequence number and the message): replies, events, then what was held
void ces_client_synced (ces_client_t *self, const char *header,
                        zlist_t *events);
//  A version 2 client whose queue has room again is told its gaps (every
//  tick: a room gone quiet after a burst sends no event that would)
void ces_client_tell_gaps (ces_client_t *self);
//  Registrations with nothing (left) to wait for, or waiting too long:
//  their notices, then what was held
void ces_client_expire_syncs (ces_client_t *self, int64_t now);
//  It speaks version 2 (ces.v2): it gets a cursor
void ces_client_set_v2 (ces_client_t *self);
//  Its cursor; NULL for a version 1 client
ces_cursor_t *ces_client_cursor (ces_client_t *self);
//  What its next registration also asks (a RECALL), kept until taken;
//  take: caller owns the result (NULL: none)
void ces_client_set_recall (ces_client_t *self, const char *options);
char *ces_client_take_recall (ces_client_t *self);
//  Queues a Text notice or a control frame, whatever the buffer holds
void ces_client_send_text (ces_client_t *self, const char *text);
void ces_client_send_control (ces_client_t *self, int opcode, const void *data,
                              size_t size);
//  Queues a Close frame and starts the grace period
void ces_client_close (ces_client_t *self, int code, const char *reason);
//  Sends what the socket takes now
void ces_client_flush (ces_client_t *self);
//  Sends every pending client's output (the end of the actor's batch)
void ces_client_flush_pending (ces_client_lists_t *lists);

//  Something came from the client (event: an event, else any frame)
void ces_client_heard (ces_client_t *self, bool event);
//  An error notice was sent to it for its input
void ces_client_count_error (ces_client_t *self);
//  One of its events was not forwarded
void ces_client_count_drop (ces_client_t *self);

//  Timers, every tick: pings, the close grace, expiry, stuck, idle, silent
ces_client_verdict_t ces_client_check (ces_client_t *self, int64_t now,
                                       int64_t wall);

//  Its entry in /status "clients"
cJSON *ces_client_status (ces_client_t *self);

void ces_client_test (bool verbose);

#endif
