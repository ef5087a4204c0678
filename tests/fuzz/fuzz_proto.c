/*  Fuzz target: the hub protocol codec, receiving any multipart message on
    a ROUTER. The input is split into frames at each 0xFF byte. */
#include "ces.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  One pair of sockets for the whole run (this is a test program)
static zsock_t *s_router;
static zsock_t *s_dealer;
static ces_proto_t *s_proto;

static void
s_cleanup (void)
{
    ces_proto_destroy (&s_proto);
    zsock_destroy (&s_dealer);
    zsock_destroy (&s_router);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_router) {
        s_router = zsock_new_router ("inproc://fuzz-proto");
        s_dealer = zsock_new_dealer ("inproc://fuzz-proto");
        s_proto = ces_proto_new ();
        assert (s_router && s_dealer && s_proto);
        atexit (s_cleanup); //  runs before czmq's own clean-up
    }
    zmsg_t *msg = zmsg_new ();
    size_t start = 0;
    for (size_t i = 0; i <= size; i++)
        if (i == size || data[i] == 0xFF) {
            zmsg_addmem (msg, data + start, i - start);
            start = i + 1;
        }
    zmsg_send (&msg, s_dealer);
    int rc = ces_proto_recv (s_proto, s_router);
    if (rc == 0) {
        //  A good message must go out again as it came in
        (void)ces_proto_command (s_proto);
        ces_proto_send (s_proto, s_router);
        zmsg_t *echo = zmsg_recv (s_dealer);
        zmsg_destroy (&echo);
    } else if (rc != -2)
        abort ();
    return 0;
}
