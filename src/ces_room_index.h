/*  =========================================================================
    ces_room_index - which of an edge's clients want which room

    The room index of an edge: room -> its clients, the clients of "*",
    and the union of every client's rooms, reference counted and
    subscribed at the hub on one link connection (a room is subscribed
    while one client holds it). A client that registers is told
    {"registered":[...]} once the hub confirmed that events for its rooms
    will flow (ces_waiters); original clients ignore that Text frame.
    =========================================================================
*/
#ifndef CES_ROOM_INDEX_H_INCLUDED
#define CES_ROOM_INDEX_H_INCLUDED

typedef struct _ces_room_index_t ces_room_index_t;

//  conn: the link connection that holds the union; clients: the edge's
//  id -> ces_client_t, to find a waiting client (both borrowed)
ces_room_index_t *ces_room_index_new (ces_link_t *link, const char *conn,
                                      zhashx_t *clients);
void ces_room_index_destroy (ces_room_index_t **self_p);

//  Registers rooms for client, at most max_rooms in all (0: any); -1 if
//  that is over the limit (nothing registered). *options_p (a version 2
//  client's RECALL, or NULL) is taken and given back at confirmation.
int ces_room_index_register (ces_room_index_t *self, ces_client_t *client,
                             zlist_t *rooms, size_t max_rooms,
                             char **options_p);

//  Called when the hub confirmed a registration of client, instead of
//  the {"registered":[...]} notice when it returns true
typedef bool (ces_room_index_confirmed_fn) (ces_client_t *client,
                                            zlist_t *rooms, const char *options,
                                            void *arg);
void ces_room_index_set_confirmed (ces_room_index_t *self,
                                   ces_room_index_confirmed_fn *confirmed,
                                   void *arg);
void ces_room_index_unregister (ces_room_index_t *self, ces_client_t *client,
                                const char *room);
void ces_room_index_unregister_all (ces_room_index_t *self,
                                    ces_client_t *client);

//  Calls fn for every client that wants an event of room, once each
typedef void (ces_room_index_fn) (ces_client_t *client, void *arg);
void ces_room_index_each (ces_room_index_t *self, const char *room,
                          ces_room_index_fn *fn, void *arg);

//  The link's REGISTERED and CONNECTED
void ces_room_index_on_registered (ces_room_index_t *self, const char *token);
void ces_room_index_on_connected (ces_room_index_t *self);

//  Rooms subscribed at the hub, and each with its number of clients
size_t ces_room_index_size (ces_room_index_t *self);
void ces_room_index_status (ces_room_index_t *self, cJSON *object);

void ces_room_index_test (bool verbose);

#endif
