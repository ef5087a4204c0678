/*  =========================================================================
    ces-example-messenger - a C service that embeds a ces messenger

    Listen to a room and print what arrives:
        ces-example-messenger --room ITB-1101
    Send one event to a room:
        ces-example-messenger --room ITB-1101 --send
   '{"key":"power","value":"on"}'

    The service keeps running across hub restarts: the messenger reconnects
    and registers its room again by itself.
    =========================================================================
*/
#include "ces.h"
#include <getopt.h>

static void
s_usage (FILE *out)
{
    fprintf (
        out,
        "usage: ces-example-messenger [--router EP] [--pub EP] --room ROOM\n"
        "                             [--send JSON] [--count N]\n"
        "                             [--curve-cert FILE --hub-key KEY]\n"
        "  --room ROOM   room to listen to (or to send to, with --send)\n"
        "  --send JSON   send one event and exit\n"
        "  --count N     exit after N events have arrived\n"
        "  --router EP   hub ROUTER (default %s)\n"
        "  --pub EP      hub PUB (default %s)\n"
        "  --curve-cert FILE  CURVE to the hub: this service's certificate\n"
        "  --hub-key KEY      and the hub's public key (Z85 or its .key)\n",
        CES_HUB_ROUTER, CES_HUB_PUB);
}

static int
s_send_one (ces_messenger_t *messenger, const char *room, const char *json)
{
    if (ces_messenger_wait_connected (messenger, 5000)) {
        fprintf (stderr, "no hub answered within 5 s\n");
        return 1;
    }
    if (ces_messenger_send (messenger, room, json)) {
        fprintf (stderr, "not sent: %s\n", ces_messenger_reason (messenger));
        return 2;
    }
    printf ("sent to %s\n", room);
    return 0;
}

static int
s_listen (ces_messenger_t *messenger, const char *room, long count)
{
    if (ces_messenger_register (messenger, room, NULL)) {
        fprintf (stderr, "register %s: %s\n", room,
                 ces_messenger_reason (messenger));
        return 1;
    }
    printf ("registered %s\n", room);
    fflush (stdout);
    long received = 0;
    while (!zsys_interrupted && (count <= 0 || received < count)) {
        if (ces_messenger_recv (messenger, 500) == 0) {
            printf ("%s %s\n", ces_messenger_room (messenger),
                    ces_messenger_payload (messenger));
            fflush (stdout);
            received++;
        }
    }
    return 0;
}

int
main (int argc, char *argv[])
{
    const char *router = CES_HUB_ROUTER, *pub = CES_HUB_PUB;
    const char *room = NULL, *json = NULL;
    const char *curve_cert = NULL, *hub_key = NULL;
    long count = 0;
    static const struct option options[] = {
        {"router", required_argument, NULL, 'r'},
        {"pub", required_argument, NULL, 'p'},
        {"room", required_argument, NULL, 'o'},
        {"send", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'c'},
        {"curve-cert", required_argument, NULL, 'C'},
        {"hub-key", required_argument, NULL, 'k'},
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
            case 'o':
                room = optarg;
                break;
            case 's':
                json = optarg;
                break;
            case 'c':
                count = atol (optarg);
                break;
            case 'C':
                curve_cert = optarg;
                break;
            case 'k':
                hub_key = optarg;
                break;
            case 'h':
                s_usage (stdout);
                return 0;
            default:
                s_usage (stderr);
                return 2;
        }
    }
    if (!room) {
        s_usage (stderr);
        return 2;
    }
    zsys_init ();
    zsys_set_logident ("ces-example");
    //  Over CURVE when keys are given: the keys go into the sockets
    ces_curve_t *keys = NULL;
    if (curve_cert || hub_key) {
        char reason[256] = "give both --curve-cert and --hub-key";
        if (curve_cert && hub_key)
            keys = ces_curve_new (curve_cert, hub_key, reason, sizeof reason);
        if (!keys) {
            fprintf (stderr, "ces-example-messenger: %s\n", reason);
            return 2;
        }
    }
    ces_messenger_t *messenger =
        ces_messenger_new_secure (router, pub, CES_ROLE_MESSENGER, keys);
    ces_curve_destroy (&keys);
    if (!messenger) {
        fprintf (stderr, "cannot create messenger for %s / %s\n", router, pub);
        return 1;
    }
    int rc = json ? s_send_one (messenger, room, json)
                  : s_listen (messenger, room, count);
    ces_messenger_destroy (&messenger);
    return rc;
}
