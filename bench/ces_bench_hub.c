/*  =========================================================================
    ces_bench_hub - the hub core alone, over tcp on 127.0.0.1, beside the
    ceiling a bare ZeroMQ ROUTER -> PUB forwarder reaches in the same run.

    One sender speaks the hub protocol (HELLO, ATTACH, then EVENT as fast as
    the sockets take them, in one frame as ces_link sends them to a hub that
    reads them, or in three as peers from before did, in the last row;
    the sockets take them); one subscriber counts what the PUB delivers.
    Every run checks that delivered + drops the hub reported + events the
    subscriber found missing (gaps in the hub's per-room sequence numbers:
    a PUB drops silently at its high-water mark, so subscribers count what
    it dropped, as edges do) = sent.

    usage: ces_bench_hub [-n events] [-s payload-bytes]
    =========================================================================
*/
#include "ces.h"
#include <cjson/cJSON.h>
#include "ces_counters.h"

typedef struct {
    const char *name;
    double seconds;
    uint64_t sent;
    uint64_t delivered;
    uint64_t drops;
    uint64_t gaps; //  missing sequence numbers the subscriber counted
} result_t;

//  A v2 event padded to about `size` bytes
static char *
s_event (size_t size)
{
    char *head = zsys_sprintf (
        "{\"generating-system\":\"ITB-1101-CP1\",\"timestamp\":"
        "\"2020-01-02T03:04:05.123-07:00\",\"event-tags\":[\"core-state\"],"
        "\"target-device\":{\"buildingID\":\"ITB\",\"roomID\":\"ITB-1101\","
        "\"deviceID\":\"ITB-1101-D1\"},\"affected-room\":{\"buildingID\":"
        "\"ITB\",\"roomID\":\"ITB-1101\"},\"key\":\"power\",\"value\":\"on\","
        "\"user\":\"\",\"data\":\"");
    size_t fill = size > strlen (head) + 2 ? size - strlen (head) - 2 : 0;
    char *event = (char *)malloc (strlen (head) + fill + 3);
    strcpy (event, head);
    memset (event + strlen (head), 'x', fill);
    strcpy (event + strlen (head) + fill, "\"}");
    zstr_free (&head);
    return event;
}

//  Counts messages on the SUB until `expected` (or a second of silence),
//  and, for the hub's frames (whose last 8 octets are the sequence), the
//  sequence numbers that never came
static uint64_t
s_receive (zsock_t *sub, uint64_t expected, int64_t *last, bool sequenced,
           uint64_t *gaps)
{
    uint64_t received = 0, previous = 0;
    zsock_set_rcvtimeo (sub, 1000);
    void *handle = zsock_resolve (sub);
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (received + *gaps < expected && zmq_msg_recv (&msg, handle, 0) >= 0) {
        received++;
        *last = zclock_usecs ();
        size_t size = zmq_msg_size (&msg);
        if (sequenced && size >= 10) {
            const byte *footer = (const byte *)zmq_msg_data (&msg) + size - 8;
            uint64_t seq = 0;
            for (int i = 0; i < 8; i++)
                seq = (seq << 8) | footer[i];
            if (seq > previous + 1)
                *gaps += seq - previous - 1;
            previous = seq;
        }
    }
    //  The room's stream holds exactly the events sent, numbered from 1: a
    //  PUB that dropped the last ones at its high-water mark left no later
    //  number to show them, so they are counted from the stream's end
    if (sequenced && previous < expected)
        *gaps += expected - previous;
    zmq_msg_close (&msg);
    return received;
}

typedef struct {
    zsock_t *dealer;
    uint64_t count;
    zframe_t *message;
    bool protocol;  //  speak the hub protocol, or send bare frames
    bool one_frame; //  EVENT in one frame, as peers send it to a hub that
                    //  says it reads it; else in three
} sender_args_t;

