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

//  Answers the WebSocket subprotocol protocol to a connection being
//  upgraded (call it from the connect handler) when the client offered it
//  and it is allowed here; never answers it otherwise. Returns whether it
//  was chosen. Other offers get civetweb's own answer (without a
//  subprotocol list it echoes the client's only offer, or its last), as
//  the original did. Also clears what civetweb kept from the worker's
//  last connection when this one offers nothing.
bool ces_civetweb_subprotocol (const struct mg_connection *conn,
                               const char *protocol, bool allowed);

void ces_civetweb_test (bool verbose);

#endif
