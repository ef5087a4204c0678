/*  =========================================================================
    ces_targets - where a repeater sends the events the hub hands it.

    Routes come from a configuration file, a JSON object of room -> list of
    target URLs ("*" = every room), and from the central addresses
    (CENTRAL_REPEATER_ADDRESSES, comma-separated, = "*"):

        { "ITB-1101": ["http://10.1.2.3:8000/events", "ws://other-site"],
          "*": ["ws://central:7101"] }

    A WebSocket target may name the peer's SYSTEM_ID as a fragment,
    "ws://site-b:7101#site-b": while that peer has an inbound link open to
    this repeater for the event's room (/connect/ROOM/site-b), the event goes
    back over that link instead of one we dial.

    Each distinct URL is one ces_target actor with its own thread and a
    bounded queue (its pipe: 1000 events at each end); reconfiguring keeps the
   actors of URLs that stay, so their links are not dropped. Owned by one actor;
   not thread-safe.
    =========================================================================
*/
#ifndef CES_TARGETS_H_INCLUDED
#define CES_TARGETS_H_INCLUDED

//  Create with no routes. system_id names us to WebSocket peers; link_idle
//  is how long a dialled link may stay unused (msecs).
ces_targets_t *ces_targets_new (const char *system_id, int link_idle,
                                int log_level);
void ces_targets_destroy (ces_targets_t **self_p);

//  Load routes from file (NULL: none) plus central (NULL or "": none).
//  Returns 0, or -1 with the reason (the old routes stay in force).
int ces_targets_configure (ces_targets_t *self, const char *file,
                           const char *central, char *reason, size_t size);

//  Sends an event over the peer's own inbound link for the room, if it has
//  one open; true if it did
typedef bool (ces_targets_inbound_fn) (void *arg, const char *peer,
                                       const char *room, zframe_t *message);

//  Queue one event (ROOMID\nJSON) for every target of its room and of "*",
//  each URL once; targets naming a peer try inbound (may be NULL) first.
//  Returns how many targets it was for (0: no target wants the room); a
//  target whose queue is full drops it and counts the drop itself.
size_t ces_targets_dispatch (ces_targets_t *self, const char *room,
                             zframe_t *message, ces_targets_inbound_fn *inbound,
                             void *arg);

//  The socket to poll for reports from the targets.
zsock_t *ces_targets_reports (ces_targets_t *self);

//  Handle one report. Returns an event a WebSocket peer sent us on a link
//  we dialled (caller owns it), or NULL for a counters update.
zframe_t *ces_targets_recv (ces_targets_t *self);

//  Add {"targets":[...]} to a JSON status object, and the metrics lines.
void ces_targets_status (ces_targets_t *self, cJSON *parent);
void ces_targets_metrics (ces_targets_t *self, FILE *out);

//  Totals over all targets, for logs and tests.
size_t ces_targets_size (ces_targets_t *self);

#endif
