/*  =========================================================================
    ces_room_index - which of an edge's clients want which room
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_room_index_t {
    ces_link_t *link;
    char *conn;
    zhashx_t *clients;        //  borrowed: id -> ces_client_t
    zhashx_t *index;          //  room -> zlistx of ces_client_t
    zlistx_t *star;           //  clients registered to "*"
    ces_patterns_t *patterns; //  pattern -> zlistx of ces_client_t
    zhashx_t *union_; //  room -> number of clients, subscribed at the hub
    ces_waiters_t *waiters;
    ces_room_index_confirmed_fn *confirmed; //  may take over the notice
    void *confirmed_arg;
};

//  A client that waits for the hub's confirmation of a registration
typedef struct {
    char *id;
    zlist_t *rooms;
    char *options; //  a version 2 client's RECALL, or NULL
} waiter_t;

static void
s_list_destroy (void **item_p)
{
    zlistx_t *list = (zlistx_t *)*item_p;
    zlistx_destroy (&list);
    *item_p = NULL;
}

static void s_notify (void *waiter, void *arg);

static void
s_waiter_destroy (void **item_p)
{
    waiter_t *waiter = (waiter_t *)*item_p;
    zstr_free (&waiter->id);
    zlist_destroy (&waiter->rooms);
    zstr_free (&waiter->options);
    freen (waiter);
    *item_p = NULL;
}

ces_room_index_t *
ces_room_index_new (ces_link_t *link, const char *conn, zhashx_t *clients)
{
    assert (link && conn && clients);
    ces_room_index_t *self = (ces_room_index_t *)zmalloc (sizeof (*self));
    assert (self);
    self->link = link;
    self->conn = strdup (conn);
    self->clients = clients;
    self->index = zhashx_new ();
    self->star = zlistx_new ();
    self->patterns = ces_patterns_new (s_list_destroy);
    self->union_ = zhashx_new ();
    assert (self->index && self->star && self->union_);
    zhashx_set_destructor (self->index, s_list_destroy);
    self->waiters = ces_waiters_new (s_notify, self);
    ces_waiters_set_destructor (self->waiters, s_waiter_destroy);
    return self;
}

void
ces_room_index_destroy (ces_room_index_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_room_index_t *self = *self_p;
        ces_waiters_destroy (&self->waiters);
        zhashx_destroy (&self->index);
        zlistx_destroy (&self->star);
        ces_patterns_destroy (&self->patterns);
        zhashx_destroy (&self->union_);
        zstr_free (&self->conn);
        freen (self);
        *self_p = NULL;
    }
}

//  The union gains or loses a client of room; fresh collects the rooms
//  new to it, which the caller registers at the hub in one go
static void
s_union_change (ces_room_index_t *self, const char *room, int delta,
                zlist_t *fresh)
{
    size_t count = (size_t)(uintptr_t)zhashx_lookup (self->union_, room);
    if (delta > 0 && count++ == 0)
        zlist_append (fresh, (void *)room);
    if (delta < 0 && --count == 0) {
        zlist_t *gone = zlist_new ();
        zlist_append (gone, (void *)room);
        ces_link_unregister (self->link, self->conn, gone);
        zlist_destroy (&gone);
    }
    if (count)
        zhashx_update (self->union_, room, (void *)(uintptr_t)count);
    else
        zhashx_delete (self->union_, room);
}

static void
s_index_add (ces_room_index_t *self, ces_client_t *client, const char *room)
{
    if (streq (room, "*")) {
        zlistx_add_end (self->star, client);
        return;
    }
    bool pattern = ces_patterns_is_pattern (room);
    zlistx_t *list =
        pattern ? (zlistx_t *)ces_patterns_lookup (self->patterns, room)
                : (zlistx_t *)zhashx_lookup (self->index, room);
    if (!list) {
        list = zlistx_new ();
        if (pattern)
            ces_patterns_insert (self->patterns, room, list);
        else
            zhashx_insert (self->index, room, list);
    }
    zlistx_add_end (list, client);
}

static void
s_index_remove (ces_room_index_t *self, ces_client_t *client, const char *room)
{
    bool pattern = ces_patterns_is_pattern (room);
    zlistx_t *list =
        streq (room, "*") ? self->star
        : pattern ? (zlistx_t *)ces_patterns_lookup (self->patterns, room)
                  : (zlistx_t *)zhashx_lookup (self->index, room);
    void *handle = list ? zlistx_find (list, client) : NULL;
    if (handle)
        zlistx_delete (list, handle);
    if (list && list != self->star && zlistx_size (list) == 0) {
        if (pattern)
            ces_patterns_delete (self->patterns, room);
        else
            zhashx_delete (self->index, room);
    }
}

//  Rooms the client holds already may be asked again: count the new ones
static bool
s_over_limit (ces_client_t *client, zlist_t *rooms, size_t max_rooms)
{
    zhashx_t *held = ces_client_rooms (client);
    if (!max_rooms || zhashx_size (held) + zlist_size (rooms) <= max_rooms)
        return false;
    size_t fresh = 0;
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms))
        fresh += zhashx_lookup (held, room) == NULL;
    return zhashx_size (held) + fresh > max_rooms;
}

//  The client waits for the hub's confirmation of everything it asked
static waiter_t *
s_waiter_new (ces_client_t *client, zlist_t *rooms, char **options_p)
{
    waiter_t *waiter = (waiter_t *)zmalloc (sizeof (waiter_t));
    assert (waiter);
    waiter->id = strdup (ces_client_id (client));
    waiter->rooms = zlist_new ();
    zlist_autofree (waiter->rooms);
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms))
        zlist_append (waiter->rooms, (void *)room);
    waiter->options = *options_p;
    *options_p = NULL;
    return waiter;
}

int
ces_room_index_register (ces_room_index_t *self, ces_client_t *client,
                         zlist_t *rooms, size_t max_rooms, char **options_p)
{
    assert (self && client && rooms && options_p);
    if (s_over_limit (client, rooms, max_rooms)) {
        zstr_free (options_p);
        return -1;
    }
    zhashx_t *held = ces_client_rooms (client);
    zlist_t *fresh = zlist_new ();
    zlist_t *mine = zlist_new (); //  new to the client: its presence
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms)) {
        if (zhashx_lookup (held, room))
            continue;
        zhashx_insert (held, room, (void *)"");
        s_index_add (self, client, room);
        s_union_change (self, room, 1, fresh);
        zlist_append (mine, (void *)room);
    }
    if (zlist_size (mine))
        ces_link_present (self->link, ces_client_id (client), mine, true);
    zlist_destroy (&mine);
    const char *token = zlist_size (fresh)
                            ? ces_link_register (self->link, self->conn, fresh)
                            : NULL;
    ces_waiters_sent (self->waiters, token);
    ces_waiters_add (self->waiters, s_waiter_new (client, rooms, options_p),
                     ces_link_connected (self->link));
    zlist_destroy (&fresh);
    return 0;
}

//  The client no longer holds room; false if it did not
static bool
s_unregister (ces_room_index_t *self, ces_client_t *client, const char *room)
{
    zhashx_t *held = ces_client_rooms (client);
    if (!zhashx_lookup (held, room))
        return false;
    char *name = strdup (room); //  room may be the key being deleted
    zhashx_delete (held, name);
    s_index_remove (self, client, name);
    s_union_change (self, name, -1, NULL);
    freen (name);
    return true;
}

void
ces_room_index_unregister (ces_room_index_t *self, ces_client_t *client,
                           const char *room)
{
    assert (self && client && room);
    if (!s_unregister (self, client, room))
        return;
    zlist_t *gone = zlist_new ();
    zlist_append (gone, (void *)room);
    ces_link_present (self->link, ces_client_id (client), gone, false);
    zlist_destroy (&gone);
}

void
ces_room_index_unregister_all (ces_room_index_t *self, ces_client_t *client)
{
    assert (self && client);
    zlistx_t *rooms = zhashx_keys (ces_client_rooms (client));
    for (const char *room = (const char *)zlistx_first (rooms); room;
         room = (const char *)zlistx_next (rooms))
        s_unregister (self, client, room);
    zlistx_destroy (&rooms);
    ces_link_present (self->link, ces_client_id (client), NULL, false);
}

//  Does the client hold one of the patterns matched, at a prefix length
//  of lengths[0..count)? key holds the room, with room to add a '*'
static bool
s_holds_pattern (ces_client_t *client, char *key, const size_t *lengths,
                 size_t count)
{
    zhashx_t *held = ces_client_rooms (client);
    bool holds = false;
    for (size_t i = 0; i < count && !holds; i++) {
        size_t at = lengths[i];
        char saved[2] = {key[at], key[at + 1]};
        key[at] = '*';
        key[at + 1] = 0;
        holds = zhashx_lookup (held, key) != NULL;
        key[at] = saved[0];
        key[at + 1] = saved[1];
    }
    return holds;
}

//  The clients of the patterns room matches, then of "*": each once, by
//  the most specific registration it holds (the room, the longest
//  pattern, "*")
static void
s_each_by_pattern (ces_room_index_t *self, const char *room,
                   ces_room_index_fn *fn, void *arg)
{
    char key[CES_ROOM_MAX + 2];
    snprintf (key, sizeof key, "%s", room);
    size_t lengths[CES_ROOM_MAX + 1];
    size_t count = 0;
    zlistx_t *list =
        (zlistx_t *)ces_patterns_first_match (self->patterns, room);
    while (list) {
        lengths[count] = strlen (ces_patterns_cursor (self->patterns)) - 1;
        ces_client_t *client = (ces_client_t *)zlistx_first (list);
        while (client) {
            if (!zhashx_lookup (ces_client_rooms (client), room) &&
                !s_holds_pattern (client, key, lengths, count))
                fn (client, arg);
            client = (ces_client_t *)zlistx_next (list);
        }
        count++;
        list = (zlistx_t *)ces_patterns_next_match (self->patterns);
    }
    ces_client_t *client = (ces_client_t *)zlistx_first (self->star);
    while (client) {
        if (!zhashx_lookup (ces_client_rooms (client), room) &&
            !s_holds_pattern (client, key, lengths, count))
            fn (client, arg);
        client = (ces_client_t *)zlistx_next (self->star);
    }
}

void
ces_room_index_each (ces_room_index_t *self, const char *room,
                     ces_room_index_fn *fn, void *arg)
{
    assert (self && room && fn);
    zlistx_t *list = (zlistx_t *)zhashx_lookup (self->index, room);
    ces_client_t *client = list ? (ces_client_t *)zlistx_first (list) : NULL;
    while (client) {
        fn (client, arg);
        client = (ces_client_t *)zlistx_next (list);
    }
    //  Patterns cost nothing while no client holds one
    if (ces_patterns_size (self->patterns)) {
        s_each_by_pattern (self, room, fn, arg);
        return;
    }
    client = (ces_client_t *)zlistx_first (self->star);
    while (client) {
        //  A client registered for the room and * gets it once
        if (!zhashx_lookup (ces_client_rooms (client), room))
            fn (client, arg);
        client = (ces_client_t *)zlistx_next (self->star);
    }
}

void
ces_room_index_set_confirmed (ces_room_index_t *self,
                              ces_room_index_confirmed_fn *confirmed, void *arg)
{
    assert (self);
    self->confirmed = confirmed;
    self->confirmed_arg = arg;
}

//  Tells {"registered":[...]} if the client is still there (or lets the
//  owner's callback answer)
static void
s_notify (void *waiter_item, void *arg)
{
    ces_room_index_t *self = (ces_room_index_t *)arg;
    waiter_t *waiter = (waiter_t *)waiter_item;
    ces_client_t *client =
        (ces_client_t *)zhashx_lookup (self->clients, waiter->id);
    if (!client)
        return;
    if (self->confirmed &&
        self->confirmed (client, waiter->rooms, waiter->options,
                         self->confirmed_arg))
        return;
    cJSON *notice = cJSON_CreateObject ();
    cJSON *list = cJSON_AddArrayToObject (notice, "registered");
    for (const char *room = (const char *)zlist_first (waiter->rooms); room;
         room = (const char *)zlist_next (waiter->rooms))
        cJSON_AddItemToArray (list, cJSON_CreateString (room));
    char *text = cJSON_PrintUnformatted (notice);
    cJSON_Delete (notice);
    ces_client_send_text (client, text);
    freen (text);
}

void
ces_room_index_on_registered (ces_room_index_t *self, const char *token)
{
    assert (self);
    ces_waiters_confirmed (self->waiters, token);
}

void
ces_room_index_on_connected (ces_room_index_t *self)
{
    assert (self);
    ces_waiters_connected (self->waiters,
                           ces_link_room_count (self->link, self->conn) > 0
                               ? ces_link_token (self->link)
                               : NULL);
}

size_t
ces_room_index_size (ces_room_index_t *self)
{
    assert (self);
    return zhashx_size (self->union_);
}

void
ces_room_index_status (ces_room_index_t *self, cJSON *object)
{
    assert (self);
    void *count = zhashx_first (self->union_);
    while (count) {
        cJSON_AddNumberToObject (object,
                                 (const char *)zhashx_cursor (self->union_),
                                 (double)(uintptr_t)count);
        count = zhashx_next (self->union_);
    }
}

//  --------------------------------------------------------------------------
//  Self test: over a real hub link

static void
s_test_count (ces_client_t *client, void *arg)
{
    (void)client;
    (*(int *)arg)++;
}

void
ces_room_index_test (bool verbose)
{
    printf (" * ces_room_index: ");
    //  @selftest
    char *router, *pub;
    zactor_t *hub = ces_hub_test_start (
        "inproc://rooms-test-router", "inproc://rooms-test-pub", &router, &pub,
        "log-level", verbose ? "debug" : "warn", NULL);
    ces_link_t *link =
        ces_link_new (router, pub, "rooms-test", "rooms test", NULL);
    assert (link);
    ces_link_attach (link, "subs", CES_ROLE_MESSENGER);
    zpoller_t *poller = zpoller_new (ces_link_dealer (link), NULL);
    int64_t deadline = zclock_mono () + 5000;
    while (!ces_link_connected (link) && zclock_mono () < deadline)
        if (zpoller_wait (poller, ces_link_timeout (link)))
            ces_link_recv_dealer (link);
        else
            ces_link_tick (link);
    zpoller_destroy (&poller);
    assert (ces_link_connected (link));

    zhashx_t *clients = zhashx_new ();
    ces_room_index_t *rooms = ces_room_index_new (link, "subs", clients);
    ces_client_limits_t limits = {.queue = 65536,
                                  .stuck_timeout = 10000,
                                  .ping_interval = 30000,
                                  .pong_timeout = 60000,
                                  .idle_timeout = 30000,
                                  .log_level = CES_LOG_WARN};
    ces_client_lists_t lists = {zlistx_new (), zlistx_new ()};
    ces_client_t *one =
        ces_client_new ("1", CES_ROLE_MESSENGER, NULL, "a", 0, &limits, &lists);
    ces_client_t *two =
        ces_client_new ("2", CES_ROLE_MESSENGER, NULL, "b", 0, &limits, &lists);
    zhashx_insert (clients, "1", one);
    zhashx_insert (clients, "2", two);
    char *no_options = NULL;
    zlist_t *asked = zlist_new ();
    zlist_append (asked, (void *)"R1");
    zlist_append (asked, (void *)"R2");
    assert (ces_room_index_register (rooms, one, asked, 0, &no_options) == 0);
    assert (ces_room_index_register (rooms, one, asked, 2, &no_options) ==
            0); //  the same
    zlist_append (asked, (void *)"R3");
    assert (ces_room_index_register (rooms, one, asked, 2, &no_options) == -1);
    zlist_destroy (&asked);
    asked = zlist_new ();
    zlist_append (asked, (void *)"R1");
    zlist_append (asked, (void *)"*");
    assert (ces_room_index_register (rooms, two, asked, 0, &no_options) == 0);
    zlist_destroy (&asked);
    assert (ces_room_index_size (rooms) == 3); //  R1, R2, *
    int count = 0;
    ces_room_index_each (rooms, "R1", s_test_count, &count);
    assert (count == 2); //  two on R1 and *: once
    count = 0;
    ces_room_index_each (rooms, "R9", s_test_count, &count);
    assert (count == 1); //  two on *
    ces_room_index_unregister_all (rooms, one);
    assert (ces_room_index_size (rooms) == 2); //  R1 and * of two
    //  Patterns: one on ITB-* alone; two on ITB-1101, IT*, ITB-* and *
    asked = zlist_new ();
    zlist_append (asked, (void *)"ITB-*");
    assert (ces_room_index_register (rooms, one, asked, 0, &no_options) == 0);
    zlist_append (asked, (void *)"ITB-1101");
    zlist_append (asked, (void *)"IT*");
    assert (ces_room_index_register (rooms, two, asked, 0, &no_options) == 0);
    zlist_destroy (&asked);
    count = 0;
    ces_room_index_each (rooms, "ITB-1101", s_test_count, &count);
    assert (count == 2); //  each once
    count = 0;
    ces_room_index_each (rooms, "ITB-2202", s_test_count, &count);
    assert (count == 2);
    count = 0;
    ces_room_index_each (rooms, "ITC-1", s_test_count, &count);
    assert (count == 1); //  two by IT*
    count = 0;
    ces_room_index_each (rooms, "JFSB-1", s_test_count, &count);
    assert (count == 1); //  two by *
    ces_room_index_unregister (rooms, one, "ITB-*");
    count = 0;
    ces_room_index_each (rooms, "ITB-2202", s_test_count, &count);
    assert (count == 1);
    ces_room_index_unregister (rooms, two, "ITB-*");
    ces_room_index_unregister (rooms, two, "IT*");
    ces_room_index_unregister (rooms, two, "ITB-1101");
    ces_room_index_unregister (rooms, two, "*");
    ces_room_index_unregister (rooms, two, "R1");
    assert (ces_room_index_size (rooms) == 0);

    ces_room_index_destroy (&rooms);
    assert (rooms == NULL);
    ces_client_destroy (&one);
    ces_client_destroy (&two);
    zhashx_destroy (&clients);
    zlistx_destroy (&lists.pending);
    zlistx_destroy (&lists.blocked);
    ces_link_destroy (&link);
    zactor_destroy (&hub);
    zstr_free (&router);
    zstr_free (&pub);
    //  @end
    printf ("OK\n");
}
