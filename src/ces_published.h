/*  =========================================================================
    ces_published - one event a hub published, as a peer's SUB reads it

    A hub publishes each event as one frame (ces_rooms): the message
    (ROOMID\nPAYLOAD), its origin ("link-id/conn"), then a 26-octet footer:
    the origin's size (2 octets), when the hub received the event, the
    room's epoch and the event's sequence number (8 octets each,
    big-endian). This class reads such frames off a SUB, without a copy,
    and counts the events of each room that never arrived (gaps in the
    sequence). ces_link holds one for its SUB.

        ces_published_t *published = ces_published_new ();
        if (ces_published_recv (published, sub) == 0)
            handle (ces_published_room (published),
                    ces_published_data (published),
                    ces_published_size (published));
        ces_published_destroy (&published);
    =========================================================================
*/
#ifndef CES_PUBLISHED_H_INCLUDED
#define CES_PUBLISHED_H_INCLUDED

typedef struct _ces_published_t ces_published_t;

ces_published_t *ces_published_new (void);
void ces_published_destroy (ces_published_t **self_p);

//  Reads one frame from sub without waiting. 0 when it was an event as a
//  hub publishes it; -1 when nothing was there, or what was there was not
//  one (a multipart message, a frame too short or with no room ID: it is
//  dropped).
int ces_published_recv (ces_published_t *self, zsock_t *sub);

//  Of the last event read: its message's bytes (ROOMID\nPAYLOAD), room and
//  origin. Borrowed, valid until the next ces_published_recv.
const byte *ces_published_data (ces_published_t *self);
size_t ces_published_size (ces_published_t *self);
const char *ces_published_room (ces_published_t *self);
const char *ces_published_origin (ces_published_t *self);

//  Its room's epoch and its sequence number (0 and 0 from a hub that keeps
//  no streams), and when the hub received it (CLOCK_REALTIME microseconds;
//  0 = not stamped).
uint64_t ces_published_epoch (ces_published_t *self);
uint64_t ces_published_seq (ces_published_t *self);
int64_t ces_published_stamp (ces_published_t *self);

//  Events never read: the gaps in each room's sequence numbers so far.
uint64_t ces_published_lost (ces_published_t *self);

//  Self test of this class
void ces_published_test (bool verbose);

#endif
