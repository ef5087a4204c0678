/*  =========================================================================
    ces_cursor - a version 2 client's place in each room's stream
    =========================================================================
*/
#include "ces_classes.h"

#define HELD_MAX 10000 //  live events held per client while it syncs

typedef struct {
    uint64_t epoch;
    uint64_t seq;      //  the last one given or passed over
    uint64_t gap_from; //  an open gap of events it could not take
    uint64_t gap_to;   //  0: none
} position_t;

typedef struct {
    char room[CES_ROOM_MAX + 1];
    uint64_t epoch, seq;
    bool own;
    size_t size;
    byte message[];
} held_t;

//  A registration being synced: its SYNCED answers come in order
typedef struct {
    zlist_t *rooms; //  as registered (patterns and "*" too)
    size_t waiting; //  SYNCED answers still to come
    cJSON *positions;
    int64_t deadline;
} batch_t;

struct _ces_cursor_t {
    zhashx_t *positions; //  room -> position_t
    zlistx_t *batches;   //  batch_t, oldest first
    zlistx_t *held;      //  held_t, oldest first
    held_t *given;       //  the last held event given back
    zlist_t *gaps;       //  notices ready to tell
    zlist_t *open_gaps;  //  rooms with an open gap
    size_t registering;  //  registrations told, not yet confirmed
    char notice[CES_ROOM_MAX + 160];
};

static void
s_batch_destroy (void **item_p)
{
    batch_t *batch = (batch_t *)*item_p;
    zlist_destroy (&batch->rooms);
    cJSON_Delete (batch->positions);
    free (batch);
    *item_p = NULL;
}

static void
s_free (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

ces_cursor_t *
ces_cursor_new (void)
{
    ces_cursor_t *self = (ces_cursor_t *)zmalloc (sizeof (ces_cursor_t));
    assert (self);
    self->positions = zhashx_new ();
    self->batches = zlistx_new ();
    self->held = zlistx_new ();
    self->gaps = zlist_new ();
    self->open_gaps = zlist_new ();
    assert (self->positions && self->batches && self->held && self->gaps &&
            self->open_gaps);
    zhashx_set_destructor (self->positions, s_free);
    zlistx_set_destructor (self->batches, s_batch_destroy);
    zlistx_set_destructor (self->held, s_free);
    zlist_autofree (self->gaps);
    zlist_autofree (self->open_gaps);
    return self;
}

void
ces_cursor_destroy (ces_cursor_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_cursor_t *self = *self_p;
        zhashx_destroy (&self->positions);
        zlistx_destroy (&self->batches);
        zlistx_destroy (&self->held);
        free (self->given);
        zlist_destroy (&self->gaps);
        zlist_destroy (&self->open_gaps);
        freen (self);
        *self_p = NULL;
    }
}

static position_t *
s_position (ces_cursor_t *self, const char *room)
{
    position_t *position = (position_t *)zhashx_lookup (self->positions, room);
    if (!position) {
        position = (position_t *)zmalloc (sizeof (position_t));
        assert (position);
        zhashx_insert (self->positions, room, position);
    }
    return position;
}

//  A JSON string of room for a notice (room IDs need no escape but '"'
//  and '\\', which they may hold)
static char *
s_quoted (const char *room)
{
    cJSON *string = cJSON_CreateString (room);
    char *text = cJSON_PrintUnformatted (string);
    cJSON_Delete (string);
    return text;
}

static char *
s_gap_notice (const char *room, uint64_t from, uint64_t to, const char *reason)
{
    char *quoted = s_quoted (room);
    char *text = zsys_sprintf ("{\"gap\":{\"room\":%s,\"from\":%" PRIu64
                               ",\"to\":%" PRIu64 ",\"reason\":\"%s\"}}",
                               quoted, from, to, reason);
    freen (quoted);
    return text;
}