static void
s_sender (zsock_t *pipe, void *args)
{
    sender_args_t *self = (sender_args_t *)args;
    zsock_signal (pipe, 0);
    void *dealer = zsock_resolve (self->dealer);
    zframe_t *message = self->message;
    //  One frame per event: "EVENT 0" LF message (docs/PROTOCOL.md)
    size_t size = zframe_size (message);
    byte *compact = (byte *)malloc (size + 8);
    memcpy (compact, "EVENT 0\n", 8);
    memcpy (compact + 8, zframe_data (message), size);
    bool one_frame = self->protocol && self->one_frame;
    for (uint64_t i = 0; i < self->count; i++) {
        if (one_frame) {
            zmq_send (dealer, compact, size + 8, 0);
            continue;
        }
        if (self->protocol) {
            zmq_send (dealer, "EVENT", 5, ZMQ_SNDMORE);
            zmq_send (dealer, "0", 1, ZMQ_SNDMORE);
        }
        zmq_send (dealer, zframe_data (message), zframe_size (message), 0);
    }
    free (compact);
    char *command = zstr_recv (pipe); //  $TERM
    zstr_free (&command);
}

static uint64_t
s_hub_drops (zactor_t *hub)
{
    zstr_send (hub, "STATUS");
    char *json = zstr_recv (hub);
    cJSON *root = cJSON_Parse (json);
    cJSON *drops = cJSON_GetObjectItem (root, "drops");
    uint64_t total = 0;
    cJSON *item;
    cJSON_ArrayForEach (item, drops) total += (uint64_t)item->valuedouble;
    cJSON_Delete (root);
    zstr_free (&json);
    return total;
}

//  trusted: the sender says "validated" in HELLO and the hub believes it
//  (SET trust-validated), so the hub checks the frame but not the JSON
//  What the hub remembers of the room (issue 13): nothing, state and
//  history in memory (the default), or both in a data directory
typedef enum { REMEMBER_NOTHING, REMEMBER_MEMORY, REMEMBER_DISK } remember_t;

