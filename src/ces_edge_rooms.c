/*  =========================================================================
    ces_edge_rooms - the edge's side of "rooms remember"
    =========================================================================
*/
#include "ces_classes.h"
#include <pthread.h>

//  A /rooms question waiting for the hub's answer
typedef struct {
    zframe_t *asker; //  the worker's routing ID at the inbox
    int64_t deadline;
} query_t;

struct _ces_edge_rooms_t {
    ces_link_t *link;   //  borrowed
    ces_inbox_t *inbox; //  borrowed
    zhashx_t *clients;  //  borrowed: id -> ces_client_t
    zhashx_t *queries;  //  id -> query_t (owns)
    uint64_t next_query;
    ces_edge_rooms_counters_t counters;
};

static void
s_query_destroy (void **item_p)
{
    query_t *query = (query_t *)*item_p;
    zframe_destroy (&query->asker);
    freen (query);
    *item_p = NULL;
}

ces_edge_rooms_t *
ces_edge_rooms_new (ces_link_t *link, ces_inbox_t *inbox, zhashx_t *clients)
{
    assert (link && inbox && clients);
    ces_edge_rooms_t *self =
        (ces_edge_rooms_t *)zmalloc (sizeof (ces_edge_rooms_t));
    assert (self);
    self->link = link;
    self->inbox = inbox;
    self->clients = clients;
    self->queries = zhashx_new ();
    assert (self->queries);
    zhashx_set_destructor (self->queries, s_query_destroy);
    return self;
}

void
ces_edge_rooms_destroy (ces_edge_rooms_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_edge_rooms_t *self = *self_p;
        zhashx_destroy (&self->queries);
        freen (self);
        *self_p = NULL;
    }
}

//  A /rooms question: the hub answers it (ces_edge_rooms_on_answer), or
//  nobody
void
ces_edge_rooms_query (ces_edge_rooms_t *self)
{
    assert (self);
    zframe_t *asker = ces_inbox_defer (self->inbox);
    if (!asker)
        return;
    char *id = zsys_sprintf ("q%" PRIu64, ++self->next_query);
    char *request = zframe_strdup (ces_inbox_frame (self->inbox));
    self->counters.queries++;
    if (ces_link_query (self->link, id, request) == 0) {
        query_t *query = (query_t *)zmalloc (sizeof (query_t));
        assert (query);
        query->asker = asker;
        asker = NULL;
        query->deadline = zclock_mono () + CES_EDGE_ROOMS_QUERY_TIMEOUT;
        zhashx_insert (self->queries, id, query);
    } else
        ces_inbox_answer_deferred (
            self->inbox, &asker,
            "503 {\"error\":\"the hub is unreachable from this edge\"}");
    zframe_destroy (&asker);
    freen (request);
    freen (id);
}

//  The hub's answer to a /rooms question of an HTTP client
void
ces_edge_rooms_on_answer (ces_edge_rooms_t *self)
{
    assert (self);
    query_t *query =
        (query_t *)zhashx_lookup (self->queries, ces_link_conn (self->link));
    if (!query)
        return; //  answered already: it took too long
    char *answer =
        zsys_sprintf ("%s %.*s", ces_proto_code (ces_link_proto (self->link)),
                      (int)ces_link_size (self->link),
                      (const char *)ces_link_data (self->link));
    ces_inbox_answer_deferred (self->inbox, &query->asker, answer);
    freen (answer);
    zhashx_delete (self->queries, ces_link_conn (self->link));
}

//  The hub's answer to a version 2 client's SYNC
void
ces_edge_rooms_on_synced (ces_edge_rooms_t *self)
{
    assert (self);
    ces_client_t *client = (ces_client_t *)zhashx_lookup (
        self->clients, ces_link_conn (self->link));
    if (!client)
        return;
    char *header = strndup ((const char *)ces_link_data (self->link),
                            ces_link_size (self->link));
    ces_client_synced (client, header,
                       ces_proto_events (ces_link_proto (self->link)));
    freen (header);
}