ces_cursor_verdict_t
ces_cursor_live (ces_cursor_t *self, const char *room, uint64_t epoch,
                 uint64_t seq, const char **notice)
{
    assert (self && room && notice);
    *notice = NULL;
    if (ces_cursor_holding (self))
        return CES_CURSOR_HOLD;
    if (seq == 0)
        return CES_CURSOR_DELIVER; //  a hub that numbers nothing
    position_t *position = s_position (self, room);
    if (position->epoch != epoch) {
        //  Known under another epoch: the stream was replaced
        if (position->epoch) {
            char *quoted = s_quoted (room);
            char text[CES_STORE_EPOCH_SIZE];
            ces_position_epoch_text (epoch, text);
            snprintf (self->notice, sizeof self->notice,
                      "{\"epoch\":{%s:\"%s\"}}", quoted, text);
            freen (quoted);
            *notice = self->notice;
        }
        position->epoch = epoch;
        position->seq = seq - 1;
        position->gap_to = 0;
    }
    if (seq <= position->seq)
        return CES_CURSOR_SKIP;
    if (seq > position->seq + 1) {
        //  Never reached this edge: its hub's PUB or the mesh dropped them
        char *text = s_gap_notice (room, position->seq + 1, seq - 1, "lost");
        snprintf (self->notice, sizeof self->notice, "%s", text);
        freen (text);
        *notice = self->notice;
    }
    position->seq = seq;
    return CES_CURSOR_DELIVER;
}

void
ces_cursor_hold (ces_cursor_t *self, const char *room, uint64_t epoch,
                 uint64_t seq, const byte *message, size_t size, bool own)
{
    assert (self && room && (message || own));
    //  Beyond the bound they are lost; the client sees the gap afterwards
    if (zlistx_size (self->held) >= HELD_MAX)
        return;
    held_t *held = (held_t *)malloc (sizeof (held_t) + (own ? 0 : size));
    assert (held);
    snprintf (held->room, sizeof held->room, "%s", room);
    held->epoch = epoch;
    held->seq = seq;
    held->own = own;
    held->size = own ? 0 : size;
    if (!own)
        memcpy (held->message, message, size);
    zlistx_add_end (self->held, held);
}

void
ces_cursor_own (ces_cursor_t *self, const char *room, uint64_t epoch,
                uint64_t seq)
{
    assert (self && room);
    if (seq == 0)
        return;
    position_t *position = s_position (self, room);
    if (position->epoch != epoch) {
        position->epoch = epoch;
        position->seq = 0;
    }
    if (seq > position->seq)
        position->seq = seq;
}

//  Closes the room's open gap into a notice ready to tell
static void
s_close_gap (ces_cursor_t *self, const char *room, position_t *position)
{
    char *text =
        s_gap_notice (room, position->gap_from, position->gap_to, "queue_full");
    zlist_append (self->gaps, text); //  copied
    freen (text);
    position->gap_to = 0;
}

void
ces_cursor_missed (ces_cursor_t *self, const char *room, uint64_t seq)
{
    assert (self && room);
    position_t *position = s_position (self, room);
    if (position->gap_to && position->gap_to + 1 == seq) {
        position->gap_to = seq;
        return;
    }
    if (position->gap_to)
        s_close_gap (self, room, position);
    else
        zlist_append (self->open_gaps, (void *)room);
    position->gap_from = position->gap_to = seq;
}

char *
ces_cursor_next_gap (ces_cursor_t *self)
{
    assert (self);
    while (!zlist_size (self->gaps) && zlist_size (self->open_gaps)) {
        char *room = (char *)zlist_pop (self->open_gaps);
        position_t *position =
            (position_t *)zhashx_lookup (self->positions, room);
        if (position && position->gap_to)
            s_close_gap (self, room, position);
        freen (room);
    }
    return (char *)zlist_pop (self->gaps);
}

//  --------------------------------------------------------------------------
//  Registrations

static bool
s_is_pattern (const char *room)
{
    return room[0] && room[strlen (room) - 1] == '*';
}

static char *
s_registered_notice (batch_t *batch)
{
    cJSON *notice = cJSON_CreateObject ();
    cJSON *list = cJSON_AddArrayToObject (notice, "registered");
    for (const char *room = (const char *)zlist_first (batch->rooms); room;
         room = (const char *)zlist_next (batch->rooms))
        cJSON_AddItemToArray (list, cJSON_CreateString (room));
    cJSON_AddItemReferenceToObject (notice, "positions", batch->positions);
    char *text = cJSON_PrintUnformatted (notice);
    cJSON_Delete (notice);
    return text;
}

