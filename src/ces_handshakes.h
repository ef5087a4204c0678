/*  =========================================================================
    ces_handshakes - what a link's DEALER knows of its hub from ZeroMQ's
    monitor: whether a handshake holds (a hub is there at all, so that a
    failed send is "busy", not "unreachable"), and the handshakes the hub
    refused, said in the log at most once every 5 s (the socket keeps
    retrying, and a refusal looks like a silent hub otherwise)

        ces_handshakes_t *handshakes = ces_handshakes_new (dealer, curve);
        //  ... zsock_connect (dealer, ...)
        ces_handshakes_drain (handshakes);
        if (ces_handshakes_up (handshakes))
            ...
        ces_handshakes_destroy (&handshakes);    //  before the DEALER goes
    =========================================================================
*/
#ifndef CES_HANDSHAKES_H_INCLUDED
#define CES_HANDSHAKES_H_INCLUDED

typedef struct _ces_handshakes_t ces_handshakes_t;

//  Watch dealer (borrowed; it must outlive the watch), before it connects;
//  curve says whether it is a CURVE client, for the log.
ces_handshakes_t *ces_handshakes_new (zsock_t *dealer, bool curve);
void ces_handshakes_destroy (ces_handshakes_t **self_p);

//  Reads what the monitor has without waiting.
void ces_handshakes_drain (ces_handshakes_t *self);

//  Did a handshake succeed, with no disconnect since (as of the last drain)?
bool ces_handshakes_up (ces_handshakes_t *self);

//  Handshakes that failed (a CURVE refusal, or not a ZeroMQ peer).
uint64_t ces_handshakes_refused (ces_handshakes_t *self);

//  Drains, then logs the refusals not logged yet as a warning of link
//  link_id to endpoint, unless one was logged less than 5 s before now
//  (zclock_mono msecs).
void ces_handshakes_log (ces_handshakes_t *self, int64_t now, int log_level,
                         const char *link_id, const char *endpoint);

//  Self test of this class
void ces_handshakes_test (bool verbose);

#endif
