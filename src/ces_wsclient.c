/*  =========================================================================
    ces_wsclient - a WebSocket client over a plain socket
    =========================================================================
*/
#include "ces_classes.h"
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>

struct _ces_wsclient_t {
    int fd;
    atomic_bool *stop;
    atomic_bool own_stop; //  the flag, when the owner gave none
    int timeout;
    byte *in; //  bytes read, not yet a whole frame
    size_t in_used, in_capacity;
    size_t consumed; //  bytes of in handed out by the last recv
    byte *message;   //  a fragmented message being reassembled
    size_t message_size;
    bool message_done; //  message was handed out; start a new one
};

//  --------------------------------------------------------------------------
//  Plain sockets with deadlines

//  Waits for fd to be ready until the deadline, in short slices so that
//  the owner's stop flag ends any wait at once. 1 ready, 0 not
static int
s_wait (int fd, short events, atomic_bool *stop, int64_t deadline)
{
    while (!(stop && atomic_load (stop))) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return 0;
        struct pollfd item = {fd, events, 0};
        int rc = poll (&item, 1, left < 50 ? (int)left : 50);
        if (rc != 0)
            return rc > 0 ? 1 : 0;
    }
    return 0;
}

int
ces_net_connect (const char *host, int port, atomic_bool *stop, int timeout)
{
    char service[16];
    snprintf (service, sizeof (service), "%d", port);
    struct addrinfo hints = {0}, *found = NULL;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo (host, service, &hints, &found) || !found)
        return -1;
    int fd = socket (found->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect (fd, found->ai_addr, found->ai_addrlen) &&
        errno != EINPROGRESS) {
        close (fd);
        fd = -1;
    }
    freeaddrinfo (found);
    if (fd < 0)
        return -1;
    int error = 0;
    socklen_t size = sizeof (error);
    if (!s_wait (fd, POLLOUT, stop, zclock_mono () + timeout) ||
        getsockopt (fd, SOL_SOCKET, SO_ERROR, &error, &size) || error) {
        close (fd);
        return -1;
    }
    int on = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof (on));
    return fd;
}

int
ces_net_send_all (int fd, const void *data, size_t size, atomic_bool *stop,
                  int timeout)
{
    const byte *bytes = (const byte *)data;
    int64_t deadline = zclock_mono () + timeout;
    while (size) {
        ssize_t sent = send (fd, bytes, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) {
            bytes += sent;
            size -= (size_t)sent;
            continue;
        }
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (!s_wait (fd, POLLOUT, stop, deadline))
            return -1;
    }
    return 0;
}

