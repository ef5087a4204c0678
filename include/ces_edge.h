/*  =========================================================================
    ces_edge - the WebSocket edge: bridges WebSocket clients (port 7100) to
    a hub, speaking the original system's protocol (SPEC.md §4).

    civetweb worker threads read: one thread per open WebSocket, each with
    its own ZeroMQ socket to this actor. This actor alone writes to clients,
    through a bounded output buffer per client and non-blocking sends, so a
    client that stops reading loses events for itself only and never delays
    anyone else. A client stuck for longer than stuck-timeout is closed with
    code 1008.

    @interface
    This is a czmq actor:

        zactor_t *edge = zactor_new (ces_edge_actor, NULL);

    SET is synchronous; the reply is a signal, 0 done, 1 unknown option or
    bad value. Options (defaults):
        "listen"          127.0.0.1:7100   civetweb listening_ports
        "hub-router"      tcp://127.0.0.1:7200
        "hub-pub"         tcp://127.0.0.1:7201
        "hub-control"     (none)           a hub in this process answers
                                           /interconnect (its BIND reply)
        "max-clients"     10000            WebSockets; more get HTTP 503
        "max-message"     1048576          bytes per event, reassembled
        "client-queue"    1048576          output buffer bytes per client
        "stuck-timeout"   10000            msecs dropping before close 1008
        "ping-interval"   30000            msecs between Pings
        "pong-timeout"    60000            msecs silent before close 1001
        "log-level"       info
        "validate"        true             check events are JSON objects

        zstr_sendx (edge, "SET", "listen", "127.0.0.1:0", NULL);
        int rc = zsock_wait (edge);

    HUB hands the edge a hub actor in the same process whose STATUS and
    METRICS the edge serves with its own (synchronous, signal 0). The caller
    must not use that hub's pipe afterwards:

        zsock_send (edge, "sp", "HUB", hub);
        zsock_wait (edge);

    START starts the HTTP server and the hub link; replies "0" and the
    listening port, or "-1" and a reason:

        zstr_send (edge, "START");
        char *status, *port;
        zstr_recvx (edge, &status, &port, NULL);

    STATUS and METRICS reply with one string (JSON / Prometheus text).
    VERBOSE is log-level debug. $TERM closes every client with 1001 and ends
    the actor.
    @end
    =========================================================================
*/
#ifndef CES_EDGE_H_INCLUDED
#define CES_EDGE_H_INCLUDED

#define CES_EDGE_LISTEN      "127.0.0.1:7100"
#define CES_EDGE_MAX_CLIENTS 10000
//  The actor's argument that makes it a repeater (see ces_repeater.h)
#define CES_EDGE_REPEATER "repeater"

void ces_edge_actor (zsock_t *pipe, void *args);

//  The page served at "/", built from examples/watch.html.
extern const char ces_edge_page[];

//  The JavaScript client served at "/ces.js", built from clients/js/ces.js.
extern const char ces_edge_client_js[];

#endif
