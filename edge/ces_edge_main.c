/*  =========================================================================
    ces, ces-edge and ces-repeater - the civetweb programs.

    Built three times from this file:
    - `ces-edge` (CES_EDGE): a WebSocket edge (7100) linked to a hub;
    - `ces-repeater` (CES_REPEATER): a repeater (7101) linked to a hub;
    - `ces` (CES_EDGE, CES_REPEATER, CES_WITH_HUB): the hub, an edge and a
      repeater in one process, composed over inproc://, with the hub's tcp://
      endpoints open for other edges and embedded messengers. `make run`.
    =========================================================================
*/
#include "ces.h"
#include <getopt.h>
#include <signal.h>

#if defined(CES_WITH_HUB)
#define PROGRAM "ces"
#elif defined(CES_REPEATER)
#define PROGRAM "ces-repeater"
#else
#define PROGRAM "ces-edge"
#endif

//  Who a flag configures
enum { EDGE = 1, REPEATER = 2, HUB = 4 };

typedef struct {
    const char *flag;
    const char *option; //  the actor's SET name
    int to;
    const char *env; //  environment variable that sets it, if any
    const char *help;
} flag_t;

static const flag_t s_flags[] = {
#ifdef CES_WITH_HUB
    {"router", "router", HUB, "CES_HUB_ROUTER",
     "hub ROUTER for other edges and messengers (tcp://127.0.0.1:7200)"},
    {"pub", "pub", HUB, "CES_HUB_PUB", "hub PUB (tcp://127.0.0.1:7201)"},
    {"heartbeat", "heartbeat", HUB, NULL, "hub heartbeat, msecs (1000)"},
    {"hub-id", "hub-id", HUB, NULL,
     "name of the hub, unique in a mesh (random)"},
    {"peer", NULL, HUB, "CES_HUB_PEERS",
     "link the hub to the hub whose ROUTER is host:port\n"
     "                          (repeatable; env comma-separated)"},
    {"peers-file", NULL, HUB, NULL, "a static mesh: one peer per line"},
    {"advertise", "advertise", HUB, NULL,
     "ROUTER address peer hubs dial back (the tcp:// one)"},
    {"curve-cert", "curve-cert", HUB, "CES_CURVE_CERT",
     "CURVE on the hub's tcp:// links: its certificate\n"
     "                          (ces-keygen; hubs of a mesh share one)"},
    {"curve-clients", "curve-clients", HUB, "CES_CURVE_CLIENTS",
     "directory of the public certificates let in, or \"*\""},
    {"listen", "listen", EDGE, NULL,
     "edge HTTP/WebSocket port (127.0.0.1:7100)"},
    {"repeater-listen", "listen", REPEATER, NULL,
     "repeater HTTP/WebSocket port (127.0.0.1:7101)"},
#else
    {"listen", "listen", EDGE | REPEATER, NULL,
#ifdef CES_REPEATER
     "HTTP/WebSocket port (127.0.0.1:7101)"},
    {"hub", "hub-router", REPEATER, "HUB_ADDRESS",
     "the hub's ROUTER (tcp://127.0.0.1:7200)"},
#else
     "HTTP/WebSocket port (127.0.0.1:7100)"},
    {"hub-router", "hub-router", EDGE, NULL,
     "the hub's ROUTER (tcp://127.0.0.1:7200)"},
    {"hub-pub", "hub-pub", EDGE, NULL, "the hub's PUB (tcp://127.0.0.1:7201)"},
#endif
    {"curve-cert", "curve-cert", EDGE | REPEATER, "CES_CURVE_CERT",
     "CURVE to the hub: this process's certificate (ces-keygen)"},
    {"hub-key", "hub-key", EDGE | REPEATER, "CES_HUB_KEY",
     "CURVE to the hub: its public key (Z85) or certificate"},
