/*  =========================================================================
    ces_edge_options - what an edge was told with SET, before it starts
    =========================================================================
*/
#include "ces_classes.h"

ces_edge_options_t *
ces_edge_options_new (bool outside)
{
    ces_edge_options_t *options =
        (ces_edge_options_t *)zmalloc (sizeof (ces_edge_options_t));
    assert (options);
    options->outside = outside;
    options->listen = strdup (outside ? CES_REPEATER_LISTEN : CES_EDGE_LISTEN);
    options->hub_router = strdup (CES_HUB_ROUTER);
    options->hub_pub = strdup (CES_HUB_PUB);
    options->web.max_clients =
        outside ? CES_REPEATER_MAX_CLIENTS : CES_EDGE_MAX_CLIENTS;
    options->web.max_message = CES_PAYLOAD_MAX;
    options->web.max_depth = CES_DEPTH_MAX;
    options->web.max_room_length = CES_ROOM_MAX;
    options->web.handshake_timeout = 10000;
    options->web.validate = true;
    options->max_rooms = 10000;
    options->limits = (ces_client_limits_t){.queue = 1024 * 1024,
                                            .stuck_timeout = 10000,
                                            .ping_interval = 30000,
                                            .pong_timeout = 60000,
                                            .idle_timeout = 30000,
                                            .log_level = CES_LOG_INFO};
    options->link_idle = 7000;
    char hostname[64] = "ces";
    gethostname (hostname, sizeof (hostname) - 1);
    options->system_id = strdup (hostname);
    options->auth = ces_auth_new ();
    return options;
}

void
ces_edge_options_destroy (ces_edge_options_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_edge_options_t *self = *self_p;
        zstr_free (&self->listen);
        zstr_free (&self->hub_router);
        zstr_free (&self->hub_pub);
        zstr_free (&self->hub_control);
        zstr_free (&self->curve_cert);
        zstr_free (&self->hub_key);
        zstr_free (&self->system_id);
        zstr_free (&self->targets_file);
        zstr_free (&self->central);
        for (int i = 0; i < 4; i++)
            zstr_free (&self->auth_given[i]);
        ces_auth_destroy (&self->auth);
        freen (self);
        *self_p = NULL;
    }
}

//  SET answers with a signal only: say why here
static int
s_auth_refusal (ces_edge_options_t *self, int rc, const char *reason)
{
    if (rc)
        ces_error (self->limits.log_level, "edge: %s", reason);
    return rc;
}

static void
s_set_string (char **field, const char *value)
{
    zstr_free (field);
    *field = strdup (value);
}

//  Options that take a number (checked by the option table); false if
//  name is none of them
static bool
s_set_number (ces_edge_options_t *options, const char *name, long number)
{
    ces_webserver_config_t *web = &options->web;
    ces_client_limits_t *limits = &options->limits;
    if (streq (name, "max-clients"))
        web->max_clients = (int)number;
    else if (streq (name, "max-message"))
        web->max_message = (size_t)number;
    else if (streq (name, "max-rooms-per-client"))
        options->max_rooms = (int)number;
    else if (streq (name, "max-rate"))
        web->max_rate = (int)number;
    else if (streq (name, "max-depth"))
        web->max_depth = (int)number;
    else if (streq (name, "max-room-length"))
        web->max_room_length = (size_t)number;
    else if (streq (name, "handshake-timeout"))
        web->handshake_timeout = (int)number;
    else if (streq (name, "max-clients-per-address"))
        web->max_per_address = (int)number;
    else if (streq (name, "client-queue"))
        limits->queue = (size_t)number;
    else if (streq (name, "stuck-timeout"))
        limits->stuck_timeout = (int)number;
    else if (streq (name, "ping-interval"))
        limits->ping_interval = (int)number;
    else if (streq (name, "pong-timeout"))
        limits->pong_timeout = (int)number;
    else if (streq (name, "link-idle"))
        options->link_idle = (int)number;
    else if (streq (name, "idle-timeout"))
        limits->idle_timeout = (int)number;
    else
        return false;
    return true;
}

