/*  =========================================================================
    ces_presence - who holds which room, for the hub's room view
    =========================================================================
*/
#include "ces_classes.h"

//  One connection's presence
typedef struct {
    char *origin;    //  "link/conn"
    char *role;      //  its role's name
    char *edge;      //  its link's name, from HELLO
    char *remote;    //  its client's address, or NULL
    char *subject;   //  its client's token subject, or NULL
    zhashx_t *held;  //  room, pattern or "*" -> int64_t * (since)
    size_t patterns; //  patterns among them
} record_t;

struct _ces_presence_t {
    zhashx_t *records; //  origin -> record_t
};

static void
s_free (void **item_p)
{
    freen (*item_p);
    *item_p = NULL;
}

static void
s_record_free (void **item_p)
{
    record_t *record = (record_t *)*item_p;
    zhashx_destroy (&record->held);
    zstr_free (&record->origin);
    zstr_free (&record->role);
    zstr_free (&record->edge);
    zstr_free (&record->remote);
    zstr_free (&record->subject);
    freen (record);
    *item_p = NULL;
}

ces_presence_t *
ces_presence_new (void)
{
    ces_presence_t *self = (ces_presence_t *)zmalloc (sizeof (ces_presence_t));
    assert (self);
    self->records = zhashx_new ();
    assert (self->records);
    zhashx_set_destructor (self->records, s_record_free);
    return self;
}

void
ces_presence_destroy (ces_presence_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_presence_t *self = *self_p;
        zhashx_destroy (&self->records);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_presence_attach (ces_presence_t *self, const char *origin, const char *role,
                     const char *edge, const char *remote, const char *subject)
{
    assert (self && origin && role && edge);
    record_t *record = (record_t *)zhashx_lookup (self->records, origin);
    if (!record) {
        record = (record_t *)zmalloc (sizeof (record_t));
        assert (record);
        record->origin = strdup (origin);
        record->held = zhashx_new ();
        assert (record->held);
        zhashx_set_destructor (record->held, s_free);
        zhashx_insert (self->records, origin, record);
    }
    zstr_free (&record->role);
    zstr_free (&record->edge);
    zstr_free (&record->remote);
    zstr_free (&record->subject);
    record->role = strdup (role);
    record->edge = strdup (edge);
    record->remote = remote && *remote ? strdup (remote) : NULL;
    record->subject = subject && *subject ? strdup (subject) : NULL;
}

void
ces_presence_detach (ces_presence_t *self, const char *origin)
{
    assert (self && origin);
    zhashx_delete (self->records, origin);
}

void
ces_presence_add (ces_presence_t *self, const char *origin, const char *room)
{
    assert (self && origin && room);
    record_t *record = (record_t *)zhashx_lookup (self->records, origin);
    if (!record || zhashx_lookup (record->held, room))
        return;
    int64_t *since = (int64_t *)malloc (sizeof (int64_t));
    assert (since);
    *since = zclock_time ();
    zhashx_insert (record->held, room, since);
    record->patterns += ces_patterns_is_pattern (room);
}

void
ces_presence_remove (ces_presence_t *self, const char *origin, const char *room)
{
    assert (self && origin);
    record_t *record = (record_t *)zhashx_lookup (self->records, origin);
    if (!record)
        return;
    if (!room) {
        zhashx_purge (record->held);
        record->patterns = 0;
    } else if (zhashx_lookup (record->held, room)) {
        record->patterns -= ces_patterns_is_pattern (room);
        zhashx_delete (record->held, room);
    }
}

void
ces_presence_update (ces_presence_t *self, const char *origin, zlist_t *rooms,
                     bool present)
{
    assert (self && origin && rooms);
    if (!present && zlist_size (rooms) == 0)
        ces_presence_remove (self, origin, NULL);
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms))
        if (present)
            ces_presence_add (self, origin, room);
        else
            ces_presence_remove (self, origin, room);
}

//  What record holds that covers room, most specific first: the room, the
//  longest pattern that matches it, "*"; NULL if none. *since is set to
//  its time.
static const char *
s_via (record_t *record, const char *room, int64_t *since)
{
    int64_t *at = (int64_t *)zhashx_lookup (record->held, room);
    if (at) {
        *since = *at;
        return room;
    }
    const char *via = NULL;
    size_t longest = 0;
    if (record->patterns) {
        for (at = (int64_t *)zhashx_first (record->held); at;
             at = (int64_t *)zhashx_next (record->held)) {
            const char *held = (const char *)zhashx_cursor (record->held);
            if (ces_patterns_is_pattern (held) &&
                ces_patterns_match (held, room) && strlen (held) > longest) {
                via = held;
                longest = strlen (held);
                *since = *at;
            }
        }
    }
    if (!via && (at = (int64_t *)zhashx_lookup (record->held, "*"))) {
        via = "*";
        *since = *at;
    }
    return via;
}

void
ces_presence_list (ces_presence_t *self, const char *room, cJSON *array)
{
    assert (self && room && array);
    for (record_t *record = (record_t *)zhashx_first (self->records); record;
         record = (record_t *)zhashx_next (self->records)) {
        int64_t since = 0;
        const char *via =
            zhashx_size (record->held) ? s_via (record, room, &since) : NULL;
        if (!via)
            continue;
        cJSON *item = cJSON_CreateObject ();
        cJSON_AddStringToObject (item, "id", record->origin);
        cJSON_AddStringToObject (item, "role", record->role);
        cJSON_AddStringToObject (item, "edge", record->edge);
        if (record->remote)
            cJSON_AddStringToObject (item, "remote", record->remote);
        if (record->subject)
            cJSON_AddStringToObject (item, "subject", record->subject);
        cJSON_AddNumberToObject (item, "since", (double)since);
        cJSON_AddStringToObject (item, "via", via);
        cJSON_AddItemToArray (array, item);
    }
}