#endif
#ifdef CES_REPEATER
    {"targets", "targets-file", REPEATER, NULL,
     "JSON file: room -> list of target URLs (reloaded on SIGHUP)"},
    {"central", "central", REPEATER, "CENTRAL_REPEATER_ADDRESSES",
     "comma-separated target URLs that get every event"},
    {"system-id", "system-id", REPEATER, "SYSTEM_ID",
     "our name on WebSocket links we dial (the host name)"},
    {"idle-timeout", "idle-timeout", REPEATER, NULL,
     "close an unused inbound socket after msecs (30000)"},
    {"link-idle", "link-idle", REPEATER, NULL,
     "close an unused link we dialled after msecs (7000)"},
#endif
#ifdef CES_WITH_HUB
    //  The repeater serves a few outside systems: its own, smaller limit,
    //  so that it does not reserve a thread per edge client too
    {"repeater-max-clients", "max-clients", REPEATER, NULL,
     "repeater WebSockets, more get 503 (1000)"},
    {"max-clients", "max-clients", EDGE, NULL,
#else
    {"max-clients", "max-clients", EDGE | REPEATER, NULL,
#endif
     "WebSockets, more get 503 (1000, at most 15000; ~15 KB each\n"
     "                          reserved, ~40 KB more each connected)"},
    {"max-message", "max-message", EDGE | REPEATER | HUB, NULL,
     "largest event in bytes (1048576)"},
    {"max-depth", "max-depth", EDGE | REPEATER | HUB, NULL,
     "deepest JSON nesting of an event (64, at most 256)"},
    {"max-room-length", "max-room-length", EDGE | REPEATER, NULL,
     "longest room ID in bytes (128, at most 128)"},
    {"handshake-timeout", "handshake-timeout", EDGE | REPEATER, NULL,
     "msecs a client has to send a whole request (10000)"},
    {"client-queue", "client-queue", EDGE | REPEATER, NULL,
     "output buffer per client in bytes (1048576)"},
    {"stuck-timeout", "stuck-timeout", EDGE | REPEATER, NULL,
     "close a client dropping this long, msecs (10000)"},
    {"ping-interval", "ping-interval", EDGE | REPEATER, NULL,
     "WebSocket Ping interval, msecs (30000)"},
    {"pong-timeout", "pong-timeout", EDGE | REPEATER, NULL,
     "close a silent client after msecs (60000)"},
    {"max-rooms-per-client", "max-rooms-per-client", EDGE, NULL,
     "rooms one client may hold (10000; 0 = any)"},
    {"max-rate", "max-rate", EDGE | REPEATER, NULL,
     "events/s one client may send, over it dropped (0 = any)"},
    {"max-clients-per-address", "max-clients-per-address", EDGE | REPEATER,
     NULL, "WebSockets from one IP address (0 = any)"},
    {"auth-secret", "auth-secret", EDGE | REPEATER, "CES_AUTH_SECRET",
     "require HS256 tokens signed with this secret"},
    {"auth-key-file", "auth-key-file", EDGE | REPEATER, NULL,
     "require RS256/ES256 tokens; PEM public key file"},
    {"auth-open-networks", "auth-open", EDGE | REPEATER, NULL,
     "IPv4 networks that need no token (10.0.0.0/8,...)"},
    {"allowed-origins", "origins", EDGE | REPEATER, NULL,
     "browser Origins allowed (https://a,https://b)"},
    {"log-level", "log-level", EDGE | REPEATER | HUB, "LOG_LEVEL",
     "error, warn, info or debug (info)"},
    {NULL, NULL, 0, NULL, NULL}};

static volatile sig_atomic_t s_reload_requested;

static void
s_on_sighup (int signal_number)
{
    (void)signal_number;
    s_reload_requested = 1;
}

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: " PROGRAM " [options]\n\n%s\n\n",
#if defined(CES_WITH_HUB)
             "The whole ces system in one process: a hub, a WebSocket edge\n"
             "for messengers and a repeater for outside systems."
#elif defined(CES_REPEATER)
             "A repeater: outside systems in (WebSocket /connect/ROOM/ID,\n"
             "POST /send) and events out to the configured targets."
