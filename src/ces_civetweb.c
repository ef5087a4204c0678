/*  =========================================================================
    ces_civetweb - what civetweb 1.15 does not do for us, in one place
    =========================================================================
*/
#include "ces_classes.h"
#include <civetweb.h>
#include <pthread.h>

//  A socket whose peer is this request's peer
static bool
s_is_peer_socket (int fd, const struct mg_request_info *request)
{
    struct sockaddr_storage peer;
    socklen_t size = sizeof (peer);
    if (fd < 0 || getpeername (fd, (struct sockaddr *)&peer, &size))
        return false;
    char address[64] = "";
    int port = 0;
    if (peer.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&peer;
        inet_ntop (AF_INET, &in->sin_addr, address, sizeof (address));
        port = ntohs (in->sin_port);
    } else if (peer.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&peer;
        inet_ntop (AF_INET6, &in6->sin6_addr, address, sizeof (address));
        port = ntohs (in6->sin6_port);
    }
    return port == request->remote_port &&
           streq (address, request->remote_addr);
}

//  civetweb 1.15 keeps the socket in struct mg_connection right after
//  request_info, response_info, two context pointers and the SSL pointer
//  (one int more with server stats). We look there and accept an fd only
//  if its peer is this request's peer, so a wrong guess finds nothing.
int
ces_civetweb_socket (const struct mg_connection *conn, atomic_int *offset)
{
    const struct mg_request_info *request = mg_get_request_info (conn);
    size_t base = 16 + sizeof (struct mg_request_info) +
                  sizeof (struct mg_response_info) + 3 * sizeof (void *);
    size_t candidates[] = {(size_t)atomic_load (offset), base, base + 8};
    for (size_t i = 0; i < 3; i++) {
        if (candidates[i] == 0)
            continue;
        int fd;
        memcpy (&fd, (const char *)conn + candidates[i], sizeof (fd));
        if (s_is_peer_socket (fd, request)) {
            atomic_store (offset, (int)candidates[i]);
            return fd;
        }
    }
    return -1;
}

//  A connection wakes the master thread from its poll of the listener
void
ces_civetweb_wake (const char *listen, int port)
{
    char host[64] = "127.0.0.1";
    const char *colon = strrchr (listen, ':');
    if (colon && colon > listen && (size_t)(colon - listen) < sizeof (host)) {
        memcpy (host, listen, colon - listen);
        host[colon - listen] = 0;
    }
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons ((uint16_t)port);
    if (inet_pton (AF_INET, host, &address.sin_addr) != 1 ||
        address.sin_addr.s_addr == htonl (INADDR_ANY))
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd >= 0) {
        if (connect (fd, (struct sockaddr *)&address, sizeof (address)))
            errno = 0; //  in progress or refused: either way it woke up
        close (fd);
    }
}

static void *
s_stopper (void *civet)
{
    mg_stop ((struct mg_context *)civet);
    return NULL;
}

void
ces_civetweb_stop (struct mg_context *civet, const char *listen, int port,
                   ces_civetweb_drain_fn *drain, void *arg)
{
    pthread_t stopper;
    int rc = pthread_create (&stopper, NULL, s_stopper, civet);
    assert (rc == 0);
    while (pthread_tryjoin_np (stopper, NULL) == EBUSY) {
        if (drain)
            drain (arg);
        ces_civetweb_wake (listen, port);
        zclock_sleep (10);
    }
}

//  --------------------------------------------------------------------------
//  Subprotocols

//  Is protocol one of the comma-separated names of offered?
static bool
s_offered (const char *offered, const char *protocol)
{
    size_t size = strlen (protocol);
    for (const char *at = offered; at && *at;) {
        while (*at == ' ' || *at == '\t' || *at == ',')
            at++;
        const char *end = at;
        while (*end && *end != ',' && *end != ' ' && *end != '\t')
            end++;
        if ((size_t)(end - at) == size && strncmp (at, protocol, size) == 0)
            return true;
        at = end;
    }
    return false;
}