static result_t
s_run_hub (const char *name, bool validate, bool trusted, bool one_frame,
           remember_t remember, uint64_t count, zframe_t *message)
{
    zactor_t *hub = zactor_new (ces_hub_actor, NULL);
    zstr_sendx (hub, "SET", "log-level", "error", NULL);
    zsock_wait (hub);
    char data_dir[] = "/tmp/ces-bench-hub-XXXXXX";
    if (remember == REMEMBER_NOTHING) {
        zstr_sendx (hub, "SET", "history", "0", NULL);
        zsock_wait (hub);
        zstr_sendx (hub, "SET", "state-keys", "0", NULL);
        zsock_wait (hub);
    } else if (remember == REMEMBER_DISK) {
        assert (mkdtemp (data_dir));
        zstr_sendx (hub, "SET", "data-dir", data_dir, NULL);
        zsock_wait (hub);
    }
    zstr_sendx (hub, "SET", "validate", validate ? "true" : "false", NULL);
    zsock_wait (hub);
    zstr_sendx (hub, "SET", "trust-validated", trusted ? "true" : "false",
                NULL);
    zsock_wait (hub);
    //  The subscriber's link does not heartbeat while it counts: the hub
    //  must not expire it in the middle of a long run
    zstr_sendx (hub, "SET", "heartbeat", "600000", NULL);
    zsock_wait (hub);
    zstr_sendx (hub, "BIND", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", NULL);
    char *status, *router, *pub;
    zstr_recvx (hub, &status, &router, &pub, NULL);
    assert (streq (status, "0"));

    //  The subscriber registers through a messenger-role link, so that the
    //  subscription is live before the first event
    ces_link_t *link = ces_link_new (router, pub, "bench-sub", "bench", NULL);
    ces_link_set_log_level (link, CES_LOG_ERROR);
    ces_link_attach (link, "0", CES_ROLE_MESSENGER);
    zlist_t *rooms = zlist_new ();
    zlist_append (rooms, "ITB-1101");
    zpoller_t *poller =
        zpoller_new (ces_link_dealer (link), ces_link_sub (link), NULL);
    bool registered = false;
    while (!registered) {
        void *which = zpoller_wait (poller, ces_link_timeout (link));
        ces_link_event_t event = which == ces_link_dealer (link)
                                     ? ces_link_recv_dealer (link)
                                     : ces_link_tick (link);
        if (event == CES_LINK_CONNECTED)
            ces_link_register (link, "0", rooms);
        registered = event == CES_LINK_REGISTERED;
    }
    zpoller_destroy (&poller);
    zlist_destroy (&rooms);

    zsock_t *dealer = zsock_new_dealer (router);
    zsock_set_sndhwm (dealer, 100000);
    zstr_sendx (dealer, "HELLO", CES_PROTO_VERSION, "bench",
                trusted ? "one-frame validated" : "one-frame", NULL);
    zmsg_t *welcome = zmsg_recv (dealer);
    //  WELCOME version hub-id heartbeat flags
    char *flags = zmsg_size (welcome) == 5 ? zframe_strdup (zmsg_last (welcome))
                                           : strdup ("");
    assert (!one_frame || streq (flags, "one-frame"));
    zstr_free (&flags);
    zmsg_destroy (&welcome);
    zstr_sendx (dealer, "ATTACH", "0", CES_ROLE_MESSENGER, NULL);

    sender_args_t args = {dealer, count, message, true, one_frame};
    int64_t start = zclock_usecs (), last = start;
    zactor_t *sender = zactor_new (s_sender, &args);
    uint64_t gaps = 0;
    uint64_t received =
        s_receive (ces_link_sub (link), count, &last, true, &gaps);
    result_t result = {name,     (last - start) / 1e6, count,
                       received, s_hub_drops (hub),    gaps};
    zactor_destroy (&sender);
    zsock_destroy (&dealer);
    ces_link_destroy (&link);
    zstr_free (&status);
    zstr_free (&router);
    zstr_free (&pub);
    zactor_destroy (&hub);
    if (remember == REMEMBER_DISK) {
        zdir_t *dir = zdir_new (data_dir, NULL);
        zdir_remove (dir, true);
        zdir_destroy (&dir);
    }
    return result;
}

//  The ceiling: a thread that moves frames from a ROUTER to a PUB
static void
s_forwarder (zsock_t *pipe, void *args)
{
    zsock_t **sockets = (zsock_t **)args;
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, sockets[0], NULL);
    while (zpoller_wait (poller, -1) == sockets[0]) {
        for (int batch = 0; batch < 1000; batch++) {
            zmsg_t *msg = zmsg_recv_nowait (sockets[0]);
            if (!msg)
                break;
            zframe_t *identity = zmsg_pop (msg);
            zframe_destroy (&identity);
            zmsg_send (&msg, sockets[1]);
        }
    }
    zpoller_destroy (&poller);
}

static result_t
s_run_baseline (uint64_t count, zframe_t *message)
{
    zsock_t *sockets[2] = {zsock_new (ZMQ_ROUTER), zsock_new (ZMQ_PUB)};
    zsock_set_sndhwm (sockets[1], CES_HUB_SNDHWM);
    int router_port = zsock_bind (sockets[0], "tcp://127.0.0.1:*");
    int pub_port = zsock_bind (sockets[1], "tcp://127.0.0.1:*");
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zsock_set_rcvhwm (sub, CES_HUB_SNDHWM);
    zsock_set_subscribe (sub, "ITB-1101\n");
    zsock_connect (sub, "tcp://127.0.0.1:%d", pub_port);
    zactor_t *forwarder = zactor_new (s_forwarder, sockets);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (dealer, 100000);
    zsock_connect (dealer, "tcp://127.0.0.1:%d", router_port);
    //  Wait until a probe goes all the way through (the subscription is live)
    zsock_set_rcvtimeo (sub, 50);
    for (;;) {
        zframe_t *probe = zframe_dup (message);
        zframe_send (&probe, dealer, 0);
        zmsg_t *msg = zmsg_recv (sub);
        if (msg) {
            zmsg_destroy (&msg);
            break;
        }
    }
    sender_args_t args = {dealer, count, message, false, false};
    int64_t start = zclock_usecs (), last = start;
    zactor_t *sender = zactor_new (s_sender, &args);
    uint64_t gaps = 0;
    uint64_t received = s_receive (sub, count, &last, false, &gaps);
    //  Probes sent while waiting may still arrive; they are not counted
    result_t result = {"bare ROUTER->PUB forwarder",
                       (last - start) / 1e6,
                       count,
                       received,
                       0,
                       gaps};
    zactor_destroy (&sender);
    zactor_destroy (&forwarder);
    zsock_destroy (&dealer);
    zsock_destroy (&sub);
    zsock_destroy (&sockets[0]);
    zsock_destroy (&sockets[1]);
    return result;
}

