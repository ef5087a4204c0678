/*  =========================================================================
    ces_msgpipe - the embedded messenger's message pipe, both ends: the
    actor writes the host's events and notices on it, the host reads them
    (ces_messenger_recv, or its own poller on ces_msgpipe_sock). A PAIR
    over inproc, with a high-water mark; what the host does not read in
    time is dropped and counted, never queued without bound.

    On the pipe, an event is three frames: its message (ROOMID\nPAYLOAD),
    its sequence number and its room's epoch (8 octets each, big-endian;
    0 for directed events). A notice of a recall is an empty frame, then
    its JSON.

        ces_msgpipe_t *host = ces_msgpipe_new_host (endpoint);
        ces_msgpipe_t *actor = ces_msgpipe_new_actor (endpoint);
        ces_msgpipe_send_event (actor, data, size, seq, epoch);
        if (ces_msgpipe_recv (host, 1000) == 0)
            handle (ces_msgpipe_room (host), ces_msgpipe_payload (host));
    =========================================================================
*/
#ifndef CES_MSGPIPE_H_INCLUDED
#define CES_MSGPIPE_H_INCLUDED

typedef struct _ces_msgpipe_t ces_msgpipe_t;

//  The host's end: binds endpoint, before the actor's end connects.
ces_msgpipe_t *ces_msgpipe_new_host (const char *endpoint);

//  The actor's end: connects to endpoint; NULL if it cannot.
ces_msgpipe_t *ces_msgpipe_new_actor (const char *endpoint);

void ces_msgpipe_destroy (ces_msgpipe_t **self_p);

//  The PAIR socket, for a poller.
zsock_t *ces_msgpipe_sock (ces_msgpipe_t *self);

//  Actor's end: an event for the host, without waiting; counted as sent,
//  or as dropped when the host is not reading.
void ces_msgpipe_send_event (ces_msgpipe_t *self, const byte *data, size_t size,
                             uint64_t seq, uint64_t epoch);

//  Actor's end: a notice for the host; takes the text (NULL: nothing).
void ces_msgpipe_send_notice (ces_msgpipe_t *self, char **text_p);

//  Actor's end: the events the host was sent, and those dropped.
uint64_t ces_msgpipe_sent (ces_msgpipe_t *self);
uint64_t ces_msgpipe_dropped (ces_msgpipe_t *self);

//  Host's end: reads one event or notice, waiting up to timeout msecs
//  (-1: for ever). 0: an event, 1: a notice, -1: nothing in time, -2: a
//  malformed message (dropped).
int ces_msgpipe_recv (ces_msgpipe_t *self, int timeout);

//  Of the last event read: its room, payload (NUL-terminated), payload
//  size, sequence number and epoch (16 hex digits).
const char *ces_msgpipe_room (ces_msgpipe_t *self);
const char *ces_msgpipe_payload (ces_msgpipe_t *self);
size_t ces_msgpipe_payload_size (ces_msgpipe_t *self);
uint64_t ces_msgpipe_seq (ces_msgpipe_t *self);
const char *ces_msgpipe_epoch (ces_msgpipe_t *self);

//  The last notice read ("" when none).
const char *ces_msgpipe_notice (ces_msgpipe_t *self);

//  Self test of this class
void ces_msgpipe_test (bool verbose);

#endif