bool
ces_civetweb_subprotocol (const struct mg_connection *conn,
                          const char *protocol, bool allowed)
{
    assert (conn && protocol);
    struct mg_request_info *info =
        (struct mg_request_info *)mg_get_request_info (conn);
    const char *offered = mg_get_header (conn, "Sec-WebSocket-Protocol");
    //  civetweb writes its answer from this field after the connect
    //  handler returns, and sets it only when the request offers one: a
    //  worker's next connection would be answered with the last one's
    if (!offered)
        info->acceptedWebSocketSubprotocol = NULL;
    else if (allowed && s_offered (offered, protocol))
        info->acceptedWebSocketSubprotocol = protocol;
    else if (info->acceptedWebSocketSubprotocol &&
             streq (info->acceptedWebSocketSubprotocol, protocol))
        info->acceptedWebSocketSubprotocol = NULL; //  not spoken here
    //  Any other offer: civetweb's choice (without a subprotocol list it
    //  answers the client's only offer, or its last), as the original did
    return info->acceptedWebSocketSubprotocol == protocol;
}

//  --------------------------------------------------------------------------
//  Self test: a real civetweb server; a WebSocket's socket is found, and
//  the server stops at once

typedef struct {
    atomic_int offset;
    atomic_int found; //  1 found, -1 not found
} test_state_t;

static int
s_test_connect (const struct mg_connection *conn, void *cbdata)
{
    (void)conn;
    (void)cbdata;
    return 0;
}

static void
s_test_ready (struct mg_connection *conn, void *cbdata)
{
    test_state_t *state = (test_state_t *)cbdata;
    int fd = ces_civetweb_socket (conn, &state->offset);
    atomic_store (&state->found, fd >= 0 ? 1 : -1);
}

void
ces_civetweb_test (bool verbose)
{
    (void)verbose;
    printf (" * ces_civetweb: ");
    //  @selftest
    assert (s_offered ("ces.v2", "ces.v2"));
    assert (s_offered ("chat, ces.v2", "ces.v2"));
    assert (!s_offered ("ces.v22, ces", "ces.v2"));
    assert (!s_offered ("", "ces.v2"));
    test_state_t state;
    atomic_init (&state.offset, 0);
    atomic_init (&state.found, 0);
    const char *options[] = {"listening_ports", "127.0.0.1:0", "num_threads",
                             "4", NULL};
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof (callbacks));
    struct mg_context *civet = mg_start (&callbacks, NULL, options);
    assert (civet);
    mg_set_websocket_handler (civet, "/ws", s_test_connect, s_test_ready, NULL,
                              NULL, &state);
    struct mg_server_port ports[2];
    assert (mg_get_server_ports (civet, 2, ports) > 0);
    int port = ports[0].port;
    //  A WebSocket handshake on a raw socket, kept open
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons ((uint16_t)port);
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int rc = connect (fd, (struct sockaddr *)&address, sizeof (address));
    assert (rc == 0);
    const char *request =
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    assert (send (fd, request, strlen (request), 0) ==
            (ssize_t)strlen (request));
    char reply[512] = "";
    size_t used = 0;
    while (!strstr (reply, "\r\n\r\n") && used < sizeof (reply) - 1) {
        ssize_t got = recv (fd, reply + used, sizeof (reply) - 1 - used, 0);
        assert (got > 0);
        used += (size_t)got;
    }
    assert (strstr (reply, "101"));
    int64_t deadline = zclock_mono () + 5000;
    while (atomic_load (&state.found) == 0 && zclock_mono () < deadline)
        zclock_sleep (5);
    assert (atomic_load (&state.found) == 1);
    assert (atomic_load (&state.offset) > 0);
    close (fd);
    int64_t start = zclock_mono ();
    ces_civetweb_stop (civet, "127.0.0.1:0", port, NULL, NULL);
    assert (zclock_mono () - start < 1500);
    //  @end
    printf ("OK\n");
}
