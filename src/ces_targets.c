/*  =========================================================================
    ces_targets - where a repeater sends the events the hub hands it
    =========================================================================
*/
#include "ces_classes.h"

//  One target URL: its actor and what it reported
typedef struct {
    zactor_t *actor;
    atomic_bool stop;     //  ends its waits at once when it is removed
    uint64_t sent;        //  delivered (reported by the target)
    uint64_t failed;      //  given up after retries (reported)
    uint64_t dropped;     //  its queue was full (counted here)
    uint64_t via_inbound; //  sent back over the peer's own inbound link
    char *peer;           //  the peer's SYSTEM_ID, from the URL's fragment
    size_t links;
    char state[16];
} target_t;

struct _ces_targets_t {
    char *system_id;
    int link_idle;
    int log_level;
    char *reports_endpoint;
    zsock_t *reports;  //  PULL: INBOUND and STATS from every target
    zhashx_t *targets; //  url -> target_t
    zhashx_t *routes;  //  room -> zlist of urls
};

static void
s_target_free (void **item_p)
{
    target_t *target = (target_t *)*item_p;
    //  A stalled target must not hold us up: stop its waits, drop its queue,
    //  and make sure $TERM reaches it even when its queue is full
    atomic_store (&target->stop, true);
    zsock_set_sndtimeo (zactor_sock (target->actor), -1);
    zactor_destroy (&target->actor);
    zstr_free (&target->peer);
    freen (target);
    *item_p = NULL;
}

static void
s_route_free (void **item_p)
{
    zlist_t *urls = (zlist_t *)*item_p;
    zlist_destroy (&urls);
    *item_p = NULL;
}

ces_targets_t *
ces_targets_new (const char *system_id, int link_idle, int log_level)
{
    assert (system_id);
    ces_targets_t *self = (ces_targets_t *)zmalloc (sizeof (ces_targets_t));
    assert (self);
    self->system_id = strdup (system_id);
    self->link_idle = link_idle;
    self->log_level = log_level;
    zuuid_t *uuid = zuuid_new ();
    self->reports_endpoint =
        zsys_sprintf ("inproc://ces-targets-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    self->reports = zsock_new (ZMQ_PULL);
    assert (self->reports);
    int rc = zsock_bind (self->reports, "%s", self->reports_endpoint);
    assert (rc == 0);
    self->targets = zhashx_new ();
    zhashx_set_destructor (self->targets, s_target_free);
    self->routes = zhashx_new ();
    zhashx_set_destructor (self->routes, s_route_free);
    return self;
}

void
ces_targets_destroy (ces_targets_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_targets_t *self = *self_p;
        zhashx_destroy (&self->routes);
        zhashx_destroy (&self->targets);
        zsock_destroy (&self->reports);
        zstr_free (&self->reports_endpoint);
        zstr_free (&self->system_id);
        freen (self);
        *self_p = NULL;
    }
}

//  Adds url to room's route in routes, once; -1 if the URL is not usable
static int
s_route_add (zhashx_t *routes, const char *room, const char *url, char *reason,
             size_t size)
{
    if (!ces_target_url_valid (url, reason, size))
        return -1;
    if (!streq (room, "*") &&
        ces_frame_check_room (room, strlen (room)) != CES_FRAME_OK) {
        snprintf (reason, size, "'%s' is not a room ID", room);
        return -1;
    }
    zlist_t *urls = (zlist_t *)zhashx_lookup (routes, room);
    if (!urls) {
        urls = zlist_new ();
        zlist_autofree (urls);
        zlist_comparefn (urls, (zlist_compare_fn *)strcmp);
        zhashx_insert (routes, room, urls);
    }
    if (!zlist_exists (urls, (void *)url))
        zlist_append (urls, (void *)url);
    return 0;
}

