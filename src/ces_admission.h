/*  =========================================================================
    ces_admission - how many WebSockets an edge takes

    civetweb's workers ask it, each for its own connection, whether one
    more client may come in: at most max-clients in all, and at most
    max-clients-per-address from one remote address. A refused client is
    answered 503 with a body that names the flag to raise; the edge logs
    refusals at most once a second, with their number. Thread-safe.
    =========================================================================
*/
#ifndef CES_ADMISSION_H_INCLUDED
#define CES_ADMISSION_H_INCLUDED

typedef struct _ces_admission_t ces_admission_t;

//  max_per_address 0: any number from one address
ces_admission_t *ces_admission_new (int max_clients, int max_per_address,
                                    int log_level);
void ces_admission_destroy (ces_admission_t **self_p);

//  Takes a client from address in: NULL, or the body of the 503 that
//  refuses it (counted, and logged at most once a second)
const char *ces_admission_enter (ces_admission_t *self, const char *address);

//  A client that came in from address left
void ces_admission_leave (ces_admission_t *self, const char *address);

//  Clients in now, and refused so far
int ces_admission_clients (ces_admission_t *self);
uint64_t ces_admission_refused (ces_admission_t *self);

void ces_admission_test (bool verbose);

#endif
