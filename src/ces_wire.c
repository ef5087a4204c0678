/*  =========================================================================
    ces_wire - a client's socket, shared by its civetweb worker and the edge
    =========================================================================
*/
#include "ces_classes.h"
#include <pthread.h>
#include <stdatomic.h>

struct _ces_wire_t {
    pthread_mutex_t lock;
    int fd;
    bool closed;
    atomic_int refs;
};

ces_wire_t *
ces_wire_new (int fd)
{
    ces_wire_t *self = (ces_wire_t *)zmalloc (sizeof (*self));
    assert (self);
    pthread_mutex_init (&self->lock, NULL);
    self->fd = fd;
    atomic_init (&self->refs, 2);
    return self;
}

void
ces_wire_release (ces_wire_t **self_p)
{
    assert (self_p);
    ces_wire_t *self = *self_p;
    if (self && atomic_fetch_sub (&self->refs, 1) == 1) {
        pthread_mutex_destroy (&self->lock);
        freen (self);
    }
    *self_p = NULL;
}

void
ces_wire_close (ces_wire_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    self->closed = true;
    pthread_mutex_unlock (&self->lock);
}

ssize_t
ces_wire_send (ces_wire_t *self, const void *data, size_t size)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    ssize_t sent = -1;
    int error = EPIPE; //  a closed wire is a peer gone
    if (!self->closed) {
        sent = send (self->fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
        error = errno;
    }
    pthread_mutex_unlock (&self->lock);
    errno = error;
    return sent;
}

void
ces_wire_shutdown (ces_wire_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    if (!self->closed)
        shutdown (self->fd, SHUT_RDWR);
    pthread_mutex_unlock (&self->lock);
}

int
ces_wire_fd (ces_wire_t *self)
{
    assert (self);
    return self->fd;
}

void
ces_wire_test (bool verbose)
{
    (void)verbose;
    printf (" * ces_wire: ");
    //  @selftest
    int pair[2];
    int rc = socketpair (AF_UNIX, SOCK_STREAM, 0, pair);
    assert (rc == 0);
    ces_wire_t *wire = ces_wire_new (pair[0]);
    ces_wire_t *worker_ref = wire;
    assert (ces_wire_send (wire, "abc", 3) == 3);
    char buffer[8];
    assert (recv (pair[1], buffer, sizeof (buffer), 0) == 3);
    //  A full socket says EAGAIN, never blocks
    char block[4096] = {0};
    ssize_t sent;
    while ((sent = ces_wire_send (wire, block, sizeof (block))) > 0)
        ;
    assert (sent == -1 && (errno == EAGAIN || errno == EWOULDBLOCK));
    //  Closed by the worker: nothing is written any more
    ces_wire_close (worker_ref);
    ces_wire_release (&worker_ref);
    assert (worker_ref == NULL);
    assert (ces_wire_send (wire, "x", 1) == -1 && errno == EPIPE);
    ces_wire_shutdown (wire); //  harmless on a closed wire
    ces_wire_release (&wire);
    assert (wire == NULL);
    close (pair[0]);
    close (pair[1]);
    //  @end
    printf ("OK\n");
}
