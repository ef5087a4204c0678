/*  =========================================================================
    ces_fanout - the hub's events to an edge's clients

    Called by the edge actor for each event its link read: the room index
    says who wants it, ces_client queues it (a version 2 client through
    its cursor), and the edge flushes every queued client at the end of
    its batch.
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_fanout_t {
    ces_link_t *link;
    ces_room_index_t *room_index;
    uint64_t delivered;
    uint64_t queue_full;
    ces_histogram_t latency;
};

//  One PUBLISHED event on its way to the clients of its room
typedef struct {
    ces_fanout_t *self;
    const char *sender; //  the client that sent it, if on this edge
    const byte *data;
    size_t size;
    int64_t latency; //  since the hub received it (us), -1: not stamped
} event_t;

ces_fanout_t *
ces_fanout_new (ces_link_t *link, ces_room_index_t *room_index)
{
    assert (link);
    ces_fanout_t *self = (ces_fanout_t *)zmalloc (sizeof (ces_fanout_t));
    assert (self);
    self->link = link;
    self->room_index = room_index;
    return self;
}

void
ces_fanout_destroy (ces_fanout_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        freen (*self_p);
        *self_p = NULL;
    }
}

void
ces_fanout_deliver (ces_fanout_t *self, ces_client_t *client, const byte *data,
                    size_t size)
{
    if (ces_client_send_event (client, data, size))
        self->delivered++;
    else if (ces_client_state (client) == CES_CLIENT_OPEN)
        self->queue_full++;
}

//  A version 2 client: with its sequence number, through its cursor
static void
s_deliver_sequenced (ces_fanout_t *self, ces_client_t *client, event_t *event,
                     bool own)
{
    ces_client_delivery_t delivery = ces_client_deliver_sequenced (
        client, ces_link_room (self->link), ces_link_epoch (self->link),
        ces_link_seq (self->link), event->data, event->size, own);
    if (delivery == CES_CLIENT_DELIVERED)
        self->delivered++;
    else if (delivery == CES_CLIENT_DROPPED &&
             ces_client_state (client) == CES_CLIENT_OPEN)
        self->queue_full++;
}

//  ces_room_index_fn
static void
s_to_client (ces_client_t *client, void *arg)
{
    event_t *event = (event_t *)arg;
    ces_fanout_t *self = event->self;
    uint64_t delivered = self->delivered;
    bool own = event->sender && streq (event->sender, ces_client_id (client));
    if (ces_client_cursor (client))
        s_deliver_sequenced (self, client, event, own);
    else if (!own)
        ces_fanout_deliver (self, client, event->data, event->size);
    if (event->latency >= 0 && self->delivered != delivered)
        ces_histogram_observe (&self->latency, event->latency);
}

void
ces_fanout_published (ces_fanout_t *self)
{
    assert (self);
    if (!self->room_index)
        return;
    int64_t stamp = ces_link_stamp (self->link);
    event_t event = {self, NULL, ces_link_data (self->link),
                     ces_link_size (self->link),
                     stamp ? ces_histogram_now () - stamp : -1};
    if (!ces_link_is_origin (self->link, ces_link_origin (self->link),
                             &event.sender))
        event.sender = NULL;
    ces_room_index_each (self->room_index, ces_link_room (self->link),
                         s_to_client, &event);
}

uint64_t
ces_fanout_delivered (ces_fanout_t *self)
{
    assert (self);
    return self->delivered;
}

uint64_t
ces_fanout_queue_full (ces_fanout_t *self)
{
    assert (self);
    return self->queue_full;
}

const ces_histogram_t *
ces_fanout_latency (ces_fanout_t *self)
{
    assert (self);
    return &self->latency;
}

//  --------------------------------------------------------------------------
//  Self test

//  Reads the link until want (handling REGISTERED for the room index), or
//  fails after 5 s
static void
s_test_until (ces_link_t *link, ces_room_index_t *rooms, ces_link_event_t want)
{
    zpoller_t *poller =
        zpoller_new (ces_link_dealer (link), ces_link_sub (link), NULL);
    int64_t deadline = zclock_mono () + 5000;
    ces_link_event_t event = CES_LINK_NOTHING;
    while (event != want && zclock_mono () < deadline) {
        void *which = zpoller_wait (poller, ces_link_timeout (link));
        if (which == ces_link_dealer (link))
            event = ces_link_recv_dealer (link);
        else if (which == ces_link_sub (link))
            event = ces_link_recv_sub (link);
        else {
            ces_link_tick (link);
            continue;
        }
        if (event == CES_LINK_REGISTERED)
            ces_room_index_on_registered (rooms, ces_link_token (link));
    }
    zpoller_destroy (&poller);
    assert (event == want);
}

//  What a client's peer reads: the payloads of the Binary frames waiting
//  (events), skipping Text frames (notices such as "registered")
static char *
s_test_read (int fd)
{
    byte frames[1024];
    ssize_t size = recv (fd, frames, sizeof (frames), MSG_DONTWAIT);
    char *events = NULL;
    for (ssize_t at = 0; at + 2 <= size; at += 2 + frames[at + 1]) {
        assert (frames[at + 1] < 126 && at + 2 + frames[at + 1] <= size);
        if (frames[at] != 0x82)
            continue;
        char *more =
            zsys_sprintf ("%s%.*s", events ? events : "", (int)frames[at + 1],
                          (char *)frames + at + 2);
        zstr_free (&events);
        events = more;
    }
    return events;
}

void
ces_fanout_test (bool verbose)
{
    printf (" * ces_fanout: ");
    //  @selftest
    char *router, *pub;
    zactor_t *hub = ces_hub_test_start (
        "inproc://fanout-test-router", "inproc://fanout-test-pub", &router,
        &pub, "log-level", verbose ? "debug" : "warn", NULL);
    ces_link_t *link =
        ces_link_new (router, pub, "fanout-test", "fanout test", NULL);
    assert (link);
    ces_link_attach (link, "subs", CES_ROLE_MESSENGER);
    ces_link_attach (link, "1", CES_ROLE_MESSENGER); //  client one's
    s_test_until (link, NULL, CES_LINK_CONNECTED);
    zhashx_t *clients = zhashx_new ();
    ces_room_index_t *rooms = ces_room_index_new (link, "subs", clients);
    ces_fanout_t *fanout = ces_fanout_new (link, rooms);

    //  Clients one and two on R, and three with no room for an event
    ces_client_limits_t limits = {.queue = 65536,
                                  .ping_interval = 30000,
                                  .pong_timeout = 60000,
                                  .idle_timeout = 30000,
                                  .log_level = CES_LOG_WARN};
    ces_client_limits_t small = limits;
    small.queue = 8;
    ces_client_lists_t lists = {zlistx_new (), zlistx_new ()};
    int pairs[3][2];
    ces_client_t *client[3];
    zlist_t *asked = zlist_new ();
    zlist_append (asked, (void *)"R");
    for (int i = 0; i < 3; i++) {
        int rc = socketpair (AF_UNIX, SOCK_STREAM, 0, pairs[i]);
        assert (rc == 0);
        char id[2] = {(char)('1' + i), 0};
        ces_wire_t *wire = ces_wire_new (pairs[i][0]);
        client[i] = ces_client_new (id, CES_ROLE_MESSENGER, wire, "peer", 0,
                                    i == 2 ? &small : &limits, &lists);
        ces_wire_release (&wire); //  the worker's reference: none here
        zhashx_insert (clients, id, client[i]);
        char *no_options = NULL;
        assert (ces_room_index_register (rooms, client[i], asked, 0,
                                         &no_options) == 0);
    }
    zlist_destroy (&asked);
    s_test_until (link, rooms, CES_LINK_REGISTERED);

    //  Client one's event goes to two, not back to one; three's queue is
    //  too small for it
    zframe_t *event = zframe_new ("R\n{\"n\":1}", 9);
    assert (ces_link_send (link, "1", event) == 0);
    zframe_destroy (&event);
    s_test_until (link, rooms, CES_LINK_PUBLISHED);
    ces_fanout_published (fanout);
    ces_client_flush_pending (&lists);
    char *heard = s_test_read (pairs[1][1]);
    assert (heard && streq (heard, "R\n{\"n\":1}"));
    zstr_free (&heard);
    assert (s_test_read (pairs[0][1]) == NULL);
    assert (s_test_read (pairs[2][1]) == NULL);
    assert (ces_fanout_delivered (fanout) == 1);
    assert (ces_fanout_queue_full (fanout) == 1);
    assert (ces_fanout_latency (fanout)->count == 1);

    //  One event to one client
    ces_fanout_deliver (fanout, client[0], (const byte *)"R\n{}", 4);
    ces_client_flush_pending (&lists);
    heard = s_test_read (pairs[0][1]);
    assert (heard && streq (heard, "R\n{}"));
    zstr_free (&heard);
    assert (ces_fanout_delivered (fanout) == 2);

    ces_fanout_destroy (&fanout);
    assert (fanout == NULL);
    ces_room_index_destroy (&rooms);
    for (int i = 0; i < 3; i++) {
        ces_client_destroy (&client[i]);
        close (pairs[i][0]);
        close (pairs[i][1]);
    }
    zhashx_destroy (&clients);
    zlistx_destroy (&lists.pending);
    zlistx_destroy (&lists.blocked);
    ces_link_destroy (&link);
    zactor_destroy (&hub);
    zstr_free (&router);
    zstr_free (&pub);
    //  @end
    printf ("OK\n");
}