static int
s_load_file (zhashx_t *routes, const char *file, char *reason, size_t size)
{
    zfile_t *handle = zfile_new (NULL, file);
    zchunk_t *chunk = handle && zfile_input (handle) == 0
                          ? zfile_read (handle, zfile_cursize (handle), 0)
                          : NULL;
    if (!chunk) {
        snprintf (reason, size, "cannot read %s", file);
        zfile_destroy (&handle);
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength ((const char *)zchunk_data (chunk),
                                         zchunk_size (chunk));
    zchunk_destroy (&chunk);
    zfile_destroy (&handle);
    int rc = 0;
    if (!cJSON_IsObject (root)) {
        snprintf (reason, size,
                  "%s is not a JSON object of room -> list of URLs", file);
        rc = -1;
    }
    cJSON *room;
    cJSON *rooms = rc ? NULL : root;
    cJSON_ArrayForEach (room, rooms)
    {
        cJSON *url;
        if (!cJSON_IsArray (room)) {
            snprintf (reason, size, "%s: \"%s\" must list URLs", file,
                      room->string);
            rc = -1;
            break;
        }
        cJSON_ArrayForEach (url, room)
        {
            if (!cJSON_IsString (url)) {
                snprintf (reason, size,
                          "%s: \"%s\" has a URL that is not a "
                          "string",
                          file, room->string);
                rc = -1;
            } else
                rc = s_route_add (routes, room->string, url->valuestring,
                                  reason, size);
            if (rc)
                break;
        }
        if (rc)
            break;
    }
    cJSON_Delete (root);
    return rc;
}

static void
s_start_target (ces_targets_t *self, const char *url)
{
    target_t *target = (target_t *)zmalloc (sizeof (target_t));
    assert (target);
    ces_target_args_t args = {url,
                              &target->stop,
                              self->system_id,
                              self->reports_endpoint,
                              self->link_idle,
                              self->log_level};
    target->actor = zactor_new (ces_target_actor, &args);
    assert (target->actor);
    //  The queue is the pipe: never wait on it
    zsock_set_sndtimeo (zactor_sock (target->actor), 0);
    const char *fragment = strchr (url, '#');
    if (fragment && fragment[1])
        target->peer = strdup (fragment + 1);
    snprintf (target->state, sizeof (target->state), "starting");
    zhashx_insert (self->targets, url, target);
    ces_info (self->log_level, "repeater: target %s added", url);
}

int
ces_targets_configure (ces_targets_t *self, const char *file,
                       const char *central, char *reason, size_t size)
{
    assert (self && reason);
    zhashx_t *routes = zhashx_new ();
    zhashx_set_destructor (routes, s_route_free);
    int rc = file && *file ? s_load_file (routes, file, reason, size) : 0;
    if (rc == 0 && central && *central) {
        char *list = strdup (central);
        char *saveptr = NULL;
        for (char *url = strtok_r (list, ",", &saveptr); url && rc == 0;
             url = strtok_r (NULL, ",", &saveptr))
            if (*url)
                rc = s_route_add (routes, "*", url, reason, size);
        freen (list);
    }
    if (rc) {
        zhashx_destroy (&routes);
        return -1;
    }
    //  Targets no route names any more go; new ones start; the rest stay
    zhashx_t *wanted = zhashx_new ();
    zlist_t *urls = (zlist_t *)zhashx_first (routes);
    while (urls) {
        const char *url = (const char *)zlist_first (urls);
        while (url) {
            zhashx_insert (wanted, url, (void *)"");
            url = (const char *)zlist_next (urls);
        }
        urls = (zlist_t *)zhashx_next (routes);
    }
    zlistx_t *current = zhashx_keys (self->targets);
    const char *url = (const char *)zlistx_first (current);
    while (url) {
        if (!zhashx_lookup (wanted, url)) {
            zhashx_delete (self->targets, url);
            ces_info (self->log_level, "repeater: target %s removed", url);
        }
        url = (const char *)zlistx_next (current);
    }
    zlistx_destroy (&current);
    zlistx_t *fresh = zhashx_keys (wanted);
    url = (const char *)zlistx_first (fresh);
    while (url) {
        if (!zhashx_lookup (self->targets, url))
            s_start_target (self, url);
        url = (const char *)zlistx_next (fresh);
    }
    zlistx_destroy (&fresh);
    zhashx_destroy (&wanted);
    zhashx_destroy (&self->routes);
    self->routes = routes;
    return 0;
}

static size_t
s_dispatch_route (ces_targets_t *self, zlist_t *urls, const char *room,
                  zframe_t *message, zhashx_t *done,
                  ces_targets_inbound_fn *inbound, void *arg)
{
    size_t wanted = 0;
    const char *url = urls ? (const char *)zlist_first (urls) : NULL;
    while (url) {
        target_t *target = (target_t *)zhashx_lookup (self->targets, url);
        if (target && !zhashx_lookup (done, url)) {
            zhashx_insert (done, url, (void *)"");
            wanted++;
            if (target->peer && inbound &&
                inbound (arg, target->peer, room, message)) {
                target->via_inbound++;
                url = (const char *)zlist_next (urls);
                continue;
            }
            zmsg_t *msg = zmsg_new ();
            zmsg_addstr (msg, "EVENT");
            zmsg_addstr (msg, room);
            zframe_t *copy = zframe_dup (message);
            zmsg_append (msg, &copy);
            if (zmsg_send (&msg, target->actor)) {
                target->dropped++; //  its queue is full
                zmsg_destroy (&msg);
            }
        }
        url = (const char *)zlist_next (urls);
    }
    return wanted;
}

size_t
ces_targets_dispatch (ces_targets_t *self, const char *room, zframe_t *message,
                      ces_targets_inbound_fn *inbound, void *arg)
{
    assert (self && room && message);
    zhashx_t *done = zhashx_new ();
    size_t wanted =
        s_dispatch_route (self, (zlist_t *)zhashx_lookup (self->routes, room),
                          room, message, done, inbound, arg);
    wanted +=
        s_dispatch_route (self, (zlist_t *)zhashx_lookup (self->routes, "*"),
                          room, message, done, inbound, arg);
    zhashx_destroy (&done);
    return wanted;
}

zsock_t *
ces_targets_reports (ces_targets_t *self)
{
    assert (self);
    return self->reports;
}

zframe_t *
ces_targets_recv (ces_targets_t *self)
{
    assert (self);
    zmsg_t *report = zmsg_recv (self->reports);
    if (!report)
        return NULL;
    char *kind = zmsg_popstr (report);
    char *url = zmsg_popstr (report);
    zframe_t *inbound = NULL;
    target_t *target =
        url ? (target_t *)zhashx_lookup (self->targets, url) : NULL;
    if (kind && streq (kind, "INBOUND"))
        inbound = zmsg_pop (report);
    else if (kind && streq (kind, "STATS") && target) {
        char *sent = zmsg_popstr (report);
        char *failed = zmsg_popstr (report);
        char *links = zmsg_popstr (report);
        char *state = zmsg_popstr (report);
        if (sent && failed && links && state) {
            target->sent = strtoull (sent, NULL, 10);
            target->failed = strtoull (failed, NULL, 10);
            target->links = (size_t)atoi (links);
            snprintf (target->state, sizeof (target->state), "%s", state);
        }
        zstr_free (&sent);
        zstr_free (&failed);
        zstr_free (&links);
        zstr_free (&state);
    }
    zstr_free (&kind);
    zstr_free (&url);
    zmsg_destroy (&report);
    return inbound;
}

void
ces_targets_status (ces_targets_t *self, cJSON *parent)
{
    assert (self && parent);
    cJSON *list = cJSON_AddArrayToObject (parent, "targets");
    target_t *target = (target_t *)zhashx_first (self->targets);
    while (target) {
        const char *url = (const char *)zhashx_cursor (self->targets);
        cJSON *item = cJSON_CreateObject ();
        cJSON_AddStringToObject (item, "url", url);
        cJSON *rooms = cJSON_AddArrayToObject (item, "rooms");
        zlist_t *urls = (zlist_t *)zhashx_first (self->routes);
        while (urls) {
            if (zlist_exists (urls, (void *)url))
                cJSON_AddItemToArray (
                    rooms, cJSON_CreateString (
                               (const char *)zhashx_cursor (self->routes)));
            urls = (zlist_t *)zhashx_next (self->routes);
        }
        cJSON_AddStringToObject (item, "state", target->state);
        cJSON_AddNumberToObject (item, "sent", (double)target->sent);
        cJSON_AddNumberToObject (item, "failed", (double)target->failed);
        cJSON_AddNumberToObject (item, "dropped_queue_full",
                                 (double)target->dropped);
        cJSON_AddNumberToObject (item, "links", (double)target->links);
        cJSON_AddNumberToObject (item, "via_inbound",
                                 (double)target->via_inbound);
        if (target->peer)
            cJSON_AddStringToObject (item, "peer", target->peer);
        cJSON_AddItemToArray (list, item);
        target = (target_t *)zhashx_next (self->targets);
    }
}

void
ces_targets_metrics (ces_targets_t *self, FILE *out)
{
    assert (self && out);
    fprintf (out, "# HELP ces_repeater_target_events_total Events for each "
                  "target, by outcome.\n"
                  "# TYPE ces_repeater_target_events_total counter\n");
    target_t *target = (target_t *)zhashx_first (self->targets);
    while (target) {
        const char *url = (const char *)zhashx_cursor (self->targets);
        fprintf (out,
                 "ces_repeater_target_events_total{target=\"%s\",outcome="
                 "\"sent\"} %" PRIu64 "\n"
                 "ces_repeater_target_events_total{target=\"%s\",outcome="
                 "\"failed\"} %" PRIu64 "\n"
                 "ces_repeater_target_events_total{target=\"%s\",outcome="
                 "\"queue_full\"} %" PRIu64 "\n",
                 url, target->sent, url, target->failed, url, target->dropped);
        target = (target_t *)zhashx_next (self->targets);
    }
    fprintf (out, "# HELP ces_repeater_target_links Open WebSocket links to "
                  "targets.\n# TYPE ces_repeater_target_links gauge\n");
    target = (target_t *)zhashx_first (self->targets);
    while (target) {
        fprintf (out, "ces_repeater_target_links{target=\"%s\"} %zu\n",
                 (const char *)zhashx_cursor (self->targets), target->links);
        target = (target_t *)zhashx_next (self->targets);
    }
}

size_t
ces_targets_size (ces_targets_t *self)
{
    assert (self);
    return zhashx_size (self->targets);
}

//  --------------------------------------------------------------------------
//  Self test

void
ces_targets_test (bool verbose)
{
    printf (" * ces_targets: ");
    //  @selftest
    ces_targets_t *targets = ces_targets_new (
        "selftest", 1000, verbose ? CES_LOG_DEBUG : CES_LOG_ERROR);
    char reason[256];
    //  Central addresses route every room
    assert (ces_targets_configure (targets, NULL,
                                   "ws://127.0.0.1:9,http://127.0.0.1:9/x",
                                   reason, sizeof (reason)) == 0);
    assert (ces_targets_size (targets) == 2);
    //  A bad URL is refused and the routes in force stay
    assert (ces_targets_configure (targets, NULL, "https://secure", reason,
                                   sizeof (reason)) == -1);
    assert (strstr (reason, "TLS"));
    assert (ces_targets_size (targets) == 2);

    //  A file adds per-room targets; the central ones are kept
    char *file = zsys_sprintf ("/tmp/ces-targets-selftest-%d.json", getpid ());
    FILE *out = fopen (file, "w");
    assert (out);
    fprintf (out, "{\"ITB-1101\": [\"ws://127.0.0.1:9\", \"127.0.0.1:10\"]}");
    fclose (out);
    assert (ces_targets_configure (targets, file, "ws://127.0.0.1:9", reason,
                                   sizeof (reason)) == 0);
    assert (ces_targets_size (targets) == 2);
    //  ITB-1101 goes to both, once each; another room only to the central one
    zframe_t *message = ces_frame_build ("ITB-1101", "{}", 2);
    assert (ces_targets_dispatch (targets, "ITB-1101", message, NULL, NULL) ==
            2);
    assert (ces_targets_dispatch (targets, "ITB-2202", message, NULL, NULL) ==
            1);
    zframe_destroy (&message);
    cJSON *status = cJSON_CreateObject ();
    ces_targets_status (targets, status);
    assert (cJSON_GetArraySize (cJSON_GetObjectItem (status, "targets")) == 2);
    cJSON_Delete (status);

    out = fopen (file, "w");
    fprintf (out, "[\"not an object\"]");
    fclose (out);
    assert (ces_targets_configure (targets, file, NULL, reason,
                                   sizeof (reason)) == -1);
    assert (strstr (reason, "JSON object"));
    unlink (file);
    zstr_free (&file);
    ces_targets_destroy (&targets);
    ces_targets_destroy (&targets);
    //  @end
    printf ("OK\n");
}
