/*  =========================================================================
    ces_replay - the hub's answers about what its rooms remember
    =========================================================================
*/
#include "ces_classes.h"

#define HISTORY_LIMIT_DEFAULT 100
#define HISTORY_LIMIT_MAX     10000

static void
s_add_event (void *arg, uint64_t seq, const byte *message, size_t size)
{
    ces_proto_add_event ((ces_proto_t *)arg, seq, message, size);
}

static bool
s_room_valid (const char *room)
{
    return room && ces_frame_check_room (room, strlen (room)) == CES_FRAME_OK;
}

//  A non-negative whole number of a JSON item, or false
static bool
s_count (cJSON *item, uint64_t *value)
{
    if (!cJSON_IsNumber (item) || item->valuedouble < 0 ||
        item->valuedouble > 9007199254740991.0 ||
        item->valuedouble != (double)(uint64_t)item->valuedouble)
        return false;
    *value = (uint64_t)item->valuedouble;
    return true;
}

static const char *
s_sync_problem (cJSON *request, cJSON **since, const char **epoch,
                uint64_t *seq, bool *state)
{
    if (!cJSON_IsObject (request))
        return "SYNC request is not a JSON object";
    if (!s_room_valid (cJSON_GetStringValue (
            cJSON_GetObjectItemCaseSensitive (request, "room"))))
        return "SYNC request has no valid room";
    *since = cJSON_GetObjectItemCaseSensitive (request, "since");
    if (*since) {
        *epoch = cJSON_GetStringValue (
            cJSON_GetObjectItemCaseSensitive (*since, "epoch"));
        if (!*epoch ||
            !s_count (cJSON_GetObjectItemCaseSensitive (*since, "seq"), seq))
            return "SYNC since is not {\"epoch\":\"E\",\"seq\":N}";
    }
    cJSON *wants_state = cJSON_GetObjectItemCaseSensitive (request, "state");
    if (wants_state && !cJSON_IsBool (wants_state))
        return "SYNC state is not true or false";
    *state = cJSON_IsTrue (wants_state);
    return NULL;
}

int
ces_replay_sync (ces_store_t *store, ces_proto_t *proto, const char **reason)
{
    assert (store && proto && reason);
    zframe_t *message = ces_proto_message (proto);
    cJSON *request =
        message ? cJSON_ParseWithLength ((const char *)zframe_data (message),
                                         zframe_size (message))
                : NULL;
    cJSON *since = NULL;
    const char *epoch = NULL;
    uint64_t seq = 0;
    bool state = false;
    *reason = s_sync_problem (request, &since, &epoch, &seq, &state);
    if (*reason) {
        cJSON_Delete (request);
        return -1;
    }
    const char *room = cJSON_GetStringValue (
        cJSON_GetObjectItemCaseSensitive (request, "room"));
    cJSON *header = cJSON_CreateObject ();
    cJSON_AddStringToObject (header, "room", room);
    ces_proto_purge_events (proto);
    bool recovered = false;
    if (since) {
        const char *refusal = NULL;
        recovered = ces_store_recover (store, room, epoch, seq, s_add_event,
                                       proto, &refusal) == CES_STORE_RECOVERED;
        cJSON_AddBoolToObject (header, "recovered", recovered);
        if (!recovered)
            cJSON_AddStringToObject (header, "reason", refusal);
    }
    if (state && !recovered)
        cJSON_AddNumberToObject (
            header, "state",
            (double)ces_store_state (store, room, s_add_event, proto));
    char position[CES_STORE_EPOCH_SIZE];
    uint64_t last;
    ces_store_position (store, room, position, &last);
    cJSON_AddStringToObject (header, "epoch", position);
    cJSON_AddNumberToObject (header, "seq", (double)last);
    char *text = cJSON_PrintUnformatted (header);
    zframe_t *answer = zframe_new (text, strlen (text));
    freen (text);
    cJSON_Delete (header);
    cJSON_Delete (request);
    ces_proto_set_id (proto, CES_PROTO_SYNCED);
    ces_proto_set_message (proto, &answer);
    return 0;
}

//  --------------------------------------------------------------------------
//  Queries

static cJSON *
s_error (int *status, int code, const char *reason)
{
    *status = code;
    cJSON *answer = cJSON_CreateObject ();
    cJSON_AddStringToObject (answer, "error", reason);
    return answer;
}

