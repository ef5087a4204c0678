/*  =========================================================================
    ces-edge and ces - the WebSocket edge program.

    Built twice from this file: `ces-edge` runs an edge that links to a hub
    over ZeroMQ; `ces` (CES_WITH_HUB) also runs the hub in the same process,
    the two composed over inproc://, with the hub's tcp:// endpoints open for
    other edges and embedded messengers. That is what `make run` starts.
    =========================================================================
*/
#include "ces.h"
#include <getopt.h>

#ifdef CES_WITH_HUB
#define PROGRAM "ces"
#else
#define PROGRAM "ces-edge"
#endif

//  Flags that pass straight through to the edge actor as SET options
static const char *const s_edge_flags[] = {"listen",        "hub-router",
                                           "hub-pub",       "max-clients",
                                           "max-message",   "client-queue",
                                           "stuck-timeout", "ping-interval",
                                           "pong-timeout",  NULL};

static void
s_usage (FILE *out)
{
    fprintf (
        out,
        "usage: " PROGRAM " [options]\n\n"
#ifdef CES_WITH_HUB
        "The whole ces system in one process: a hub and a WebSocket edge.\n\n"
        "  --router ENDPOINT      hub ROUTER for other edges and embedded\n"
        "                         messengers (default %s)\n"
        "  --pub ENDPOINT         hub PUB (default %s)\n"
        "  --heartbeat MSECS      hub heartbeat (default %d)\n"
#else
        "A WebSocket edge: serves clients and links them to a hub.\n\n"
        "  --hub-router ENDPOINT  the hub's ROUTER (default %s)\n"
        "  --hub-pub ENDPOINT     the hub's PUB (default %s)\n"
#endif
        "  --listen ADDR:PORT     HTTP and WebSocket port (default %s)\n"
        "  --max-clients N        WebSocket clients; more get HTTP 503\n"
        "                         (default 1000, at most 6000; ~15 KB each\n"
        "                         reserved, ~40 KB more each connected)\n"
        "  --max-message BYTES    largest event (default %d)\n"
        "  --client-queue BYTES   output buffer per client (default 1048576)\n"
        "  --stuck-timeout MSECS  a client dropping events this long is\n"
        "                         closed with 1008 (default 10000)\n"
        "  --ping-interval MSECS  WebSocket Ping interval (default 30000)\n"
        "  --pong-timeout MSECS   silent clients are closed (default 60000)\n"
        "  --no-validate          do not check that events are JSON objects\n"
        "  --log-level LEVEL      error, warn, info or debug (default info;\n"
        "                         environment LOG_LEVEL)\n"
        "  --help                 this text\n",
#ifdef CES_WITH_HUB
        CES_HUB_ROUTER, CES_HUB_PUB, CES_HEARTBEAT_MSEC,
#else
        CES_HUB_ROUTER, CES_HUB_PUB,
#endif
        CES_EDGE_LISTEN, CES_PAYLOAD_MAX);
}

static bool
s_set (zactor_t *actor, const char *name, const char *value)
{
    zstr_sendx (actor, "SET", name, value, NULL);
    if (zsock_wait (actor) == 0)
        return true;
    fprintf (stderr, PROGRAM ": invalid value '%s' for --%s\n", value, name);
    return false;
}

//  Collects --name value pairs in order; returns false on a bad flag
static bool
s_parse (int argc, char *argv[], zhashx_t *options, bool *help)
{
    struct option longs[20];
    int count = 0;
    for (int i = 0; s_edge_flags[i]; i++)
        longs[count++] =
            (struct option){s_edge_flags[i], required_argument, NULL, 'e'};
    longs[count++] = (struct option){"log-level", required_argument, NULL, 'l'};
    longs[count++] = (struct option){"no-validate", no_argument, NULL, 'n'};
    longs[count++] = (struct option){"help", no_argument, NULL, 'h'};
#ifdef CES_WITH_HUB
    longs[count++] = (struct option){"router", required_argument, NULL, 'r'};
    longs[count++] = (struct option){"pub", required_argument, NULL, 'p'};
    longs[count++] = (struct option){"heartbeat", required_argument, NULL, 'b'};
#endif
    longs[count] = (struct option){NULL, 0, NULL, 0};
    int index = 0, option;
    while ((option = getopt_long (argc, argv, "h", longs, &index)) != -1) {
        if (option == '?')
            return false;
        if (option == 'h')
            *help = true;
        else if (option == 'n')
            zhashx_update (options, "validate", "false");
        else
            zhashx_update (options, longs[index].name, optarg);
    }
    if (optind < argc) {
        fprintf (stderr, PROGRAM ": unexpected argument '%s'\n", argv[optind]);
        return false;
    }
    return true;
}

static const char *
s_option (zhashx_t *options, const char *name, const char *fallback)
{
    const char *value = (const char *)zhashx_lookup (options, name);
    return value ? value : fallback;
}

