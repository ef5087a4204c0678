/*  =========================================================================
    ces_hub_links - the hub's links and their connections, by role
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_hub_links_t {
    ces_rooms_t *rooms;       //  borrowed: what a connection registered
    ces_presence_t *presence; //  borrowed: who holds which room
    ces_mesh_t *mesh;         //  borrowed, may be NULL
    int log_level;
    zhashx_t *links;           //  link id -> ces_hub_link_t
    ces_hub_link_t *last_link; //  the link of the last message, or NULL
    zlistx_t *repeaters;       //  ces_hub_conn_t, not owned, in attach order
    zlistx_t *hub_peers;       //  ces_hub_conn_t, not owned
    bool some_link_dead;       //  a link was found gone while routing
    uint64_t connections[CES_ROLE_INDEXES];
};

static const char *const s_role_names[CES_ROLE_INDEXES] = {
    CES_ROLE_MESSENGER, CES_ROLE_REPEATER, CES_ROLE_HUB, CES_ROLE_OUTSIDE};

static ces_role_index_t
s_role_index (const char *role)
{
    for (int index = 0; index < CES_ROLE_INDEXES; index++)
        if (streq (role, s_role_names[index]))
            return (ces_role_index_t)index;
    assert (false);
    return CES_ROLE_INDEX_MESSENGER;
}

//  --------------------------------------------------------------------------
//  Connections

static zlistx_t *
s_role_list (ces_hub_links_t *self, ces_role_index_t role)
{
    return role == CES_ROLE_INDEX_REPEATER ? self->repeaters
           : role == CES_ROLE_INDEX_HUB    ? self->hub_peers
                                           : NULL;
}

void
ces_hub_links_detach (ces_hub_links_t *self, ces_hub_link_t *link,
                      const char *conn_id)
{
    assert (self && link && conn_id);
    ces_hub_conn_t *conn =
        (ces_hub_conn_t *)zhashx_lookup (link->conns, conn_id);
    if (!conn)
        return;
    ces_rooms_remove_all (self->rooms, conn->rooms);
    zlistx_t *list = s_role_list (self, conn->role);
    void *handle = list ? zlistx_find (list, conn) : NULL;
    if (handle)
        zlistx_delete (list, handle);
    self->connections[conn->role]--;
    ces_presence_detach (self->presence, conn->origin);
    ces_debug (self->log_level, "hub: %s detached (%s)", conn->origin,
               s_role_names[conn->role]);
    zhashx_delete (link->conns, conn_id);
}

static void
s_conn_free (void **item_p)
{
    ces_hub_conn_t *conn = (ces_hub_conn_t *)*item_p;
    zhashx_destroy (&conn->rooms);
    zstr_free (&conn->id);
    zstr_free (&conn->origin);
    freen (conn);
    *item_p = NULL;
}

ces_hub_conn_t *
ces_hub_links_attach (ces_hub_links_t *self, ces_hub_link_t *link,
                      const char *conn_id, const char *role_name,
                      const char *remote, const char *subject)
{
    assert (self && link && conn_id && role_name);
    ces_role_index_t role = s_role_index (role_name);
    ces_hub_conn_t *existing =
        (ces_hub_conn_t *)zhashx_lookup (link->conns, conn_id);
    if (existing && existing->role == role) {
        ces_presence_attach (self->presence, existing->origin, role_name,
                             link->name, remote, subject);
        return existing;
    }
    ces_hub_links_detach (self, link, conn_id);

    ces_hub_conn_t *conn = (ces_hub_conn_t *)zmalloc (sizeof (ces_hub_conn_t));
    assert (conn);
    conn->link = link;
    conn->id = strdup (conn_id);
    conn->role = role;
    conn->origin = zsys_sprintf ("%s/%s", link->id, conn_id);
    conn->rooms = zhashx_new ();
    assert (conn->rooms);
    ces_presence_attach (self->presence, conn->origin, role_name, link->name,
                         remote, subject);
    zhashx_insert (link->conns, conn_id, conn);
    zlistx_t *list = s_role_list (self, role);
    if (list)
        zlistx_add_end (list, conn);
    self->connections[role]++;
    ces_debug (self->log_level, "hub: %s attached as %s", conn->origin,
               role_name);
    return conn;
}

void
ces_hub_links_attach_mesh (ces_hub_links_t *self, ces_hub_link_t *link)
{
    assert (self && link);
    link->mesh = true;
    ces_hub_conn_t *conn =
        ces_hub_links_attach (self, link, "mesh", CES_ROLE_HUB, NULL, NULL);
    //  Not an original hub: it gets what it registers, through ces_mesh
    void *handle = zlistx_find (self->hub_peers, conn);
    if (handle)
        zlistx_delete (self->hub_peers, handle);
}

//  --------------------------------------------------------------------------
//  Links

static void
s_link_free (void **item_p)
{
    ces_hub_link_t *link = (ces_hub_link_t *)*item_p;
    zhashx_destroy (&link->conns);
    zframe_destroy (&link->routing_id);
    zstr_free (&link->id);
    zstr_free (&link->name);
    freen (link);
    *item_p = NULL;
}

void
ces_hub_links_remove (ces_hub_links_t *self, ces_hub_link_t *link,
                      const char *why, bool comes_back)
{
    assert (self && link && why);
    ces_info (self->log_level, "hub: link %s (%s) %s; released %zu connections",
              link->id, link->name, why, zhashx_size (link->conns));
    if (link->mesh)
        ces_mesh_inbound_gone (self->mesh, link->id, !comes_back);
    zlistx_t *conn_ids = zhashx_keys (link->conns);
    const char *conn_id = (const char *)zlistx_first (conn_ids);
    while (conn_id) {
        ces_hub_links_detach (self, link, conn_id);
        conn_id = (const char *)zlistx_next (conn_ids);
    }
    zlistx_destroy (&conn_ids);
    if (self->last_link == link)
        self->last_link = NULL;
    zhashx_delete (self->links, link->id);
}

//  Peers set printable identities; anything else (ZeroMQ's own 5-byte
//  routing IDs) is shown in hex. Writes at most 2 * size + 1 bytes to out.
static void
s_routing_id_text (const byte *data, size_t size, char *out)
{
    bool printable = true;
    for (size_t i = 0; printable && i < size; i++)
        printable = data[i] > ' ' && data[i] < 0x7f && data[i] != '/';
    if (printable) {
        memcpy (out, data, size);
        out[size] = 0;
        return;
    }
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * size] = 0;
}

ces_hub_link_t *
ces_hub_links_add (ces_hub_links_t *self, zframe_t *routing_id,
                   const char *name)
{
    assert (self && routing_id && name);
    ces_hub_link_t *link = (ces_hub_link_t *)zmalloc (sizeof (ces_hub_link_t));
    assert (link);
    link->id = (char *)malloc (2 * zframe_size (routing_id) + 1);
    assert (link->id);
    s_routing_id_text (zframe_data (routing_id), zframe_size (routing_id),
                       link->id);
    link->routing_id = zframe_dup (routing_id);
    link->name = strdup (name);
    link->last_heard = zclock_mono ();
    link->conns = zhashx_new ();
    assert (link->conns);
    zhashx_set_destructor (link->conns, s_conn_free);
    zhashx_insert (self->links, link->id, link);
    return link;
}

ces_hub_link_t *
ces_hub_links_lookup (ces_hub_links_t *self, zframe_t *routing_id)
{
    assert (self && routing_id);
    size_t size = zframe_size (routing_id);
    const byte *data = zframe_data (routing_id);
    ces_hub_link_t *last = self->last_link;
    if (last && zframe_size (last->routing_id) == size &&
        memcmp (zframe_data (last->routing_id), data, size) == 0)
        return last;
    char key[512];
    char *text =
        2 * size + 1 <= sizeof (key) ? key : (char *)malloc (2 * size + 1);
    assert (text);
    s_routing_id_text (data, size, text);
    ces_hub_link_t *link = (ces_hub_link_t *)zhashx_lookup (self->links, text);
    if (text != key)
        freen (text);
    self->last_link = link;
    return link;
}

void
ces_hub_links_mark_dead (ces_hub_links_t *self, ces_hub_link_t *link)
{
    assert (self && link);
    link->dead = true;
    self->some_link_dead = true;
}

//  Removes every link the test says, found first and removed after: a
//  removal must not move the table's cursor
static void
s_remove_where (ces_hub_links_t *self, bool (*test) (ces_hub_link_t *, int64_t),
                int64_t limit, const char *why)
{
    zlistx_t *found = zlistx_new ();
    ces_hub_link_t *link = (ces_hub_link_t *)zhashx_first (self->links);
    while (link) {
        if (test (link, limit))
            zlistx_add_end (found, link);
        link = (ces_hub_link_t *)zhashx_next (self->links);
    }
    link = (ces_hub_link_t *)zlistx_first (found);
    while (link) {
        ces_hub_links_remove (self, link, why, false);
        link = (ces_hub_link_t *)zlistx_next (found);
    }
    zlistx_destroy (&found);
}

static bool
s_is_dead (ces_hub_link_t *link, int64_t unused)
{
    (void)unused;
    return link->dead;
}

static bool
s_heard_before (ces_hub_link_t *link, int64_t limit)
{
    return link->last_heard < limit;
}

void
ces_hub_links_reap (ces_hub_links_t *self)
{
    assert (self);
    if (!self->some_link_dead)
        return;
    self->some_link_dead = false;
    s_remove_where (self, s_is_dead, 0, "is gone (send failed)");
}

void
ces_hub_links_expire (ces_hub_links_t *self, int64_t now, int64_t expiry)
{
    assert (self);
    s_remove_where (self, s_heard_before, now - expiry,
                    "fell silent for 3 heartbeats");
}

//  --------------------------------------------------------------------------
//  Lists, counts, status

zlistx_t *
ces_hub_links_repeaters (ces_hub_links_t *self)
{
    assert (self);
    return self->repeaters;
}

zlistx_t *
ces_hub_links_hub_peers (ces_hub_links_t *self)
{
    assert (self);
    return self->hub_peers;
}

size_t
ces_hub_links_size (ces_hub_links_t *self)
{
    assert (self);
    return zhashx_size (self->links);
}

uint64_t
ces_hub_links_connections (ces_hub_links_t *self, ces_role_index_t role)
{
    assert (self && role < CES_ROLE_INDEXES);
    return self->connections[role];
}

void
ces_hub_links_status (ces_hub_links_t *self, cJSON *array)
{
    assert (self && array);
    int64_t now = zclock_mono ();
    ces_hub_link_t *link = (ces_hub_link_t *)zhashx_first (self->links);
    while (link) {
        cJSON *item = cJSON_CreateObject ();
        cJSON_AddStringToObject (item, "id", link->id);
        cJSON_AddStringToObject (item, "name", link->name);
        cJSON_AddNumberToObject (item, "last_heard_ms_ago",
                                 (double)(now - link->last_heard));
        cJSON_AddNumberToObject (item, "connections",
                                 (double)zhashx_size (link->conns));
        cJSON_AddItemToArray (array, item);
        link = (ces_hub_link_t *)zhashx_next (self->links);
    }
}

//  --------------------------------------------------------------------------
//  Construction

ces_hub_links_t *
ces_hub_links_new (ces_rooms_t *rooms, ces_presence_t *presence,
                   ces_mesh_t *mesh)
{
    assert (rooms && presence);
    ces_hub_links_t *self = (ces_hub_links_t *)zmalloc (sizeof (*self));
    assert (self);
    self->rooms = rooms;
    self->presence = presence;
    self->mesh = mesh;
    self->log_level = CES_LOG_INFO;
    self->links = zhashx_new ();
    self->repeaters = zlistx_new ();
    self->hub_peers = zlistx_new ();
    assert (self->links && self->repeaters && self->hub_peers);
    zhashx_set_destructor (self->links, s_link_free);
    return self;
}

void
ces_hub_links_destroy (ces_hub_links_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_hub_links_t *self = *self_p;
        zlistx_destroy (&self->repeaters);
        zlistx_destroy (&self->hub_peers);
        zhashx_destroy (&self->links);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_hub_links_set_log_level (ces_hub_links_t *self, int level)
{
    assert (self);
    self->log_level = level;
}

//  --------------------------------------------------------------------------
//  Self test: links and connections over a room table on real sockets; a
//  SUB sees what a connection's registration holds, and its going

//  The number of links in a /status array
static int
s_test_status_size (ces_hub_links_t *links)
{
    cJSON *array = cJSON_CreateArray ();
    ces_hub_links_status (links, array);
    int size = cJSON_GetArraySize (array);
    cJSON_Delete (array);
    return size;
}

void
ces_hub_links_test (bool verbose)
{
    printf (" * ces_hub_links: ");
    //  @selftest
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_t *pub = zsock_new (ZMQ_XPUB);
    assert (router && pub);
    ces_rooms_t *rooms = ces_rooms_new (router, pub, NULL, NULL);
    ces_presence_t *presence = ces_presence_new ();
    ces_hub_links_t *links = ces_hub_links_new (rooms, presence, NULL);
    ces_hub_links_set_log_level (links,
                                 verbose ? CES_LOG_DEBUG : CES_LOG_ERROR);

    //  A printable routing ID is its own text; ZeroMQ's are shown in hex
    zframe_t *edge_id = zframe_new ("edge-1", 6);
    byte raw[5] = {0, 0x6b, 0x8b, 0x45, 0x67};
    zframe_t *raw_id = zframe_new (raw, sizeof (raw));
    ces_hub_link_t *edge = ces_hub_links_add (links, edge_id, "edge :7100");
    ces_hub_link_t *other = ces_hub_links_add (links, raw_id, "repeater");
    assert (streq (edge->id, "edge-1") && streq (other->id, "006B8B4567"));
    assert (ces_hub_links_lookup (links, edge_id) == edge);
    assert (ces_hub_links_lookup (links, raw_id) == other);
    zframe_t *unknown_id = zframe_new ("nobody", 6);
    assert (ces_hub_links_lookup (links, unknown_id) == NULL);
    assert (ces_hub_links_size (links) == 2 && s_test_status_size (links) == 2);

    //  Connections by role: repeaters in attach order; attaching again
    //  with the same role keeps the connection, with another replaces it
    ces_hub_conn_t *alice = ces_hub_links_attach (
        links, edge, "1", CES_ROLE_MESSENGER, "192.0.2.1:5000", "alice");
    assert (streq (alice->origin, "edge-1/1") && alice->link == edge);
    assert (ces_hub_links_attach (links, edge, "1", CES_ROLE_MESSENGER, NULL,
                                  NULL) == alice);
    ces_hub_conn_t *first = ces_hub_links_attach (
        links, other, "r1", CES_ROLE_REPEATER, NULL, NULL);
    ces_hub_conn_t *second = ces_hub_links_attach (
        links, other, "r2", CES_ROLE_REPEATER, NULL, NULL);
    zlistx_t *repeaters = ces_hub_links_repeaters (links);
    assert (zlistx_first (repeaters) == first);
    assert (zlistx_next (repeaters) == second);
    ces_hub_links_attach (links, edge, "h", CES_ROLE_HUB, NULL, NULL);
    assert (zlistx_size (ces_hub_links_hub_peers (links)) == 1);
    ces_hub_links_attach (links, other, "r2", CES_ROLE_MESSENGER, NULL, NULL);
    assert (zlistx_size (repeaters) == 1);
    assert (ces_hub_links_connections (links, CES_ROLE_INDEX_MESSENGER) == 2);
    assert (ces_hub_links_connections (links, CES_ROLE_INDEX_REPEATER) == 1);

    //  A connection's registrations and presence go with it
    ces_rooms_add (rooms, alice->rooms, "ITB-1101");
    assert (ces_rooms_registered (rooms) == 1);
    ces_presence_add (presence, alice->origin, "ITB-1101");
    cJSON *held = cJSON_CreateArray ();
    ces_presence_list (presence, "ITB-1101", held);
    assert (cJSON_GetArraySize (held) == 1);
    cJSON_Delete (held);
    ces_hub_links_detach (links, edge, "1");
    ces_hub_links_detach (links, edge, "1"); //  twice: nothing more
    assert (ces_rooms_registered (rooms) == 0);
    held = cJSON_CreateArray ();
    ces_presence_list (presence, "ITB-1101", held);
    assert (cJSON_GetArraySize (held) == 0);
    cJSON_Delete (held);
    assert (ces_hub_links_connections (links, CES_ROLE_INDEX_MESSENGER) == 1);

    //  A link found dead goes at the reap, with its connections
    ces_hub_links_mark_dead (links, other);
    assert (ces_hub_links_size (links) == 2);
    ces_hub_links_reap (links);
    assert (ces_hub_links_size (links) == 1);
    assert (ces_hub_links_lookup (links, raw_id) == NULL);
    assert (zlistx_size (repeaters) == 0);
    assert (ces_hub_links_connections (links, CES_ROLE_INDEX_MESSENGER) == 0);
    //  A silent one when it has not been heard for the expiry
    int64_t now = zclock_mono ();
    ces_hub_links_expire (links, now, 1000);
    assert (ces_hub_links_size (links) == 1);
    ces_hub_links_expire (links, now + 2000, 1000);
    assert (ces_hub_links_size (links) == 0);
    assert (zlistx_size (ces_hub_links_hub_peers (links)) == 0);
    assert (ces_hub_links_lookup (links, edge_id) == NULL);

    zframe_destroy (&unknown_id);
    zframe_destroy (&edge_id);
    zframe_destroy (&raw_id);
    ces_hub_links_destroy (&links);
    ces_hub_links_destroy (&links);
    assert (!links);
    ces_presence_destroy (&presence);
    ces_rooms_destroy (&rooms);
    zsock_destroy (&pub);
    zsock_destroy (&router);
    //  @end
    printf ("OK\n");
}
