/*  =========================================================================
    ces_program - what the mains of ces, ces-edge, ces-repeater and ces-hub
    share (see ces_program.h)
    =========================================================================
*/
#include "ces_program.h"
#include <signal.h>

struct _ces_program_t {
    ces_options_program_t kind;
    const char *name;       //  "ces-edge", ...
    ces_options_t *options; //  what the flags and environment said
    bool done;              //  --help, or a step failed
    int exit_code;
};

//  The one piece of process state: a signal handler can only set a flag
static volatile sig_atomic_t s_reload_requested;

static void
s_on_sighup (int signal_number)
{
    (void)signal_number;
    s_reload_requested = 1;
}

//  Each of civetweb's thousand workers keeps glibc's per-thread cache of
//  freed chunks (tcache), which pins arena pages that malloc_trim cannot hand
//  back: with it an edge's RSS crept for an hour of client churn (heap in use
//  20.9 -> 27.8 MiB over 15,000 connections, none of them leaked; without
//  it, flat at 20.9 MiB). glibc reads its tunables only when a program
//  starts, so the program starts itself once more without the cache. A
//  GLIBC_TUNABLES that already sets tcache_count is left as it is.
void
ces_program_exec_without_thread_caches (char *argv[])
{
    const char *tunables = getenv ("GLIBC_TUNABLES");
    if (tunables && strstr (tunables, "glibc.malloc.tcache_count"))
        return;
    char value[1024];
    int size = snprintf (value, sizeof value, "%s%sglibc.malloc.tcache_count=0",
                         tunables ? tunables : "", tunables ? ":" : "");
    if (size < 0 || (size_t)size >= sizeof value)
        return;
    setenv ("GLIBC_TUNABLES", value, 1);
    execv ("/proc/self/exe", argv);
    //  No /proc: run with the cache
}

static void
s_usage (ces_program_t *self, const char *about)
{
    printf ("usage: %s [options]\n\n%s\n\n", self->name, about);
    ces_options_usage (self->options, stdout);
}

//  The peers of --peers-file join those of --peer and the environment
static bool
s_read_peers_file (ces_program_t *self)
{
    const char *file = ces_options_get (self->options, "peers-file");
    char error[256];
    if (file &&
        ces_mesh_read_peers (file, ces_options_list (self->options, "peer"),
                             error, sizeof error)) {
        fprintf (stderr, "%s: --peers-file: %s\n", self->name, error);
        return false;
    }
    return true;
}

ces_program_t *
ces_program_new (ces_options_program_t kind, const char *about, int argc,
                 char *argv[])
{
    assert (about);
    ces_program_t *self = (ces_program_t *)zmalloc (sizeof (ces_program_t));
    assert (self);
    self->kind = kind;
    self->options = ces_options_new (kind);
    self->name = ces_options_program (self->options);
    int rc = ces_options_parse (self->options, argc, argv);
    if (rc == 1) {
        s_usage (self, about);
        self->done = true;
        return self;
    }
    if (rc == -1) {
        fprintf (stderr, "%s: %s\n%s: try --help\n", self->name,
                 ces_options_error (self->options), self->name);
        self->done = true, self->exit_code = 2;
        return self;
    }
    if (kind & (CES_PROGRAM_CES | CES_PROGRAM_HUB) &&
        !s_read_peers_file (self)) {
        self->done = true, self->exit_code = 2;
        return self;
    }
    //  Workers share one ZeroMQ socket: czmq's default socket limit will do
    zsys_init ();
    zsys_set_logident (self->name);
    if (kind != CES_PROGRAM_HUB) {
        struct sigaction action;
        memset (&action, 0, sizeof (action));
        action.sa_handler = s_on_sighup;
        sigaction (SIGHUP, &action, NULL);
    }
    return self;
}

int
ces_program_end (ces_program_t **self_p)
{
    assert (self_p && *self_p);
    ces_program_t *self = *self_p;
    int exit_code = self->exit_code;
    ces_options_destroy (&self->options);
    freen (self);
    *self_p = NULL;
    return exit_code;
}

bool
ces_program_ok (ces_program_t *self)
{
    assert (self);
    return !self->done;
}

ces_options_t *
ces_program_options (ces_program_t *self)
{
    assert (self);
    return self->options;
}

void
ces_program_fail (ces_program_t *self, int exit_code, const char *reason)
{
    assert (self && reason);
    fprintf (stderr, "%s: %s\n", self->name, reason);
    self->done = true;
    self->exit_code = exit_code;
}

zactor_t *
ces_program_actor (ces_program_t *self, zactor_fn *actor_fn, int actor_kind)
{
    assert (self && actor_fn);
    if (self->done)
        return NULL;
    zactor_t *actor = zactor_new (actor_fn, NULL);
    assert (actor);
    if (ces_options_configure (self->options, actor, actor_kind)) {
        ces_program_fail (self, 2, ces_options_error (self->options));
        zactor_destroy (&actor);
    }
    return actor;
}