#else
             "A WebSocket edge: serves messengers and links them to a hub."
#endif
    );
    for (const flag_t *flag = s_flags; flag->flag; flag++)
        fprintf (out, "  --%-16s %s%s%s\n", flag->flag, flag->help,
                 flag->env ? "; env " : "", flag->env ? flag->env : "");
    fprintf (out, "  --%-16s %s\n  --%-16s %s\n", "no-validate",
             "route events without checking they are JSON objects", "help",
             "this text");
}

//  Collects option values in flag order: environment first, then flags
static bool
s_parse (int argc, char *argv[], zhashx_t *values, zlist_t *peers,
         bool *validate, bool *help)
{
    struct option longs[40];
    int count = 0;
    for (const flag_t *flag = s_flags; flag->flag; flag++) {
        const char *env = flag->env ? getenv (flag->env) : NULL;
        if (env && *env)
            zhashx_update (values, flag->flag, (void *)env);
        longs[count++] =
            (struct option){flag->flag, required_argument, NULL, 'o'};
    }
    longs[count++] = (struct option){"no-validate", no_argument, NULL, 'n'};
    longs[count++] = (struct option){"help", no_argument, NULL, 'h'};
    longs[count] = (struct option){NULL, 0, NULL, 0};
    int index = 0, option;
    while ((option = getopt_long (argc, argv, "h", longs, &index)) != -1) {
        if (option == '?')
            return false;
        if (option == 'h')
            *help = true;
        else if (option == 'n')
            *validate = false;
        else if (streq (longs[index].name, "peer"))
            zlist_append (peers, optarg); //  repeatable
        else
            zhashx_update (values, longs[index].name, optarg);
    }
    if (optind < argc) {
        fprintf (stderr, PROGRAM ": unexpected argument '%s'\n", argv[optind]);
        return false;
    }
    return true;
}

//  Sends every option meant for this actor; false (said why) on a refusal
static bool
s_configure (zactor_t *actor, int who, zhashx_t *values, bool validate)
{
    for (const flag_t *flag = s_flags; flag->flag; flag++) {
        const char *value = (const char *)zhashx_lookup (values, flag->flag);
        if (!(flag->to & who) || !value || !flag->option)
            continue;
        //  The hub's limit on payloads has its own name
        const char *option = who == HUB && streq (flag->option, "max-message")
                                 ? "max-payload"
                                 : flag->option;
        if (who == HUB && (streq (option, "router") || streq (option, "pub")))
            continue; //  BIND takes these
        zstr_sendx (actor, "SET", option, value, NULL);
        if (zsock_wait (actor)) {
            fprintf (stderr, PROGRAM ": invalid value '%s' for --%s\n", value,
                     flag->flag);
            return false;
        }
    }
    zstr_sendx (actor, "SET", "validate", validate ? "true" : "false", NULL);
    return zsock_wait (actor) == 0;
}

//  Starts an edge or repeater actor; returns its port, or 0 (said why)
static int
s_start (zactor_t *actor, const char *what)
{
    zstr_send (actor, "START");
    char *status = NULL, *detail = NULL;
    zstr_recvx (actor, &status, &detail, NULL);
    int port = status && streq (status, "0") ? atoi (detail) : 0;
    if (!port)
        fprintf (stderr, PROGRAM ": %s: %s\n", what,
                 detail ? detail : "failed");
    zstr_free (&status);
    zstr_free (&detail);
    return port;
}

