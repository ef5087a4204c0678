/*  =========================================================================
    ces_cursor - a version 2 client's place in each room's stream

    A client that speaks ces.v2 (docs/PROTOCOL.md) gets each event with
    its room's sequence number, and is owed no gap and no duplicate: its
    cursor keeps, per room, the epoch and the last sequence number it was
    given (or passed over: its own events), and decides for each live
    event whether it is delivered, skipped (already given, by a replay) or
    held. Events are held while a registration of the client is being
    synced with the hub (SYNC/SYNCED: its state, its recovery, its
    position), so that live events follow the replies with no gap.

    The edge owns one per v2 client (ces_client holds it) and drives it
    from its actor; it never writes to the client itself, it says what to
    write.
    =========================================================================
*/
#ifndef CES_CURSOR_H_INCLUDED
#define CES_CURSOR_H_INCLUDED

typedef struct _ces_cursor_t ces_cursor_t;

//  What to do with a live event
typedef enum {
    CES_CURSOR_DELIVER, //  write it (after the notice, if one is given)
    CES_CURSOR_SKIP,    //  the client had it already
    CES_CURSOR_HOLD     //  a registration is being synced: ces_cursor_hold
} ces_cursor_verdict_t;

//  How long a registration waits for the hub's SYNCED answers
#define CES_CURSOR_SYNC_TIMEOUT 10000

ces_cursor_t *ces_cursor_new (void);
void ces_cursor_destroy (ces_cursor_t **self_p);

//  A live event of room (epoch, seq). On DELIVER, *notice may be a Text
//  notice to write first (the room's epoch changed, or events were lost
//  before they reached this edge); it is valid until the next call.
ces_cursor_verdict_t ces_cursor_live (ces_cursor_t *self, const char *room,
                                      uint64_t epoch, uint64_t seq,
                                      const char **notice);

//  Hold a live event (copied) until the registration is synced; own: the
//  client's own event, which only moves its position.
void ces_cursor_hold (ces_cursor_t *self, const char *room, uint64_t epoch,
                      uint64_t seq, const byte *message, size_t size, bool own);

//  The client's own event: its position moves past it, it gets nothing.
void ces_cursor_own (ces_cursor_t *self, const char *room, uint64_t epoch,
                     uint64_t seq);

//  An event it could not take (its queue was full): a gap to tell.
void ces_cursor_missed (ces_cursor_t *self, const char *room, uint64_t seq);

//  The next gap notice to tell, or NULL; caller frees.
char *ces_cursor_next_gap (ces_cursor_t *self);

//  The hub confirmed a registration of rooms (options: its RECALL JSON,
//  or NULL). Returns the SYNC requests to send, one per room (patterns
//  and "*" have none), as JSON strings; caller destroys the list. Live
//  events are held until every one is answered (or times out).
zlist_t *ces_cursor_confirmed (ces_cursor_t *self, zlist_t *rooms,
                               const char *options);

//  The hub answered a SYNC (header: SYNCED's JSON). *before is a notice
//  to write before its events (a refused recovery), *after one to write
//  after them (recovered, or the state's summary); *registered, once
//  every room of the registration is answered, the registered notice
//  with the positions (write it last). Each NULL or owned by the caller.
//  A recovery gives every event after the client's since: its position
//  is what it says it has (events it was given live meanwhile may come
//  again; a client drops what it has by its sequence number). Returns -1
//  if no registration waits for it (it is ignored).
int ces_cursor_synced (ces_cursor_t *self, const char *header, char **before,
                       char **after, char **registered);

//  Registrations not answered in CES_CURSOR_SYNC_TIMEOUT: given up, each
//  with its registered notice (and an error notice) to write. Call each
//  tick; returns a list of notices (caller destroys) or NULL.
zlist_t *ces_cursor_expire (ces_cursor_t *self, int64_t now);

//  After the last registration is answered: held events, oldest first.
//  Returns false when there is none left; the message is valid until the
//  next call.
bool ces_cursor_next_held (ces_cursor_t *self, char *room, uint64_t *epoch,
                           uint64_t *seq, const byte **message, size_t *size,
                           bool *own);

//  A registration was told (live events are held from now on, as its
//  rooms' events may already flow), or refused before the hub saw it;
//  ces_cursor_confirmed ends the wait of one told
void ces_cursor_registering (ces_cursor_t *self);
void ces_cursor_refused (ces_cursor_t *self);

//  Is a registration being told or synced?
bool ces_cursor_holding (ces_cursor_t *self);

void ces_cursor_test (bool verbose);

#endif
