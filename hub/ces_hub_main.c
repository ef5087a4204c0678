/*  =========================================================================
    ces-hub - the hub program: parses flags, starts the hub actor, waits
    for SIGINT/SIGTERM.
    =========================================================================
*/
#include "ces.h"
#include <getopt.h>

static void
s_usage (FILE *out)
{
    fprintf (
        out,
        "usage: ces-hub [options]\n"
        "\n"
        "The ces hub: routes room events between messengers, repeaters and\n"
        "other hubs over ZeroMQ.\n"
        "\n"
        "  --router ENDPOINT    ROUTER that peers connect to (default %s)\n"
        "  --pub ENDPOINT       PUB that subscribers connect to (default %s)\n"
        "                       tcp://, ipc:// or inproc://; port * picks one\n"
        "  --heartbeat MSECS    heartbeat interval; a peer silent for 3 is\n"
        "                       dropped (default %d)\n"
        "  --max-payload BYTES  largest event accepted (default %d)\n"
        "  --max-depth LEVELS   deepest JSON nesting of an event (default %d,\n"
        "                       at most %d)\n"
        "  --no-validate        route payloads without checking they are JSON\n"
        "  --trust-validated    skip the JSON check for events of any peer\n"
        "                       that says it checked them (peers in this\n"
        "                       process and CURVE peers are trusted anyway)\n"
        "  --hub-id ID          name of this hub, unique in the mesh "
        "(default:\n"
        "                       random at every start)\n"
        "  --http ADDR:PORT     serve /health, /status, /metrics and\n"
        "                       /interconnect (default %s)\n"
        "  --peer ADDRESS       link to the hub whose ROUTER is ADDRESS\n"
        "                       (host:port); repeatable\n"
        "  --peers-file FILE    a static mesh: one peer address per line\n"
        "  --advertise ADDRESS  the ROUTER address peer hubs dial back\n"
        "                       (default: the first tcp:// one bound)\n"
        "  --curve-cert FILE    encrypt and authenticate every ZeroMQ link\n"
        "                       with CURVE: this hub's certificate (from\n"
        "                       ces-keygen; hubs of a mesh share one)\n"
        "  --curve-clients DIR  public certificates of the edges, messengers\n"
        "                       and hubs let in; \"*\" lets in any client\n"
        "                       that has this hub's public key\n"
        "  --log-level LEVEL    error, warn, info or debug (default info;\n"
        "                       environment LOG_LEVEL)\n"
        "  --help               this text\n"
        "\n"
        "Environment: CES_HUB_ROUTER, CES_HUB_PUB, CES_HUB_PEERS (comma-\n"
        "separated peer addresses), CES_CURVE_CERT, CES_CURVE_CLIENTS,\n"
        "LOG_LEVEL.\n",
        CES_HUB_ROUTER, CES_HUB_PUB, CES_HEARTBEAT_MSEC, CES_PAYLOAD_MAX,
        CES_DEPTH_MAX, CES_DEPTH_LIMIT, CES_HUB_HTTP);
}

static const char *
s_env_or (const char *name, const char *fallback)
{
    const char *value = getenv (name);
    return value && *value ? value : fallback;
}

//  Sends SET to the hub; false (after saying why) if the hub refused it
static bool
s_set (zactor_t *hub, const char *name, const char *value)
{
    zstr_sendx (hub, "SET", name, value, NULL);
    if (zsock_wait (hub) == 0)
        return true;
    fprintf (stderr, "ces-hub: invalid value '%s' for --%s\n", value, name);
    return false;
}

