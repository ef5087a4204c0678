/*  =========================================================================
    ces_hubpeer - an original (Go) hub as a peer of a ces hub
    =========================================================================
*/
#include "ces_classes.h"
#include <poll.h>

#define ORIGINAL_HUB_PORT 7100
#define CONNECT_TIMEOUT   1000
#define BACKOFF_MIN       100
#define BACKOFF_MAX       5000
#define PING_INTERVAL     30000
#define CONN              "0"

typedef struct {
    char *url;
    char *hub_endpoint;
    char *link_id;
    char host[256];
    int port;
    int log_level;
    atomic_bool *stop; //  raised by the owner before it ends us
} config_t;

typedef struct {
    zsock_t *pipe;
    config_t *config;
    bool terminated;
    ces_link_t *link;
    ces_wsclient_t *ws;
    int backoff;
    int64_t next_dial;
    int64_t next_ping;
    uint64_t events_in;
    uint64_t events_out;
    uint64_t drops;
    uint64_t connects;
    char last_error[256];
    int64_t next_report;
    char *reported; //  the status last sent to the owner
} self_t;

static void
s_config_destroy (config_t **config_p)
{
    config_t *config = *config_p;
    if (!config)
        return;
    zstr_free (&config->url);
    zstr_free (&config->hub_endpoint);
    zstr_free (&config->link_id);
    freen (config);
    *config_p = NULL;
}

//  ws://host[:port][/] -> host, port; false with a reason otherwise
static bool
s_parse_url (const char *url, config_t *config, char *error, size_t error_size)
{
    if (strncmp (url, "ws://", 5) != 0) {
        snprintf (error, error_size,
                  "%s: an original hub's address is "
                  "ws://host[:port]",
                  url);
        return false;
    }
    const char *rest = url + 5;
    size_t authority = strcspn (rest, "/");
    if (rest[authority] &&
        strspn (rest + authority, "/") != strlen (rest + authority)) {
        snprintf (error, error_size,
                  "%s: give no path; the peer dials /connect/hub", url);
        return false;
    }
    config->port = ORIGINAL_HUB_PORT;
    return ces_wsclient_split_authority (rest, authority, config->host,
                                         sizeof (config->host), &config->port,
                                         url, error, error_size);
}

//  --------------------------------------------------------------------------
//  The WebSocket side

static void
s_ws_down (self_t *self, const char *why)
{
    if (!self->ws)
        return;
    ces_warn (self->config->log_level, "original hub %s: link lost (%s)",
              self->config->url, why);
    snprintf (self->last_error, sizeof (self->last_error), "%s", why);
    ces_wsclient_destroy (&self->ws);
    ces_link_detach (self->link, CONN);
    self->next_dial = zclock_mono () + self->backoff;
    self->next_report = 0;
}

static void
s_dial (self_t *self)
{
    int status;
    self->ws = ces_wsclient_new (self->config->host, self->config->port,
                                 "/connect/hub", self->config->stop,
                                 CONNECT_TIMEOUT, &status);
    if (!self->ws) {
        snprintf (self->last_error, sizeof (self->last_error),
                  status < 0 ? "no answer from %s:%d"
                             : "%s:%d refused the upgrade (HTTP %d)",
                  self->config->host, self->config->port, status);
        ces_debug (self->config->log_level, "original hub %s: %s",
                   self->config->url, self->last_error);
        //  Exponential backoff with +-25% jitter
        int jitter = self->backoff / 4;
        self->next_dial = zclock_mono () + self->backoff - jitter +
                          (jitter ? randof (2 * jitter) : 0);
        self->backoff =
            self->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : self->backoff * 2;
        return;
    }
    self->backoff = BACKOFF_MIN;
    self->connects++;
    self->next_ping = zclock_mono () + PING_INTERVAL;
    self->last_error[0] = 0;
    ces_link_attach (self->link, CONN, CES_ROLE_HUB);
    self->next_report = 0;
    ces_info (self->config->log_level, "original hub %s: linked",
              self->config->url);
}

static void
s_ws_read (self_t *self)
{
    const byte *data;
    size_t size;
    int rc;
    while ((rc = ces_wsclient_recv (self->ws, &data, &size,
                                    CES_PAYLOAD_MAX + CES_ROOM_MAX + 2)) == 1) {
        zframe_t *message = zframe_new (data, size);
        if (ces_link_send (self->link, CONN, message) == 0)
            self->events_in++;
        else
            self->drops++;
        zframe_destroy (&message);
    }
    if (rc < 0)
        s_ws_down (self, "closed or broken");
}

//  --------------------------------------------------------------------------
//  The hub side

static void
s_on_link_event (self_t *self, ces_link_event_t event)
{
    if (event != CES_LINK_DELIVER || !streq (ces_link_conn (self->link), CONN))
        return;
    zframe_t *message = ces_link_message (self->link);
    if (self->ws && ces_wsclient_send (self->ws, 0x2, zframe_data (message),
                                       zframe_size (message)) == 0)
        self->events_out++;
    else {
        self->drops++;
        s_ws_down (self, "send failed");
    }
}

static char *
s_status_json (self_t *self)
{
    cJSON *root = cJSON_CreateObject ();
    cJSON_AddStringToObject (root, "url", self->config->url);
    cJSON_AddStringToObject (root, "state", self->ws ? "up" : "retrying");
    cJSON_AddNumberToObject (root, "events_in", (double)self->events_in);
    cJSON_AddNumberToObject (root, "events_out", (double)self->events_out);
    cJSON_AddNumberToObject (root, "drops", (double)self->drops);
    cJSON_AddNumberToObject (root, "connects", (double)self->connects);
    cJSON_AddStringToObject (root, "last_error", self->last_error);
    char *text = cJSON_PrintUnformatted (root);
    cJSON_Delete (root);
    return text;
}

