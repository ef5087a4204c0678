/*  =========================================================================
    ces_target - one outside system a repeater forwards events to
    =========================================================================
*/
#include "ces_classes.h"
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>

#define IO_TIMEOUT    2000 //  connect, send and answer, per attempt
#define HTTP_ATTEMPTS 3
#define REPEATER_PORT 7101 //  what ws://host means without a port

typedef enum { KIND_HTTP, KIND_WEBSOCKET } kind_t;

//  A WebSocket link we dialled for one room
typedef struct {
    char *room;
    ces_wsclient_t *ws;
    int64_t last_used;
} link_t;

typedef struct {
    zsock_t *pipe;
    atomic_bool *stop;    //  raised by the owner before it ends us
    atomic_bool own_stop; //  the flag, when the owner gave none
    zsock_t *reports;     //  PUSH to the owner
    bool terminated;
    int log_level;
    char *url;
    char *system_id;
    kind_t kind;
    char host[256];
    int port;
    char path[256]; //  HTTP path, or WebSocket base path without a slash
    int link_idle;
    zhashx_t *links; //  room -> link_t
    uint64_t sent;
    uint64_t failed;
    bool failing; //  the last attempt failed
    int64_t next_stats;
} self_t;

//  --------------------------------------------------------------------------
//  URLs

static bool
s_parse_url (const char *url, kind_t *kind, char *host, size_t host_size,
             int *port, char *path, size_t path_size, char *reason,
             size_t reason_size)
{
    //  A fragment names the peer's SYSTEM_ID (see ces_targets); not ours
    char bare[512];
    snprintf (bare, sizeof (bare), "%s", url);
    char *fragment = strchr (bare, '#');
    if (fragment)
        *fragment = 0;
    const char *rest = bare;
    if (strncmp (bare, "https://", 8) == 0 ||
        strncmp (bare, "wss://", 6) == 0) {
        snprintf (reason, reason_size,
                  "%s: TLS targets need a TLS proxy in front (civetweb's TLS "
                  "does not work with OpenSSL 3)",
                  url);
        return false;
    }
    if (strncmp (bare, "http://", 7) == 0) {
        *kind = KIND_HTTP;
        rest = bare + 7;
        *port = 80;
    } else {
        *kind = KIND_WEBSOCKET;
        if (strncmp (bare, "ws://", 5) == 0)
            rest = bare + 5;
        *port = REPEATER_PORT;
    }
    const char *slash = strchr (rest, '/');
    size_t authority = slash ? (size_t)(slash - rest) : strlen (rest);
    if (!ces_wsclient_split_authority (rest, authority, host, host_size, port,
                                       url, reason, reason_size))
        return false;
    snprintf (path, path_size, "%s", slash ? slash : "");
    if (*kind == KIND_HTTP && !*path)
        snprintf (path, path_size, "/");
    if (*kind == KIND_WEBSOCKET) {
        size_t size = strlen (path);
        while (size && path[size - 1] == '/')
            path[--size] = 0; //  we add /connect/<room>/<id>
    }
    return true;
}

bool
ces_target_url_valid (const char *url, char *reason, size_t size)
{
    kind_t kind;
    char host[256], path[256];
    int port;
    return s_parse_url (url, &kind, host, sizeof (host), &port, path,
                        sizeof (path), reason, size);
}

//  --------------------------------------------------------------------------
//  HTTP targets

