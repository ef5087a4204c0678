/*  =========================================================================
    ces-hub - the hub program: reads its options, starts the hub actor,
    waits for SIGINT/SIGTERM.
    =========================================================================
*/
#include "ces_program.h"

int
main (int argc, char *argv[])
{
    ces_program_t *program = ces_program_new (
        CES_PROGRAM_HUB,
        "The ces hub: routes room events between messengers, repeaters and\n"
        "other hubs over ZeroMQ.",
        argc, argv);
    ces_options_t *options = ces_program_options (program);
    zactor_t *hub = ces_program_actor (program, ces_hub_actor, CES_OPTIONS_HUB);
    char *router = NULL, *pub = NULL, *http = NULL;
    if (ces_program_bind (program, hub, ces_options_get (options, "router"),
                          ces_options_get (options, "pub"), &router, &pub,
                          &http, NULL)) {
        char *banner = zsys_sprintf (
            "ces-hub ready\n"
            "  peers (edges, messengers, repeaters) connect a DEALER to %s\n"
            "  subscribers connect a SUB to %s\n"
            "  status: http://%s/status  /metrics  /health\n"
            "  mesh:   POST http://%s/interconnect/HOST:PORT links this hub "
            "to another hub's ROUTER\n"
            "  stop with Ctrl-C; SIGHUP reloads the configuration\n",
            router, pub, http, http);
        ces_program_say (program, banner);
        zstr_free (&banner);
        ces_program_wait (program, hub, NULL);
    }
    zstr_free (&router);
    zstr_free (&pub);
    zstr_free (&http);
    zactor_destroy (&hub);
    return ces_program_end (&program);
}
