/*  =========================================================================
    ces_outside - an edge in repeater mode: outside systems in and out
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_outside_t {
    ces_link_t *link;
    char *system_id;
    int log_level;
    ces_targets_t *targets;
    bool in_rotation;    //  CES_ROTATION_CONN is attached at the hub
    zhashx_t *peers;     //  "ROOM\nID" -> outside ces_client_t, for replies
    zhashx_t *keys;      //  ces_client_t (by id) -> its "ROOM\nID"
    uint64_t to_targets; //  events the hub gave this repeater
    uint64_t no_target;  //  ... that no target wanted
    uint64_t from_links; //  events peers sent on links we dialled
    ces_outside_write_fn *write;
    void *write_arg;
};

ces_outside_t *
ces_outside_new (ces_link_t *link, const char *system_id, int link_idle,
                 int log_level, ces_outside_write_fn *write, void *arg)
{
    assert (link && system_id);
    ces_outside_t *self = (ces_outside_t *)zmalloc (sizeof (*self));
    assert (self);
    self->link = link;
    self->system_id = strdup (system_id);
    self->log_level = log_level;
    self->write = write;
    self->write_arg = arg;
    self->targets = ces_targets_new (system_id, link_idle, log_level);
    self->peers = zhashx_new ();
    self->keys = zhashx_new ();
    assert (self->targets && self->peers && self->keys);
    zhashx_set_destructor (self->keys, (zhashx_destructor_fn *)zstr_free);
    ces_link_attach (link, CES_OUTSIDE_CONN, CES_ROLE_OUTSIDE);
    return self;
}

void
ces_outside_destroy (ces_outside_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_outside_t *self = *self_p;
        ces_targets_destroy (&self->targets);
        zhashx_destroy (&self->peers);
        zhashx_destroy (&self->keys);
        zstr_free (&self->system_id);
        freen (self);
        *self_p = NULL;
    }
}

//  A repeater takes events from the hub's round-robin only while it has
//  somewhere to send them; otherwise another repeater should get them
static void
s_join_rotation (ces_outside_t *self)
{
    bool wanted = ces_targets_size (self->targets) > 0;
    if (wanted && !self->in_rotation)
        ces_link_attach (self->link, CES_ROTATION_CONN, CES_ROLE_REPEATER);
    else if (!wanted && self->in_rotation)
        ces_link_detach (self->link, CES_ROTATION_CONN);
    if (wanted != self->in_rotation)
        ces_info (self->log_level, "repeater: %s the hub's repeater rotation",
                  wanted ? "in" : "out of");
    self->in_rotation = wanted;
}

int
ces_outside_configure (ces_outside_t *self, const char *targets_file,
                       const char *central, char *reason, size_t reason_size)
{
    assert (self);
    if (ces_targets_configure (self->targets, targets_file, central, reason,
                               reason_size))
        return -1;
    s_join_rotation (self);
    return 0;
}

size_t
ces_outside_targets (ces_outside_t *self)
{
    assert (self);
    return ces_targets_size (self->targets);
}

void
ces_outside_open (ces_outside_t *self, ces_client_t *client, const char *uri)
{
    assert (self && client && uri);
    //  /connect/ROOM/ID[/]: checked by the webserver already
    const char *room = uri + strlen ("/connect/");
    const char *slash = strchr (room, '/');
    if (!slash)
        return;
    char *key = zsys_sprintf ("%.*s\n%s", (int)(slash - room), room, slash + 1);
    size_t size = strlen (key);
    if (key[size - 1] == '/')
        key[size - 1] = 0;
    zhashx_update (self->peers, key, client);
    zhashx_update (self->keys, ces_client_id (client), key);
}

void
ces_outside_gone (ces_outside_t *self, ces_client_t *client)
{
    assert (self && client);
    const char *key =
        (const char *)zhashx_lookup (self->keys, ces_client_id (client));
    if (!key)
        return;
    //  A newer link of the same system and room may have taken the key
    if (zhashx_lookup (self->peers, key) == client)
        zhashx_delete (self->peers, key);
    zhashx_delete (self->keys, ces_client_id (client));
}

//  A peer that has its own inbound link open for the room gets the event
//  back over it (ces_targets_inbound_fn)
static bool
s_send_to_peer (void *arg, const char *peer, const char *room,
                zframe_t *message)
{
    ces_outside_t *self = (ces_outside_t *)arg;
    char *key = zsys_sprintf ("%s\n%s", room, peer);
    ces_client_t *client = (ces_client_t *)zhashx_lookup (self->peers, key);
    zstr_free (&key);
    if (!client || ces_client_state (client) != CES_CLIENT_OPEN)
        return false;
    self->write (client, zframe_data (message), zframe_size (message),
                 self->write_arg);
    return true;
}

bool
ces_outside_deliver (ces_outside_t *self, const char *conn, zframe_t *message)
{
    assert (self && conn && message);
    if (!streq (conn, CES_ROTATION_CONN))
        return false;
    char room[CES_ROOM_MAX + 1];
    if (!ces_frame_room_copy (zframe_data (message), zframe_size (message),
                              room))
        return true; //  the hub checked it; nothing to route by
    self->to_targets++;
    if (ces_targets_dispatch (self->targets, room, message, s_send_to_peer,
                              self) == 0)
        self->no_target++;
    return true;
}

zsock_t *
ces_outside_reports (ces_outside_t *self)
{
    assert (self);
    return ces_targets_reports (self->targets);
}

zframe_t *
ces_outside_recv (ces_outside_t *self)
{
    assert (self);
    zframe_t *inbound = ces_targets_recv (self->targets);
    if (inbound)
        self->from_links++;
    return inbound;
}

void
ces_outside_status (ces_outside_t *self, cJSON *root, uint64_t closed_idle)
{
    assert (self);
    cJSON *repeater = cJSON_AddObjectToObject (root, "repeater");
    cJSON_AddStringToObject (repeater, "system_id", self->system_id);
    cJSON_AddBoolToObject (repeater, "in_rotation", self->in_rotation);
    cJSON_AddNumberToObject (repeater, "events_to_targets",
                             (double)self->to_targets);
    cJSON_AddNumberToObject (repeater, "events_for_no_target",
                             (double)self->no_target);
    cJSON_AddNumberToObject (repeater, "events_from_links",
                             (double)self->from_links);
    cJSON_AddNumberToObject (repeater, "closed_idle", (double)closed_idle);
    ces_targets_status (self->targets, repeater);
}

void
ces_outside_metrics (ces_outside_t *self, FILE *out)
{
    assert (self);
    fprintf (out,
             "# HELP ces_repeater_events_total Events through this "
             "repeater.\n# TYPE ces_repeater_events_total counter\n"
             "ces_repeater_events_total{path=\"to_targets\"} %" PRIu64 "\n"
             "ces_repeater_events_total{path=\"no_target\"} %" PRIu64 "\n"
             "ces_repeater_events_total{path=\"from_links\"} %" PRIu64 "\n",
             self->to_targets, self->no_target, self->from_links);
    ces_targets_metrics (self->targets, out);
}

//  --------------------------------------------------------------------------
//  Self test: rotation follows the targets; outside systems' keys. The
//  whole repeater is tested in ces_repeater and tests/node/repeater_*.

void
ces_outside_test (bool verbose)
{
    printf (" * ces_outside: ");
    //  @selftest
    ces_link_t *link = ces_link_new ("inproc://outside-test-nobody", NULL,
                                     "r-test", "outside test", NULL);
    assert (link);
    ces_outside_t *outside =
        ces_outside_new (link, "selftest", 7000,
                         verbose ? CES_LOG_DEBUG : CES_LOG_WARN, NULL, NULL);
    char reason[256];
    assert (ces_outside_configure (outside, NULL, NULL, reason,
                                   sizeof (reason)) == 0);
    assert (ces_outside_targets (outside) == 0);
    assert (ces_outside_configure (outside, NULL, "http://127.0.0.1:9/hook",
                                   reason, sizeof (reason)) == 0);
    assert (ces_outside_targets (outside) == 1);
    assert (ces_outside_configure (outside, "/nonexistent/targets.json", NULL,
                                   reason, sizeof (reason)) == -1);

    ces_client_limits_t limits = {.queue = 4096, .log_level = CES_LOG_WARN};
    ces_client_lists_t lists = {zlistx_new (), zlistx_new ()};
    ces_client_t *client =
        ces_client_new ("5", CES_ROLE_OUTSIDE, NULL, "x", 0, &limits, &lists);
    ces_outside_open (outside, client, "/connect/ITB-1101/site-b/");
    assert (zhashx_lookup (outside->peers, "ITB-1101\nsite-b") == client);
    ces_outside_gone (outside, client);
    assert (zhashx_size (outside->peers) == 0);
    zframe_t *message = zframe_new ("ITB-1101\n{}", 11);
    assert (!ces_outside_deliver (outside, "7", message));
    assert (ces_outside_deliver (outside, CES_ROTATION_CONN, message));
    assert (outside->to_targets == 1);
    zframe_destroy (&message);
    ces_client_destroy (&client);
    zlistx_destroy (&lists.pending);
    zlistx_destroy (&lists.blocked);
    ces_outside_destroy (&outside);
    assert (outside == NULL);
    ces_link_destroy (&link);
    //  @end
    printf ("OK\n");
}
