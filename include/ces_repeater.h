/*  =========================================================================
    ces_repeater - the door to systems outside the event system (port 7101)

    In: outside systems connect a WebSocket to /connect/:room/:id (Binary
    ROOM\nJSON frames) or POST /send one JSON event (routed by
    affected-room.roomID). What they send reaches the hub as
    repeater-sourced, so it goes to messengers and hubs, never back to a
    repeater. An inbound socket unused for idle-timeout msecs is closed with
    1001; the outside system reconnects when it next has something to send.
    Out: the repeater takes part in the hub's one-repeater-per-event
    round-robin; each event the hub hands it goes to the targets of its room
    and the "*" targets (ces_targets), each with its own queue and thread.

    It is the edge's WebSocket machinery in repeater mode (same bounded
    per-client output, keep-alive, limits, /health, /status, /metrics).

    @interface
        zactor_t *repeater = zactor_new (ces_repeater_actor, NULL);
    Commands are those of ces_edge (SET, HUB, START, STATUS, METRICS,
    VERBOSE, $TERM), with listen defaulting to 127.0.0.1:7101, and these
    options for SET:
        "system-id"      how we name ourselves to WebSocket targets
                         (default: the host name)
        "targets"        JSON file: room -> list of target URLs
        "central"        comma-separated URLs that get every event
        "link-idle"      7000    msecs before an unused dialled link closes
        "idle-timeout"   30000   msecs before an unused inbound socket closes
    RELOAD re-reads the targets file (SIGHUP in the programs); targets that
    stay keep their links. Replies "0" and "", or "-1" and a reason (the
    routes in force stay):
        zstr_send (repeater, "RELOAD");
        char *status, *reason;
        zstr_recvx (repeater, &status, &reason, NULL);
    @end
    =========================================================================
*/
#ifndef CES_REPEATER_H_INCLUDED
#define CES_REPEATER_H_INCLUDED

#define CES_REPEATER_LISTEN      "127.0.0.1:7101"
#define CES_REPEATER_MAX_CLIENTS 1000

void ces_repeater_actor (zsock_t *pipe, void *args);

#endif