static int
s_http_post_once (self_t *self, const char *body, size_t size)
{
    int fd = ces_net_connect (self->host, self->port, self->stop, IO_TIMEOUT);
    if (fd < 0)
        return -1;
    char *head =
        zsys_sprintf ("POST %s HTTP/1.1\r\nHost: %s:%d\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      self->path, self->host, self->port, size);
    int status = -1;
    if (ces_net_send_all (fd, head, strlen (head), self->stop, IO_TIMEOUT) ==
            0 &&
        ces_net_send_all (fd, body, size, self->stop, IO_TIMEOUT) == 0)
        status = ces_net_read_status (fd, self->stop, IO_TIMEOUT);
    zstr_free (&head);
    close (fd);
    return status >= 200 && status < 300 ? 0 : -1;
}

//  A retry's backoff; ends early only when the owner stops us
static void
s_pause (self_t *self, int msecs)
{
    int64_t deadline = zclock_mono () + msecs;
    while (!atomic_load (self->stop) && zclock_mono () < deadline)
        zclock_sleep (10);
}

static bool
s_http_post (self_t *self, const char *body, size_t size)
{
    for (int attempt = 0; attempt < HTTP_ATTEMPTS && !atomic_load (self->stop);
         attempt++) {
        if (attempt)
            s_pause (self, 100 << (attempt - 1));
        if (s_http_post_once (self, body, size) == 0)
            return true;
    }
    return false;
}

//  --------------------------------------------------------------------------
//  WebSocket links

static void
s_link_free (void **item_p)
{
    link_t *link = (link_t *)*item_p;
    ces_wsclient_destroy (&link->ws);
    zstr_free (&link->room);
    freen (link);
    *item_p = NULL;
}

static link_t *
s_link_open (self_t *self, const char *room)
{
    char *path =
        zsys_sprintf ("%s/connect/%s/%s", self->path, room, self->system_id);
    int status;
    ces_wsclient_t *ws = ces_wsclient_new (self->host, self->port, path,
                                           self->stop, IO_TIMEOUT, &status);
    zstr_free (&path);
    if (!ws) {
        ces_warn (self->log_level, "target %s: link for %s refused (HTTP %d)",
                  self->url, room, status);
        return NULL;
    }
    link_t *link = (link_t *)zmalloc (sizeof (link_t));
    assert (link);
    link->room = strdup (room);
    link->ws = ws;
    zhashx_insert (self->links, room, link);
    self->next_stats = zclock_mono () + 100;
    ces_debug (self->log_level, "target %s: link for %s open", self->url, room);
    return link;
}

static void
s_link_close (self_t *self, link_t *link, const char *why)
{
    ces_debug (self->log_level, "target %s: link for %s closed (%s)", self->url,
               link->room, why);
    ces_wsclient_close (link->ws, 1000);
    zhashx_delete (self->links, link->room);
    self->next_stats = zclock_mono () + 100;
}

static bool
s_ws_send (self_t *self, const char *room, const void *data, size_t size)
{
    link_t *link = (link_t *)zhashx_lookup (self->links, room);
    if (!link)
        link = s_link_open (self, room);
    if (!link)
        return false;
    if (ces_wsclient_send (link->ws, 0x2, data, size)) {
        //  The link broke: one more try on a fresh one
        zhashx_delete (self->links, room);
        link = s_link_open (self, room);
        if (!link || ces_wsclient_send (link->ws, 0x2, data, size))
            return false;
    }
    link->last_used = zclock_mono ();
    return true;
}

static void
s_report_inbound (self_t *self, const byte *data, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "INBOUND");
    zmsg_addstr (msg, self->url);
    zmsg_addmem (msg, data, size);
    zmsg_send (&msg, self->reports);
}

//  Handles the frames a peer sent on one of our links; false if the link
//  is finished
static bool
s_link_read (self_t *self, link_t *link)
{
    const byte *data;
    size_t size;
    int rc;
    while ((rc = ces_wsclient_recv (link->ws, &data, &size,
                                    CES_PAYLOAD_MAX * 2)) == 1) {
        s_report_inbound (self, data, size);
        link->last_used = zclock_mono ();
    }
    return rc == 0;
}

//  --------------------------------------------------------------------------
//  The actor

static void
s_report_stats (self_t *self)
{
    char sent[24], failed[24], links[24];
    snprintf (sent, sizeof (sent), "%" PRIu64, self->sent);
    snprintf (failed, sizeof (failed), "%" PRIu64, self->failed);
    snprintf (links, sizeof (links), "%zu", zhashx_size (self->links));
    zstr_sendx (self->reports, "STATS", self->url, sent, failed, links,
                self->failing ? "failing" : "ok", NULL);
    self->next_stats = zclock_mono () + 1000;
}