cJSON *
ces_replay_query (ces_store_t *store, const char *request, size_t size,
                  int *status, char *room)
{
    assert (store && request && status && room);
    *room = 0;
    cJSON *query = cJSON_ParseWithLength (request, size);
    const char *view =
        cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (query, "view"));
    const char *name =
        cJSON_GetStringValue (cJSON_GetObjectItemCaseSensitive (query, "room"));
    uint64_t since = 0, limit = HISTORY_LIMIT_DEFAULT;
    cJSON *since_item = cJSON_GetObjectItemCaseSensitive (query, "since");
    cJSON *limit_item = cJSON_GetObjectItemCaseSensitive (query, "limit");
    cJSON *answer = NULL;
    if (!view)
        answer = s_error (status, 400, "query names no view");
    else if (streq (view, "rooms")) {
        answer = cJSON_CreateObject ();
        ces_store_rooms_json (store, cJSON_AddArrayToObject (answer, "rooms"));
        *status = 200;
    } else if (!s_room_valid (name))
        answer = s_error (status, 400, "query names no valid room");
    else if ((since_item && !s_count (since_item, &since)) ||
             (limit_item && (!s_count (limit_item, &limit) || limit == 0 ||
                             limit > HISTORY_LIMIT_MAX)))
        answer = s_error (status, 400,
                          "since must be a sequence number and limit "
                          "1-10000");
    else {
        snprintf (room, CES_ROOM_MAX + 1, "%s", name);
        answer = cJSON_CreateObject ();
        bool known = false;
        *status = 200;
        if (streq (view, "room"))
            known = ces_store_room_json (store, room, answer);
        else if (streq (view, "state"))
            known = ces_store_state_json (store, room, answer);
        else if (streq (view, "history"))
            known = ces_store_history_json (store, room, since, (size_t)limit,
                                            answer);
        else {
            cJSON_Delete (answer);
            answer = s_error (status, 400, "unknown view");
            known = true;
        }
        if (!known) {
            cJSON_Delete (answer);
            answer =
                s_error (status, 404, "this hub has no event of that room");
        }
    }
    cJSON_Delete (query);
    return answer;
}

//  The value of name in a query string, as a number; dflt when absent
static bool
s_query_number (const char *query, const char *name, long long *value)
{
    size_t size = strlen (name);
    for (const char *at = query; at && *at; at = strchr (at, '&')) {
        if (*at == '&')
            at++;
        if (strncmp (at, name, size) == 0 && at[size] == '=') {
            char *end;
            *value = strtoll (at + size + 1, &end, 10);
            return end > at + size + 1 && (*end == 0 || *end == '&');
        }
    }
    return false;
}

char *
ces_replay_request (const char *path, const char *query, char *room)
{
    assert (path && room);
    *room = 0;
    if (strncmp (path, "/rooms", 6) != 0 || (path[6] && path[6] != '/'))
        return NULL;
    if (!path[6] || streq (path + 6, "/"))
        return strdup ("{\"view\":\"rooms\"}");
    //  The path is decoded already (civetweb): a room ID may hold a '/',
    //  so the view is read from the end
    const char *name = path + 7;
    size_t length = strlen (name);
    const char *view = "room";
    if (length > 6 && streq (name + length - 6, "/state"))
        view = "state", length -= 6;
    else if (length > 8 && streq (name + length - 8, "/history"))
        view = "history", length -= 8;
    else if (length > 1 && name[length - 1] == '/')
        length--;
    if (length == 0 || length > CES_ROOM_MAX)
        return NULL;
    memcpy (room, name, length);
    room[length] = 0;
    cJSON *request = cJSON_CreateObject ();
    cJSON_AddStringToObject (request, "view", view);
    cJSON_AddStringToObject (request, "room", room);
    long long number;
    //  A bad number is passed on as -1, for the hub to refuse with a reason
    if (query && strstr (query, "since="))
        cJSON_AddNumberToObject (
            request, "since",
            s_query_number (query, "since", &number) ? (double)number : -1);
    if (query && strstr (query, "limit="))
        cJSON_AddNumberToObject (
            request, "limit",
            s_query_number (query, "limit", &number) ? (double)number : -1);
    char *text = cJSON_PrintUnformatted (request);
    cJSON_Delete (request);
    return text;
}

//  --------------------------------------------------------------------------
//  Self test

static cJSON *
s_test_query (ces_store_t *store, const char *path, const char *query,
              int expected)
{
    char room[CES_ROOM_MAX + 1], named[CES_ROOM_MAX + 1];
    char *request = ces_replay_request (path, query, room);
    assert (request);
    int status = 0;
    cJSON *answer =
        ces_replay_query (store, request, strlen (request), &status, named);
    assert (status == expected);
    assert (streq (room, named) || status == 400);
    freen (request);
    return answer;
}

