/*  =========================================================================
    ces_fanout - the hub's events to an edge's clients

    What the edge's link brings from the hub goes out here: a room's event
    (PUBLISHED) to every client the room index names, each once and never
    back to the client that sent it (a version 2 client hears its own
    through its cursor, which only moves its place); an event the hub gave
    one connection (DELIVER), or an outside system's, to that client. It
    counts what was queued and what a full queue dropped, and how long an
    event took from the hub's receipt to a client's queue.
    =========================================================================
*/
#ifndef CES_FANOUT_H_INCLUDED
#define CES_FANOUT_H_INCLUDED

typedef struct _ces_fanout_t ces_fanout_t;

//  room_index is NULL at a repeater (no rooms: the hub hands it events);
//  both are borrowed
ces_fanout_t *ces_fanout_new (ces_link_t *link, ces_room_index_t *room_index);
void ces_fanout_destroy (ces_fanout_t **self_p);

//  The link's last PUBLISHED event to the clients of its room
void ces_fanout_published (ces_fanout_t *self);

//  One event to one client: a DELIVER, or an outside system's
void ces_fanout_deliver (ces_fanout_t *self, ces_client_t *client,
                         const byte *data, size_t size);

//  Events queued for clients, and dropped at a full client queue
uint64_t ces_fanout_delivered (ces_fanout_t *self);
uint64_t ces_fanout_queue_full (ces_fanout_t *self);

//  From the hub's receipt of an event to its queueing for a client here
//  (one observation per client queued)
const ces_histogram_t *ces_fanout_latency (ces_fanout_t *self);

void ces_fanout_test (bool verbose);

#endif
