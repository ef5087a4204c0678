/*  =========================================================================
    ces_waiters - who waits for the hub to confirm a registration
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_waiters_t {
    ces_waiters_fn *notify;
    void *arg;
    czmq_destructor *destructor;
    zhashx_t *waiting; //  token -> zlistx of waiters
    zlistx_t *for_hub; //  waiters while the hub is away
    char *last_token;  //  the newest register sent
    char *confirmed;   //  the newest register confirmed
};

static void
s_list_destroy (void **item_p)
{
    zlistx_t *list = (zlistx_t *)*item_p;
    zlistx_destroy (&list);
    *item_p = NULL;
}

ces_waiters_t *
ces_waiters_new (ces_waiters_fn *notify, void *arg)
{
    assert (notify);
    ces_waiters_t *self = (ces_waiters_t *)zmalloc (sizeof (*self));
    assert (self);
    self->notify = notify;
    self->arg = arg;
    self->waiting = zhashx_new ();
    self->for_hub = zlistx_new ();
    assert (self->waiting && self->for_hub);
    zhashx_set_destructor (self->waiting, s_list_destroy);
    return self;
}

void
ces_waiters_destroy (ces_waiters_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_waiters_t *self = *self_p;
        zhashx_destroy (&self->waiting);
        zlistx_destroy (&self->for_hub);
        zstr_free (&self->last_token);
        zstr_free (&self->confirmed);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_waiters_set_destructor (ces_waiters_t *self, czmq_destructor *destructor)
{
    assert (self);
    self->destructor = destructor;
    zlistx_set_destructor (self->for_hub, destructor);
}

static void
s_done (ces_waiters_t *self, void *waiter)
{
    self->notify (waiter, self->arg);
    if (self->destructor)
        self->destructor (&waiter);
}

static void
s_wait_on (ces_waiters_t *self, const char *token, void *waiter)
{
    zlistx_t *waiters = (zlistx_t *)zhashx_lookup (self->waiting, token);
    if (!waiters) {
        waiters = zlistx_new ();
        zlistx_set_destructor (waiters, self->destructor);
        zhashx_insert (self->waiting, token, waiters);
    }
    zlistx_add_end (waiters, waiter);
}

void
ces_waiters_sent (ces_waiters_t *self, const char *token)
{
    assert (self);
    if (token) {
        zstr_free (&self->last_token);
        self->last_token = strdup (token);
    }
}

void
ces_waiters_add (ces_waiters_t *self, void *waiter, bool connected)
{
    assert (self);
    bool in_flight =
        self->last_token &&
        !(self->confirmed && streq (self->last_token, self->confirmed));
    if (!connected)
        zlistx_add_end (self->for_hub, waiter);
    else if (in_flight)
        s_wait_on (self, self->last_token, waiter);
    else
        s_done (self, waiter);
}

void
ces_waiters_confirmed (ces_waiters_t *self, const char *token)
{
    assert (self);
    zstr_free (&self->confirmed);
    self->confirmed = strdup (token);
    zlistx_t *waiters = (zlistx_t *)zhashx_lookup (self->waiting, token);
    if (!waiters)
        return;
    void *waiter;
    while ((waiter = zlistx_detach (waiters, NULL)))
        s_done (self, waiter);
    zhashx_delete (self->waiting, token);
}

void
ces_waiters_connected (ces_waiters_t *self, const char *token)
{
    assert (self);
    zlistx_t *waiters = (zlistx_t *)zhashx_first (self->waiting);
    while (waiters) {
        void *waiter;
        while ((waiter = zlistx_detach (waiters, NULL)))
            zlistx_add_end (self->for_hub, waiter);
        waiters = (zlistx_t *)zhashx_next (self->waiting);
    }
    zhashx_purge (self->waiting);
    zstr_free (&self->last_token);
    zstr_free (&self->confirmed);
    if (token)
        self->last_token = strdup (token);
    void *waiter;
    while ((waiter = zlistx_detach (self->for_hub, NULL))) {
        if (self->last_token)
            s_wait_on (self, self->last_token, waiter);
        else
            s_done (self, waiter);
    }
}

void
ces_waiters_purge (ces_waiters_t *self)
{
    assert (self);
    zhashx_purge (self->waiting);
    zlistx_purge (self->for_hub);
}

size_t
ces_waiters_size (ces_waiters_t *self)
{
    assert (self);
    size_t size = zlistx_size (self->for_hub);
    zlistx_t *waiters = (zlistx_t *)zhashx_first (self->waiting);
    while (waiters) {
        size += zlistx_size (waiters);
        waiters = (zlistx_t *)zhashx_next (self->waiting);
    }
    return size;
}

//  --------------------------------------------------------------------------
//  Self test

static void
s_test_notify (void *waiter, void *arg)
{
    zlist_t *told = (zlist_t *)arg;
    zlist_append (told, waiter);
}

void
ces_waiters_test (bool verbose)
{
    (void)verbose;
    printf (" * ces_waiters: ");
    //  @selftest
    zlist_t *told = zlist_new ();
    ces_waiters_t *waiters = ces_waiters_new (s_test_notify, told);
    //  Nothing in flight: told at once
    ces_waiters_add (waiters, (void *)"a", true);
    assert (zlist_size (told) == 1);
    //  Two registers in flight: a waiter waits for the newest
    ces_waiters_sent (waiters, "t1");
    ces_waiters_add (waiters, (void *)"b", true);
    ces_waiters_sent (waiters, "t2");
    ces_waiters_add (waiters, (void *)"c", true);
    ces_waiters_confirmed (waiters, "t1");
    assert (zlist_size (told) == 2 && streq ((char *)zlist_last (told), "b"));
    ces_waiters_confirmed (waiters, "t2");
    assert (zlist_size (told) == 3 && streq ((char *)zlist_last (told), "c"));
    //  The hub is away, then back with every room under one token
    ces_waiters_add (waiters, (void *)"d", false);
    ces_waiters_sent (waiters, "t3");
    ces_waiters_add (waiters, (void *)"e", true);
    assert (ces_waiters_size (waiters) == 2);
    ces_waiters_connected (waiters, "t9");
    ces_waiters_confirmed (waiters, "t3"); //  an old hub's token: void
    assert (zlist_size (told) == 3);
    ces_waiters_confirmed (waiters, "t9");
    assert (zlist_size (told) == 5);
    //  Back with no rooms: told at once
    ces_waiters_add (waiters, (void *)"f", false);
    ces_waiters_connected (waiters, NULL);
    assert (zlist_size (told) == 6);
    ces_waiters_sent (waiters, "t10");
    ces_waiters_add (waiters, (void *)"g", true);
    ces_waiters_purge (waiters);
    assert (ces_waiters_size (waiters) == 0);
    ces_waiters_destroy (&waiters);
    assert (waiters == NULL);
    zlist_destroy (&told);
    //  @end
    printf ("OK\n");
}