//  The owner is a hub that must never wait: it is told the status when
//  that changes, at most once a second, without asking
static void
s_report (self_t *self)
{
    self->next_report = zclock_mono () + 1000;
    char *json = s_status_json (self);
    if (self->reported && streq (json, self->reported)) {
        zstr_free (&json);
        return;
    }
    zstr_free (&self->reported);
    self->reported = json;
    zstr_sendx (self->pipe, "STATUS", json, NULL);
}

static void
s_handle_pipe (self_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command)
        return;
    if (streq (command, "$TERM"))
        self->terminated = true;
    else {
        zsys_error ("hubpeer: invalid pipe command '%s'", command);
        assert (false);
    }
    zstr_free (&command);
}

//  --------------------------------------------------------------------------
//  The actor

static void
s_hubpeer_actor (zsock_t *pipe, void *args)
{
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->config = (config_t *)args;
    self->backoff = BACKOFF_MIN;
    char *name = zsys_sprintf ("original hub %s", self->config->url);
    self->link = ces_link_new (self->config->hub_endpoint, NULL,
                               self->config->link_id, name, NULL);
    zstr_free (&name);
    assert (self->link);
    ces_link_set_log_level (self->link, self->config->log_level);
    zsock_signal (pipe, 0);

    while (!self->terminated) {
        int64_t now = zclock_mono ();
        if (!self->ws && now >= self->next_dial)
            s_dial (self);
        if (now >= self->next_report)
            s_report (self);
        if (self->ws && now >= self->next_ping) {
            ces_wsclient_send (self->ws, 0x9, "", 0);
            self->next_ping = now + PING_INTERVAL;
        }
        zmq_pollitem_t items[3] = {
            {zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
            {zsock_resolve (ces_link_dealer (self->link)), 0, ZMQ_POLLIN, 0},
            {NULL, self->ws ? ces_wsclient_fd (self->ws) : -1, ZMQ_POLLIN, 0}};
        int64_t next = now + ces_link_timeout (self->link);
        if (!self->ws && self->next_dial < next)
            next = self->next_dial;
        if (self->ws && self->next_ping < next)
            next = self->next_ping;
        if (self->next_report < next)
            next = self->next_report;
        long timeout = next > now ? (long)(next - now) : 0;
        if (zmq_poll (items, self->ws ? 3 : 2, timeout) < 0)
            continue;
        if (items[0].revents & ZMQ_POLLIN)
            s_handle_pipe (self);
        if (items[1].revents & ZMQ_POLLIN)
            s_on_link_event (self, ces_link_recv_dealer (self->link));
        if (self->ws && items[2].revents)
            s_ws_read (self);
        if (ces_link_timeout (self->link) == 0)
            ces_link_tick (self->link);
    }
    if (self->ws)
        ces_wsclient_close (self->ws, 1001);
    ces_wsclient_destroy (&self->ws);
    ces_link_destroy (&self->link);
    s_config_destroy (&self->config);
    zstr_free (&self->reported);
    freen (self);
}

zactor_t *
ces_hubpeer_new (const char *url, const char *hub_endpoint, const char *hub_id,
                 int log_level, atomic_bool *stop, char *error,
                 size_t error_size)
{
    assert (url && hub_endpoint && hub_id && error);
    config_t *config = (config_t *)zmalloc (sizeof (config_t));
    assert (config);
    if (!s_parse_url (url, config, error, error_size)) {
        s_config_destroy (&config);
        return NULL;
    }
    config->url = strdup (url);
    config->hub_endpoint = strdup (hub_endpoint);
    config->link_id =
        zsys_sprintf ("original.%s.%s:%d", hub_id, config->host, config->port);
    config->log_level = log_level;
    config->stop = stop;
    //  The actor owns config from here
    return zactor_new (s_hubpeer_actor, config);
}

//  --------------------------------------------------------------------------
//  Self test: URLs, and a peer that keeps retrying a port nobody serves

void
ces_hubpeer_test (bool verbose)
{
    printf (" * ces_hubpeer: ");
    //  @selftest
    char error[256];
    atomic_bool stop = false;
    assert (!ces_hubpeer_new ("tcp://x:1", "inproc://none", "h", CES_LOG_ERROR,
                              NULL, error, sizeof (error)));
    assert (strstr (error, "ws://"));
    assert (!ces_hubpeer_new ("ws://:7100", "inproc://none", "h", CES_LOG_ERROR,
                              NULL, error, sizeof (error)));
    assert (!ces_hubpeer_new ("ws://h:99999", "inproc://none", "h",
                              CES_LOG_ERROR, NULL, error, sizeof (error)));
    assert (!ces_hubpeer_new ("ws://h:7100/other", "inproc://none", "h",
                              CES_LOG_ERROR, NULL, error, sizeof (error)));
    int port;
    int closed = ces_http_test_listener (&port);
    close (closed); //  nobody listens there now
    char *url = zsys_sprintf ("ws://127.0.0.1:%d/", port);
    zactor_t *peer = ces_hubpeer_new (
        url, "inproc://hubpeer-test-none", "selftest",
        verbose ? CES_LOG_DEBUG : CES_LOG_ERROR, &stop, error, sizeof (error));
    assert (peer);
    //  It reports without being asked
    char *command, *json;
    zstr_recvx (peer, &command, &json, NULL);
    assert (streq (command, "STATUS"));
    assert (strstr (json, "\"state\":\"retrying\""));
    zstr_free (&command);
    zstr_free (&json);
    atomic_store (&stop, true);
    zactor_destroy (&peer);
    zstr_free (&url);
    //  @end
    printf ("OK\n");
}
