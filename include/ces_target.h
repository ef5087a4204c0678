/*  =========================================================================
    ces_target - one outside system a repeater forwards events to.

    Each target is an actor with its own thread, so a slow or dead target
    holds up nobody but itself. Its pipe is its queue: the repeater sends
    without waiting, and when the pipe is full the event is dropped for this
    target (the repeater counts it).

    - A URL starting with "http" gets an HTTP POST of the JSON event
      (Content-Type: application/json), 2 s timeout, 3 attempts with
      backoff (100, 200 ms). https:// needs a TLS proxy in front (civetweb's
      TLS does not work with OpenSSL 3 here) and is refused.
    - Anything else (ws://host[:port][/path], or host[:port]) is a WebSocket
      peer: the target dials <addr>/connect/<room>/<system-id> for each room
      (port 7101 when none is given), reuses the link while it is busy and
      closes it after link-idle msecs unused. Events the peer sends back on
      a link are handed to the repeater as inbound events.

    @interface
        zactor_t *target = zactor_new (ces_target_actor, &args);
    where args is a ces_target_args_t. On the pipe:
        EVENT room frame    forward one event (frame = ROOMID\nJSON); no reply
        $TERM               (raise args.stop first, or $TERM waits for the
                            events queued before it, 2 s x 3 tries each)
    Reports, sent as PUSH to args.reports (an inproc endpoint the owner binds
    a PULL on), never on the pipe:
        INBOUND url frame                 an event a WebSocket peer sent us
        STATS url sent failed links state one line of counters, every second
                                          and after each change of state
    @end
    =========================================================================
*/
#ifndef CES_TARGET_H_INCLUDED
#define CES_TARGET_H_INCLUDED

#include <stdatomic.h>

typedef struct {
    const char *url;
    atomic_bool *stop;     //  raise before destroying the actor: any wait ends
                           //  and queued events are dropped (NULL: none)
    const char *system_id; //  names us to WebSocket peers
    const char *reports;   //  endpoint of the owner's PULL
    int link_idle;         //  msecs before an unused link is closed
    int log_level;
} ces_target_args_t;

void ces_target_actor (zsock_t *pipe, void *args);

//  Is this URL one a target can serve? If not, says why in reason.
bool ces_target_url_valid (const char *url, char *reason, size_t size);

#endif