zlist_t *
ces_cursor_confirmed (ces_cursor_t *self, zlist_t *rooms, const char *options)
{
    assert (self && rooms);
    if (self->registering)
        self->registering--;
    cJSON *asked = options ? cJSON_Parse (options) : NULL;
    bool state = cJSON_IsTrue (cJSON_GetObjectItem (asked, "state"));
    cJSON *since = cJSON_GetObjectItem (asked, "since");
    batch_t *batch = (batch_t *)zmalloc (sizeof (batch_t));
    assert (batch);
    batch->rooms = zlist_new ();
    zlist_autofree (batch->rooms);
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms))
        zlist_append (batch->rooms, (void *)room); //  copied
    batch->positions = cJSON_CreateObject ();
    batch->deadline = zclock_mono () + CES_CURSOR_SYNC_TIMEOUT;
    zlist_t *requests = zlist_new ();
    zlist_autofree (requests);
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms)) {
        if (s_is_pattern (room))
            continue;
        cJSON *request = cJSON_CreateObject ();
        cJSON_AddStringToObject (request, "room", room);
        cJSON *position = cJSON_GetObjectItemCaseSensitive (since, room);
        if (position)
            cJSON_AddItemToObject (request, "since",
                                   cJSON_Duplicate (position, true));
        cJSON_AddBoolToObject (request, "state", state);
        char *text = cJSON_PrintUnformatted (request);
        zlist_append (requests, text);
        freen (text);
        cJSON_Delete (request);
        batch->waiting++;
    }
    cJSON_Delete (asked);
    zlistx_add_end (self->batches, batch);
    return requests;
}

static char *
s_room_notice (const char *name, const char *room, cJSON *value)
{
    cJSON *notice = cJSON_CreateObject ();
    cJSON *inner = cJSON_AddObjectToObject (notice, name);
    cJSON_AddItemToObject (inner, room, value);
    char *text = cJSON_PrintUnformatted (notice);
    cJSON_Delete (notice);
    return text;
}

int
ces_cursor_synced (ces_cursor_t *self, const char *header, char **before,
                   char **after, char **registered)
{
    assert (self && header && before && after && registered);
    *before = *after = *registered = NULL;
    batch_t *batch = (batch_t *)zlistx_first (self->batches);
    cJSON *answer = cJSON_Parse (header);
    const char *room =
        cJSON_GetStringValue (cJSON_GetObjectItem (answer, "room"));
    const char *epoch =
        cJSON_GetStringValue (cJSON_GetObjectItem (answer, "epoch"));
    cJSON *seq = cJSON_GetObjectItem (answer, "seq");
    if (!batch || !batch->waiting || !room || !epoch || !cJSON_IsNumber (seq)) {
        cJSON_Delete (answer);
        return -1;
    }
    position_t *position = s_position (self, room);
    cJSON *recovered = cJSON_GetObjectItem (answer, "recovered");
    position->epoch = ces_position_epoch_of (epoch);
    position->seq = (uint64_t)seq->valuedouble;
    cJSON *state = cJSON_GetObjectItem (answer, "state");
    if (cJSON_IsTrue (recovered))
        *after = s_room_notice ("recovered", room, cJSON_CreateTrue ());
    else if (recovered) {
        cJSON *notice = cJSON_CreateObject ();
        cJSON_AddItemToObject (cJSON_AddObjectToObject (notice, "recovered"),
                               room, cJSON_CreateFalse ());
        cJSON_AddStringToObject (
            cJSON_AddObjectToObject (notice, "reason"), room,
            cJSON_GetStringValue (cJSON_GetObjectItem (answer, "reason")));
        *before = cJSON_PrintUnformatted (notice);
        cJSON_Delete (notice);
    }
    if (state) {
        cJSON *summary = cJSON_CreateObject ();
        cJSON_AddStringToObject (summary, "epoch", epoch);
        cJSON_AddNumberToObject (summary, "seq", seq->valuedouble);
        cJSON_AddNumberToObject (summary, "count",
                                 cJSON_GetNumberValue (state));
        *after = s_room_notice ("state", room, summary);
    }
    cJSON *place = cJSON_CreateObject ();
    cJSON_AddStringToObject (place, "epoch", epoch);
    cJSON_AddNumberToObject (place, "seq", seq->valuedouble);
    cJSON_DeleteItemFromObject (batch->positions, room);
    cJSON_AddItemToObject (batch->positions, room, place);
    cJSON_Delete (answer);
    if (--batch->waiting == 0) {
        *registered = s_registered_notice (batch);
        zlistx_delete (self->batches, zlistx_cursor (self->batches));
    }
    return 0;
}