int
main (int argc, char *argv[])
{
    const char *router = s_env_or ("CES_HUB_ROUTER", CES_HUB_ROUTER);
    const char *pub = s_env_or ("CES_HUB_PUB", CES_HUB_PUB);
    const char *log_level = s_env_or ("LOG_LEVEL", "info");
    const char *heartbeat = NULL, *max_payload = NULL, *hub_id = NULL;
    const char *max_depth = NULL;
    const char *http = CES_HUB_HTTP;
    const char *advertise = NULL;
    const char *curve_cert = s_env_or ("CES_CURVE_CERT", NULL);
    const char *curve_clients = s_env_or ("CES_CURVE_CLIENTS", NULL);
    bool validate = true;
    bool trust_validated = false;
    zlist_t *peers = zlist_new ();
    zlist_autofree (peers);
    ces_mesh_split_peers (s_env_or ("CES_HUB_PEERS", ""), peers);

    static const struct option options[] = {
        {"router", required_argument, NULL, 'r'},
        {"pub", required_argument, NULL, 'p'},
        {"heartbeat", required_argument, NULL, 'b'},
        {"max-payload", required_argument, NULL, 'm'},
        {"max-depth", required_argument, NULL, 'd'},
        {"no-validate", no_argument, NULL, 'n'},
        {"trust-validated", no_argument, NULL, 'T'},
        {"hub-id", required_argument, NULL, 'i'},
        {"http", required_argument, NULL, 't'},
        {"peer", required_argument, NULL, 'e'},
        {"peers-file", required_argument, NULL, 'f'},
        {"advertise", required_argument, NULL, 'a'},
        {"curve-cert", required_argument, NULL, 'c'},
        {"curve-clients", required_argument, NULL, 'C'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int option;
    while ((option = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (option) {
            case 'r':
                router = optarg;
                break;
            case 'p':
                pub = optarg;
                break;
            case 'b':
                heartbeat = optarg;
                break;
            case 'm':
                max_payload = optarg;
                break;
            case 'd':
                max_depth = optarg;
                break;
            case 'n':
                validate = false;
                break;
            case 'T':
                trust_validated = true;
                break;
            case 'i':
                hub_id = optarg;
                break;
            case 't':
                http = optarg;
                break;
            case 'l':
                log_level = optarg;
                break;
            case 'e':
                zlist_append (peers, optarg);
                break;
            case 'f': {
                char error[256];
                if (ces_mesh_read_peers (optarg, peers, error,
                                         sizeof (error))) {
                    fprintf (stderr, "ces-hub: --peers-file: %s\n", error);
                    zlist_destroy (&peers);
                    return 2;
                }
                break;
            }
            case 'a':
                advertise = optarg;
                break;
            case 'c':
                curve_cert = optarg;
                break;
            case 'C':
                curve_clients = optarg;
                break;
            case 'h':
                s_usage (stdout);
                zlist_destroy (&peers);
                return 0;
            default:
                fprintf (stderr, "ces-hub: try --help\n");
                zlist_destroy (&peers);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "ces-hub: unexpected argument '%s'; try --help\n",
                 argv[optind]);
        zlist_destroy (&peers);
        return 2;
    }

    zsys_init ();
    zsys_set_logident ("ces-hub");
    zactor_t *hub = zactor_new (ces_hub_actor, NULL);
    assert (hub);
    bool ok = s_set (hub, "log-level", log_level) &&
              (!heartbeat || s_set (hub, "heartbeat", heartbeat)) &&
              (!max_payload || s_set (hub, "max-payload", max_payload)) &&
              (!max_depth || s_set (hub, "max-depth", max_depth)) &&
              (!hub_id || s_set (hub, "hub-id", hub_id)) &&
              (!advertise || s_set (hub, "advertise", advertise)) &&
              (!curve_cert || s_set (hub, "curve-cert", curve_cert)) &&
              (!curve_clients || s_set (hub, "curve-clients", curve_clients)) &&
              s_set (hub, "http", http) &&
              s_set (hub, "validate", validate ? "true" : "false") &&
              (!trust_validated || s_set (hub, "trust-validated", "true"));
    if (!ok) {
        zactor_destroy (&hub);
        zlist_destroy (&peers);
        return 2;
    }
    zstr_sendx (hub, "BIND", router, pub, NULL);
    char *status = NULL, *bound_router = NULL, *bound_pub = NULL;
    char *bound_http = NULL;
    zstr_recvx (hub, &status, &bound_router, &bound_pub, &bound_http, NULL);
    int exit_code = 0;
    char *refused = NULL;
    if (status && streq (status, "0") && ces_hub_link (hub, peers, &refused)) {
        fprintf (stderr, "ces-hub: --peer %s\n", refused);
        exit_code = 2;
    } else if (status && streq (status, "0")) {
        printf ("ces-hub ready\n"
                "  peers (edges, messengers, repeaters) connect a DEALER to "
                "%s\n"
                "  subscribers connect a SUB to %s\n"
                "  status: http://%s/status  /metrics  /health\n"
                "  mesh:   POST http://%s/interconnect/HOST:PORT links this "
                "hub to another hub's ROUTER\n"
                "  stop with Ctrl-C\n",
                bound_router, bound_pub, bound_http, bound_http);
        fflush (stdout);
        zpoller_t *poller = zpoller_new (hub, NULL);
        //  The hub sends nothing unasked; this wakes on signals
        while (!zsys_interrupted)
            zpoller_wait (poller, 200);
        zpoller_destroy (&poller);
        zsys_info ("shutting down");
    } else {
        fprintf (stderr, "ces-hub: %s\n", bound_router ? bound_router : "?");
        exit_code = 1;
    }
    zstr_free (&status);
    zstr_free (&bound_router);
    zstr_free (&bound_pub);
    zstr_free (&bound_http);
    zstr_free (&refused);
    zactor_destroy (&hub);
    zlist_destroy (&peers);
    return exit_code;
}
