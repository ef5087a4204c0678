/*  =========================================================================
    ces_link_conns - the connections a link carries, replayed to its hub
    =========================================================================
*/
#include "ces_classes.h"

//  A connection the link carries, with its role and rooms
typedef struct {
    char *role;
    zhashx_t *rooms;   //  set
    char *remote;      //  its client's address, or NULL
    char *subject;     //  its client's token subject, or NULL
    zhashx_t *present; //  what its client holds (set), for presence
} conn_t;

struct _ces_link_conns_t {
    zhashx_t *conns; //  conn id -> conn_t
};

static void
s_conn_free (void **item_p)
{
    conn_t *conn = (conn_t *)*item_p;
    zstr_free (&conn->role);
    zhashx_destroy (&conn->rooms);
    zstr_free (&conn->remote);
    zstr_free (&conn->subject);
    zhashx_destroy (&conn->present);
    freen (conn);
    *item_p = NULL;
}

ces_link_conns_t *
ces_link_conns_new (void)
{
    ces_link_conns_t *self = (ces_link_conns_t *)zmalloc (sizeof (*self));
    assert (self);
    self->conns = zhashx_new ();
    assert (self->conns);
    zhashx_set_destructor (self->conns, s_conn_free);
    return self;
}

void
ces_link_conns_destroy (ces_link_conns_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_link_conns_t *self = *self_p;
        zhashx_destroy (&self->conns);
        freen (self);
        *self_p = NULL;
    }
}

//  Printable for presence: at most 255 bytes of UTF-8 without control
//  characters (what the hub takes), or NULL
static char *
s_presence_text (const char *text)
{
    if (!text || !*text || strlen (text) > 255 ||
        !ces_frame_utf8_valid (text, strlen (text)))
        return NULL;
    for (const char *c = text; *c; c++)
        if ((unsigned char)*c < ' ' || *c == 0x7f)
            return NULL;
    return strdup (text);
}

//  The keys of a set, as a new list of copies
static zlist_t *
s_keys (zhashx_t *set)
{
    zlist_t *keys = zlist_new ();
    assert (keys);
    zlist_autofree (keys);
    for (void *item = set ? zhashx_first (set) : NULL; item;
         item = zhashx_next (set))
        zlist_append (keys, (void *)zhashx_cursor (set));
    return keys;
}

static conn_t *
s_lookup (ces_link_conns_t *self, const char *conn_id)
{
    assert (self);
    return (conn_t *)zhashx_lookup (self->conns, conn_id);
}

void
ces_link_conns_attach (ces_link_conns_t *self, const char *conn_id,
                       const char *role, const char *remote,
                       const char *subject)
{
    assert (self && conn_id && role);
    assert (!s_lookup (self, conn_id));
    conn_t *conn = (conn_t *)zmalloc (sizeof (conn_t));
    assert (conn);
    conn->role = strdup (role);
    conn->remote = s_presence_text (remote);
    conn->subject = s_presence_text (subject);
    conn->present = zhashx_new ();
    conn->rooms = zhashx_new ();
    zhashx_insert (self->conns, conn_id, conn);
}

zlist_t *
ces_link_conns_detach (ces_link_conns_t *self, const char *conn_id)
{
    conn_t *conn = s_lookup (self, conn_id);
    if (!conn)
        return NULL;
    zlist_t *rooms = s_keys (conn->rooms);
    zhashx_delete (self->conns, conn_id);
    return rooms;
}

bool
ces_link_conns_exists (ces_link_conns_t *self, const char *conn_id)
{
    return s_lookup (self, conn_id) != NULL;
}

const char *
ces_link_conns_role (ces_link_conns_t *self, const char *conn_id)
{
    conn_t *conn = s_lookup (self, conn_id);
    assert (conn);
    return conn->role;
}

const char *
ces_link_conns_remote (ces_link_conns_t *self, const char *conn_id)
{
    conn_t *conn = s_lookup (self, conn_id);
    assert (conn);
    return conn->remote;
}

const char *
ces_link_conns_subject (ces_link_conns_t *self, const char *conn_id)
{
    conn_t *conn = s_lookup (self, conn_id);
    assert (conn);
    return conn->subject;
}