zlist_t *
ces_cursor_expire (ces_cursor_t *self, int64_t now)
{
    assert (self);
    zlist_t *notices = NULL;
    batch_t *batch = (batch_t *)zlistx_first (self->batches);
    while (batch && (batch->deadline <= now || batch->waiting == 0)) {
        if (!notices) {
            notices = zlist_new ();
            zlist_autofree (notices);
        }
        if (batch->waiting)
            zlist_append (notices,
                          "{\"error\":\"the hub did not answer this "
                          "registration's position, state or recovery in "
                          "time; live events follow without them\"}");
        char *text = s_registered_notice (batch);
        zlist_append (notices, text);
        freen (text);
        zlistx_delete (self->batches, zlistx_cursor (self->batches));
        batch = (batch_t *)zlistx_first (self->batches);
    }
    return notices;
}

bool
ces_cursor_next_held (ces_cursor_t *self, char *room, uint64_t *epoch,
                      uint64_t *seq, const byte **message, size_t *size,
                      bool *own)
{
    assert (self && room && epoch && seq && message && size && own);
    free (self->given);
    self->given = NULL;
    if (ces_cursor_holding (self))
        return false;
    held_t *held = (held_t *)zlistx_first (self->held);
    if (!held)
        return false;
    //  Ours now: taken out of the list without its destructor
    zlistx_detach_cur (self->held);
    self->given = held;
    snprintf (room, CES_ROOM_MAX + 1, "%s", held->room);
    *epoch = held->epoch;
    *seq = held->seq;
    *message = held->message;
    *size = held->size;
    *own = held->own;
    return true;
}

bool
ces_cursor_holding (ces_cursor_t *self)
{
    assert (self);
    return zlistx_size (self->batches) > 0 || self->registering > 0;
}

void
ces_cursor_registering (ces_cursor_t *self)
{
    assert (self);
    self->registering++;
}

void
ces_cursor_refused (ces_cursor_t *self)
{
    assert (self);
    if (self->registering)
        self->registering--;
}

//  --------------------------------------------------------------------------
//  Self test

