/*  =========================================================================
    ces_recall - the embedded messenger's RECALL, and the room events after
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_recall_t {
    ces_msgpipe_t *msgpipe; //  to the host, borrowed
    //  The messenger's place in each room's stream, once asked
    ces_cursor_t *cursor;
    char *room;    //  the RECALL waiting for REGISTERED, then SYNCED
    char *options; //  its {"state":B,"since":{...}}
    bool syncing;
};

ces_recall_t *
ces_recall_new (ces_msgpipe_t *msgpipe)
{
    assert (msgpipe);
    ces_recall_t *self = (ces_recall_t *)zmalloc (sizeof (*self));
    assert (self);
    self->msgpipe = msgpipe;
    return self;
}

void
ces_recall_destroy (ces_recall_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_recall_t *self = *self_p;
        ces_cursor_destroy (&self->cursor);
        zstr_free (&self->room);
        zstr_free (&self->options);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_recall_ask (ces_recall_t *self, const char *room, bool state,
                const char *epoch, const char *seq)
{
    assert (self && room && epoch && seq);
    if (!self->cursor)
        self->cursor = ces_cursor_new ();
    cJSON *options = cJSON_CreateObject ();
    cJSON_AddBoolToObject (options, "state", state);
    if (*epoch) {
        cJSON *position = cJSON_CreateObject ();
        cJSON_AddStringToObject (position, "epoch", epoch);
        cJSON_AddNumberToObject (position, "seq",
                                 (double)strtoull (seq, NULL, 10));
        cJSON_AddItemToObject (cJSON_AddObjectToObject (options, "since"), room,
                               position);
    }
    zstr_free (&self->options);
    self->options = cJSON_PrintUnformatted (options);
    cJSON_Delete (options);
    zstr_free (&self->room);
    self->room = strdup (room);
}

bool
ces_recall_waiting (ces_recall_t *self)
{
    assert (self);
    return self->room != NULL;
}

char *
ces_recall_confirmed (ces_recall_t *self)
{
    assert (self);
    if (!self->room)
        return NULL;
    zlist_t *rooms = zlist_new ();
    zlist_append (rooms, self->room);
    //  Now that events for the room will come, its place in its stream
    zlist_t *requests =
        ces_cursor_confirmed (self->cursor, rooms, self->options);
    const char *request = (const char *)zlist_first (requests);
    char *copy = request ? strdup (request) : NULL;
    zlist_destroy (&requests);
    zlist_destroy (&rooms);
    zstr_free (&self->room);
    zstr_free (&self->options);
    return copy;
}

void
ces_recall_asked (ces_recall_t *self)
{
    assert (self);
    self->syncing = true;
}

//  A notice of the cursor's (borrowed) to the host
static void
s_notice (ces_recall_t *self, const char *notice)
{
    if (notice) {
        char *copy = strdup (notice);
        ces_msgpipe_send_notice (self->msgpipe, &copy);
    }
}

void
ces_recall_published (ces_recall_t *self, const char *room, uint64_t epoch,
                      uint64_t seq, const byte *data, size_t size, bool own)
{
    assert (self);
    const char *notice = NULL;
    ces_cursor_verdict_t verdict = CES_CURSOR_DELIVER;
    if (self->cursor) {
        if (ces_cursor_holding (self->cursor)) {
            ces_cursor_hold (self->cursor, room, epoch, seq, data, size, own);
            return;
        }
        if (own) {
            ces_cursor_own (self->cursor, room, epoch, seq);
            return;
        }
        verdict = ces_cursor_live (self->cursor, room, epoch, seq, &notice);
    }
    if (own || verdict == CES_CURSOR_SKIP)
        return;
    s_notice (self, notice);
    ces_msgpipe_send_event (self->msgpipe, data, size, seq, epoch);
}

void
ces_recall_release (ces_recall_t *self)
{
    assert (self);
    char room[CES_ROOM_MAX + 1];
    uint64_t epoch, seq;
    const byte *data;
    size_t size;
    bool own;
    while (ces_cursor_next_held (self->cursor, room, &epoch, &seq, &data, &size,
                                 &own)) {
        if (own) {
            ces_cursor_own (self->cursor, room, epoch, seq);
            continue;
        }
        const char *notice = NULL;
        if (ces_cursor_live (self->cursor, room, epoch, seq, &notice) ==
            CES_CURSOR_SKIP)
            continue;
        s_notice (self, notice);
        ces_msgpipe_send_event (self->msgpipe, data, size, seq, epoch);
    }
}

int
ces_recall_synced (ces_recall_t *self, const byte *header, size_t size,
                   zlist_t *events)
{
    assert (self);
    if (!self->syncing)
        return -1;
    char *text = strndup ((const char *)header, size);
    cJSON *parsed = cJSON_Parse (text);
    uint64_t epoch = ces_position_epoch_of (
        cJSON_GetStringValue (cJSON_GetObjectItem (parsed, "epoch")));
    cJSON_Delete (parsed);
    char *before, *after, *registered;
    int rc =
        ces_cursor_synced (self->cursor, text, &before, &after, &registered);
    freen (text);
    if (rc)
        return -1;
    ces_msgpipe_send_notice (self->msgpipe, &before);
    for (zframe_t *event = (zframe_t *)zlist_first (events); event;
         event = (zframe_t *)zlist_next (events)) {
        const byte *data = zframe_data (event);
        ces_msgpipe_send_event (self->msgpipe, data + 8,
                                zframe_size (event) - 8,
                                ces_position_number_get (data), epoch);
    }
    ces_msgpipe_send_notice (self->msgpipe, &after);
    ces_msgpipe_send_notice (self->msgpipe, &registered);
    self->syncing = false;
    return 0;
}

void
ces_recall_expire (ces_recall_t *self, int64_t now)
{
    assert (self);
    zstr_free (&self->room);
    zstr_free (&self->options);
    self->syncing = false;
    if (self->cursor) {
        //  A late SYNCED is ignored; what was held goes to the host
        zlist_t *notices =
            ces_cursor_expire (self->cursor, now + CES_CURSOR_SYNC_TIMEOUT);
        zlist_destroy (&notices);
        ces_recall_release (self);
    }
}

//  --------------------------------------------------------------------------
//  Self test

//  Carol joins late: the room's state, then a recovery from a position
static void
s_test_recall (const char *router, const char *pub, ces_messenger_t *bob)
{
    //  Events carry their place in the room's stream: a fresh room
    assert (ces_messenger_send (bob, "ITB-7707",
                                "{\"target-device\":{\"deviceID\":\"D1\"},"
                                "\"key\":\"power\",\"value\":\"on\"}") == 0);
    ces_messenger_t *carol = ces_messenger_new (router, pub);
    assert (ces_messenger_recall (carol, "ITB-7707", true, NULL, 0) == 0);
    //  The state's one event, its summary, the position
    assert (ces_messenger_recv (carol, 2000) == 0);
    assert (ces_messenger_seq (carol) == 1);
    assert (strstr (ces_messenger_payload (carol), "\"on\""));
    char epoch[CES_STORE_EPOCH_SIZE];
    snprintf (epoch, sizeof epoch, "%s", ces_messenger_epoch (carol));
    assert (ces_messenger_recv (carol, 2000) == 1);
    assert (strstr (ces_messenger_notice (carol), "\"count\":1"));
    assert (ces_messenger_recv (carol, 2000) == 1);
    assert (strstr (ces_messenger_notice (carol), "\"positions\""));
    //  Live: the next one, then a recovery of everything after seq 0
    assert (ces_messenger_send (bob, "ITB-7707", "{\"n\":5}") == 0);
    assert (ces_messenger_recv (carol, 2000) == 0);
    assert (ces_messenger_seq (carol) == 2 &&
            streq (ces_messenger_epoch (carol), epoch));
    ces_messenger_destroy (&carol);
    carol = ces_messenger_new (router, pub);
    assert (ces_messenger_recall (carol, "ITB-7707", false, epoch, 0) == 0);
    for (uint64_t seq = 1; seq <= 2; seq++) {
        assert (ces_messenger_recv (carol, 2000) == 0);
        assert (ces_messenger_seq (carol) == seq);
    }
    assert (ces_messenger_recv (carol, 2000) == 1);
    assert (streq (ces_messenger_notice (carol),
                   "{\"recovered\":{\"ITB-7707\":true}}"));
    assert (ces_messenger_recv (carol, 2000) == 1);
    //  A position from another stream: refused, nothing replayed
    assert (ces_messenger_recall (carol, "ITB-7707", false, "0123456789abcdef",
                                  2) == 0);
    assert (ces_messenger_recv (carol, 2000) == 1);
    assert (strstr (ces_messenger_notice (carol), "\"recovered\":{\"ITB-7707\""
                                                  ":false}"));
    assert (ces_messenger_recall (carol, "bad room", true, NULL, 0) == -1);
    ces_messenger_destroy (&carol);
}

//  Before any recall every room event goes to the host as it comes; a
//  recall waits for its room's REGISTER, then asks with SYNC
static void
s_test_unit (void)
{
    ces_msgpipe_t *host = ces_msgpipe_new_host ("inproc://recall-test");
    ces_msgpipe_t *actor = ces_msgpipe_new_actor ("inproc://recall-test");
    ces_recall_t *recall = ces_recall_new (actor);
    const char *event = "ITB-1101\n{}";
    ces_recall_published (recall, "ITB-1101", 5, 9, (const byte *)event,
                          strlen (event), false);
    ces_recall_published (recall, "ITB-1101", 5, 10, (const byte *)event,
                          strlen (event), true); //  our own: not for us
    assert (ces_msgpipe_recv (host, 1000) == 0);
    assert (ces_msgpipe_seq (host) == 9);
    assert (ces_msgpipe_recv (host, 0) == -1);
    assert (ces_msgpipe_sent (actor) == 1);

    assert (!ces_recall_waiting (recall));
    assert (ces_recall_confirmed (recall) == NULL);
    ces_recall_ask (recall, "ITB-1101", false, "0123456789abcdef", "3");
    assert (ces_recall_waiting (recall));
    char *request = ces_recall_confirmed (recall);
    assert (request && strstr (request, "\"ITB-1101\""));
    assert (strstr (request, "0123456789abcdef"));
    zstr_free (&request);
    assert (!ces_recall_waiting (recall));
    //  Not asked (the SYNC did not go): a SYNCED is not for it
    assert (ces_recall_synced (recall, (const byte *)"{}", 2, NULL) == -1);
    //  Meanwhile live events are held, and go when it is given up
    ces_recall_published (recall, "ITB-1101", 5, 11, (const byte *)event,
                          strlen (event), false);
    assert (ces_msgpipe_recv (host, 0) == -1);
    ces_recall_expire (recall, zclock_mono ());
    int rc;
    while ((rc = ces_msgpipe_recv (host, 1000)) == 1)
        ; //  a notice of the new epoch first
    assert (rc == 0);
    assert (ces_msgpipe_seq (host) == 11);
    ces_recall_destroy (&recall);
    ces_recall_destroy (&recall);
    ces_msgpipe_destroy (&actor);
    ces_msgpipe_destroy (&host);
}

void
ces_recall_test (bool verbose)
{
    printf (" * ces_recall: ");
    //  @selftest
    s_test_unit ();
    //  Through messengers and a hub: state, recovery, a refused position
    char *router, *pub;
    zactor_t *hub = ces_hub_test_start (
        "inproc://recall-test-router", "inproc://recall-test-pub", &router,
        &pub, "log-level", verbose ? "debug" : "warn", NULL);
    ces_messenger_t *bob = ces_messenger_new (router, pub);
    assert (bob);
    assert (ces_messenger_wait_connected (bob, 5000) == 0);
    s_test_recall (router, pub, bob);
    ces_messenger_destroy (&bob);
    zstr_free (&router);
    zstr_free (&pub);
    zactor_destroy (&hub);
    //  @end
    printf ("OK\n");
}
