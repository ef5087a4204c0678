/*  =========================================================================
    ces - the whole system in one process (make run): a hub, a WebSocket
    edge for messengers (7100) and a repeater for outside systems (7101),
    composed over inproc://, with the hub's tcp:// endpoints open for other
    edges and embedded messengers.
    =========================================================================
*/
#include "ces_program.h"

#define INPROC_ROUTER "inproc://ces-hub-router"
#define INPROC_PUB    "inproc://ces-hub-pub"

//  The edge and the repeater reach the hub in this process
static zactor_t *
s_linked (ces_program_t *program, zactor_fn *actor_fn, int actor_kind)
{
    zactor_t *actor = ces_program_actor (program, actor_fn, actor_kind);
    if (ces_program_set (program, actor, "hub-router", INPROC_ROUTER) &&
        ces_program_set (program, actor, "hub-pub", INPROC_PUB))
        return actor;
    zactor_destroy (&actor);
    return NULL;
}

int
main (int argc, char *argv[])
{
    ces_program_exec_without_thread_caches (argv);
    ces_program_t *program = ces_program_new (
        CES_PROGRAM_CES,
        "The whole ces system in one process: a hub, a WebSocket edge\n"
        "for messengers and a repeater for outside systems.",
        argc, argv);
    ces_options_t *options = ces_program_options (program);

    //  The hub binds inproc:// for the edge and repeater, tcp:// for the rest
    zactor_t *hub = ces_program_actor (program, ces_hub_actor, CES_OPTIONS_HUB);
    char *routers =
        zsys_sprintf (INPROC_ROUTER ",%s", ces_options_get (options, "router"));
    char *pubs =
        zsys_sprintf (INPROC_PUB ",%s", ces_options_get (options, "pub"));
    char *router = NULL, *pub = NULL, *control = NULL;
    ces_program_bind (program, hub, routers, pubs, &router, &pub, NULL,
                      &control);

    //  The edge answers /interconnect through the hub's control endpoint,
    //  and serves the hub's /status and /metrics with its own
    zactor_t *edge = s_linked (program, ces_edge_actor, CES_OPTIONS_EDGE);
    if (edge && ces_program_set (program, edge, "hub-control", control)) {
        zsock_send (edge, "sp", "HUB", hub);
        zsock_wait (edge);
    }
    int edge_port = ces_program_start (program, edge, "edge");
    zactor_t *repeater =
        s_linked (program, ces_repeater_actor, CES_OPTIONS_REPEATER);
    int repeater_port = ces_program_start (program, repeater, "repeater");

    if (ces_program_ok (program)) {
        ces_program_await_hub (program, edge, 5000);
        ces_program_await_hub (program, repeater, 5000);
        //  Show the tcp:// endpoints, not the inproc:// ones
        ces_program_banner (program, edge_port, repeater_port,
                            strchr (router, ',') + 1, strchr (pub, ',') + 1);
        ces_program_wait (program, edge, repeater);
    }
    //  Edges first: they still ask the hub for status while they run
    zactor_destroy (&repeater);
    zactor_destroy (&edge);
    zactor_destroy (&hub);
    zstr_free (&routers);
    zstr_free (&pubs);
    zstr_free (&router);
    zstr_free (&pub);
    zstr_free (&control);
    return ces_program_end (&program);
}