//  The hub confirmed a registration: a version 2 client asks for its
//  rooms' positions (state, recovery) before it is told
bool
ces_edge_rooms_on_confirmed (ces_client_t *client, zlist_t *rooms,
                             const char *options, void *arg)
{
    ces_edge_rooms_t *self = (ces_edge_rooms_t *)arg;
    assert (self && client);
    ces_cursor_t *cursor = ces_client_cursor (client);
    if (!cursor)
        return false;
    zlist_t *requests = ces_cursor_confirmed (cursor, rooms, options);
    for (const char *request = (const char *)zlist_first (requests); request;
         request = (const char *)zlist_next (requests))
        //  Unsent (the hub just went away): the registration times out
        if (ces_link_sync (self->link, ces_client_id (client), request) == 0)
            self->counters.syncs++;
    zlist_destroy (&requests);
    ces_client_expire_syncs (client, zclock_mono ());
    return true;
}

//  Questions the hub did not answer in time (their askers give up soon)
void
ces_edge_rooms_expire (ces_edge_rooms_t *self, int64_t now)
{
    assert (self);
    zlist_t *late = zlist_new ();
    for (query_t *query = (query_t *)zhashx_first (self->queries); query;
         query = (query_t *)zhashx_next (self->queries))
        if (query->deadline <= now) {
            ces_inbox_answer_deferred (
                self->inbox, &query->asker,
                "504 {\"error\":\"the hub did not answer in time\"}");
            self->counters.queries_late++;
            zlist_append (late, (void *)zhashx_cursor (self->queries));
        }
    for (const char *id = (const char *)zlist_first (late); id;
         id = (const char *)zlist_next (late))
        zhashx_delete (self->queries, id);
    zlist_destroy (&late);
}

const ces_edge_rooms_counters_t *
ces_edge_rooms_counters (ces_edge_rooms_t *self)
{
    assert (self);
    return &self->counters;
}

//  --------------------------------------------------------------------------
//  Self test: a link to a test hub, an inbox with a worker thread asking

typedef struct {
    ces_inbox_t *inbox;
    const char *request;
    char *answer;
} test_ask_t;

static void *
s_test_asker (void *arg)
{
    test_ask_t *ask = (test_ask_t *)arg;
    ask->answer = ces_inbox_ask_query (ask->inbox, ask->request);
    return NULL;
}

//  Reads the link until it says event (or 5 s pass)
static void
s_test_link_until (ces_link_t *link, ces_link_event_t event)
{
    zpoller_t *poller =
        zpoller_new (ces_link_dealer (link), ces_link_sub (link), NULL);
    int64_t deadline = zclock_mono () + 5000;
    ces_link_event_t said = CES_LINK_NOTHING;
    while (said != event && zclock_mono () < deadline) {
        void *which = zpoller_wait (poller, ces_link_timeout (link));
        said = which == ces_link_dealer (link) ? ces_link_recv_dealer (link)
               : which                         ? ces_link_recv_sub (link)
                                               : ces_link_tick (link);
    }
    zpoller_destroy (&poller);
    assert (said == event);
}

//  A worker asks; the actor's side takes the QUERY; returns the worker
static pthread_t
s_test_ask (ces_edge_rooms_t *rooms, ces_inbox_t *inbox, test_ask_t *ask)
{
    pthread_t worker;
    int rc = pthread_create (&worker, NULL, s_test_asker, ask);
    assert (rc == 0);
    zpoller_t *poller = zpoller_new (ces_inbox_socket (inbox), NULL);
    ces_inbox_command_t command;
    while ((command = ces_inbox_recv (inbox)) == CES_INBOX_EMPTY)
        assert (zpoller_wait (poller, 5000));
    zpoller_destroy (&poller);
    assert (command == CES_INBOX_QUERY);
    ces_edge_rooms_query (rooms);
    return worker;
}