//  The auth options, in the order they are applied
static const char *const s_auth_names[4] = {
    "auth-secret", "auth-key-file", "auth-open-networks", "allowed-origins"};

static int
s_auth_index (const char *name)
{
    for (int i = 0; i < 4; i++)
        if (streq (name, s_auth_names[i]))
            return i;
    return -1;
}

ces_auth_t *
ces_edge_options_auth_with (ces_edge_options_t *self, const char *name,
                            const char *value, char *reason, size_t size)
{
    assert (self && name && value && reason);
    int index = s_auth_index (name);
    assert (index >= 0);
    const char *given[4];
    for (int i = 0; i < 4; i++)
        given[i] = i == index ? value : self->auth_given[i];
    ces_auth_t *auth = ces_auth_new ();
    int rc = 0;
    if (given[0] && *given[0])
        ces_auth_set_secret (auth, given[0]);
    if (given[1] && *given[1])
        rc = ces_auth_set_key_file (auth, given[1], reason, size);
    if (rc == 0 && given[2] && *given[2])
        rc = ces_auth_set_open (auth, given[2], reason, size);
    if (rc == 0 && given[3])
        ces_auth_set_origins (auth, given[3]);
    if (rc) {
        ces_auth_destroy (&auth);
        return NULL;
    }
    zstr_free (&self->auth_given[index]);
    self->auth_given[index] = strdup (value);
    return auth;
}

int
ces_edge_options_set (ces_edge_options_t *self, const char *name,
                      const char *value)
{
    char reason[256] = "";
    ces_edge_options_t *options = self;
    //  The table checks every value: what passes is in range
    if (!name || !value ||
        ces_options_check (CES_OPTIONS_EDGE | CES_OPTIONS_REPEATER, name,
                           value))
        return -1;
    char *end;
    long number = strtol (value, &end, 10);
    if (*value && !*end && s_set_number (options, name, number))
        return 0;
    int auth_index = s_auth_index (name);
    if (auth_index >= 0) {
        zstr_free (&self->auth_given[auth_index]);
        self->auth_given[auth_index] = strdup (value);
    }
    if (streq (name, "listen"))
        s_set_string (&options->listen, value);
    else if (streq (name, "hub-router"))
        s_set_string (&options->hub_router, value);
    else if (streq (name, "hub-pub"))
        s_set_string (&options->hub_pub, value);
    else if (streq (name, "curve-cert"))
        s_set_string (&options->curve_cert, value);
    else if (streq (name, "hub-key"))
        s_set_string (&options->hub_key, value);
    else if (streq (name, "auth-secret") && *value)
        ces_auth_set_secret (self->auth, value);
    else if (streq (name, "auth-key-file") && *value)
        return s_auth_refusal (
            self,
            ces_auth_set_key_file (self->auth, value, reason, sizeof (reason)),
            reason);
    else if (streq (name, "auth-open-networks"))
        return s_auth_refusal (
            self,
            ces_auth_set_open (self->auth, value, reason, sizeof (reason)),
            reason);
    else if (streq (name, "allowed-origins"))
        ces_auth_set_origins (self->auth, value);
    else if (streq (name, "hub-control") && *value)
        s_set_string (&options->hub_control, value);
    else if (streq (name, "validate") &&
             (streq (value, "true") || streq (value, "false")))
        options->web.validate = streq (value, "true");
    else if (streq (name, "system-id") && *value)
        s_set_string (&options->system_id, value);
    else if (streq (name, "targets"))
        s_set_string (&options->targets_file, value);
    else if (streq (name, "central"))
        s_set_string (&options->central, value);
    else if (streq (name, "log-level") && ces_log_level_parse (value) >= 0)
        options->limits.log_level = ces_log_level_parse (value);
    else
        return -1;
    return 0;
}

