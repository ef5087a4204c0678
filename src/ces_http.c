/*  =========================================================================
    ces_http - /health, /status and /metrics from a published snapshot
    =========================================================================
*/
#include "ces_classes.h"
#include <civetweb.h>
#include <pthread.h>

struct _ces_http_t {
    struct mg_context *civet;
    char *listen;
    int port;
    pthread_mutex_t lock; //  guards the snapshot below
    bool healthy;
    char *status;
    char *metrics;
    char *control; //  the hub's control endpoint, for /interconnect
};

void
ces_http_reply (struct mg_connection *conn, int code, const char *type,
                const char *body)
{
    mg_printf (conn,
               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
               "Cache-Control: no-cache\r\nConnection: close\r\n\r\n%s",
               code, mg_get_response_code_text (conn, code), type,
               strlen (body), body);
}

void
ces_http_control (struct mg_connection *conn, const char *endpoint)
{
    const struct mg_request_info *info = mg_get_request_info (conn);
    //  Not the cleaned URI: that folds the "//" of tcp:// and ws://
    const char *uri =
        info->local_uri_raw ? info->local_uri_raw : info->local_uri;
    const char *address = uri + strlen ("/interconnect");
    while (*address == '/')
        address++;
    char *fixed = NULL;
    if ((strncmp (address, "tcp:/", 5) == 0 && address[5] != '/') ||
        (strncmp (address, "ws:/", 4) == 0 && address[4] != '/')) {
        const char *slash = strchr (address, '/');
        fixed = zsys_sprintf ("%.*s/%s", (int)(slash - address + 1), address,
                              slash + 1);
        address = fixed;
    }
    const char *method = info->request_method;
    if (!endpoint) {
        ces_http_reply (conn, 404, "text/plain",
                        "this process has no hub; ask the hub's HTTP port\n");
    } else if (!*address && !streq (method, "GET")) {
        ces_http_reply (conn, 400, "text/plain",
                        "give the other hub's address: POST "
                        "/interconnect/host:port (its ROUTER), or "
                        "/interconnect/ws%3A%2F%2Fhost%3A7100 for an original "
                        "hub\n");
    } else {
        zsock_t *request = zsock_new (ZMQ_DEALER);
        assert (request);
        zsock_set_rcvtimeo (request, 3000);
        zsock_set_linger (request, 0);
        char *status = NULL, *body = NULL;
        if (zsock_connect (request, "%s", endpoint) == 0 &&
            zstr_sendx (request, method, address, NULL) == 0)
            zstr_recvx (request, &status, &body, NULL);
        if (status && body)
            ces_http_reply (conn, atoi (status),
                            *body == '{' ? "application/json" : "text/plain",
                            body);
        else
            ces_http_reply (conn, 503, "text/plain",
                            "the hub did not answer in 3 s\n");
        zstr_free (&status);
        zstr_free (&body);
        zsock_destroy (&request);
    }
    zstr_free (&fixed);
}

//  GET /rooms views: the hub answers on its control socket
static void
s_rooms (ces_http_t *self, struct mg_connection *conn)
{
    const struct mg_request_info *info = mg_get_request_info (conn);
    char room[CES_ROOM_MAX + 1];
    char *request = ces_replay_request (
        info->local_uri_raw ? info->local_uri_raw : info->local_uri,
        info->query_string, room);
    pthread_mutex_lock (&self->lock);
    char *control = self->control ? strdup (self->control) : NULL;
    pthread_mutex_unlock (&self->lock);
    if (!streq (info->request_method, "GET"))
        ces_http_reply (conn, 405, "text/plain", "use GET\n");
    else if (!request || !control)
        ces_http_reply (conn, 404, "text/plain", CES_ROOMS_PATHS);
    else {
        zsock_t *asker = zsock_new (ZMQ_DEALER);
        assert (asker);
        zsock_set_rcvtimeo (asker, 3000);
        zsock_set_linger (asker, 0);
        char *status = NULL, *body = NULL;
        if (zsock_connect (asker, "%s", control) == 0 &&
            zstr_sendx (asker, "QUERY", request, NULL) == 0)
            zstr_recvx (asker, &status, &body, NULL);
        if (status && body)
            ces_http_reply (conn, atoi (status), "application/json", body);
        else
            ces_http_reply (conn, 503, "text/plain",
                            "the hub did not answer in 3 s\n");
        zstr_free (&status);
        zstr_free (&body);
        zsock_destroy (&asker);
    }
    freen (control);
    freen (request);
}

static int
s_handle (struct mg_connection *conn, void *cbdata)
{
    ces_http_t *self = (ces_http_t *)cbdata;
    const char *uri = mg_get_request_info (conn)->local_uri;
    if (strncmp (uri, "/interconnect", 13) == 0 &&
        (uri[13] == 0 || uri[13] == '/')) {
        pthread_mutex_lock (&self->lock);
        char *control = self->control ? strdup (self->control) : NULL;
        pthread_mutex_unlock (&self->lock);
        ces_http_control (conn, control);
        zstr_free (&control);
        return 1;
    }
    if (strncmp (uri, "/rooms", 6) == 0 && (uri[6] == 0 || uri[6] == '/')) {
        s_rooms (self, conn);
        return 1;
    }
    pthread_mutex_lock (&self->lock);
    bool healthy = self->healthy;
    char *status = strdup (self->status);
    char *metrics = strdup (self->metrics);
    pthread_mutex_unlock (&self->lock);
    if (streq (uri, "/health"))
        ces_http_reply (conn, healthy ? 200 : 503, "text/plain",
                        healthy ? "ok" : "unhealthy\n");
    else if (streq (uri, "/status"))
        ces_http_reply (conn, 200, "application/json", status);
    else if (streq (uri, "/metrics"))
        ces_http_reply (conn, 200, "text/plain; version=0.0.4", metrics);
    else
        ces_http_reply (conn, 404, "text/plain",
                        "not found; try /health, /status, /metrics, "
                        "/interconnect or /rooms\n");
    freen (status);
    freen (metrics);
    return 1;
}