int
ces_net_read_status (int fd, atomic_bool *stop, int timeout)
{
    //  One byte at a time, so that no byte after the header (the first
    //  WebSocket frame) is taken from the socket here
    char header[4096];
    size_t used = 0;
    int64_t deadline = zclock_mono () + timeout;
    while (used < sizeof (header) - 1) {
        ssize_t got = recv (fd, header + used, 1, MSG_DONTWAIT);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!s_wait (fd, POLLIN, stop, deadline))
                return -1;
            continue;
        }
        if (got <= 0)
            return -1;
        used += (size_t)got;
        header[used] = 0;
        if (used >= 4 && memcmp (header + used - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    int status = -1;
    if (sscanf (header, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

//  --------------------------------------------------------------------------
//  The WebSocket client

static void
s_base64 (const byte *data, size_t size, char *out)
{
    static const char table[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < size; i += 3) {
        uint32_t value = (uint32_t)data[i] << 16;
        if (i + 1 < size)
            value |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < size)
            value |= data[i + 2];
        out[o++] = table[(value >> 18) & 63];
        out[o++] = table[(value >> 12) & 63];
        out[o++] = i + 1 < size ? table[(value >> 6) & 63] : '=';
        out[o++] = i + 2 < size ? table[value & 63] : '=';
    }
    out[o] = 0;
}

ces_wsclient_t *
ces_wsclient_new (const char *host, int port, const char *path,
                  atomic_bool *stop, int timeout, int *status)
{
    assert (host && path && status);
    *status = -1;
    int fd = ces_net_connect (host, port, stop, timeout);
    if (fd < 0)
        return NULL;
    byte nonce[16];
    for (int i = 0; i < 16; i++)
        nonce[i] = (byte)randof (256);
    char key[32];
    s_base64 (nonce, 16, key);
    char *request =
        zsys_sprintf ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n",
                      path, host, port, key);
    *status =
        ces_net_send_all (fd, request, strlen (request), stop, timeout) == 0
            ? ces_net_read_status (fd, stop, timeout)
            : -1;
    zstr_free (&request);
    if (*status != 101) {
        close (fd);
        return NULL;
    }
    ces_wsclient_t *self = (ces_wsclient_t *)zmalloc (sizeof (ces_wsclient_t));
    assert (self);
    self->fd = fd;
    self->stop = stop ? stop : &self->own_stop;
    self->timeout = timeout;
    return self;
}

void
ces_wsclient_destroy (ces_wsclient_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_wsclient_t *self = *self_p;
        close (self->fd);
        freen (self->in);
        freen (self->message);
        freen (self);
        *self_p = NULL;
    }
}

int
ces_wsclient_fd (ces_wsclient_t *self)
{
    assert (self);
    return self->fd;
}

//  Client frames are masked (RFC 6455 §5.3)
int
ces_wsclient_send (ces_wsclient_t *self, int opcode, const void *data,
                   size_t size)
{
    assert (self);
    byte *frame = (byte *)malloc (size + 14);
    assert (frame);
    size_t used = 0;
    frame[used++] = (byte)(0x80 | opcode);
    if (size < 126)
        frame[used++] = (byte)(0x80 | size);
    else if (size <= 0xFFFF) {
        frame[used++] = 0x80 | 126;
        frame[used++] = (byte)(size >> 8);
        frame[used++] = (byte)size;
    } else {
        frame[used++] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            frame[used++] = (byte)((uint64_t)size >> (56 - 8 * i));
    }
    byte *mask = frame + used;
    for (int i = 0; i < 4; i++)
        mask[i] = (byte)randof (256);
    used += 4;
    for (size_t i = 0; i < size; i++)
        frame[used + i] = ((const byte *)data)[i] ^ mask[i % 4];
    int rc = ces_net_send_all (self->fd, frame, used + size, self->stop,
                               self->timeout);
    freen (frame);
    return rc;
}

void
ces_wsclient_close (ces_wsclient_t *self, int code)
{
    assert (self);
    byte payload[2] = {(byte)(code >> 8), (byte)code};
    ces_wsclient_send (self, 0x8, payload, 2);
}

//  Takes one whole frame from the buffer: 1 a message is complete, 0 not
//  yet, -1 the link is finished
static int
s_take_frame (ces_wsclient_t *self, size_t max_message)
{
    while (self->in_used >= 2) {
        byte *frame = self->in;
        bool fin = frame[0] & 0x80;
        int opcode = frame[0] & 0x0F;
        bool masked = frame[1] & 0x80;
        uint64_t size = frame[1] & 0x7F;
        size_t header = 2;
        if (size == 126) {
            if (self->in_used < 4)
                return 0;
            size = ((uint64_t)frame[2] << 8) | frame[3];
            header = 4;
        } else if (size == 127) {
            if (self->in_used < 10)
                return 0;
            size = 0;
            for (int i = 0; i < 8; i++)
                size = (size << 8) | frame[2 + i];
            header = 10;
        }
        if (size > max_message || self->message_size + size > max_message)
            return -1; //  not a peer we can talk to
        size_t mask_at = header;
        header += masked ? 4 : 0;
        if (self->in_used < header + size)
            return 0;
        byte *payload = frame + header;
        if (masked)
            for (size_t i = 0; i < size; i++)
                payload[i] ^= frame[mask_at + i % 4];
        bool complete = false;
        if (opcode == 0x9)
            ces_wsclient_send (self, 0xA, payload, (size_t)size);
        else if (opcode == 0x8)
            return -1;
        else if (opcode == 0x2 || (opcode == 0x0 && self->message_size)) {
            self->message =
                (byte *)realloc (self->message, self->message_size + size + 1);
            assert (self->message);
            memcpy (self->message + self->message_size, payload, size);
            self->message_size += size;
            complete = fin;
        }
        //  Text frames from peers are notices; pongs need nothing
        size_t used = header + (size_t)size;
        memmove (self->in, self->in + used, self->in_used - used);
        self->in_used -= used;
        if (complete)
            return 1;
    }
    return 0;
}

int
ces_wsclient_recv (ces_wsclient_t *self, const byte **data, size_t *size,
                   size_t max_message)
{
    assert (self && data && size);
    if (self->message_done) {
        self->message_size = 0;
        self->message_done = false;
    }
    int rc = s_take_frame (self, max_message);
    if (rc == 0) {
        if (self->in_capacity - self->in_used < 65536) {
            self->in_capacity = self->in_used + 65536 * 2;
            self->in = (byte *)realloc (self->in, self->in_capacity);
            assert (self->in);
        }
        ssize_t got = recv (self->fd, self->in + self->in_used,
                            self->in_capacity - self->in_used, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return -1;
        if (got > 0) {
            self->in_used += (size_t)got;
            rc = s_take_frame (self, max_message);
        }
    }
    if (rc == 1) {
        *data = self->message;
        *size = self->message_size;
        self->message_done = true;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Self test: a raw server socket in a helper thread speaks the other side

//  Accepts one client, answers its upgrade, sends a Binary message in two
//  fragments with a Ping between them, and signals 0 if the Pong came back
static void
s_test_server (zsock_t *pipe, void *args)
{
    int server = *(int *)args;
    zsock_signal (pipe, 0);
    int peer = accept (server, NULL, NULL);
    char request[2048];
    ssize_t got = recv (peer, request, sizeof (request), 0);
    const char *answer =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n";
    byte frames[] = {0x02, 0x03, 'a',  'b', 'c', 0x89,
                     0x00, 0x80, 0x02, 'd', 'e'};
    bool ok = got > 0 && strstr (request, "GET /connect/hub HTTP/1.1") &&
              send (peer, answer, strlen (answer), 0) > 0 &&
              send (peer, frames, sizeof (frames), 0) > 0;
    byte pong[64];
    ok = ok && recv (peer, pong, sizeof (pong), 0) > 0 &&
         (pong[0] & 0x0F) == 0xA;
    zsock_signal (pipe, ok ? 0 : 1);
    char *term = zstr_recv (pipe);
    zstr_free (&term);
    close (peer);
}

bool
ces_wsclient_split_authority (const char *authority, size_t size, char *host,
                              size_t host_size, int *port, const char *url,
                              char *reason, size_t reason_size)
{
    const char *colon = (const char *)memchr (authority, ':', size);
    size_t host_length = colon ? (size_t)(colon - authority) : size;
    if (host_length == 0 || host_length >= host_size) {
        snprintf (reason, reason_size, "%s: no host", url);
        return false;
    }
    memcpy (host, authority, host_length);
    host[host_length] = 0;
    if (colon) {
        char *end;
        long number = strtol (colon + 1, &end, 10);
        if (end != authority + size || number <= 0 || number > 65535) {
            snprintf (reason, reason_size, "%s: bad port", url);
            return false;
        }
        *port = (int)number;
    }
    return true;
}

void
ces_wsclient_test (bool verbose)
{
    printf (" * ces_wsclient: ");
    //  @selftest
    int port;
    int server = ces_http_test_listener (&port);
    assert (server >= 0);

    //  A server that does not upgrade: NULL and its status
    int status = 0;
    int fd = ces_net_connect ("127.0.0.1", port, NULL, 1000);
    assert (fd >= 0);
    int peer = accept (server, NULL, NULL);
    const char *refusal =
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    assert (send (peer, refusal, strlen (refusal), 0) > 0);
    assert (ces_net_read_status (fd, NULL, 1000) == 400);
    close (fd);
    close (peer);

    //  A real upgrade, with frames right behind the answer
    zactor_t *server_side = zactor_new (s_test_server, &server);
    ces_wsclient_t *client = ces_wsclient_new (
        "127.0.0.1", port, "/connect/hub", NULL, 2000, &status);
    assert (client && status == 101);
    const byte *data = NULL;
    size_t size = 0;
    int rc = 0;
    int64_t deadline = zclock_mono () + 2000;
    while (rc == 0 && zclock_mono () < deadline) {
        struct pollfd item = {ces_wsclient_fd (client), POLLIN, 0};
        poll (&item, 1, 100);
        rc = ces_wsclient_recv (client, &data, &size, 1024);
    }
    assert (rc == 1 && size == 5 && memcmp (data, "abcde", 5) == 0);
    assert (zsock_wait (server_side) == 0); //  the Pong arrived
    ces_wsclient_close (client, 1000);
    ces_wsclient_destroy (&client);
    ces_wsclient_destroy (&client);
    zactor_destroy (&server_side);
    close (server);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
