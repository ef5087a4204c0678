/*  =========================================================================
    ces_hub - the router: a ROUTER for ingress, an XPUB for egress. This
    actor binds, secures (CURVE) and serves the pipe and control socket;
    the routing itself is src/ces_routing.c.

    Applies the routing table by source role (docs/PROTOCOL.md, SPEC §2):
      messenger -> room messengers (not the sender), every hub peer, one
                   live repeater (round-robin)
      repeater  -> room messengers, every hub peer, never a repeater
      hub       -> room messengers only
    Nothing blocks: sends are non-blocking and every event that cannot be
    delivered is counted by reason.

    @interface
    This is a czmq actor. Start it, configure it, bind it:

        zactor_t *hub = zactor_new (ces_hub_actor, NULL);

    SET is synchronous; the reply is a signal, 0 for done, -1 for an unknown
    option or bad value. Options: "heartbeat" (msecs, default 1000),
    "validate" ("true"/"false", default true), "trust-validated"
    ("true"/"false", default false: skip the JSON scan for every peer that
    says "validated" in HELLO; peers over inproc:// and, with CURVE, every
    peer are trusted anyway), "max-message" (bytes, default 1 MiB),
    "max-depth" (JSON nesting), "sndhwm" (messages per peer, default
    100000), "hub-id",
    "http" (address:port to serve /health, /status and /metrics from a
    snapshot refreshed every heartbeat; off unless set), and "log-level"
    ("error", "warn", "info", "debug"):

        zstr_sendx (hub, "SET", "heartbeat", "100", NULL);
        int rc = zsock_wait (hub);

    BIND binds the ROUTER and the PUB endpoints (tcp://, ipc:// or inproc://,
    several separated by commas; tcp://127.0.0.1:* picks a free port) and
    replies with four strings: "0", the endpoints actually bound
    (comma-separated) and the HTTP address:port ("" without "http"), or
    "-1", a reason, "" and "":

        zstr_sendx (hub, "BIND", "tcp://127.0.0.1:7200", "tcp://127.0.0.1:7201",
                    NULL);
        char *status, *router, *pub, *http;
        zstr_recvx (hub, &status, &router, &pub, &http, NULL);

    STATUS replies with one string, a JSON object (links, connections, rooms,
    counters); METRICS with one string in Prometheus text format:

        zstr_send (hub, "STATUS");
        char *json = zstr_recv (hub);

    PRESENCE replies with one string, a JSON array: the connections that
    hold a room, a pattern that matches it, or "*" (ces_routing_presence):

        zstr_sendx (hub, "PRESENCE", "ITB-1101", NULL);
        char *json = zstr_recv (hub);

    VERBOSE is the same as log-level debug. $TERM ends the actor.
    @end
    =========================================================================
*/
#ifndef CES_HUB_H_INCLUDED
#define CES_HUB_H_INCLUDED

//  The actor function; args is unused and may be NULL.
void ces_hub_actor (zsock_t *pipe, void *args);

//  Sends LINK for every address to a bound hub actor, in order. Returns 0,
//  or -1 at the first address it refuses, with "address: reason" in
//  *reason (caller frees).
int ces_hub_link (zactor_t *hub, zlist_t *addresses, char **reason);

#endif