void
ces_replay_test (bool verbose)
{
    printf (" * ces_replay: ");
    //  @selftest
    ces_store_limits_t limits = {3, 3600000, 1 << 20, 10, NULL, 0};
    char *error = NULL;
    ces_store_t *store = ces_store_new (&limits, &error);
    uint64_t epoch;
    for (int value = 0; value < 5; value++) {
        char message[100];
        int size = snprintf (message, sizeof message,
                             "R 1\n{\"key\":\"k%d\",\"target-device\":"
                             "{\"deviceID\":\"D\"}}",
                             value % 2);
        ces_store_append (store, "R-1", (byte *)message, (size_t)size, "D",
                          value % 2 ? "k1" : "k0", &epoch);
    }
    char epoch_text[CES_STORE_EPOCH_SIZE];
    uint64_t seq;
    ces_store_position (store, "R-1", epoch_text, &seq);
    assert (seq == 5);

    //  SYNC with since: the missed events, then position
    ces_proto_t *proto = ces_proto_new ();
    char request[200];
    snprintf (request, sizeof request,
              "{\"room\":\"R-1\",\"since\":{\"epoch\":\"%s\",\"seq\":3},"
              "\"state\":true}",
              epoch_text);
    zframe_t *frame = zframe_new (request, strlen (request));
    ces_proto_set_message (proto, &frame);
    const char *reason;
    assert (ces_replay_sync (store, proto, &reason) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_SYNCED);
    assert (zlist_size (ces_proto_events (proto)) == 2);
    char *header = zframe_strdup (ces_proto_message (proto));
    assert (strstr (header, "\"recovered\":true") &&
            strstr (header, "\"seq\":5") && !strstr (header, "\"state\""));
    freen (header);

    //  Too old: refused, then the state (2 keys)
    snprintf (request, sizeof request,
              "{\"room\":\"R-1\",\"since\":{\"epoch\":\"%s\",\"seq\":1},"
              "\"state\":true}",
              epoch_text);
    frame = zframe_new (request, strlen (request));
    ces_proto_set_message (proto, &frame);
    assert (ces_replay_sync (store, proto, &reason) == 0);
    assert (zlist_size (ces_proto_events (proto)) == 2);
    header = zframe_strdup (ces_proto_message (proto));
    assert (strstr (header, "\"recovered\":false") &&
            strstr (header, "\"state\":2") && strstr (header, "history"));
    freen (header);

    //  Malformed requests, each with its reason
    const char *bad[] = {"[]", "{\"room\":\"\"}",
                         "{\"room\":\"R\",\"since\":{\"seq\":1}}",
                         "{\"room\":\"R\",\"since\":{\"epoch\":\"e\","
                         "\"seq\":-1}}",
                         "{\"room\":\"R\",\"state\":1}"};
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        frame = zframe_new (bad[index], strlen (bad[index]));
        ces_proto_set_message (proto, &frame);
        assert (ces_replay_sync (store, proto, &reason) == -1 && reason);
    }
    ces_proto_destroy (&proto);

    //  The HTTP views, by path
    cJSON *answer = s_test_query (store, "/rooms", NULL, 200);
    assert (cJSON_GetArraySize (cJSON_GetObjectItem (answer, "rooms")) == 1);
    cJSON_Delete (answer);
    answer = s_test_query (store, "/rooms/R-1/state", NULL, 200);
    assert (cJSON_GetArraySize (cJSON_GetObjectItem (answer, "state")) == 2);
    cJSON_Delete (answer);
    answer = s_test_query (store, "/rooms/R-1/history", "since=3&limit=1", 200);
    cJSON *events = cJSON_GetObjectItem (answer, "events");
    assert (cJSON_GetArraySize (events) == 1);
    assert (cJSON_GetNumberValue (cJSON_GetObjectItem (
                cJSON_GetArrayItem (events, 0), "seq")) == 4);
    cJSON_Delete (answer);
    cJSON_Delete (s_test_query (store, "/rooms/R-1", NULL, 200));
    cJSON_Delete (s_test_query (store, "/rooms/nope", NULL, 404));
    cJSON_Delete (s_test_query (store, "/rooms/R-1/history", "limit=0", 400));
    cJSON_Delete (s_test_query (store, "/rooms/R-1/history", "since=x", 400));
    char room[CES_ROOM_MAX + 1];
    assert (!ces_replay_request ("/roomsX", NULL, room));
    char *slashed = ces_replay_request ("/rooms/a/b/state", NULL, room);
    assert (slashed && streq (room, "a/b") && strstr (slashed, "\"state\""));
    freen (slashed);
    slashed = ces_replay_request ("/rooms/a%b/", NULL, room);
    assert (slashed && streq (room, "a%b") && strstr (slashed, "\"room\""));
    freen (slashed);
    ces_store_destroy (&store);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