zlist_t *
ces_link_conns_add_rooms (ces_link_conns_t *self, const char *conn_id,
                          zlist_t *rooms)
{
    assert (rooms);
    conn_t *conn = s_lookup (self, conn_id);
    assert (conn); //  attach first
    zlist_t *fresh = zlist_new ();
    zlist_autofree (fresh);
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms))
        if (!zhashx_lookup (conn->rooms, room)) {
            zhashx_insert (conn->rooms, room, (void *)"");
            zlist_append (fresh, (void *)room);
        }
    return fresh;
}

zlist_t *
ces_link_conns_remove_rooms (ces_link_conns_t *self, const char *conn_id,
                             zlist_t *rooms)
{
    conn_t *conn = s_lookup (self, conn_id);
    if (!conn)
        return NULL;
    if (!rooms || zlist_size (rooms) == 0) {
        zlist_t *all = s_keys (conn->rooms);
        zhashx_purge (conn->rooms);
        return all;
    }
    zlist_t *removed = zlist_new ();
    zlist_autofree (removed);
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms))
        if (zhashx_lookup (conn->rooms, room)) {
            zlist_append (removed, (void *)room);
            zhashx_delete (conn->rooms, room);
        }
    return removed;
}

zlist_t *
ces_link_conns_rooms (ces_link_conns_t *self, const char *conn_id)
{
    conn_t *conn = s_lookup (self, conn_id);
    return s_keys (conn ? conn->rooms : NULL);
}

bool
ces_link_conns_has_room (ces_link_conns_t *self, const char *conn_id,
                         const char *room)
{
    conn_t *conn = s_lookup (self, conn_id);
    return conn && zhashx_lookup (conn->rooms, room);
}

size_t
ces_link_conns_room_count (ces_link_conns_t *self, const char *conn_id)
{
    conn_t *conn = s_lookup (self, conn_id);
    return conn ? zhashx_size (conn->rooms) : 0;
}

zlist_t *
ces_link_conns_hold (ces_link_conns_t *self, const char *conn_id,
                     zlist_t *rooms, bool present)
{
    conn_t *conn = s_lookup (self, conn_id);
    if (!conn)
        return NULL;
    if (!present && (!rooms || zlist_size (rooms) == 0)) {
        zlist_t *all = s_keys (conn->present);
        zhashx_purge (conn->present);
        return all;
    }
    zlist_t *changed = zlist_new ();
    zlist_autofree (changed);
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms)) {
        bool held = zhashx_lookup (conn->present, room) != NULL;
        if (present && !held)
            zhashx_insert (conn->present, room, (void *)"");
        else if (!present && held)
            zhashx_delete (conn->present, room);
        else
            continue;
        zlist_append (changed, (void *)room);
    }
    return changed;
}

zlist_t *
ces_link_conns_held (ces_link_conns_t *self, const char *conn_id)
{
    conn_t *conn = s_lookup (self, conn_id);
    return s_keys (conn ? conn->present : NULL);
}

zlist_t *
ces_link_conns_ids (ces_link_conns_t *self)
{
    assert (self);
    return s_keys (self->conns);
}

//  --------------------------------------------------------------------------
//  Self test

static zlist_t *
s_list (const char *first, ...)
{
    zlist_t *list = zlist_new ();
    zlist_autofree (list);
    va_list args;
    va_start (args, first);
    for (const char *item = first; item; item = va_arg (args, const char *))
        zlist_append (list, (void *)item);
    va_end (args);
    return list;
}

//  Presence: held, let go one by one or all at once
static void
s_test_presence (ces_link_conns_t *conns)
{
    zlist_t *rooms = s_list ("A", "B", NULL);
    zlist_t *changed = ces_link_conns_hold (conns, "1", rooms, true);
    assert (zlist_size (changed) == 2);
    zlist_destroy (&changed);
    changed = ces_link_conns_hold (conns, "1", rooms, true);
    assert (zlist_size (changed) == 0); //  already held
    zlist_destroy (&changed);
    zlist_destroy (&rooms);
    rooms = s_list ("A", "C", NULL);
    changed = ces_link_conns_hold (conns, "1", rooms, false);
    assert (zlist_size (changed) == 1);
    assert (streq ((char *)zlist_first (changed), "A"));
    zlist_destroy (&changed);
    zlist_destroy (&rooms);
    zlist_t *held = ces_link_conns_held (conns, "1");
    assert (zlist_size (held) == 1 && streq ((char *)zlist_first (held), "B"));
    zlist_destroy (&held);
    changed = ces_link_conns_hold (conns, "1", NULL, false);
    assert (zlist_size (changed) == 1); //  all: what was held
    zlist_destroy (&changed);
    held = ces_link_conns_held (conns, "1");
    assert (zlist_size (held) == 0);
    zlist_destroy (&held);
    assert (ces_link_conns_hold (conns, "nobody", NULL, true) == NULL);
}

