/*  =========================================================================
    ces_hubpeer - an original (Go) hub as a peer of a ces hub

    An original hub cannot speak the mesh protocol or say which rooms it
    wants. This actor dials its /connect/hub as a WebSocket client and
    attaches to our hub, over the in-process ROUTER, as a hub-role
    connection: it gets everything the routing table owes a hub (events
    of our messengers and repeaters), and what the original hub sends is
    hub-sourced here. The connection is attached only while the WebSocket
    is up; the WebSocket is redialled with exponential backoff (100 ms to
    5 s, +-25% jitter) whenever it breaks.

    @interface
    Made by ces_hubpeer_new (the mesh does that for ws:// addresses):

        zactor_t *peer = ces_hubpeer_new ("ws://10.0.0.5:7100",
                                          "inproc://...", "hub-1",
                                          CES_LOG_INFO, &stop, error,
                                          sizeof error);

    It never waits for its owner (a hub, which must not wait either): it
    sends "STATUS" and a JSON object (url, state "up" or "retrying",
    events_in, events_out, drops, connects, last_error) on its pipe when
    that changes, at most once a second:

        char *command, *json;
        zstr_recvx (peer, &command, &json, NULL);

    $TERM ends it; raise the stop flag first so that a connect in progress
    gives up at once (within 50 ms).
    @end
    =========================================================================
*/
#ifndef CES_HUBPEER_H_INCLUDED
#define CES_HUBPEER_H_INCLUDED

//  Start a peer for the original hub at url (ws://host[:port], port 7100
//  by default), attached to the hub whose ROUTER is hub_endpoint. Returns
//  NULL and a reason in error for a URL it cannot use.
zactor_t *ces_hubpeer_new (const char *url, const char *hub_endpoint,
                           const char *hub_id, int log_level, atomic_bool *stop,
                           char *error, size_t error_size);

#endif
