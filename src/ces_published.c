/*  =========================================================================
    ces_published - one event a hub published, as a peer's SUB reads it
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_published_t {
    zmq_msg_t frame;  //  the last frame, as it came
    const byte *data; //  its message, or NULL
    size_t size;
    char origin[256];
    char room[CES_ROOM_MAX + 1];
    int64_t stamp; //  the hub's receive time of it (us), or 0
    uint64_t epoch;
    uint64_t seq;
    zhashx_t *room_seq; //  room -> last sequence seen (uint64_t *)
    uint64_t lost;
};

static void
s_free (void **item_p)
{
    freen (*item_p);
    *item_p = NULL;
}

ces_published_t *
ces_published_new (void)
{
    ces_published_t *self =
        (ces_published_t *)zmalloc (sizeof (ces_published_t));
    assert (self);
    zmq_msg_init (&self->frame);
    self->room_seq = zhashx_new ();
    assert (self->room_seq);
    zhashx_set_destructor (self->room_seq, s_free);
    return self;
}

void
ces_published_destroy (ces_published_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_published_t *self = *self_p;
        zmq_msg_close (&self->frame);
        zhashx_destroy (&self->room_seq);
        freen (self);
        *self_p = NULL;
    }
}

static void
s_track_sequence (ces_published_t *self, uint64_t seq)
{
    if (seq == 0)
        return;
    uint64_t *last = (uint64_t *)zhashx_lookup (self->room_seq, self->room);
    if (!last) {
        last = (uint64_t *)zmalloc (sizeof (uint64_t));
        assert (last);
        zhashx_insert (self->room_seq, self->room, last);
    } else if (seq > *last + 1)
        self->lost += seq - *last - 1;
    //  A smaller number means the hub restarted: a new count, not a gap
    *last = seq;
}

//  Takes the frame apart: message, origin, origin length (2 octets), the
//  hub's receive time, the room's epoch and the event's sequence number
//  (8 octets each); -1 when it is not that
static int
s_take (ces_published_t *self)
{
    const byte *data = (const byte *)zmq_msg_data (&self->frame);
    size_t size = zmq_msg_size (&self->frame);
    if (size < CES_ROOMS_FOOTER)
        return -1;
    const byte *footer = data + size - CES_ROOMS_FOOTER;
    size_t origin_size = ((size_t)footer[0] << 8) | footer[1];
    if (origin_size + CES_ROOMS_FOOTER > size ||
        origin_size >= sizeof (self->origin))
        return -1;
    size_t message_size = size - CES_ROOMS_FOOTER - origin_size;
    if (!ces_frame_room_copy (data, message_size, self->room))
        return -1;
    memcpy (self->origin, data + message_size, origin_size);
    self->origin[origin_size] = 0;
    uint64_t stamp = ces_position_number_get (footer + 2);
    self->stamp = stamp <= INT64_MAX ? (int64_t)stamp : 0;
    self->epoch = ces_position_number_get (footer + 10);
    self->seq = ces_position_number_get (footer + 18);
    s_track_sequence (self, self->seq);
    self->data = data;
    self->size = message_size;
    return 0;
}

int
ces_published_recv (ces_published_t *self, zsock_t *sub)
{
    assert (self && sub);
    self->data = NULL;
    self->size = 0;
    zmq_msg_close (&self->frame);
    zmq_msg_init (&self->frame);
    void *handle = zsock_resolve (sub);
    if (zmq_msg_recv (&self->frame, handle, ZMQ_DONTWAIT) < 0)
        return -1;
    if (zmq_msg_more (&self->frame)) {
        //  Not what a hub publishes: drop the rest of it
        zmq_msg_t rest;
        zmq_msg_init (&rest);
        while (zmq_msg_recv (&rest, handle, ZMQ_DONTWAIT) >= 0 &&
               zmq_msg_more (&rest))
            ;
        zmq_msg_close (&rest);
        return -1;
    }
    return s_take (self);
}

const byte *
ces_published_data (ces_published_t *self)
{
    assert (self);
    return self->data;
}

size_t
ces_published_size (ces_published_t *self)
{
    assert (self);
    return self->size;
}

const char *
ces_published_room (ces_published_t *self)
{
    assert (self);
    return self->room;
}

const char *
ces_published_origin (ces_published_t *self)
{
    assert (self);
    return self->origin;
}

uint64_t
ces_published_epoch (ces_published_t *self)
{
    assert (self);
    return self->epoch;
}

uint64_t
ces_published_seq (ces_published_t *self)
{
    assert (self);
    return self->seq;
}

int64_t
ces_published_stamp (ces_published_t *self)
{
    assert (self);
    return self->stamp;
}

uint64_t
ces_published_lost (ces_published_t *self)
{
    assert (self);
    return self->lost;
}

//  --------------------------------------------------------------------------
//  Self test

//  Publishes message with origin and a footer as a hub writes it
static void
s_test_publish (zsock_t *pub, const char *message, const char *origin,
                uint64_t stamp, uint64_t epoch, uint64_t seq)
{
    size_t size = strlen (message), origin_size = strlen (origin);
    zframe_t *frame = zframe_new (NULL, size + origin_size + CES_ROOMS_FOOTER);
    byte *data = zframe_data (frame);
    memcpy (data, message, size);
    memcpy (data + size, origin, origin_size);
    byte *footer = data + size + origin_size;
    footer[0] = (byte)(origin_size >> 8);
    footer[1] = (byte)origin_size;
    ces_position_number_put (footer + 2, stamp);
    ces_position_number_put (footer + 10, epoch);
    ces_position_number_put (footer + 18, seq);
    assert (zframe_send (&frame, pub, 0) == 0);
}

//  Waits for what the SUB has; the result of ces_published_recv
static int
s_test_recv (ces_published_t *self, zsock_t *sub)
{
    zpoller_t *poller = zpoller_new (sub, NULL);
    void *which = zpoller_wait (poller, 2000);
    zpoller_destroy (&poller);
    assert (which == sub);
    return ces_published_recv (self, sub);
}

void
ces_published_test (bool verbose)
{
    printf (" * ces_published: ");
    //  @selftest
    zsock_t *pub = zsock_new (ZMQ_PUB);
    assert (pub);
    int port = zsock_bind (pub, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    assert (sub);
    zsock_set_subscribe (sub, "");
    assert (zsock_connect (sub, "tcp://127.0.0.1:%d", port) == 0);
    ces_published_t *published = ces_published_new ();
    assert (ces_published_recv (published, sub) == -1); //  nothing yet

    //  The subscription reaches the PUB in its own time: publish until one
    //  event arrives, then read the next ones in order
    zpoller_t *poller = zpoller_new (sub, NULL);
    while (!zpoller_wait (poller, 10))
        s_test_publish (pub, "R\n{}", "o/1", 0, 0, 0);
    zpoller_destroy (&poller);
    //  A last one, after every warm-up event in order: read up to it
    s_test_publish (pub, "warm\n{}", "o/1", 0, 0, 0);
    while (s_test_recv (published, sub) != 0 ||
           !streq (ces_published_room (published), "warm"))
        ;
    s_test_publish (pub, "ITB-1101\n{\"a\":1}", "link-a/7", 1700000000000000,
                    0x0123456789abcdefULL, 5);
    assert (s_test_recv (published, sub) == 0);
    assert (streq (ces_published_room (published), "ITB-1101"));
    assert (streq (ces_published_origin (published), "link-a/7"));
    assert (ces_published_size (published) == 16);
    assert (memcmp (ces_published_data (published), "ITB-1101\n{\"a\":1}",
                    16) == 0);
    assert (ces_published_stamp (published) == 1700000000000000);
    assert (ces_published_epoch (published) == 0x0123456789abcdefULL);
    assert (ces_published_seq (published) == 5);
    assert (ces_published_lost (published) == 0);

    //  6 and 7 never come: two lost; a smaller number is a new count
    s_test_publish (pub, "ITB-1101\n{}", "link-a/7", 0, 1, 8);
    assert (s_test_recv (published, sub) == 0);
    assert (ces_published_lost (published) == 2);
    s_test_publish (pub, "ITB-1101\n{}", "link-a/7", 0, 2, 1);
    assert (s_test_recv (published, sub) == 0);
    s_test_publish (pub, "ITB-1101\n{}", "link-a/7", 0, 2, 2);
    assert (s_test_recv (published, sub) == 0);
    assert (ces_published_lost (published) == 2);
    //  A stamp past INT64_MAX is no stamp
    s_test_publish (pub, "R\n{}", "", UINT64_MAX, 0, 0);
    assert (s_test_recv (published, sub) == 0);
    assert (ces_published_stamp (published) == 0);
    assert (streq (ces_published_origin (published), ""));

    //  Not what a hub publishes: dropped, -1
    zstr_sendx (pub, "two", "frames", NULL);
    assert (s_test_recv (published, sub) == -1);
    assert (ces_published_data (published) == NULL);
    zstr_send (pub, "short");
    assert (s_test_recv (published, sub) == -1);
    s_test_publish (pub, "no room", "o", 0, 0, 0);
    assert (s_test_recv (published, sub) == -1);
    //  An origin longer than the frame
    zframe_t *frame = zframe_new (NULL, CES_ROOMS_FOOTER);
    memset (zframe_data (frame), 0xff, CES_ROOMS_FOOTER);
    zframe_send (&frame, pub, 0);
    assert (s_test_recv (published, sub) == -1);

    ces_published_destroy (&published);
    ces_published_destroy (&published);
    zsock_destroy (&sub);
    zsock_destroy (&pub);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