void
ces_link_conns_test (bool verbose)
{
    printf (" * ces_link_conns: ");
    //  @selftest
    ces_link_conns_t *conns = ces_link_conns_new ();
    ces_link_conns_attach (conns, "1", CES_ROLE_MESSENGER, NULL, NULL);
    ces_link_conns_attach (conns, "2", CES_ROLE_OUTSIDE, "192.0.2.7:4242",
                           "a\nb"); //  a subject with a control character
    assert (ces_link_conns_exists (conns, "1"));
    assert (!ces_link_conns_exists (conns, "3"));
    assert (streq (ces_link_conns_role (conns, "2"), CES_ROLE_OUTSIDE));
    assert (streq (ces_link_conns_remote (conns, "2"), "192.0.2.7:4242"));
    assert (ces_link_conns_subject (conns, "2") == NULL);
    assert (ces_link_conns_remote (conns, "1") == NULL);

    //  Rooms: only the new ones come back, in order, once
    zlist_t *rooms = s_list ("ITB-1101", "ITB-*", "ITB-1101", NULL);
    zlist_t *fresh = ces_link_conns_add_rooms (conns, "1", rooms);
    assert (zlist_size (fresh) == 2);
    assert (streq ((char *)zlist_first (fresh), "ITB-1101"));
    assert (streq ((char *)zlist_next (fresh), "ITB-*"));
    zlist_destroy (&fresh);
    fresh = ces_link_conns_add_rooms (conns, "1", rooms);
    assert (zlist_size (fresh) == 0);
    zlist_destroy (&fresh);
    zlist_destroy (&rooms);
    assert (ces_link_conns_has_room (conns, "1", "ITB-*"));
    assert (!ces_link_conns_has_room (conns, "2", "ITB-*"));
    assert (ces_link_conns_room_count (conns, "1") == 2);
    assert (ces_link_conns_room_count (conns, "3") == 0);
    rooms = s_list ("ITB-*", "ITB-9", NULL);
    zlist_t *removed = ces_link_conns_remove_rooms (conns, "1", rooms);
    assert (zlist_size (removed) == 1);
    assert (streq ((char *)zlist_first (removed), "ITB-*"));
    zlist_destroy (&removed);
    zlist_destroy (&rooms);
    zlist_t *kept = ces_link_conns_rooms (conns, "1");
    assert (zlist_size (kept) == 1);
    zlist_destroy (&kept);
    s_test_presence (conns);

    //  What a WELCOME replays: every connection
    zlist_t *ids = ces_link_conns_ids (conns);
    assert (zlist_size (ids) == 2);
    zlist_destroy (&ids);
    //  None: all rooms go; detach gives back what was registered
    fresh = ces_link_conns_add_rooms (conns, "2", kept = s_list ("X", NULL));
    zlist_destroy (&fresh);
    zlist_destroy (&kept);
    removed = ces_link_conns_remove_rooms (conns, "1", NULL);
    assert (zlist_size (removed) == 1);
    zlist_destroy (&removed);
    assert (ces_link_conns_room_count (conns, "1") == 0);
    zlist_t *left = ces_link_conns_detach (conns, "2");
    assert (zlist_size (left) == 1 && streq ((char *)zlist_first (left), "X"));
    zlist_destroy (&left);
    assert (ces_link_conns_detach (conns, "2") == NULL);
    assert (ces_link_conns_remove_rooms (conns, "2", NULL) == NULL);
    ces_link_conns_destroy (&conns);
    ces_link_conns_destroy (&conns);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
