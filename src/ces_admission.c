/*  =========================================================================
    ces_admission - how many WebSockets an edge takes
    =========================================================================
*/
#include "ces_classes.h"
#include <pthread.h>
#include <stdatomic.h>

struct _ces_admission_t {
    int max_clients;
    int max_per_address;
    int log_level;
    char full[200]; //  the 503 body at max-clients
    atomic_int clients;
    atomic_uint_fast64_t refused;
    atomic_int_fast64_t logged_at; //  msecs; refusals are logged 1/s
    atomic_uint_fast64_t logged;   //  refused when last logged
    pthread_mutex_t addresses_lock;
    zhashx_t *addresses; //  remote address -> clients (as a pointer value)
};

ces_admission_t *
ces_admission_new (int max_clients, int max_per_address, int log_level)
{
    ces_admission_t *self =
        (ces_admission_t *)zmalloc (sizeof (ces_admission_t));
    assert (self);
    self->max_clients = max_clients;
    self->max_per_address = max_per_address;
    self->log_level = log_level;
    snprintf (self->full, sizeof (self->full),
              "this edge is full: it holds %d clients (--max-clients); "
              "raise --max-clients, or try another edge or later\n",
              max_clients);
    atomic_init (&self->clients, 0);
    atomic_init (&self->refused, 0);
    atomic_init (&self->logged_at, 0);
    atomic_init (&self->logged, 0);
    pthread_mutex_init (&self->addresses_lock, NULL);
    self->addresses = zhashx_new ();
    assert (self->addresses);
    return self;
}

void
ces_admission_destroy (ces_admission_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_admission_t *self = *self_p;
        zhashx_destroy (&self->addresses);
        pthread_mutex_destroy (&self->addresses_lock);
        freen (self);
        *self_p = NULL;
    }
}

//  Counts a client from address; false if it has max-clients-per-address
static bool
s_address_enter (ces_admission_t *self, const char *address)
{
    if (!self->max_per_address)
        return true;
    pthread_mutex_lock (&self->addresses_lock);
    intptr_t count = (intptr_t)zhashx_lookup (self->addresses, address);
    bool room = count < self->max_per_address;
    if (room)
        zhashx_update (self->addresses, address, (void *)(count + 1));
    pthread_mutex_unlock (&self->addresses_lock);
    return room;
}

//  At most once a second: how many were refused since the last time
static void
s_log_refused (ces_admission_t *self)
{
    int64_t now = zclock_mono ();
    int64_t last = atomic_load (&self->logged_at);
    if (now - last < 1000 ||
        !atomic_compare_exchange_strong (&self->logged_at, &last, now))
        return;
    uint64_t refused = atomic_load (&self->refused);
    uint64_t before = atomic_exchange (&self->logged, refused);
    ces_warn (self->log_level,
              "edge: full, refused %" PRIu64
              " WebSocket(s) with 503: %d clients is this edge's "
              "--max-clients; raise it to hold more",
              refused - before, self->max_clients);
}

const char *
ces_admission_enter (ces_admission_t *self, const char *address)
{
    assert (self && address);
    const char *refusal = NULL;
    if (atomic_fetch_add (&self->clients, 1) >= self->max_clients)
        refusal = self->full;
    else if (!s_address_enter (self, address))
        refusal = "too many connections from your address "
                  "(max-clients-per-address)\n";
    if (refusal) {
        atomic_fetch_sub (&self->clients, 1);
        atomic_fetch_add (&self->refused, 1);
        s_log_refused (self);
    }
    return refusal;
}

void
ces_admission_leave (ces_admission_t *self, const char *address)
{
    assert (self && address);
    atomic_fetch_sub (&self->clients, 1);
    if (!self->max_per_address)
        return;
    pthread_mutex_lock (&self->addresses_lock);
    intptr_t count = (intptr_t)zhashx_lookup (self->addresses, address);
    if (count > 1)
        zhashx_update (self->addresses, address, (void *)(count - 1));
    else
        zhashx_delete (self->addresses, address);
    pthread_mutex_unlock (&self->addresses_lock);
}

int
ces_admission_clients (ces_admission_t *self)
{
    assert (self);
    return atomic_load (&self->clients);
}

uint64_t
ces_admission_refused (ces_admission_t *self)
{
    assert (self);
    return atomic_load (&self->refused);
}

void
ces_admission_test (bool verbose)
{
    printf (" * ces_admission: ");
    //  @selftest
    ces_admission_t *admission =
        ces_admission_new (3, 2, verbose ? CES_LOG_DEBUG : CES_LOG_ERROR);
    assert (ces_admission_enter (admission, "10.0.0.1") == NULL);
    assert (ces_admission_enter (admission, "10.0.0.1") == NULL);
    const char *refusal = ces_admission_enter (admission, "10.0.0.1");
    assert (refusal && strstr (refusal, "max-clients-per-address"));
    assert (ces_admission_enter (admission, "10.0.0.2") == NULL);
    refusal = ces_admission_enter (admission, "10.0.0.3");
    assert (refusal && strstr (refusal, "holds 3 clients (--max-clients)"));
    assert (ces_admission_clients (admission) == 3);
    assert (ces_admission_refused (admission) == 2);
    //  One leaves: its address and the edge have room again
    ces_admission_leave (admission, "10.0.0.1");
    assert (ces_admission_clients (admission) == 2);
    assert (ces_admission_enter (admission, "10.0.0.1") == NULL);
    ces_admission_leave (admission, "10.0.0.1");
    ces_admission_leave (admission, "10.0.0.1");
    ces_admission_leave (admission, "10.0.0.2");
    assert (ces_admission_clients (admission) == 0);
    ces_admission_destroy (&admission);
    assert (admission == NULL);
    //  Any number from one address
    admission = ces_admission_new (2, 0, CES_LOG_ERROR);
    assert (ces_admission_enter (admission, "10.0.0.1") == NULL);
    assert (ces_admission_enter (admission, "10.0.0.1") == NULL);
    assert (ces_admission_enter (admission, "10.0.0.1") != NULL);
    ces_admission_destroy (&admission);
    //  @end
    printf ("OK\n");
}
