/*  =========================================================================
    ces-edge - a WebSocket edge (7100) for messengers, linked to a hub
    elsewhere (--hub-router, --hub-pub)
    =========================================================================
*/
#include "ces_program.h"

int
main (int argc, char *argv[])
{
    ces_program_exec_without_thread_caches (argv);
    ces_program_t *program = ces_program_new (
        CES_PROGRAM_EDGE,
        "A WebSocket edge: serves messengers and links them to a hub.", argc,
        argv);
    zactor_t *edge =
        ces_program_actor (program, ces_edge_actor, CES_OPTIONS_EDGE);
    int port = ces_program_start (program, edge, "edge");
    if (port) {
        ces_program_banner (program, port, 0, NULL, NULL);
        ces_program_wait (program, edge, NULL);
    }
    zactor_destroy (&edge);
    return ces_program_end (&program);
}