int
ces_edge_options_curve (ces_edge_options_t *self, ces_curve_t **curve_p,
                        char *reason, size_t size)
{
    assert (self && curve_p);
    *curve_p = NULL;
    bool cert = self->curve_cert && *self->curve_cert;
    bool key = self->hub_key && *self->hub_key;
    if (!cert && !key)
        return 0;
    if (!cert || !key) {
        snprintf (reason, size,
                  "CURVE needs both this edge's certificate (--curve-cert) "
                  "and the hub's public key (--hub-key)");
        return -1;
    }
    *curve_p = ces_curve_new (self->curve_cert, self->hub_key, reason, size);
    return *curve_p ? 0 : -1;
}

ces_link_t *
ces_edge_options_link (ces_edge_options_t *self, ces_curve_t *curve)
{
    assert (self);
    zuuid_t *uuid = zuuid_new ();
    char *link_id =
        zsys_sprintf ("%c-%.12s", self->outside ? 'r' : 'e', zuuid_str (uuid));
    zuuid_destroy (&uuid);
    char *name = zsys_sprintf ("%s %s", self->outside ? "repeater" : "edge",
                               self->listen);
    //  A repeater subscribes to nothing: the hub hands it events
    ces_link_t *link =
        ces_link_new (self->hub_router, self->outside ? NULL : self->hub_pub,
                      link_id, name, curve);
    zstr_free (&name);
    zstr_free (&link_id);
    if (!link)
        return NULL;
    ces_link_set_log_level (link, self->limits.log_level);
    //  Every event was checked here: a hub that trusts this link skips
    //  its own JSON scan
    ces_link_set_validated (link, self->web.validate);
    //  The hub shows which client holds which room (its presence): our
    //  REGISTERs are the union of our clients' rooms
    ces_link_set_presence (link, true);
    return link;
}

void
ces_edge_options_test (bool verbose)
{
    (void)verbose;
    printf (" * ces_edge_options: ");
    //  @selftest
    ces_edge_options_t *options = ces_edge_options_new (false);
    assert (options->web.max_clients == CES_EDGE_MAX_CLIENTS);
    assert (streq (options->listen, CES_EDGE_LISTEN));
    assert (ces_edge_options_set (options, "max-clients", "16") == 0);
    assert (options->web.max_clients == 16);
    assert (ces_edge_options_set (options, "max-clients", "0") == -1);
    assert (ces_edge_options_set (options, "max-clients", "many") == -1);
    assert (ces_edge_options_set (options, "client-queue", "4096") == 0);
    assert (options->limits.queue == 4096);
    assert (ces_edge_options_set (options, "validate", "false") == 0);
    assert (!options->web.validate);
    assert (ces_edge_options_set (options, "listen", "127.0.0.1:0") == 0);
    assert (streq (options->listen, "127.0.0.1:0"));
    assert (ces_edge_options_set (options, "no-such-option", "1") == -1);
    ces_edge_options_destroy (&options);
    assert (options == NULL);
    options = ces_edge_options_new (true);
    assert (options->outside);
    assert (options->web.max_clients == CES_REPEATER_MAX_CLIENTS);
    //  CURVE: both or neither; a repeater's link
    ces_curve_t *curve = NULL;
    char reason[256] = "";
    assert (ces_edge_options_curve (options, &curve, reason, sizeof reason) ==
                0 &&
            curve == NULL);
    assert (ces_edge_options_set (options, "hub-key", "x") == 0);
    assert (ces_edge_options_curve (options, &curve, reason, sizeof reason) ==
            -1);
    assert (strstr (reason, "--curve-cert") && curve == NULL);
    assert (ces_edge_options_set (options, "hub-router", "tcp://127.0.0.1:1") ==
            0);
    ces_link_t *link = ces_edge_options_link (options, NULL);
    assert (link && ces_link_id (link)[0] == 'r');
    ces_link_destroy (&link);
    assert (ces_edge_options_set (options, "hub-router", "nowhere") == 0);
    assert (ces_edge_options_link (options, NULL) == NULL);
    ces_edge_options_destroy (&options);
    //  @end
    printf ("OK\n");
}
