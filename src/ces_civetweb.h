/*  =========================================================================
    ces_civetweb - what civetweb 1.15 does not do for us, in one place

    Debian's civetweb 1.15 (PLATFORM.md) has no call that gives a
    connection's socket, and its master thread looks at its stop flag only
    between 2-second polls of the listening socket. The edge needs the
    socket to write to clients from its own thread with non-blocking sends,
    and a prompt stop. Both workarounds live here, with their reasons, so
    that a civetweb upgrade changes one file.
    =========================================================================
*/
#ifndef CES_CIVETWEB_H_INCLUDED
#define CES_CIVETWEB_H_INCLUDED

#include <stdatomic.h>

struct mg_connection;
struct mg_context;

//  The socket of a connection, or -1 if it cannot be found. offset caches
//  where it was found last (0 at first), shared by every worker.
int ces_civetweb_socket (const struct mg_connection *conn, atomic_int *offset);

//  Wakes civetweb's listener on listen (host:port) / port, so that a
//  stopping server notices at once
void ces_civetweb_wake (const char *listen, int port);

//  Stops civetweb (mg_stop) on a helper thread, waking its listener and
//  calling drain (if any) every 10 ms until it is done: workers that are
//  waiting on the caller can finish meanwhile
typedef void (ces_civetweb_drain_fn) (void *arg);
void ces_civetweb_stop (struct mg_context *civet, const char *listen, int port,
                        ces_civetweb_drain_fn *drain, void *arg);

//  Chooses the WebSocket subprotocol protocol for a connection being
//  upgraded (call it from the connect handler) when the client offered it
//  in Sec-WebSocket-Protocol; returns whether it did. Without a
//  subprotocol list civetweb answers with the client's only offer, or its
//  last one: kept for every other client, as the original did.
bool ces_civetweb_choose_subprotocol (const struct mg_connection *conn,
                                      const char *protocol);

//  Does not answer protocol when civetweb's echo picked it (a client that
//  offered only it is then refused by its own WebSocket library, rightly:
//  this connection does not speak it).
void ces_civetweb_refuse_subprotocol (const struct mg_connection *conn,
                                      const char *protocol);

void ces_civetweb_test (bool verbose);

#endif
