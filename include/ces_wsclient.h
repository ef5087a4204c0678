/*  =========================================================================
    ces_wsclient - a WebSocket client over a plain socket, for a thread
    that may wait: a repeater's WebSocket targets, original-hub peers

    Every wait has a deadline and runs in 50 ms slices that end at once
    when the owner raises its stop flag, so a dead peer never holds up a
    shutdown. Also the plain HTTP helpers those threads share.
    =========================================================================
*/
#ifndef CES_WSCLIENT_H_INCLUDED
#define CES_WSCLIENT_H_INCLUDED

#include <stdatomic.h>

typedef struct _ces_wsclient_t ces_wsclient_t;

//  Connect to host:port and upgrade on path ("/connect/hub"), waiting up
//  to timeout msecs (stop may be NULL). Returns NULL on failure, with the
//  HTTP status in *status (-1 when there was no answer).
ces_wsclient_t *ces_wsclient_new (const char *host, int port, const char *path,
                                  atomic_bool *stop, int timeout, int *status);

//  Close the socket (without a Close frame); idempotent.
void ces_wsclient_destroy (ces_wsclient_t **self_p);

//  The socket, to poll for reading.
int ces_wsclient_fd (ces_wsclient_t *self);

//  Send one masked frame: 0x1 Text, 0x2 Binary, 0x8 Close. 0 or -1.
int ces_wsclient_send (ces_wsclient_t *self, int opcode, const void *data,
                       size_t size);

//  Send a Close frame with a status code (1000 normal, 1001 going away).
void ces_wsclient_close (ces_wsclient_t *self, int code);

//  Read what is there without waiting. Returns 1 with a whole Binary
//  message in *data, *size (borrowed, valid until the next call), 0 when
//  no whole message is there yet, -1 when the link is finished (closed by
//  the peer, broken, or a frame over max_message bytes). Pings are
//  answered and Text frames (notices) skipped. Call until it returns 0.
int ces_wsclient_recv (ces_wsclient_t *self, const byte **data, size_t *size,
                       size_t max_message);

//  Plain sockets with deadlines, for HTTP clients in the same threads:
//  connect (nonblocking fd with TCP_NODELAY, or -1), send everything, read
//  an HTTP answer's status line and headers (the status, or -1).
int ces_net_connect (const char *host, int port, atomic_bool *stop,
                     int timeout);
int ces_net_send_all (int fd, const void *data, size_t size, atomic_bool *stop,
                      int timeout);
int ces_net_read_status (int fd, atomic_bool *stop, int timeout);

//  Split the host[:port] of a URL (the first size bytes of authority) into
//  host and port; port keeps its value (the caller's default) when the URL
//  gives none. Returns false with a reason naming url otherwise.
bool ces_wsclient_split_authority (const char *authority, size_t size,
                                   char *host, size_t host_size, int *port,
                                   const char *url, char *reason,
                                   size_t reason_size);

#endif
