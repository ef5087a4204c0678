/*  =========================================================================
    ces_presence - who holds which room, for the hub's room view

    One record per connection of the routing table (keyed by its origin,
    "link/conn"): who it is (its role, its link's name, its client's
    address and token subject, when its edge said) and the rooms, patterns
    and "*" it holds, each with since when (msecs since 1970). A
    connection holds what it REGISTERed, except on a link whose HELLO said
    "presence" (an edge, whose REGISTERs are the union of its clients'):
    there what the link said its clients hold (PRESENT/ABSENT). ces_routing
    owns one and says which; this class only keeps and lists.
    =========================================================================
*/
#ifndef CES_PRESENCE_H_INCLUDED
#define CES_PRESENCE_H_INCLUDED

typedef struct _ces_presence_t ces_presence_t;

//  Create an empty table.
ces_presence_t *ces_presence_new (void);

//  Destroy the table; idempotent, nulls the caller's pointer.
void ces_presence_destroy (ces_presence_t **self_p);

//  The connection origin attached, with role, on the link called edge;
//  remote and subject may be NULL or "" (not said). Attached again, who it
//  is is updated and what it holds is kept. All strings are copied.
void ces_presence_attach (ces_presence_t *self, const char *origin,
                          const char *role, const char *edge,
                          const char *remote, const char *subject);

//  The connection origin is gone, and all it held.
void ces_presence_detach (ces_presence_t *self, const char *origin);

//  The connection origin holds room (a room, pattern or "*") since now;
//  nothing if it held it already or is not attached.
void ces_presence_add (ces_presence_t *self, const char *origin,
                       const char *room);

//  The connection origin no longer holds room; NULL room: nothing any
//  more.
void ces_presence_remove (ces_presence_t *self, const char *origin,
                          const char *room);

//  PRESENT (present true) or ABSENT of rooms for the connection origin; an
//  ABSENT of no rooms: it holds nothing any more.
void ces_presence_update (ces_presence_t *self, const char *origin,
                          zlist_t *rooms, bool present);

//  Append to array one object per connection that holds room, a pattern
//  that matches it, or "*":
//      {"id": "link/conn", "role": "messenger", "edge": the link's name
//       from HELLO, "remote": "address:port" (when its edge said),
//       "subject": its token's "sub" (when there is one), "since": msecs
//       since 1970 when this hub learned it, "via": the room, pattern or
//       "*" it holds that covers room (the most specific)}
void ces_presence_list (ces_presence_t *self, const char *room, cJSON *array);

//  Self test of this class
void ces_presence_test (bool verbose);

#endif