//  civetweb calls this once it listens, before it serves anything: a handler
//  set after mg_start2 returns leaves a window in which a request (say, a
//  client polling a restarted hub's /status) gets civetweb's own 404
static void
s_init_context (const struct mg_context *ctx)
{
    mg_set_request_handler ((struct mg_context *)ctx, "/", s_handle,
                            mg_get_user_data (ctx));
}

ces_http_t *
ces_http_new (const char *listen, char *error, size_t error_size)
{
    assert (listen && error);
    ces_http_t *self = (ces_http_t *)zmalloc (sizeof (ces_http_t));
    assert (self);
    pthread_mutex_init (&self->lock, NULL);
    self->status = strdup ("{}");
    self->metrics = strdup ("");
    self->listen = strdup (listen);
    const char *options[] = {
        "listening_ports",    listen, "num_threads", "4", "tcp_nodelay", "1",
        "request_timeout_ms", "5000", NULL};
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof (callbacks));
    callbacks.init_context = s_init_context;
    struct mg_init_data init = {&callbacks, self, options};
    struct mg_error_data failure;
    memset (&failure, 0, sizeof (failure));
    failure.text = error;
    failure.text_buffer_size = error_size;
    self->civet = mg_start2 (&init, &failure);
    if (!self->civet) {
        ces_http_destroy (&self);
        return NULL;
    }
    struct mg_server_port ports[2];
    if (mg_get_server_ports (self->civet, 2, ports) > 0)
        self->port = ports[0].port;
    return self;
}

void
ces_http_destroy (ces_http_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_http_t *self = *self_p;
        if (self->civet)
            ces_civetweb_stop (self->civet, self->listen, self->port, NULL,
                               NULL);
        pthread_mutex_destroy (&self->lock);
        freen (self->status);
        freen (self->metrics);
        zstr_free (&self->control);
        zstr_free (&self->listen);
        freen (self);
        *self_p = NULL;
    }
}

int
ces_http_port (ces_http_t *self)
{
    assert (self);
    return self->port;
}

void
ces_http_set_control (ces_http_t *self, const char *endpoint)
{
    assert (self && endpoint);
    char *copy = strdup (endpoint);
    pthread_mutex_lock (&self->lock);
    char *old = self->control;
    self->control = copy;
    pthread_mutex_unlock (&self->lock);
    zstr_free (&old);
}

void
ces_http_publish (ces_http_t *self, bool healthy, const char *status,
                  const char *metrics)
{
    assert (self && status && metrics);
    char *new_status = strdup (status);
    char *new_metrics = strdup (metrics);
    pthread_mutex_lock (&self->lock);
    char *old_status = self->status;
    char *old_metrics = self->metrics;
    self->healthy = healthy;
    self->status = new_status;
    self->metrics = new_metrics;
    pthread_mutex_unlock (&self->lock);
    freen (old_status);
    freen (old_metrics);
}

//  --------------------------------------------------------------------------
//  Self-test helpers, for this class and others (declared in ces_classes.h)

char *
ces_http_test_request (int port, const char *request)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons ((uint16_t)port);
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int rc = connect (fd, (struct sockaddr *)&address, sizeof (address));
    assert (rc == 0);
    ssize_t sent = send (fd, request, strlen (request), 0);
    assert (sent == (ssize_t)strlen (request));
    char *reply = (char *)zmalloc (65536);
    size_t size = 0;
    ssize_t got;
    while (size < 65535 && (got = recv (fd, reply + size, 65535 - size, 0)) > 0)
        size += (size_t)got;
    close (fd);
    return reply;
}

int
ces_http_test_listener (int *port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int rc = bind (fd, (struct sockaddr *)&address, sizeof (address));
    assert (rc == 0);
    socklen_t size = sizeof (address);
    getsockname (fd, (struct sockaddr *)&address, &size);
    rc = listen (fd, 8);
    assert (rc == 0);
    *port = ntohs (address.sin_port);
    return fd;
}

//  --------------------------------------------------------------------------
//  Self test: serve a snapshot and read it back over a real socket

static char *
s_get (int port, const char *path)
{
    char request[128];
    snprintf (request, sizeof (request), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
              path);
    return ces_http_test_request (port, request);
}

void
ces_http_test (bool verbose)
{
    printf (" * ces_http: ");
    //  @selftest
    char error[256] = "";
    ces_http_t *http = ces_http_new ("127.0.0.1:0", error, sizeof (error));
    assert (http);
    int port = ces_http_port (http);
    assert (port > 0);
    char *reply = s_get (port, "/health");
    assert (strstr (reply, "503"));
    freen (reply);
    ces_http_publish (http, true, "{\"answer\":42}", "ces_test 1\n");
    reply = s_get (port, "/health");
    assert (strstr (reply, "200 OK"));
    freen (reply);
    reply = s_get (port, "/status");
    assert (strstr (reply, "{\"answer\":42}"));
    freen (reply);
    reply = s_get (port, "/metrics");
    assert (strstr (reply, "ces_test 1"));
    freen (reply);
    reply = s_get (port, "/nothing");
    assert (strstr (reply, "404"));
    freen (reply);

    //  A taken port is refused with a reason
    char *listen = zsys_sprintf ("127.0.0.1:%d", port);
    ces_http_t *clash = ces_http_new (listen, error, sizeof (error));
    assert (clash == NULL);
    assert (strlen (error) > 0);
    zstr_free (&listen);
    ces_http_destroy (&http);
    ces_http_destroy (&http);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