int
main (int argc, char *argv[])
{
    uint64_t count = 500000;
    size_t size = 300;
    for (int arg = 1; arg + 1 < argc; arg += 2) {
        if (streq (argv[arg], "-n"))
            count = strtoull (argv[arg + 1], NULL, 10);
        else if (streq (argv[arg], "-s"))
            size = (size_t)atol (argv[arg + 1]);
    }
    zsys_init ();
    zsys_set_logident ("ces_bench_hub");
    char *event = s_event (size);
    zframe_t *message = ces_frame_build ("ITB-1101", event, strlen (event));
    printf ("hub core over tcp on 127.0.0.1: %" PRIu64 " events of %zu bytes, "
            "1 sender, 1 subscriber\n\n",
            count, zframe_size (message));

    enum { ROWS = 7 };
    result_t results[ROWS];
    results[0] = s_run_baseline (count, message);
    results[1] = s_run_hub ("ces hub, validation off", false, false, true,
                            REMEMBER_MEMORY, count, message);
    results[2] = s_run_hub ("ces hub, on, nothing kept", true, false, true,
                            REMEMBER_NOTHING, count, message);
    results[3] = s_run_hub ("ces hub, validation on", true, false, true,
                            REMEMBER_MEMORY, count, message);
    results[4] = s_run_hub ("ces hub, on, --data-dir", true, false, true,
                            REMEMBER_DISK, count, message);
    results[5] = s_run_hub ("ces hub, trusted validated", true, true, true,
                            REMEMBER_MEMORY, count, message);
    results[6] = s_run_hub ("ces hub, on, 3-frame EVENT", true, false, false,
                            REMEMBER_MEMORY, count, message);
    double ceiling = results[0].delivered / results[0].seconds;
    printf ("%-28s %12s %10s %7s %7s %8s %s\n", "system", "events/s",
            "delivered", "drops", "gaps", "vs bare", "check");
    int failures = 0;
    for (int i = 0; i < ROWS; i++) {
        double rate = results[i].delivered / results[i].seconds;
        uint64_t counted =
            results[i].delivered + results[i].drops + results[i].gaps;
        bool balanced = counted >= results[i].sent;
        failures += !balanced;
        printf ("%-28s %12.0f %10" PRIu64 " %7" PRIu64 " %7" PRIu64
                " %7.2fx %s\n",
                results[i].name, rate, results[i].delivered, results[i].drops,
                results[i].gaps, rate / ceiling,
                balanced ? "delivered + drops + gaps = sent"
                         : "LOSS: delivered + drops + gaps < sent");
    }
    //  What remembering rooms costs (issue 13: memory >= 85%, disk >= 60%
    //  of the hub that keeps nothing)
    double nothing = results[2].delivered / results[2].seconds;
    printf ("\nrooms remembered: state and history in memory %.2fx, in a "
            "data directory %.2fx of keeping nothing\n",
            results[3].delivered / results[3].seconds / nothing,
            results[4].delivered / results[4].seconds / nothing);
    //  What the latency histograms cost (on in every row above): per event
    //  the hub reads the clock twice and counts one bucket; an edge reads
    //  it once per event and counts one bucket per client written
    ces_histogram_t histogram;
    memset (&histogram, 0, sizeof (histogram));
    int64_t start = zclock_usecs ();
    for (int i = 0; i < 1000000; i++) {
        int64_t received = ces_histogram_now ();
        ces_histogram_observe (&histogram, ces_histogram_now () - received);
    }
    double nanos = (double)(zclock_usecs () - start) / 1000.0;
    printf ("latency histograms: %.0f ns per event (two clock reads, one "
            "bucket), %.1f%% of the hub's time per event (nothing kept)\n",
            nanos, nanos * nothing / 1e7);
    zframe_destroy (&message);
    free (event);
    return failures ? 1 : 0;
}
