/*  =========================================================================
    ces_messenger - embed a messenger in any C service

    A small object over an actor, in the shape of malamute's mlm_client:
    control commands are synchronous over the actor pipe; events arrive on a
    separate message pipe that the host may read with ces_messenger_recv or
    put into its own zpoller/zloop.

        ces_messenger_t *m = ces_messenger_new ("tcp://127.0.0.1:7200",
                                                "tcp://127.0.0.1:7201");
        ces_messenger_register (m, "ITB-1101", NULL);
        ces_messenger_send (m, "ITB-1101",
   "{\"key\":\"power\",\"value\":\"on\"}"); if (ces_messenger_recv (m, 1000) ==
   0) printf ("%s: %s\n", ces_messenger_room (m), ces_messenger_payload (m));
        ces_messenger_destroy (&m);

    The messenger survives hub restarts: it notices the hub has gone (no
    answer for 3 heartbeats, or the hub no longer knows it), says HELLO again
    with exponential backoff (10 ms doubling to 5 s, +-25% jitter), and
    re-registers its rooms. Its own events never come back to it.

    @interface
    The actor's pipe protocol, for hosts that drive it directly (the façade
    functions below do exactly this):

        RECALL room state epoch seq
                             registers room, then asks the hub for its
                             state (state "1") and/or the events after
                             (epoch, seq) (epoch "" for none); the replies
                             go to the message pipe first (see below);
                             replies "0" once the hub answered, "-1" after
                             the register timeout
        REGISTER room...     replies "0" when the hub confirmed that events
                             for the rooms will arrive, "-1" after the
                             register timeout (rooms are kept and registered
                             again on reconnect)
        UNREGISTER [room...] no rooms = all; replies "0"
        SEND frame           one frame ROOMID\nJSON; no reply
        STATE                replies "connected" or "retrying"
        WAIT msecs           replies with the state once connected, or when
                             msecs have passed
        STATS                replies four strings: received, sent, dropped
                             (could not be sent or handed to the host),
                             lost (gaps in the hub's per-room sequence)
        SET name value       "register-timeout" msecs, "log-level" name;
                             replies with a signal, 0 or -1
        VERBOSE, $TERM
    Message pipe: one message per event: ROOMID\nPAYLOAD as the sender sent
    it, its sequence number in the room's stream and the room's epoch (8
    octets each, big-endian; 0 for events given to this connection alone).
    After a RECALL also notices: an empty frame, then the JSON of the
    WebSocket protocol version 2 (docs/PROTOCOL.md): {"recovered":...},
    {"state":...}, {"registered":...,"positions":...}, {"gap":...},
    {"epoch":...}. Once a RECALL was made, events come with no duplicate:
    replayed events are not given again live.
    @end
    =========================================================================
*/
#ifndef CES_MESSENGER_H_INCLUDED
#define CES_MESSENGER_H_INCLUDED

//  Create a messenger linked to the hub's ROUTER and PUB endpoints. It starts
//  connecting at once and does not wait for the hub.
ces_messenger_t *ces_messenger_new (const char *router_endpoint,
                                    const char *pub_endpoint);

//  The same with another role ("repeater" or "hub") for the connection:
//  a repeater takes part in the hub's round-robin, a hub peer gets what the
//  routing table owes a hub. Both receive on the message pipe.
ces_messenger_t *ces_messenger_new_role (const char *router_endpoint,
                                         const char *pub_endpoint,
                                         const char *role);

//  The same over CURVE (see ces_curve): curve holds this service's
//  certificate and the hub's public key; NULL is plain. The keys are copied
//  into the sockets: the caller may destroy them once this returns.
ces_messenger_t *ces_messenger_new_secure (const char *router_endpoint,
                                           const char *pub_endpoint,
                                           const char *role,
                                           const ces_curve_t *curve);

//  Destroy the messenger; says BYE to the hub. Idempotent.
void ces_messenger_destroy (ces_messenger_t **self_p);

//  Register rooms (a NULL-terminated list; "*" is every room). Returns 0 once
//  the hub confirmed, -1 on timeout or a bad room ID (see _reason).
int ces_messenger_register (ces_messenger_t *self, const char *room, ...);

//  Unregister rooms (NULL-terminated); with no rooms, unregister all.
int ces_messenger_unregister (ces_messenger_t *self, const char *room, ...);

//  Send one event. Returns 0 when handed to the messenger, -1 for a bad room
//  or payload (see _reason); nothing is sent then.
int ces_messenger_send (ces_messenger_t *self, const char *room,
                        const char *json);

//  Register room and ask what it remembers: its state (state true), and
//  the events after (epoch, seq) when epoch is not NULL. The events (with
//  their sequence numbers) and the notices ({"recovered":...}, {"state":
//  ...}, {"registered":...,"positions":...}) come first through
//  ces_messenger_recv, then live events with no gap and no duplicate.
//  Returns 0 once the hub answered, -1 on timeout or a bad room ID.
int ces_messenger_recall (ces_messenger_t *self, const char *room, bool state,
                          const char *epoch, uint64_t seq);

//  Wait up to timeout msecs (-1: forever) for an event. Returns 0 and sets
//  room, payload, seq and epoch; 1 for a notice (see _notice); -1 on
//  timeout or interrupt.
int ces_messenger_recv (ces_messenger_t *self, int timeout);
//  The last event's sequence number in its room's stream, and the room's
//  epoch (16 hex digits); 0 and zeros for a directed event
uint64_t ces_messenger_seq (ces_messenger_t *self);
const char *ces_messenger_epoch (ces_messenger_t *self);
//  The last notice (JSON text) when ces_messenger_recv returned 1
const char *ces_messenger_notice (ces_messenger_t *self);
const char *ces_messenger_room (ces_messenger_t *self);
const char *ces_messenger_payload (ces_messenger_t *self);
size_t ces_messenger_payload_size (ces_messenger_t *self);

//  "connected" or "retrying".
const char *ces_messenger_state (ces_messenger_t *self);

//  Wait up to timeout msecs for the hub; 0 if connected, else -1.
int ces_messenger_wait_connected (ces_messenger_t *self, int timeout);

//  Counters: events received, sent, dropped, lost upstream.
void ces_messenger_stats (ces_messenger_t *self, uint64_t *received,
                          uint64_t *sent, uint64_t *dropped, uint64_t *lost);

//  Why the last call failed.
const char *ces_messenger_reason (ces_messenger_t *self);

//  The actor and the message pipe, for the host's own poller.
zactor_t *ces_messenger_actor (ces_messenger_t *self);
zsock_t *ces_messenger_msgpipe (ces_messenger_t *self);

#endif