//  --------------------------------------------------------------------------
//  Self test

//  The presence of room: how many connections, and the one of id (or
//  NULL); caller destroys it
static cJSON *
s_test_of (ces_presence_t *presence, const char *room, const char *id,
           int *count)
{
    cJSON *array = cJSON_CreateArray ();
    ces_presence_list (presence, room, array);
    *count = cJSON_GetArraySize (array);
    cJSON *found = NULL, *item;
    cJSON_ArrayForEach (item, array)
    {
        if (streq (cJSON_GetStringValue (cJSON_GetObjectItem (item, "id")), id))
            found = cJSON_Duplicate (item, true);
    }
    cJSON_Delete (array);
    return found;
}

static const char *
s_test_field (cJSON *item, const char *name)
{
    return cJSON_GetStringValue (cJSON_GetObjectItem (item, name));
}

void
ces_presence_test (bool verbose)
{
    printf (" * ces_presence: ");
    (void)verbose;
    //  @selftest
    ces_presence_t *presence = ces_presence_new ();
    int64_t before = zclock_time ();
    ces_presence_attach (presence, "e/c1", "messenger", "edge :7100",
                         "192.0.2.1:5000", "alice");
    ces_presence_attach (presence, "e/c2", "messenger", "edge :7100",
                         "192.0.2.2:6000", "");
    ces_presence_attach (presence, "app/0", "messenger", "app", NULL, NULL);
    zlist_t *rooms = zlist_new ();
    zlist_append (rooms, "ITB-1101");
    zlist_append (rooms, "IT*");
    ces_presence_update (presence, "e/c1", rooms, true);
    ces_presence_add (presence, "e/c2", "ITB-*");
    ces_presence_add (presence, "app/0", "*");
    //  Not attached: nothing is kept
    ces_presence_add (presence, "e/c9", "R");
    int count;
    assert (!s_test_of (presence, "R", "e/c9", &count) && count == 1);

    //  Each by the most specific it holds: the room, a pattern, "*"
    cJSON *one = s_test_of (presence, "ITB-1101", "e/c1", &count);
    assert (count == 3);
    assert (one && streq (s_test_field (one, "via"), "ITB-1101"));
    assert (streq (s_test_field (one, "role"), "messenger"));
    assert (streq (s_test_field (one, "edge"), "edge :7100"));
    assert (streq (s_test_field (one, "remote"), "192.0.2.1:5000"));
    assert (streq (s_test_field (one, "subject"), "alice"));
    double since = cJSON_GetNumberValue (cJSON_GetObjectItem (one, "since"));
    assert (since >= (double)before && since <= (double)zclock_time ());
    cJSON_Delete (one);
    cJSON *two = s_test_of (presence, "ITB-1101", "e/c2", &count);
    assert (two && streq (s_test_field (two, "via"), "ITB-*"));
    assert (!cJSON_GetObjectItem (two, "subject"));
    cJSON_Delete (two);
    cJSON *app = s_test_of (presence, "ITB-1101", "app/0", &count);
    assert (app && streq (s_test_field (app, "via"), "*"));
    assert (!cJSON_GetObjectItem (app, "remote"));
    cJSON_Delete (app);
    //  The longest pattern that matches
    one = s_test_of (presence, "ITB-2202", "e/c1", &count);
    assert (count == 3 && streq (s_test_field (one, "via"), "IT*"));
    cJSON_Delete (one);
    assert (!s_test_of (presence, "JFSB-1", "e/c1", &count) && count == 1);

    //  Attached again: who it is changes, what it holds stays
    ces_presence_attach (presence, "e/c1", "messenger", "edge :7100", NULL,
                         "bob");
    one = s_test_of (presence, "ITB-1101", "e/c1", &count);
    assert (one && streq (s_test_field (one, "subject"), "bob"));
    assert (!cJSON_GetObjectItem (one, "remote"));
    cJSON_Delete (one);

    //  ABSENT of some rooms, ABSENT of none, remove and detach
    zlist_remove (rooms, "ITB-1101");
    ces_presence_update (presence, "e/c1", rooms, false);
    one = s_test_of (presence, "ITB-2202", "e/c1", &count);
    assert (!one && count == 2);
    one = s_test_of (presence, "ITB-1101", "e/c1", &count);
    assert (one && streq (s_test_field (one, "via"), "ITB-1101"));
    cJSON_Delete (one);
    zlist_purge (rooms);
    ces_presence_update (presence, "e/c1", rooms, false);
    assert (!s_test_of (presence, "ITB-1101", "e/c1", &count) && count == 2);
    ces_presence_remove (presence, "e/c2", "ITB-*");
    ces_presence_detach (presence, "app/0");
    assert (!s_test_of (presence, "ITB-1101", "e/c2", &count) && count == 0);
    zlist_destroy (&rooms);

    ces_presence_destroy (&presence);
    ces_presence_destroy (&presence);
    assert (!presence);
    //  @end
    printf ("OK\n");
}
