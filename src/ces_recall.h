/*  =========================================================================
    ces_recall - the embedded messenger's RECALL: the host asks for a
    room's state or for the events after a position, and from then on gets
    the room's events in its stream's order, with no gap and no duplicate.

    The recall waits for the hub to confirm the room's REGISTER, then asks
    with SYNC; live events are held (ces_cursor) until SYNCED answers, and
    go to the host after the answer's events and notices. Before any
    recall the host gets every room event as it comes. The messenger's
    actor owns one; what goes to the host goes on its ces_msgpipe.

        ces_recall_ask (recall, "ITB-1101", true, "", "0");
        //  ... REGISTER the room; when the hub confirms it:
        char *request = ces_recall_confirmed (recall);
        if (request && ces_link_sync (link, conn, request) == 0)
            ces_recall_asked (recall);
        //  ... on SYNCED:
        if (ces_recall_synced (recall, header, size, events) == 0)
            ces_recall_release (recall);    //  after the reply to the host
    =========================================================================
*/
#ifndef CES_RECALL_H_INCLUDED
#define CES_RECALL_H_INCLUDED

typedef struct _ces_recall_t ces_recall_t;

//  msgpipe: the actor's end of the host's pipe (borrowed).
ces_recall_t *ces_recall_new (ces_msgpipe_t *msgpipe);
void ces_recall_destroy (ces_recall_t **self_p);

//  The host asks to recall room: its state, or (epoch: 16 hex digits, ""
//  for none) the events after seq (a decimal number). It waits for the
//  room's REGISTER to be confirmed; a recall waiting is replaced.
void ces_recall_ask (ces_recall_t *self, const char *room, bool state,
                     const char *epoch, const char *seq);

//  Is a recall waiting for its room's REGISTER to be confirmed?
bool ces_recall_waiting (ces_recall_t *self);

//  Its REGISTER was confirmed: the SYNC request to send (caller frees), or
//  NULL when there is none to send. The recall no longer waits.
char *ces_recall_confirmed (ces_recall_t *self);

//  The SYNC went to the hub: its SYNCED is awaited.
void ces_recall_asked (ces_recall_t *self);

//  A room event from the hub (own: the messenger's own, which the host
//  does not get): to the host, or held, or skipped as the cursor says.
void ces_recall_published (ces_recall_t *self, const char *room, uint64_t epoch,
                           uint64_t seq, const byte *data, size_t size,
                           bool own);

//  SYNCED: its header (JSON, size bytes) and its events (zframe_t: seq,
//  8 octets, then the message). 0 when it answered the recall: its
//  notices and events went to the host; -1 when none was awaited.
int ces_recall_synced (ces_recall_t *self, const byte *header, size_t size,
                       zlist_t *events);

//  Live events held while the recall was synced go to the host, in order.
void ces_recall_release (ces_recall_t *self);

//  The hub did not answer in time: the recall is given up (a late SYNCED
//  is ignored) and what was held goes to the host.
void ces_recall_expire (ces_recall_t *self, int64_t now);

//  Self test of this class
void ces_recall_test (bool verbose);

#endif
