/*  =========================================================================
    ces_wire - a client's socket, shared by its civetweb worker and the edge

    The worker reads (civetweb's loop); the edge actor alone writes, with
    non-blocking sends. civetweb closes the socket after the worker's close
    handler returns, and the kernel may then give its number to another
    connection. So the worker marks the wire closed, under its lock, in the
    close handler, and the actor sends or shuts down only under the lock on
    an open wire: a closed fd number is never written.

    Two owners hold a reference (worker and actor); the last release frees.
    =========================================================================
*/
#ifndef CES_WIRE_H_INCLUDED
#define CES_WIRE_H_INCLUDED

typedef struct _ces_wire_t ces_wire_t;

//  A wire on fd with two references
ces_wire_t *ces_wire_new (int fd);

//  Drops one reference and nulls the pointer; the last one frees
void ces_wire_release (ces_wire_t **self_p);

//  The worker's close handler: no write from now on
void ces_wire_close (ces_wire_t *self);

//  Sends what the socket takes now: bytes sent, or -1 with errno (EAGAIN
//  when the socket is full, EPIPE when the wire is closed)
ssize_t ces_wire_send (ces_wire_t *self, const void *data, size_t size);

//  Shuts the socket down (ends civetweb's read loop), if still open
void ces_wire_shutdown (ces_wire_t *self);

//  For polling POLLOUT
int ces_wire_fd (ces_wire_t *self);

void ces_wire_test (bool verbose);

#endif