#ifdef CES_WITH_HUB
//  Starts the hub on inproc:// for the edge and tcp:// for everyone else
static zactor_t *
s_start_hub (zhashx_t *options, const char *log_level, char **router,
             char **pub)
{
    zactor_t *hub = zactor_new (ces_hub_actor, NULL);
    const char *heartbeat = s_option (options, "heartbeat", NULL);
    const char *validate = s_option (options, "validate", "true");
    if (!s_set (hub, "log-level", log_level) ||
        (heartbeat && !s_set (hub, "heartbeat", heartbeat)) ||
        !s_set (hub, "validate", validate)) {
        zactor_destroy (&hub);
        return NULL;
    }
    char *router_endpoints =
        zsys_sprintf ("inproc://ces-hub-router,%s",
                      s_option (options, "router", CES_HUB_ROUTER));
    char *pub_endpoints = zsys_sprintf ("inproc://ces-hub-pub,%s",
                                        s_option (options, "pub", CES_HUB_PUB));
    zstr_sendx (hub, "BIND", router_endpoints, pub_endpoints, NULL);
    zstr_free (&router_endpoints);
    zstr_free (&pub_endpoints);
    char *status = NULL;
    zstr_recvx (hub, &status, router, pub, NULL);
    bool ok = status && streq (status, "0");
    if (!ok) {
        fprintf (stderr, PROGRAM ": %s\n", *router ? *router : "hub failed");
        zactor_destroy (&hub);
    }
    zstr_free (&status);
    return hub;
}
#endif

static void
s_banner (int port, const char *router, const char *pub)
{
    printf (
        PROGRAM
        " ready\n"
        "  browser:    http://127.0.0.1:%d/  (watch a room, send an event)\n"
        "  WebSocket:  ws://127.0.0.1:%d/connect/messenger  (also "
        "/connect/repeater, /connect/hub)\n"
        "  HTTP:       POST http://127.0.0.1:%d/event  (one JSON event)\n"
        "  status:     http://127.0.0.1:%d/status  /metrics  /health\n",
        port, port, port, port);
    if (router)
        printf ("  ZeroMQ:     hub ROUTER %s, PUB %s (other edges, embedded "
                "messengers)\n",
                router, pub);
    printf ("  stop with Ctrl-C\n");
    fflush (stdout);
}

int
main (int argc, char *argv[])
{
    zhashx_t *options = zhashx_new ();
    bool help = false;
    if (!s_parse (argc, argv, options, &help)) {
        fprintf (stderr, PROGRAM ": try --help\n");
        zhashx_destroy (&options);
        return 2;
    }
    if (help) {
        s_usage (stdout);
        zhashx_destroy (&options);
        return 0;
    }
    const char *env_level = getenv ("LOG_LEVEL");
    const char *log_level = s_option (
        options, "log-level", env_level && *env_level ? env_level : "info");
    //  Each busy civetweb worker has a ZeroMQ socket: raise the limit first
    int max_clients = atoi (s_option (options, "max-clients", "1000"));
    zsys_set_max_sockets ((size_t)(max_clients > 0 ? max_clients : 1000) + 256);
    zsys_init ();
    zsys_set_logident (PROGRAM);

    int exit_code = 0;
    zactor_t *hub = NULL;
    char *router = NULL, *pub = NULL;
#ifdef CES_WITH_HUB
    hub = s_start_hub (options, log_level, &router, &pub);
    if (!hub) {
        zstr_free (&router);
        zstr_free (&pub);
        zhashx_destroy (&options);
        return 1;
    }
    zhashx_update (options, "hub-router", "inproc://ces-hub-router");
    zhashx_update (options, "hub-pub", "inproc://ces-hub-pub");
#endif
    zactor_t *edge = zactor_new (ces_edge_actor, NULL);
    bool ok = s_set (edge, "log-level", log_level);
    for (int i = 0; ok && s_edge_flags[i]; i++) {
        const char *value = s_option (options, s_edge_flags[i], NULL);
        if (value)
            ok = s_set (edge, s_edge_flags[i], value);
    }
    if (ok)
        ok = s_set (edge, "validate", s_option (options, "validate", "true"));
    if (ok && hub) {
        zsock_send (edge, "sp", "HUB", hub);
        zsock_wait (edge);
    }
    if (ok) {
        zstr_send (edge, "START");
        char *status = NULL, *detail = NULL;
        zstr_recvx (edge, &status, &detail, NULL);
        ok = status && streq (status, "0");
        if (ok) {
            //  Show the tcp:// endpoints, not the inproc:// ones
            char *router_tcp = router ? strchr (router, ',') : NULL;
            char *pub_tcp = pub ? strchr (pub, ',') : NULL;
            s_banner (atoi (detail), router_tcp ? router_tcp + 1 : NULL,
                      pub_tcp ? pub_tcp + 1 : NULL);
        } else
            fprintf (stderr, PROGRAM ": %s\n", detail ? detail : "edge failed");
        zstr_free (&status);
        zstr_free (&detail);
        exit_code = ok ? 0 : 1;
    } else
        exit_code = 2;
    if (ok) {
        zpoller_t *poller = zpoller_new (edge, NULL);
        while (!zsys_interrupted)
            zpoller_wait (poller, 200);
        zpoller_destroy (&poller);
        zsys_info ("shutting down");
    }
    //  The edge first: it still asks the hub for status while it runs
    zactor_destroy (&edge);
    zactor_destroy (&hub);
    zstr_free (&router);
    zstr_free (&pub);
    zhashx_destroy (&options);
    return exit_code;
}
