/*  =========================================================================
    ces_msgpipe - the embedded messenger's message pipe, both ends
    =========================================================================
*/
#include "ces_classes.h"

#define MSGPIPE_HWM 100000

struct _ces_msgpipe_t {
    zsock_t *sock; //  PAIR
    //  The actor's end
    uint64_t sent;
    uint64_t dropped;
    //  The host's end: the last event or notice read
    ces_frame_t *frame;
    char *payload;
    size_t payload_size;
    char room[CES_ROOM_MAX + 1];
    uint64_t seq;
    char epoch[CES_POSITION_EPOCH_SIZE];
    char *notice;
};

static ces_msgpipe_t *
s_new (void)
{
    ces_msgpipe_t *self = (ces_msgpipe_t *)zmalloc (sizeof (*self));
    assert (self);
    self->sock = zsock_new (ZMQ_PAIR);
    assert (self->sock);
    return self;
}

ces_msgpipe_t *
ces_msgpipe_new_host (const char *endpoint)
{
    assert (endpoint);
    ces_msgpipe_t *self = s_new ();
    zsock_set_rcvhwm (self->sock, MSGPIPE_HWM);
    int rc = zsock_bind (self->sock, "%s", endpoint);
    assert (rc == 0);
    self->frame = ces_frame_new (SIZE_MAX / 2);
    return self;
}

ces_msgpipe_t *
ces_msgpipe_new_actor (const char *endpoint)
{
    assert (endpoint);
    ces_msgpipe_t *self = s_new ();
    zsock_set_sndhwm (self->sock, MSGPIPE_HWM);
    if (zsock_connect (self->sock, "%s", endpoint))
        ces_msgpipe_destroy (&self);
    return self;
}

void
ces_msgpipe_destroy (ces_msgpipe_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_msgpipe_t *self = *self_p;
        zsock_destroy (&self->sock);
        ces_frame_destroy (&self->frame);
        freen (self->payload);
        freen (self->notice);
        freen (self);
        *self_p = NULL;
    }
}

zsock_t *
ces_msgpipe_sock (ces_msgpipe_t *self)
{
    assert (self);
    return self->sock;
}