static void
s_forward (self_t *self, zmsg_t *request)
{
    char *room = zmsg_popstr (request);
    zframe_t *frame = zmsg_pop (request);
    if (atomic_load (self->stop)) {
        self->failed++; //  still queued when the target was removed
        zstr_free (&room);
        zframe_destroy (&frame);
        return;
    }
    if (!room || !frame) {
        zstr_free (&room);
        zframe_destroy (&frame);
        return;
    }
    bool ok;
    if (self->kind == KIND_HTTP) {
        //  The body is the JSON event, without the room line
        const char *data = (const char *)zframe_data (frame);
        size_t size = zframe_size (frame);
        char room_line[CES_ROOM_MAX + 1];
        const char *json = data + ces_frame_room_copy (data, size, room_line);
        while (json < data + size && *json == '\n')
            json++;
        ok = s_http_post (self, json, size - (size_t)(json - data));
    } else
        ok = s_ws_send (self, room, zframe_data (frame), zframe_size (frame));
    //  Counters reach the owner within 100 ms of a change
    if (self->next_stats > zclock_mono () + 100)
        self->next_stats = zclock_mono () + 100;
    bool was_failing = self->failing;
    self->failing = !ok;
    if (ok)
        self->sent++;
    else {
        self->failed++;
        ces_debug (self->log_level, "target %s: event for %s not delivered",
                   self->url, room);
    }
    if (was_failing != self->failing) {
        if (self->failing)
            ces_warn (self->log_level, "target %s is failing", self->url);
        else
            ces_info (self->log_level, "target %s is back", self->url);
        s_report_stats (self);
    }
    zstr_free (&room);
    zframe_destroy (&frame);
}

static void
s_handle_pipe (self_t *self)
{
    zmsg_t *request = zmsg_recv (self->pipe);
    if (!request)
        return;
    char *command = zmsg_popstr (request);
    assert (command);
    if (streq (command, "$TERM"))
        self->terminated = true;
    else if (streq (command, "EVENT"))
        s_forward (self, request);
    else {
        zsys_error ("target: invalid pipe command '%s'", command);
        assert (false);
    }
    zstr_free (&command);
    zmsg_destroy (&request);
}

static void
s_close_idle_links (self_t *self)
{
    int64_t now = zclock_mono ();
    zlistx_t *rooms = zhashx_keys (self->links);
    const char *room = (const char *)zlistx_first (rooms);
    while (room) {
        link_t *link = (link_t *)zhashx_lookup (self->links, room);
        if (now - link->last_used >= self->link_idle)
            s_link_close (self, link, "unused");
        room = (const char *)zlistx_next (rooms);
    }
    zlistx_destroy (&rooms);
}

static void
s_poll_once (self_t *self)
{
    size_t count = 1 + zhashx_size (self->links);
    zmq_pollitem_t *items = (zmq_pollitem_t *)zmalloc (count * sizeof (*items));
    link_t **links = (link_t **)zmalloc (count * sizeof (link_t *));
    items[0].socket = zsock_resolve (self->pipe);
    items[0].events = ZMQ_POLLIN;
    size_t index = 1;
    int64_t now = zclock_mono ();
    int64_t idle_due = INT64_MAX; //  the first link to become unused
    link_t *link = (link_t *)zhashx_first (self->links);
    while (link) {
        links[index] = link;
        items[index].fd = ces_wsclient_fd (link->ws);
        items[index].events = ZMQ_POLLIN;
        index++;
        if (link->last_used + self->link_idle < idle_due)
            idle_due = link->last_used + self->link_idle;
        link = (link_t *)zhashx_next (self->links);
    }
    int64_t next = idle_due < self->next_stats ? idle_due : self->next_stats;
    long timeout = next > now ? (long)(next - now) : 0;
    if (zmq_poll (items, (int)count, timeout) > 0) {
        for (size_t i = 1; i < count; i++)
            if (items[i].revents && !s_link_read (self, links[i])) {
                zhashx_delete (self->links, links[i]->room);
                self->next_stats = zclock_mono () + 100;
            }
        //  A batch of queued events per poll: polling every link again for
        //  each event cost more than sending it
        for (int batch = 0; batch < 1000 && !self->terminated &&
                            (items[0].revents & ZMQ_POLLIN);
             batch++) {
            s_handle_pipe (self);
            if (!(zsock_events (self->pipe) & ZMQ_POLLIN))
                break;
        }
    }
    freen (links);
    freen (items);
    if (zclock_mono () >= idle_due)
        s_close_idle_links (self);
    if (zclock_mono () >= self->next_stats)
        s_report_stats (self);
}

