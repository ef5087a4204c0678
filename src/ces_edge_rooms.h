/*  =========================================================================
    ces_edge_rooms - the edge's side of "rooms remember"

    What the edge actor asks the hub for its clients about the rooms'
    streams: the /rooms questions of HTTP clients (a QUERY each, its
    answer given to the worker that waits for it, or a 503 or 504 when
    the hub is unreachable or late), and the version 2 registrations'
    SYNCs (once the hub confirmed a registration) and their SYNCED
    answers, given to the client's cursor. It holds the questions waiting
    for their answers; the link, the inbox and the clients table
    (id -> ces_client_t) are the edge's, lent to it.
    =========================================================================
*/
#ifndef CES_EDGE_ROOMS_H_INCLUDED
#define CES_EDGE_ROOMS_H_INCLUDED

typedef struct _ces_edge_rooms_t ces_edge_rooms_t;

//  msecs the hub has to answer a /rooms question
#define CES_EDGE_ROOMS_QUERY_TIMEOUT 4000

//  What it counts, for the edge's report
typedef struct {
    uint64_t syncs;        //  SYNCs for version 2 registrations
    uint64_t queries;      //  /rooms questions to the hub
    uint64_t queries_late; //  ... it did not answer in time
} ces_edge_rooms_counters_t;

//  Create it over the edge's link, inbox and clients table (all borrowed:
//  they must outlive it).
ces_edge_rooms_t *ces_edge_rooms_new (ces_link_t *link, ces_inbox_t *inbox,
                                      zhashx_t *clients);

//  Destroy it, and the questions still waiting (their askers give up);
//  idempotent, nulls the caller's pointer.
void ces_edge_rooms_destroy (ces_edge_rooms_t **self_p);

//  The inbox message just read is a QUERY (a /rooms question): it is
//  asked of the hub, or answered now with a 503 if the hub is unreachable.
void ces_edge_rooms_query (ces_edge_rooms_t *self);

//  The link said CES_LINK_ANSWER: the hub's answer to a question, given
//  to its asker ("CODE JSON"); nothing if it was answered already.
void ces_edge_rooms_on_answer (ces_edge_rooms_t *self);

//  The link said CES_LINK_SYNCED: the hub's answer to a client's SYNC,
//  given to the client (nothing if it is gone).
void ces_edge_rooms_on_synced (ces_edge_rooms_t *self);

//  A ces_room_index_confirmed_fn (arg: this object): the hub confirmed a
//  registration; a version 2 client asks for its rooms' positions (state,
//  recovery) before it is told. False for a version 1 client.
bool ces_edge_rooms_on_confirmed (ces_client_t *client, zlist_t *rooms,
                                  const char *options, void *arg);

//  Questions the hub did not answer by now (zclock_mono) are answered
//  with a 504. Call every tick.
void ces_edge_rooms_expire (ces_edge_rooms_t *self, int64_t now);

//  Its counters; they belong to it.
const ces_edge_rooms_counters_t *
ces_edge_rooms_counters (ces_edge_rooms_t *self);

//  Self test of this class
void ces_edge_rooms_test (bool verbose);

#endif
