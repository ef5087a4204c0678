/*  =========================================================================
    ces_program - what the mains of ces, ces-edge, ces-repeater and ces-hub
    share: options and --help from the one table (ces_options), logging
    identity, signals, configuring and starting actors with the errors and
    exit codes users see, the banner, the wait for a signal, and the glibc
    tcache re-exec of the civetweb programs.

    Compiled into each program, not into libces: a library never takes its
    host's signals or logging identity.

    Each step does nothing once one has failed, so a main reads as the list
    of what it starts:

        ces_program_t *program =
            ces_program_new (CES_PROGRAM_EDGE, "An edge.", argc, argv);
        zactor_t *edge =
            ces_program_actor (program, ces_edge_actor, CES_OPTIONS_EDGE);
        int port = ces_program_start (program, edge, "edge");
        if (port) {
            ces_program_banner (program, port, 0, NULL, NULL);
            ces_program_wait (program, edge, NULL);
        }
        zactor_destroy (&edge);
        return ces_program_end (&program);

    Exit codes: 0; 2 for a bad flag or a value an actor refused; 1 for what
    only starting can tell (a port in use, an unreadable targets file).
    =========================================================================
*/
#ifndef CES_PROGRAM_H_INCLUDED
#define CES_PROGRAM_H_INCLUDED

#include "ces.h"
//  Asserts guard programmer errors and stay on in release builds
#undef NDEBUG
#include <assert.h>

typedef struct _ces_program_t ces_program_t;

//  Each of civetweb's workers keeps glibc's per-thread cache of freed
//  chunks: the program starts itself once more without it (see the .c).
//  Call first thing in main.
void ces_program_exec_without_thread_caches (char *argv[]);

//  Reads the --config file, the environment and the flags. --help prints
//  the usage (about is the paragraph under the usage line), --version,
//  --print-config and --example-config what they say, and end the program
//  with 0; a bad flag, key or value prints why and ends it with 2.
//  Otherwise sets up czmq and logging as the program (--log-format), and
//  SIGHUP. argv must live as long as the program (main's). Caller owns
//  return value and must end it with ces_program_end.
ces_program_t *ces_program_new (ces_options_program_t kind, const char *about,
                                int argc, char *argv[]);

//  Destroys the program; returns its exit code
int ces_program_end (ces_program_t **self_p);

//  True while no step has failed and --help was not asked
bool ces_program_ok (ces_program_t *self);

//  The options, for what a main reads itself (borrowed)
ces_options_t *ces_program_options (ces_program_t *self);

//  Ends the program with exit_code after printing "PROGRAM: reason"
void ces_program_fail (ces_program_t *self, int exit_code, const char *reason);

//  A new actor configured with every option given for it (actor_kind, one
//  of CES_OPTIONS_*); NULL after a refusal (exit 2)
zactor_t *ces_program_actor (ces_program_t *self, zactor_fn *actor_fn,
                             int actor_kind);

//  One SET that no flag gives (how this process composes its actors);
//  false after a refusal (exit 2)
bool ces_program_set (ces_program_t *self, zactor_t *actor, const char *name,
                      const char *value);

//  Binds a hub actor to routers and pubs (comma-separated endpoints) and
//  links it to the peers of --peer, the environment and --peers-file.
//  Returns the endpoints bound in *router and *pub, the HTTP address in
//  *http and the control endpoint in *control (each may be NULL; caller
//  frees), or false after a bind failure (exit 1) or a refused peer
//  (exit 2).
bool ces_program_bind (ces_program_t *self, zactor_t *hub, const char *routers,
                       const char *pubs, char **router, char **pub, char **http,
                       char **control);

//  Starts an edge or repeater actor: returns its port, or 0 after saying
//  why (exit 1)
int ces_program_start (ces_program_t *self, zactor_t *actor, const char *what);

//  Waits up to msecs until actor (an edge or a repeater; NULL: none) is
//  linked to its hub: ces says it is ready, and systemd hears READY=1, once
//  /health answers 200, as its hub is in the same process
void ces_program_await_hub (ces_program_t *self, zactor_t *actor, int msecs);

//  "PROGRAM ready" and where to connect: the edge's port, the repeater's,
//  and the hub's tcp:// ROUTER and PUB (0 or NULL for what it does not run)
void ces_program_banner (ces_program_t *self, int edge_port, int repeater_port,
                         const char *router, const char *pub);

//  Prints text (lines) to stdout, or with --log-format json each line as
//  an info log line
void ces_program_say (ces_program_t *self, const char *text);

//  Tells systemd the program is ready (sd_notify READY=1; nothing when not
//  under systemd), then waits for SIGINT or SIGTERM, feeding systemd's
//  watchdog (WATCHDOG=1 at half of WATCHDOG_USEC) and telling it
//  STOPPING=1 at the end. On SIGHUP reads the configuration again (the
//  --config file and the environment, with the same flags), SETs on the
//  actors configured by ces_program_actor the options that may change
//  while running and whose values changed, logs those that need a restart,
//  and tells the repeater (if any) to RELOAD its targets.
void ces_program_wait (ces_program_t *self, zactor_t *actor,
                       zactor_t *repeater);

#endif