void
ces_cursor_test (bool verbose)
{
    printf (" * ces_cursor: ");
    //  @selftest
    ces_cursor_t *cursor = ces_cursor_new ();
    const char *notice;
    //  Live events: in order, duplicates skipped, a jump is a lost gap
    assert (ces_cursor_live (cursor, "R", 7, 5, &notice) ==
                CES_CURSOR_DELIVER &&
            !notice);
    assert (ces_cursor_live (cursor, "R", 7, 5, &notice) == CES_CURSOR_SKIP);
    assert (ces_cursor_live (cursor, "R", 7, 8, &notice) == CES_CURSOR_DELIVER);
    assert (notice && strstr (notice, "\"from\":6,\"to\":7") &&
            strstr (notice, "lost"));
    //  Its own event: passed over, no gap after it
    ces_cursor_own (cursor, "R", 7, 9);
    assert (ces_cursor_live (cursor, "R", 7, 10, &notice) ==
                CES_CURSOR_DELIVER &&
            !notice);
    //  A new epoch: said, and counted from there
    assert (ces_cursor_live (cursor, "R", 8, 1, &notice) == CES_CURSOR_DELIVER);
    assert (notice &&
            strstr (notice, "{\"epoch\":{\"R\":\"0000000000000008\""));
    //  Queue full: the gap is told once, as one range
    ces_cursor_missed (cursor, "R", 2);
    ces_cursor_missed (cursor, "R", 3);
    ces_cursor_missed (cursor, "R", 5);
    char *gap = ces_cursor_next_gap (cursor);
    assert (gap && strstr (gap, "\"from\":2,\"to\":3") &&
            strstr (gap, "queue_full"));
    freen (gap);
    gap = ces_cursor_next_gap (cursor);
    assert (gap && strstr (gap, "\"from\":5,\"to\":5"));
    freen (gap);
    assert (ces_cursor_next_gap (cursor) == NULL);

    //  A registration told but not yet confirmed holds too; a refused one
    //  does not
    ces_cursor_registering (cursor);
    assert (ces_cursor_live (cursor, "Z", 1, 1, &notice) == CES_CURSOR_HOLD);
    ces_cursor_refused (cursor);
    assert (!ces_cursor_holding (cursor));
    ces_cursor_registering (cursor);

    //  A registration: live events are held until both rooms are synced
    zlist_t *rooms = zlist_new ();
    zlist_append (rooms, (void *)"A");
    zlist_append (rooms, (void *)"B");
    zlist_append (rooms, (void *)"B-*");
    zlist_t *requests = ces_cursor_confirmed (
        cursor, rooms,
        "{\"state\":true,\"since\":{\"A\":{\"epoch\":\"e\",\"seq\":3}}}");
    assert (zlist_size (requests) == 2);
    assert (strstr ((char *)zlist_first (requests), "\"since\""));
    zlist_destroy (&requests);
    assert (ces_cursor_holding (cursor));
    assert (ces_cursor_live (cursor, "A", 9, 5, &notice) == CES_CURSOR_HOLD);
    ces_cursor_hold (cursor, "A", 9, 5, (byte *)"A\n{}", 4, false);
    ces_cursor_hold (cursor, "A", 9, 6, (byte *)"A\n{}", 4, false);
    char *before, *after, *registered;
    assert (ces_cursor_synced (cursor,
                               "{\"room\":\"A\",\"recovered\":true,\"epoch\":"
                               "\"0000000000000009\",\"seq\":5}",
                               &before, &after, &registered) == 0);
    assert (!before && after && streq (after, "{\"recovered\":{\"A\":true}}"));
    assert (!registered);
    freen (after);
    char room[CES_ROOM_MAX + 1];
    uint64_t epoch, seq;
    const byte *message;
    size_t size;
    bool own;
    assert (!ces_cursor_next_held (cursor, room, &epoch, &seq, &message, &size,
                                   &own));
    assert (ces_cursor_synced (cursor,
                               "{\"room\":\"B\",\"recovered\":false,\"reason\":"
                               "\"gone\",\"state\":2,\"epoch\":"
                               "\"0000000000000001\",\"seq\":40}",
                               &before, &after, &registered) == 0);
    assert (strstr (before, "\"recovered\":{\"B\":false}") &&
            strstr (before, "\"reason\":{\"B\":\"gone\"}"));
    assert (strstr (after, "\"count\":2"));
    assert (strstr (registered, "\"registered\":[\"A\",\"B\",\"B-*\"]") &&
            strstr (registered, "\"B\":{\"epoch\":\"0000000000000001\","
                                "\"seq\":40}"));
    freen (before);
    freen (after);
    freen (registered);
    //  Released: 5 was replayed already, 6 is new
    assert (ces_cursor_next_held (cursor, room, &epoch, &seq, &message, &size,
                                  &own));
    assert (ces_cursor_live (cursor, room, epoch, seq, &notice) ==
            CES_CURSOR_SKIP);
    assert (ces_cursor_next_held (cursor, room, &epoch, &seq, &message, &size,
                                  &own));
    assert (ces_cursor_live (cursor, room, epoch, seq, &notice) ==
            CES_CURSOR_DELIVER);
    assert (!ces_cursor_next_held (cursor, room, &epoch, &seq, &message, &size,
                                   &own));
    assert (ces_cursor_synced (cursor, "{}", &before, &after, &registered) ==
            -1);

    //  A hub that never answers: given up after the timeout
    requests = ces_cursor_confirmed (cursor, rooms, NULL);
    zlist_destroy (&requests);
    assert (ces_cursor_expire (cursor, zclock_mono ()) == NULL);
    zlist_t *notices =
        ces_cursor_expire (cursor, zclock_mono () + CES_CURSOR_SYNC_TIMEOUT);
    assert (notices && zlist_size (notices) == 2);
    assert (strstr ((char *)zlist_first (notices), "did not answer"));
    zlist_destroy (&notices);
    assert (!ces_cursor_holding (cursor));
    //  Only patterns: nothing to sync, registered at the next expire call
    zlist_t *patterns = zlist_new ();
    zlist_append (patterns, (void *)"X-*");
    requests = ces_cursor_confirmed (cursor, patterns, NULL);
    assert (zlist_size (requests) == 0);
    zlist_destroy (&requests);
    notices = ces_cursor_expire (cursor, zclock_mono ());
    assert (notices && zlist_size (notices) == 1);
    zlist_destroy (&notices);
    zlist_destroy (&patterns);
    zlist_destroy (&rooms);

    ces_cursor_destroy (&cursor);
    ces_cursor_destroy (&cursor);
    assert (!cursor);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