void
ces_msgpipe_send_event (ces_msgpipe_t *self, const byte *data, size_t size,
                        uint64_t seq, uint64_t epoch)
{
    assert (self);
    byte numbers[16];
    ces_position_number_put (numbers, seq);
    ces_position_number_put (numbers + 8, epoch);
    void *sock = zsock_resolve (self->sock);
    //  Once ZeroMQ takes the first part it takes the rest
    if (zmq_send (sock, data, size, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0) {
        self->dropped++; //  the host is not reading
        return;
    }
    zmq_send (sock, numbers, 8, ZMQ_SNDMORE);
    zmq_send (sock, numbers + 8, 8, 0);
    self->sent++;
}

void
ces_msgpipe_send_notice (ces_msgpipe_t *self, char **text_p)
{
    assert (self && text_p);
    if (!*text_p)
        return;
    void *sock = zsock_resolve (self->sock);
    if (zmq_send (sock, "", 0, ZMQ_DONTWAIT | ZMQ_SNDMORE) == 0)
        zmq_send (sock, *text_p, strlen (*text_p), 0);
    zstr_free (text_p);
}

uint64_t
ces_msgpipe_sent (ces_msgpipe_t *self)
{
    assert (self);
    return self->sent;
}

uint64_t
ces_msgpipe_dropped (ces_msgpipe_t *self)
{
    assert (self);
    return self->dropped;
}

//  The 8-octet big-endian number of a frame, 0 if it has none
static uint64_t
s_number (zframe_t *frame)
{
    return frame && zframe_size (frame) == 8
               ? ces_position_number_get (zframe_data (frame))
               : 0;
}

//  An event's message, sequence number and epoch, kept; -2 if malformed
static int
s_take_event (ces_msgpipe_t *self, zframe_t *message, zmsg_t *msg)
{
    if (ces_frame_parse (self->frame, zframe_data (message),
                         zframe_size (message)) != CES_FRAME_OK)
        return -2;
    strcpy (self->room, ces_frame_room (self->frame));
    self->payload_size = ces_frame_payload_size (self->frame);
    freen (self->payload);
    self->payload = (char *)malloc (self->payload_size + 1);
    assert (self->payload);
    memcpy (self->payload, ces_frame_payload (self->frame), self->payload_size);
    self->payload[self->payload_size] = 0;
    zframe_t *seq = zmsg_pop (msg);
    zframe_t *epoch = zmsg_pop (msg);
    self->seq = s_number (seq);
    ces_position_epoch_text (s_number (epoch), self->epoch);
    zframe_destroy (&seq);
    zframe_destroy (&epoch);
    return 0;
}

int
ces_msgpipe_recv (ces_msgpipe_t *self, int timeout)
{
    assert (self && self->frame); //  the host's end
    zsock_set_rcvtimeo (self->sock, timeout);
    zmsg_t *msg = zmsg_recv (self->sock);
    zframe_t *message = msg ? zmsg_pop (msg) : NULL;
    if (!message) {
        zmsg_destroy (&msg);
        return -1;
    }
    int rc;
    if (zframe_size (message) == 0) {
        //  A notice of a recall: {"state":...}, {"recovered":...}, ...
        freen (self->notice);
        self->notice = zmsg_popstr (msg);
        rc = self->notice ? 1 : -2;
    } else
        rc = s_take_event (self, message, msg);
    zframe_destroy (&message);
    zmsg_destroy (&msg);
    return rc;
}

const char *
ces_msgpipe_room (ces_msgpipe_t *self)
{
    assert (self);
    return self->room;
}

const char *
ces_msgpipe_payload (ces_msgpipe_t *self)
{
    assert (self);
    return self->payload ? self->payload : "";
}

size_t
ces_msgpipe_payload_size (ces_msgpipe_t *self)
{
    assert (self);
    return self->payload_size;
}

uint64_t
ces_msgpipe_seq (ces_msgpipe_t *self)
{
    assert (self);
    return self->seq;
}

const char *
ces_msgpipe_epoch (ces_msgpipe_t *self)
{
    assert (self);
    return self->epoch;
}

const char *
ces_msgpipe_notice (ces_msgpipe_t *self)
{
    assert (self);
    return self->notice ? self->notice : "";
}

//  --------------------------------------------------------------------------
//  Self test

void
ces_msgpipe_test (bool verbose)
{
    printf (" * ces_msgpipe: ");
    //  @selftest
    ces_msgpipe_t *host = ces_msgpipe_new_host ("inproc://msgpipe-test");
    ces_msgpipe_t *actor = ces_msgpipe_new_actor ("inproc://msgpipe-test");
    assert (host && actor);
    assert (ces_msgpipe_recv (host, 0) == -1); //  nothing yet

    //  A room event with its place in the stream, then a directed one
    const char *first = "ITB-1101\n{\"n\":1}", *second = "ITB-1101\n[]";
    ces_msgpipe_send_event (actor, (const byte *)first, strlen (first), 7,
                            0x0123456789abcdefULL);
    ces_msgpipe_send_event (actor, (const byte *)second, strlen (second), 0, 0);
    assert (ces_msgpipe_sent (actor) == 2);
    assert (ces_msgpipe_recv (host, 1000) == 0);
    assert (streq (ces_msgpipe_room (host), "ITB-1101"));
    assert (streq (ces_msgpipe_payload (host), "{\"n\":1}"));
    assert (ces_msgpipe_payload_size (host) == 7);
    assert (ces_msgpipe_seq (host) == 7);
    assert (streq (ces_msgpipe_epoch (host), "0123456789abcdef"));
    assert (ces_msgpipe_recv (host, 1000) == 0);
    assert (streq (ces_msgpipe_payload (host), "[]"));
    assert (ces_msgpipe_seq (host) == 0);

    //  A notice; the text is taken
    char *text = strdup ("{\"recovered\":{\"ITB-1101\":true}}");
    ces_msgpipe_send_notice (actor, &text);
    assert (text == NULL);
    ces_msgpipe_send_notice (actor, &text); //  nothing
    assert (ces_msgpipe_recv (host, 1000) == 1);
    assert (streq (ces_msgpipe_notice (host),
                   "{\"recovered\":{\"ITB-1101\":true}}"));

    //  Malformed: a message with no room, a notice with no JSON; the last
    //  event read stays
    zstr_send (ces_msgpipe_sock (actor), "no room");
    assert (ces_msgpipe_recv (host, 1000) == -2);
    zstr_send (ces_msgpipe_sock (actor), "");
    assert (ces_msgpipe_recv (host, 1000) == -2);
    assert (streq (ces_msgpipe_notice (host), ""));
    assert (streq (ces_msgpipe_payload (host), "[]"));

    //  A host that does not read: past the high-water marks (the actor's
    //  and the host's), dropped, never queued
    uint64_t sent = ces_msgpipe_sent (actor);
    for (int i = 0; i < 4 * MSGPIPE_HWM && !ces_msgpipe_dropped (actor); i++)
        ces_msgpipe_send_event (actor, (const byte *)second, strlen (second), 0,
                                0);
    assert (ces_msgpipe_dropped (actor) == 1);
    assert (ces_msgpipe_sent (actor) - sent >= MSGPIPE_HWM);
    ces_msgpipe_destroy (&actor);
    ces_msgpipe_destroy (&host);
    ces_msgpipe_destroy (&host);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