static zactor_t *
s_new_actor (zactor_fn *actor_fn, int who, zhashx_t *values, bool validate,
             zactor_t *hub, const char *router, const char *pub,
             const char *control)
{
    zactor_t *actor = zactor_new (actor_fn, NULL);
    bool ok = s_configure (actor, who, values, validate);
    if (ok && control) {
        zstr_sendx (actor, "SET", "hub-control", control, NULL);
        ok = zsock_wait (actor) == 0;
    }
    if (ok && router) {
        zstr_sendx (actor, "SET", "hub-router", router, NULL);
        zstr_sendx (actor, "SET", "hub-pub", pub, NULL);
        ok = zsock_wait (actor) == 0 && zsock_wait (actor) == 0;
    }
    if (ok && hub) {
        zsock_send (actor, "sp", "HUB", hub);
        zsock_wait (actor);
    }
    if (!ok)
        zactor_destroy (&actor);
    return actor;
}

#ifdef CES_WITH_HUB
//  Links the hub to its configured peers; false (after saying why) if an
//  address is unusable
static bool
s_link_peers (zactor_t *hub, zhashx_t *values, zlist_t *peers)
{
    const char *file = (const char *)zhashx_lookup (values, "peers-file");
    char error[256];
    if (file && ces_mesh_read_peers (file, peers, error, sizeof (error))) {
        fprintf (stderr, PROGRAM ": --peers-file: %s\n", error);
        return false;
    }
    const char *env = (const char *)zhashx_lookup (values, "peer");
    ces_mesh_split_peers (env ? env : "", peers);
    char *refused = NULL;
    if (ces_hub_link (hub, peers, &refused)) {
        fprintf (stderr, PROGRAM ": --peer %s\n", refused);
        zstr_free (&refused);
        return false;
    }
    return true;
}

//  The hub binds inproc:// for the edge and repeater, tcp:// for the rest
static zactor_t *
s_start_hub (zhashx_t *values, bool validate, char **router, char **pub,
             char **control)
{
    zactor_t *hub = zactor_new (ces_hub_actor, NULL);
    if (!s_configure (hub, HUB, values, validate)) {
        zactor_destroy (&hub);
        return NULL;
    }
    const char *tcp_router = (const char *)zhashx_lookup (values, "router");
    const char *tcp_pub = (const char *)zhashx_lookup (values, "pub");
    char *routers = zsys_sprintf ("inproc://ces-hub-router,%s",
                                  tcp_router ? tcp_router : CES_HUB_ROUTER);
    char *pubs = zsys_sprintf ("inproc://ces-hub-pub,%s",
                               tcp_pub ? tcp_pub : CES_HUB_PUB);
    zstr_sendx (hub, "BIND", routers, pubs, NULL);
    zstr_free (&routers);
    zstr_free (&pubs);
    char *status = NULL, *http = NULL;
    zstr_recvx (hub, &status, router, pub, &http, control, NULL);
    if (!status || !streq (status, "0")) {
        fprintf (stderr, PROGRAM ": %s\n", *router ? *router : "hub failed");
        zactor_destroy (&hub);
    }
    zstr_free (&status);
    zstr_free (&http);
    return hub;
}
#endif

