/*  =========================================================================
    ces-repeater - a repeater (7101) for outside systems, linked to a hub
    elsewhere (--hub, or HUB_ADDRESS as the original repeater had it)
    =========================================================================
*/
#include "ces_program.h"

int
main (int argc, char *argv[])
{
    ces_program_exec_without_thread_caches (argv);
    ces_program_t *program = ces_program_new (
        CES_PROGRAM_REPEATER,
        "A repeater: outside systems in (WebSocket /connect/ROOM/ID,\n"
        "POST /send) and events out to the configured targets.",
        argc, argv);
    //  The original repeater dialled its hub's WebSocket; ours links to the
    //  hub's ZeroMQ ROUTER
    const char *hub =
        ces_options_get (ces_program_options (program), "hub-router");
    if (ces_program_ok (program) && strncmp (hub, "ws", 2) == 0) {
        char *reason = zsys_sprintf ("HUB_ADDRESS/--hub is '%s'; a ces "
                                     "repeater links to the hub's ZeroMQ "
                                     "ROUTER, e.g. tcp://127.0.0.1:7200",
                                     hub);
        ces_program_fail (program, 2, reason);
        zstr_free (&reason);
    }
    zactor_t *repeater =
        ces_program_actor (program, ces_repeater_actor, CES_OPTIONS_REPEATER);
    int port = ces_program_start (program, repeater, "repeater");
    if (port) {
        ces_program_banner (program, 0, port, NULL, NULL);
        ces_program_wait (program, repeater, repeater);
    }
    zactor_destroy (&repeater);
    return ces_program_end (&program);
}