void
ces_target_actor (zsock_t *pipe, void *args)
{
    ces_target_args_t *config = (ces_target_args_t *)args;
    self_t *self = (self_t *)zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->stop = config->stop ? config->stop : &self->own_stop;
    self->url = strdup (config->url);
    self->system_id = strdup (config->system_id);
    self->link_idle = config->link_idle > 0 ? config->link_idle : 7000;
    self->log_level = config->log_level;
    self->links = zhashx_new ();
    zhashx_set_destructor (self->links, s_link_free);
    char reason[256];
    bool valid = s_parse_url (config->url, &self->kind, self->host,
                              sizeof (self->host), &self->port, self->path,
                              sizeof (self->path), reason, sizeof (reason));
    self->reports = zsock_new (ZMQ_PUSH);
    assert (self->reports);
    zsock_set_sndtimeo (self->reports, 1000);
    bool connected = zsock_connect (self->reports, "%s", config->reports) == 0;
    zsock_signal (pipe, valid && connected ? 0 : 1);
    if (valid && connected) {
        s_report_stats (self);
        while (!self->terminated)
            s_poll_once (self);
        zhashx_t *links = self->links;
        link_t *link = (link_t *)zhashx_first (links);
        while (link) {
            ces_wsclient_close (link->ws, 1001);
            link = (link_t *)zhashx_next (links);
        }
    }
    zhashx_destroy (&self->links);
    zsock_destroy (&self->reports);
    zstr_free (&self->url);
    zstr_free (&self->system_id);
    freen (self);
}

//  --------------------------------------------------------------------------
//  Self test: URLs, and an HTTP target against a tiny server on a real socket

void
ces_target_test (bool verbose)
{
    printf (" * ces_target: ");
    //  @selftest
    char reason[256];
    assert (ces_target_url_valid ("http://127.0.0.1:8080/hook", reason, 256));
    assert (ces_target_url_valid ("ws://127.0.0.1", reason, 256));
    assert (ces_target_url_valid ("127.0.0.1:7101", reason, 256));
    assert (!ces_target_url_valid ("https://example.org", reason, 256));
    assert (strstr (reason, "TLS"));
    assert (!ces_target_url_valid ("http://:80", reason, 256));
    assert (!ces_target_url_valid ("ws://host:99999", reason, 256));
    kind_t kind;
    char host[256], path[256];
    int port;
    assert (s_parse_url ("ws://10.0.0.1/", &kind, host, 256, &port, path, 256,
                         reason, 256));
    assert (kind == KIND_WEBSOCKET && port == 7101 && streq (path, ""));

    //  A one-shot HTTP server that answers 200
    int server_port;
    int server = ces_http_test_listener (&server_port);

    zsock_t *reports = zsock_new_pull ("inproc://target-test-reports");
    zsock_set_rcvtimeo (reports, 5000);
    char *url = zsys_sprintf ("http://127.0.0.1:%d/hook", server_port);
    ces_target_args_t args = {
        url,        NULL,
        "selftest", "inproc://target-test-reports",
        1000,       verbose ? CES_LOG_DEBUG : CES_LOG_ERROR};
    zactor_t *target = zactor_new (ces_target_actor, &args);
    assert (target);
    zframe_t *frame = ces_frame_build ("ITB-1101", "{\"n\":1}", 7);
    zsock_send (target, "ssf", "EVENT", "ITB-1101", frame);
    zframe_destroy (&frame);

    int client = accept (server, NULL, NULL);
    assert (client >= 0);
    char request[2048] = "";
    size_t used = 0;
    while (!strstr (request, "{\"n\":1}") && used < sizeof (request) - 1) {
        ssize_t got =
            recv (client, request + used, sizeof (request) - 1 - used, 0);
        assert (got > 0);
        used += (size_t)got;
        request[used] = 0;
    }
    assert (strstr (request, "POST /hook HTTP/1.1"));
    assert (strstr (request, "Content-Type: application/json"));
    const char *answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    ssize_t sent = send (client, answer, strlen (answer), 0);
    assert (sent > 0);
    close (client);

    //  The target says it sent one
    bool counted = false;
    while (!counted) {
        zmsg_t *report = zmsg_recv (reports);
        assert (report);
        char *kind_name = zmsg_popstr (report);
        char *target_url = zmsg_popstr (report);
        char *sent_count = zmsg_popstr (report);
        counted = streq (kind_name, "STATS") && streq (sent_count, "1");
        zstr_free (&kind_name);
        zstr_free (&target_url);
        zstr_free (&sent_count);
        zmsg_destroy (&report);
    }
    zactor_destroy (&target);
    close (server);
    zstr_free (&url);
    zsock_destroy (&reports);
    //  @end
    printf ("OK\n");
}
