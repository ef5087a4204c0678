/*  =========================================================================
    ces_waiters - who waits for the hub to confirm a registration

    A register goes to the hub with a sync token; the hub answers
    REGISTERED with that token once events for its rooms will flow, and
    answers registers in the order they were sent. So a waiter waits for
    the newest register sent when it came, and is told at once when none
    is in flight. While the hub is away waiters wait for it; after WELCOME
    the link registers every room again with one token, and everyone
    waiting waits for that one (an old hub's tokens are void).

    The edge (a client's {"registered":[...]}) and the embedded messenger
    (its REGISTER reply) both wait this way.
    =========================================================================
*/
#ifndef CES_WAITERS_H_INCLUDED
#define CES_WAITERS_H_INCLUDED

typedef struct _ces_waiters_t ces_waiters_t;

//  Called once per waiter when its register is confirmed; the waiter is
//  destroyed with the destructor afterwards (if one was set). It must not
//  call back into the waiters.
typedef void (ces_waiters_fn) (void *waiter, void *arg);

ces_waiters_t *ces_waiters_new (ces_waiters_fn *notify, void *arg);
void ces_waiters_destroy (ces_waiters_t **self_p);
void ces_waiters_set_destructor (ces_waiters_t *self,
                                 czmq_destructor *destructor);

//  A register was sent with token (the link's answer to ces_link_register;
//  NULL: nothing new was sent)
void ces_waiters_sent (ces_waiters_t *self, const char *token);
//  waiter waits for the newest register, or is notified now
void ces_waiters_add (ces_waiters_t *self, void *waiter, bool connected);
//  REGISTERED token
void ces_waiters_confirmed (ces_waiters_t *self, const char *token);
//  CONNECTED: the link sent every room again with token (NULL: no rooms)
void ces_waiters_connected (ces_waiters_t *self, const char *token);
//  Forgets every waiter, unnotified
void ces_waiters_purge (ces_waiters_t *self);
size_t ces_waiters_size (ces_waiters_t *self);

void ces_waiters_test (bool verbose);

#endif
