/*  =========================================================================
    ces_link_conns - the connections a link carries: each one's role, the
    rooms it registered, and for presence its client's address, token
    subject and the rooms its client holds. A hub forgets them when it
    restarts; ces_link replays this table to it after every WELCOME. The
    table touches no socket: what changed is returned, and the link
    subscribes and tells the hub.

        ces_link_conns_t *conns = ces_link_conns_new ();
        ces_link_conns_attach (conns, "7", CES_ROLE_MESSENGER, NULL, NULL);
        zlist_t *fresh = ces_link_conns_add_rooms (conns, "7", rooms);
        //  ... subscribe to each of fresh, REGISTER them
        zlist_destroy (&fresh);
        ces_link_conns_destroy (&conns);

    Every list returned is new, its strings its own copies: the caller
    destroys it.
    =========================================================================
*/
#ifndef CES_LINK_CONNS_H_INCLUDED
#define CES_LINK_CONNS_H_INCLUDED

typedef struct _ces_link_conns_t ces_link_conns_t;

ces_link_conns_t *ces_link_conns_new (void);
void ces_link_conns_destroy (ces_link_conns_t **self_p);

//  Adds conn_id with its role, with no rooms; remote and subject (may be
//  NULL) are kept only when a hub takes them for presence: at most 255
//  bytes of UTF-8 without control characters. conn_id must not be there.
void ces_link_conns_attach (ces_link_conns_t *self, const char *conn_id,
                            const char *role, const char *remote,
                            const char *subject);

//  Removes conn_id; its rooms, or NULL if it was not there.
zlist_t *ces_link_conns_detach (ces_link_conns_t *self, const char *conn_id);

bool ces_link_conns_exists (ces_link_conns_t *self, const char *conn_id);

//  Of conn_id, which must be there: its role, its client's address and
//  token subject (NULL when none or not printable).
const char *ces_link_conns_role (ces_link_conns_t *self, const char *conn_id);
const char *ces_link_conns_remote (ces_link_conns_t *self, const char *conn_id);
const char *ces_link_conns_subject (ces_link_conns_t *self,
                                    const char *conn_id);

//  Adds rooms to conn_id, which must be there; the rooms it did not have,
//  in the order given.
zlist_t *ces_link_conns_add_rooms (ces_link_conns_t *self, const char *conn_id,
                                   zlist_t *rooms);

//  Removes rooms from conn_id (NULL or none: all of them); the rooms it
//  had, or NULL if conn_id is not there.
zlist_t *ces_link_conns_remove_rooms (ces_link_conns_t *self,
                                      const char *conn_id, zlist_t *rooms);

//  conn_id's rooms (none if it is not there).
zlist_t *ces_link_conns_rooms (ces_link_conns_t *self, const char *conn_id);
bool ces_link_conns_has_room (ces_link_conns_t *self, const char *conn_id,
                              const char *room);
size_t ces_link_conns_room_count (ces_link_conns_t *self, const char *conn_id);

//  Presence: conn_id's client holds rooms now (present), or no longer
//  (with no rooms: none at all). The rooms that changed, or NULL if
//  conn_id is not there.
zlist_t *ces_link_conns_hold (ces_link_conns_t *self, const char *conn_id,
                              zlist_t *rooms, bool present);

//  The rooms conn_id's client holds (none if it is not there).
zlist_t *ces_link_conns_held (ces_link_conns_t *self, const char *conn_id);

//  The connections' IDs.
zlist_t *ces_link_conns_ids (ces_link_conns_t *self);

//  Self test of this class
void ces_link_conns_test (bool verbose);

#endif
