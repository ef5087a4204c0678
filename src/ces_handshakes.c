/*  =========================================================================
    ces_handshakes - what a link's DEALER knows of its hub from ZeroMQ's
    monitor
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_handshakes_t {
    zsock_t *dealer; //  borrowed
    zsock_t *monitor;
    bool curve;
    bool up;                 //  a handshake succeeded, no disconnect since
    uint64_t refused;        //  handshakes that failed
    uint64_t refused_logged; //  ... of them in the log already
    int64_t refused_next_log;
    int refused_kind; //  the last: a ZMQ_EVENT_HANDSHAKE_FAILED_*
};

ces_handshakes_t *
ces_handshakes_new (zsock_t *dealer, bool curve)
{
    assert (dealer);
    ces_handshakes_t *self =
        (ces_handshakes_t *)zmalloc (sizeof (ces_handshakes_t));
    assert (self);
    self->dealer = dealer;
    self->curve = curve;
    self->monitor = ces_curve_monitor (dealer, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                                   ZMQ_EVENT_DISCONNECTED |
                                                   CES_CURVE_REFUSALS);
    return self;
}

void
ces_handshakes_destroy (ces_handshakes_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_handshakes_t *self = *self_p;
        ces_curve_monitor_stop (self->dealer, &self->monitor);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_handshakes_drain (ces_handshakes_t *self)
{
    assert (self);
    while (zsock_events (self->monitor) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (self->monitor);
        if (!msg)
            return;
        zframe_t *event = zmsg_first (msg);
        uint16_t kind = 0;
        if (event && zframe_size (event) >= 2)
            memcpy (&kind, zframe_data (event), 2);
        zmsg_destroy (&msg);
        if (kind == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            self->up = true;
        else if (kind == ZMQ_EVENT_DISCONNECTED)
            self->up = false;
        else {
            self->refused++;
            self->refused_kind = kind;
        }
    }
}

bool
ces_handshakes_up (ces_handshakes_t *self)
{
    assert (self);
    return self->up;
}

uint64_t
ces_handshakes_refused (ces_handshakes_t *self)
{
    assert (self);
    return self->refused;
}

void
ces_handshakes_log (ces_handshakes_t *self, int64_t now, int log_level,
                    const char *link_id, const char *endpoint)
{
    assert (self && link_id && endpoint);
    ces_handshakes_drain (self);
    if (self->refused == self->refused_logged || now < self->refused_next_log)
        return;
    ces_warn (log_level, "link %s: %s refused %" PRIu64 " %shandshake(s): %s",
              link_id, endpoint, self->refused - self->refused_logged,
              self->curve ? "CURVE " : "",
              !self->curve ? "is it a ces hub?"
              : self->refused_kind == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                  ? "our certificate is not in the hub's clients directory"
                  : "the hub has another key, or no CURVE (check --hub-key)");
    self->refused_logged = self->refused;
    self->refused_next_log = now + 5000;
}

//  --------------------------------------------------------------------------
//  Self test

//  Drains until up is as wanted, or refusals are seen; false after 5 s
static bool
s_test_until (ces_handshakes_t *self, int up, bool refusal)
{
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline) {
        zpoller_t *poller = zpoller_new (self->monitor, NULL);
        zpoller_wait (poller, 100);
        zpoller_destroy (&poller);
        ces_handshakes_drain (self);
        if (refusal ? ces_handshakes_refused (self) > 0
                    : ces_handshakes_up (self) == (up == 1))
            return true;
    }
    return false;
}

void
ces_handshakes_test (bool verbose)
{
    printf (" * ces_handshakes: ");
    //  @selftest
    //  A hub there: up; gone: down
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (router);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_reconnect_ivl (dealer, 10);
    ces_handshakes_t *handshakes = ces_handshakes_new (dealer, false);
    assert (!ces_handshakes_up (handshakes));
    assert (zsock_connect (dealer, "tcp://127.0.0.1:%d", port) == 0);
    assert (s_test_until (handshakes, 1, false));
    zsock_destroy (&router);
    assert (s_test_until (handshakes, 0, false));
    assert (ces_handshakes_refused (handshakes) == 0);
    ces_handshakes_log (handshakes, zclock_mono (), CES_LOG_WARN, "test",
                        "nowhere"); //  nothing refused: nothing said
    ces_handshakes_destroy (&handshakes);
    ces_handshakes_destroy (&handshakes);
    zsock_destroy (&dealer);

    //  A CURVE server refuses a peer without CURVE: counted, and logged
    zcert_t *cert = zcert_new ();
    assert (cert);
    router = zsock_new (ZMQ_ROUTER);
    assert (router);
    zcert_apply (cert, router);
    zsock_set_curve_server (router, 1);
    port = zsock_bind (router, "tcp://127.0.0.1:*");
    assert (port > 0);
    dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    handshakes = ces_handshakes_new (dealer, false);
    assert (zsock_connect (dealer, "tcp://127.0.0.1:%d", port) == 0);
    assert (s_test_until (handshakes, 0, true));
    assert (!ces_handshakes_up (handshakes));
    ces_handshakes_log (handshakes, zclock_mono (),
                        verbose ? CES_LOG_WARN : CES_LOG_ERROR, "test",
                        "a CURVE server");
    ces_handshakes_destroy (&handshakes);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    zcert_destroy (&cert);
    //  @end
    printf ("OK\n");
}