//  Questions: one the hub answers, one it answers too late
static void
s_test_queries (ces_edge_rooms_t *rooms, ces_link_t *link, ces_inbox_t *inbox)
{
    //  A question the hub answers: its status and JSON to the worker
    test_ask_t ask = {inbox, "{\"view\":\"rooms\"}", NULL};
    pthread_t worker = s_test_ask (rooms, inbox, &ask);
    s_test_link_until (link, CES_LINK_ANSWER);
    ces_edge_rooms_on_answer (rooms);
    pthread_join (worker, NULL);
    assert (ask.answer && memcmp (ask.answer, "200 {", 5) == 0);
    zstr_free (&ask.answer);

    //  A question not answered in time: a 504, and the late answer is
    //  dropped
    worker = s_test_ask (rooms, inbox, &ask);
    ces_edge_rooms_expire (rooms, zclock_mono ());
    ces_edge_rooms_expire (rooms, zclock_mono () +
                                      CES_EDGE_ROOMS_QUERY_TIMEOUT + 1000);
    pthread_join (worker, NULL);
    assert (ask.answer && memcmp (ask.answer, "504 ", 4) == 0);
    zstr_free (&ask.answer);
    s_test_link_until (link, CES_LINK_ANSWER);
    ces_edge_rooms_on_answer (rooms);
    const ces_edge_rooms_counters_t *counters = ces_edge_rooms_counters (rooms);
    assert (counters->queries == 2 && counters->queries_late == 1);
}

//  A confirmed registration: a version 1 client has nothing to sync; a
//  version 2 client SYNCs each room, and is given the SYNCED answer
static void
s_test_syncs (ces_edge_rooms_t *rooms, ces_link_t *link, zhashx_t *clients)
{
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
    ces_client_set_v2 (two);
    zhashx_insert (clients, "1", one);
    zhashx_insert (clients, "2", two);
    ces_link_attach (link, "2", CES_ROLE_MESSENGER);
    zlist_t *registered = zlist_new ();
    zlist_append (registered, (void *)"R1");
    zlist_append (registered, (void *)"R*");
    assert (!ces_edge_rooms_on_confirmed (one, registered, NULL, rooms));
    assert (ces_edge_rooms_on_confirmed (two, registered, NULL, rooms));
    //  Patterns have no position
    assert (ces_edge_rooms_counters (rooms)->syncs == 1);
    zlist_destroy (&registered);
    s_test_link_until (link, CES_LINK_SYNCED);
    assert (streq (ces_link_conn (link), "2"));
    ces_edge_rooms_on_synced (rooms);
    zhashx_purge (clients);
    ces_client_destroy (&one);
    ces_client_destroy (&two);
    zlistx_destroy (&lists.pending);
    zlistx_destroy (&lists.blocked);
}

void
ces_edge_rooms_test (bool verbose)
{
    printf (" * ces_edge_rooms: ");
    //  @selftest
    char *router, *pub;
    zactor_t *hub = ces_hub_test_start (NULL, NULL, &router, &pub, "log-level",
                                        verbose ? "debug" : "warn", NULL);
    ces_link_t *link =
        ces_link_new (router, pub, "edge-rooms-test", "edge rooms test", NULL);
    assert (link);
    ces_link_set_log_level (link, verbose ? CES_LOG_DEBUG : CES_LOG_WARN);
    ces_link_attach (link, "subs", CES_ROLE_MESSENGER);
    s_test_link_until (link, CES_LINK_CONNECTED);
    ces_inbox_t *inbox = ces_inbox_new ();
    zhashx_t *clients = zhashx_new ();
    ces_edge_rooms_t *rooms = ces_edge_rooms_new (link, inbox, clients);
    s_test_queries (rooms, link, inbox);
    s_test_syncs (rooms, link, clients);

    //  The hub gone: a question is answered 503 at once
    ces_link_destroy (&link);
    zactor_destroy (&hub);
    ces_link_t *nowhere =
        ces_link_new (router, pub, "edge-rooms-test", "edge rooms test", NULL);
    ces_edge_rooms_t *alone = ces_edge_rooms_new (nowhere, inbox, clients);
    test_ask_t ask = {inbox, "{\"view\":\"rooms\"}", NULL};
    pthread_t worker = s_test_ask (alone, inbox, &ask);
    pthread_join (worker, NULL);
    assert (ask.answer && memcmp (ask.answer, "503 ", 4) == 0);
    zstr_free (&ask.answer);
    assert (ces_edge_rooms_counters (alone)->queries == 1);

    ces_edge_rooms_destroy (&alone);
    ces_edge_rooms_destroy (&rooms);
    ces_edge_rooms_destroy (&rooms);
    assert (!rooms);
    zhashx_destroy (&clients);
    ces_inbox_destroy (&inbox);
    ces_link_destroy (&nowhere);
    zstr_free (&router);
    zstr_free (&pub);
    //  @end
    printf ("OK\n");
}