bool
ces_program_set (ces_program_t *self, zactor_t *actor, const char *name,
                 const char *value)
{
    assert (self && name);
    if (self->done || !actor)
        return false;
    assert (value);
    zstr_sendx (actor, "SET", name, value, NULL);
    if (zsock_wait (actor) == 0)
        return true;
    char *reason = zsys_sprintf ("invalid value '%s' for %s", value, name);
    ces_program_fail (self, 2, reason);
    zstr_free (&reason);
    return false;
}

bool
ces_program_bind (ces_program_t *self, zactor_t *hub, const char *routers,
                  const char *pubs, char **router, char **pub, char **http,
                  char **control)
{
    assert (self && routers && pubs);
    if (self->done || !hub)
        return false;
    zstr_sendx (hub, "BIND", routers, pubs, NULL);
    char *status = NULL, *bound[4] = {NULL, NULL, NULL, NULL};
    zstr_recvx (hub, &status, &bound[0], &bound[1], &bound[2], &bound[3], NULL);
    if (!status || !streq (status, "0"))
        ces_program_fail (self, 1, bound[0] ? bound[0] : "hub failed");
    char *refused = NULL;
    if (!self->done &&
        ces_hub_link (hub, ces_options_list (self->options, "peer"),
                      &refused)) {
        char *reason = zsys_sprintf ("--peer %s", refused);
        ces_program_fail (self, 2, reason);
        zstr_free (&reason);
        zstr_free (&refused);
    }
    char **wanted[4] = {router, pub, http, control};
    for (int i = 0; i < 4; i++)
        if (wanted[i] && !self->done)
            *wanted[i] = bound[i], bound[i] = NULL;
        else
            zstr_free (&bound[i]);
    zstr_free (&status);
    return !self->done;
}

int
ces_program_start (ces_program_t *self, zactor_t *actor, const char *what)
{
    assert (self && what);
    if (self->done || !actor)
        return 0;
    zstr_send (actor, "START");
    char *status = NULL, *detail = NULL;
    zstr_recvx (actor, &status, &detail, NULL);
    int port = status && streq (status, "0") ? atoi (detail) : 0;
    if (!port) {
        char *reason =
            zsys_sprintf ("%s: %s", what, detail ? detail : "failed");
        ces_program_fail (self, 1, reason);
        zstr_free (&reason);
    }
    zstr_free (&status);
    zstr_free (&detail);
    return port;
}

void
ces_program_banner (ces_program_t *self, int edge_port, int repeater_port,
                    const char *router, const char *pub)
{
    assert (self);
    printf ("%s ready\n", self->name);
    if (edge_port)
        printf ("  browser:    http://127.0.0.1:%d/  (watch a room, send an "
                "event)\n"
                "  WebSocket:  ws://127.0.0.1:%d/connect/messenger  (also "
                "/connect/repeater, /connect/hub)\n"
                "  HTTP:       POST http://127.0.0.1:%d/event  (one JSON "
                "event)\n"
                "  status:     http://127.0.0.1:%d/status  /metrics  /health\n",
                edge_port, edge_port, edge_port, edge_port);
    if (edge_port)
        printf ("  rooms:      http://127.0.0.1:%d/rooms  (each room's state "
                "and history; ces.v2 clients recover)\n",
                edge_port);
    if (edge_port && self->kind == CES_PROGRAM_CES)
        printf ("  mesh:       POST http://127.0.0.1:%d/interconnect/HOST:PORT "
                "(another hub's ROUTER)\n",
                edge_port);
    if (repeater_port)
        printf ("  repeater:   ws://127.0.0.1:%d/connect/ROOM/ID, POST "
                "http://127.0.0.1:%d/send  (outside systems; status on "
                "/status)\n",
                repeater_port, repeater_port);
    if (router)
        printf ("  ZeroMQ:     hub ROUTER %s, PUB %s (other edges, embedded "
                "messengers)\n",
                router, pub);
    printf ("  stop with Ctrl-C; SIGHUP reloads the repeater's targets\n");
    fflush (stdout);
}

static void
s_reload (zactor_t *repeater)
{
    zstr_send (repeater, "RELOAD");
    char *status = NULL, *reason = NULL;
    zstr_recvx (repeater, &status, &reason, NULL);
    zstr_free (&status);
    zstr_free (&reason);
}

void
ces_program_wait (ces_program_t *self, zactor_t *actor, zactor_t *repeater)
{
    assert (self && actor);
    zpoller_t *poller = zpoller_new (actor, NULL);
    assert (poller);
    //  The actors send nothing unasked; this wakes on signals
    while (!zsys_interrupted) {
        zpoller_wait (poller, 200);
        if (s_reload_requested && repeater) {
            s_reload_requested = 0;
            s_reload (repeater);
        }
    }
    zpoller_destroy (&poller);
    zsys_info ("shutting down");
}