static void
s_banner (int edge_port, int repeater_port, const char *router, const char *pub)
{
    printf (PROGRAM " ready\n");
    if (edge_port)
        printf ("  browser:    http://127.0.0.1:%d/  (watch a room, send an "
                "event)\n"
                "  WebSocket:  ws://127.0.0.1:%d/connect/messenger  (also "
                "/connect/repeater, /connect/hub)\n"
                "  HTTP:       POST http://127.0.0.1:%d/event  (one JSON "
                "event)\n"
                "  status:     http://127.0.0.1:%d/status  /metrics  /health\n",
                edge_port, edge_port, edge_port, edge_port);
#ifdef CES_WITH_HUB
    if (edge_port)
        printf ("  mesh:       POST http://127.0.0.1:%d/interconnect/HOST:PORT "
                "(another hub's ROUTER)\n",
                edge_port);
#endif
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

//  Each of civetweb's thousand workers keeps glibc's per-thread cache of
//  freed chunks (tcache), which pins arena pages that malloc_trim cannot hand
//  back: with it an edge's RSS crept for an hour of client churn (heap in use
//  20.9 -> 27.8 MiB over 15,000 connections, none of them leaked; without
//  it, flat at 20.9 MiB). glibc reads its tunables only when a program
//  starts, so the program starts itself once more without the cache. A
//  GLIBC_TUNABLES that already sets tcache_count is left as it is.
static void
s_exec_without_thread_caches (char *argv[])
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

int
main (int argc, char *argv[])
{
    s_exec_without_thread_caches (argv);
    zhashx_t *values = zhashx_new ();
    zlist_t *peers = zlist_new ();
    zlist_autofree (peers);
    bool validate = true, help = false;
    if (!s_parse (argc, argv, values, peers, &validate, &help) || help) {
        if (help)
            s_usage (stdout);
        else
            fprintf (stderr, PROGRAM ": try --help\n");
        zhashx_destroy (&values);
        zlist_destroy (&peers);
        return help ? 0 : 2;
    }
#ifdef CES_REPEATER
    const char *hub_address = (const char *)zhashx_lookup (values, "hub");
    if (hub_address && strncmp (hub_address, "ws", 2) == 0) {
        fprintf (stderr,
                 PROGRAM ": HUB_ADDRESS/--hub is '%s'; a ces repeater "
                         "links to the hub's ZeroMQ ROUTER, e.g. "
                         "tcp://127.0.0.1:7200\n",
                 hub_address);
        zhashx_destroy (&values);
        zlist_destroy (&peers);
        return 2;
    }
#endif
    //  Workers share one ZeroMQ socket: czmq's default socket limit will do
    zsys_init ();
    zsys_set_logident (PROGRAM);
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_sighup;
    sigaction (SIGHUP, &action, NULL);

    zactor_t *hub = NULL, *edge = NULL, *repeater = NULL;
    char *router = NULL, *pub = NULL, *control = NULL;
    const char *inproc_router = NULL, *inproc_pub = NULL;
    int edge_port = 0, repeater_port = 0;
    bool ok = true;
    int exit_code = 0;
#ifdef CES_WITH_HUB
    hub = s_start_hub (values, validate, &router, &pub, &control);
    ok = hub != NULL;
    exit_code = ok ? 0 : 1;
    if (ok && !s_link_peers (hub, values, peers))
        ok = false, exit_code = 2;
    inproc_router = "inproc://ces-hub-router";
    inproc_pub = "inproc://ces-hub-pub";
#endif
    //  A refused option exits 2; what START refuses (a port, a targets
    //  file) exits 1
#ifdef CES_EDGE
    if (ok) {
        edge = s_new_actor (ces_edge_actor, EDGE, values, validate, hub,
                            inproc_router, inproc_pub, control);
        exit_code = edge ? 0 : 2;
        ok = edge && (edge_port = s_start (edge, "edge"));
    }
#endif
#ifdef CES_REPEATER
    if (ok) {
        repeater = s_new_actor (ces_repeater_actor, REPEATER, values, validate,
                                NULL, inproc_router, inproc_pub, NULL);
        exit_code = repeater ? 0 : 2;
        ok = repeater && (repeater_port = s_start (repeater, "repeater"));
    }
#endif
    if (!ok && !exit_code)
        exit_code = 1;
    if (ok) {
        //  Show the tcp:// endpoints, not the inproc:// ones
        char *router_tcp = router ? strchr (router, ',') : NULL;
        char *pub_tcp = pub ? strchr (pub, ',') : NULL;
        s_banner (edge_port, repeater_port, router_tcp ? router_tcp + 1 : NULL,
                  pub_tcp ? pub_tcp + 1 : NULL);
        zpoller_t *poller = zpoller_new (edge ? edge : repeater, NULL);
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
    //  Edges first: they still ask the hub for status while they run
    zactor_destroy (&repeater);
    zactor_destroy (&edge);
    zactor_destroy (&hub);
    zstr_free (&router);
    zstr_free (&pub);
    zstr_free (&control);
    zhashx_destroy (&values);
    zlist_destroy (&peers);
    return exit_code;
}
