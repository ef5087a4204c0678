/*  =========================================================================
    ces_option_table - the rows behind ces_options
    =========================================================================
*/
#include "ces_classes.h"
#include <limits.h>

//  Short names, so that a row reads as a line of a table
#define TEXT      CES_OPTION_TEXT
#define NUMBER    CES_OPTION_NUMBER
#define CHOICE    CES_OPTION_CHOICE
#define SWITCH    CES_OPTION_SWITCH
#define LIST      CES_OPTION_LIST
#define HUB       CES_OPTIONS_HUB
#define EDGE      CES_OPTIONS_EDGE
#define REPEATER  CES_OPTIONS_REPEATER
#define MESSENGER CES_OPTIONS_MESSENGER
#define P_CES     CES_PROGRAM_CES
#define P_EDGE    CES_PROGRAM_EDGE
#define P_REP     CES_PROGRAM_REPEATER
#define P_HUB     CES_PROGRAM_HUB
#define P_ALL     (P_CES | P_EDGE | P_REP | P_HUB)
#define P_EDGES   (P_CES | P_EDGE | P_REP) //  the programs with a civetweb

//  Each row: name, type, actors, programs, hint, default, help, then what
//  only some options have (range, choices, environment, prefix, alias).
//  One row per option and per way programs offer it; rows of the same name
//  agree on type and range (the self test checks). Internal options (no
//  program) are here too, so that every SET an actor takes is in the table.
//  In --help order.
static const ces_option_t s_options[] = {
    //  Every program
    {"config", TEXT, 0, P_ALL, "FILE", NULL,
     .help = "read options from this file first: key = value lines, the keys "
             "being these flags' names; the environment and flags win",
     .env = "CES_CONFIG"},
    {"log-format", CHOICE, 0, P_ALL, "FORMAT", "text",
     .help = "log lines as text, or as one JSON object a line (time, level, "
             "program, message)",
     .choices = "text,json", .env = "CES_LOG_FORMAT"},

    //  The hub
    {"router", TEXT, 0, P_CES | P_HUB, "ENDPOINT", CES_HUB_ROUTER,
     .help = "the hub's ROUTER, for edges, messengers, repeaters and peer "
             "hubs (tcp://, ipc:// or inproc://; comma-separated; port * "
             "picks one)",
     .env = "CES_HUB_ROUTER"},
    {"pub", TEXT, 0, P_CES | P_HUB, "ENDPOINT", CES_HUB_PUB,
     .help = "the hub's PUB, for subscribers", .env = "CES_HUB_PUB"},
    {"http", TEXT, HUB, P_HUB, "ADDR:PORT", CES_HUB_HTTP,
     .help = "serve /health, /status, /metrics and /interconnect",
     .sent = true},
    {"heartbeat", NUMBER, HUB, P_CES | P_HUB, "MSECS", "1000",
     .help = "the hub's heartbeat; a peer silent for 3 is dropped", .min = 10,
     .max = 3600000},
    {"hub-id", TEXT, HUB, P_CES | P_HUB, "ID", NULL,
     .help = "name of the hub, unique in a mesh (default: random at every "
             "start)"},
    {"peer", LIST, 0, P_CES | P_HUB, "HOST:PORT", NULL,
     .help = "link the hub to the hub whose ROUTER this is (repeatable; the "
             "environment variable comma-separated)",
     .env = "CES_HUB_PEERS"},
    {"peers-file", TEXT, 0, P_CES | P_HUB, "FILE", NULL,
     .help = "a static mesh: one peer address per line, # comments"},
    {"advertise", TEXT, HUB, P_CES | P_HUB, "ENDPOINT", NULL,
     .help = "the ROUTER address peer hubs dial back (default: the first "
             "tcp:// one bound)"},
    {"curve-cert", TEXT, HUB, P_CES | P_HUB, "FILE", NULL,
     .help = "CURVE on the hub's tcp:// links: its certificate (ces-keygen; "
             "hubs of a mesh share one)",
     .env = "CES_CURVE_CERT"},
    {"curve-clients", TEXT, HUB, P_CES | P_HUB, "DIR", NULL,
     .help = "the public certificates let in, or \"*\" for any client that "
             "has the hub's public key",
     .env = "CES_CURVE_CLIENTS", .reload = true},
    {"history", NUMBER, HUB, P_CES | P_HUB, "N", "1000",
     .help = "events each room keeps for clients that recover (0: none)",
     .min = 0, .max = 1000000},
    {"history-age", NUMBER, HUB, P_CES | P_HUB, "SECONDS", "3600",
     .help = "how long an event stays in its room's history", .min = 1,
     .max = 31536000},
    {"history-bytes", NUMBER, HUB, P_CES | P_HUB, "BYTES", "268435456",
     .help = "all rooms' history together; the oldest events go first",
     .min = 1, .max = LONG_MAX},
    {"state-keys", NUMBER, HUB, P_CES | P_HUB, "N", "10000",
     .help = "(device, key) pairs of state each room keeps (0: no state)",
     .min = 0, .max = 1000000},
    {"data-dir", TEXT, HUB, P_CES | P_HUB, "DIR", NULL,
     .help = "keep rooms' state, history and sequences in this directory "
             "(LMDB), across restarts and crashes (default: in memory)",
     .env = "CES_DATA_DIR"},
    {"sndhwm", NUMBER, HUB, 0, NULL, "100000",
     .help = "messages queued per peer", .min = 1, .max = INT_MAX},

    //  The edge and the repeater: where they listen, their hub
    {"listen", TEXT, EDGE, P_CES | P_EDGE, "ADDR:PORT", CES_EDGE_LISTEN,
     .help = "the edge's HTTP/WebSocket port"},
    {"listen", TEXT, REPEATER, P_CES, "ADDR:PORT", CES_REPEATER_LISTEN,
     .help = "the repeater's HTTP/WebSocket port", .prefix = "repeater-"},
    {"listen", TEXT, REPEATER, P_REP, "ADDR:PORT", CES_REPEATER_LISTEN,
     .help = "the repeater's HTTP/WebSocket port"},
    {"hub-router", TEXT, EDGE, P_EDGE, "ENDPOINT", CES_HUB_ROUTER,
     .help = "the hub's ROUTER"},
    {"hub-router", TEXT, REPEATER, P_REP, "ENDPOINT", CES_HUB_ROUTER,
     .help = "the hub's ROUTER", .env = "HUB_ADDRESS", .alias = "hub"},
    {"hub-pub", TEXT, EDGE | REPEATER, P_EDGE, "ENDPOINT", CES_HUB_PUB,
     .help = "the hub's PUB"},
    {"hub-control", TEXT, EDGE | REPEATER, 0, NULL, NULL,
     .help = "the control endpoint of a hub in this process (its BIND "
             "reply), which answers /interconnect"},
    {"curve-cert", TEXT, EDGE | REPEATER, P_EDGE | P_REP, "FILE", NULL,
     .help = "CURVE to the hub: this process's certificate (ces-keygen)",
     .env = "CES_CURVE_CERT"},
    {"hub-key", TEXT, EDGE | REPEATER, P_EDGE | P_REP, "KEY", NULL,
     .help = "CURVE to the hub: its public key (Z85) or certificate file",
     .env = "CES_HUB_KEY"},

    //  The repeater's targets
    {"targets", TEXT, REPEATER, P_CES | P_REP, "FILE", NULL,
     .help = "JSON file: room -> list of target URLs (reloaded on SIGHUP)",
     .reload = true},
    {"central", TEXT, REPEATER, P_CES | P_REP, "URLS", NULL,
     .help = "comma-separated target URLs that get every event",
     .env = "CENTRAL_REPEATER_ADDRESSES", .reload = true},
    {"system-id", TEXT, REPEATER, P_CES | P_REP, "ID", NULL,
     .help = "our name on WebSocket links we dial (default: the host name)",
     .env = "SYSTEM_ID"},
    {"idle-timeout", NUMBER, REPEATER, P_CES | P_REP, "MSECS", "30000",
     .help = "close an unused inbound socket after this long", .min = 1,
     .max = INT_MAX},
    {"link-idle", NUMBER, REPEATER, P_CES | P_REP, "MSECS", "7000",
     .help = "close an unused link we dialled after this long", .min = 1,
     .max = INT_MAX},

    //  Limits. Each client costs one file descriptor, its socket, and a
    //  thread; the machine allows 20,000 descriptors and 32,768 threads.
    //  In ces the repeater serves a few outside systems: its own, smaller
    //  limit, so that it does not reserve a thread per edge client too
    {"max-clients", NUMBER, REPEATER, P_CES, "N", "1000",
     .help = "the repeater's WebSockets; more get 503", .min = 1, .max = 15000,
     .prefix = "repeater-"},
    {"max-clients", NUMBER, EDGE, P_CES, "N", "10000",
     .help = "WebSockets; more get 503 (each reserves a civetweb thread, "
             "~16 KiB, at start; ~27 KiB more once connected)",
     .min = 1, .max = 15000, .env = "CES_MAX_CLIENTS"},
    {"max-clients", NUMBER, EDGE, P_EDGE, "N", "10000",
     .help = "WebSockets; more get 503 (each reserves a civetweb thread, "
             "~16 KiB, at start; ~27 KiB more once connected)",
     .min = 1, .max = 15000, .env = "CES_MAX_CLIENTS"},
    {"max-clients", NUMBER, REPEATER, P_REP, "N", "1000",
     .help = "WebSockets; more get 503 (~15 KB each reserved, ~40 KB more "
             "each connected)",
     .min = 1, .max = 15000},
    {"max-message", NUMBER, HUB | EDGE | REPEATER, P_ALL, "BYTES", "1048576",
     .help = "the largest event", .min = 1, .max = LONG_MAX,
     .alias = "max-payload"},
    {"max-depth", NUMBER, HUB | EDGE | REPEATER, P_ALL, "LEVELS", "64",
     .help = "the deepest JSON nesting of an event", .min = 1,
     .max = CES_DEPTH_LIMIT},
    {"max-room-length", NUMBER, EDGE | REPEATER, P_EDGES, "BYTES", "128",
     .help = "the longest room ID", .min = 1, .max = CES_ROOM_MAX},
    {"handshake-timeout", NUMBER, EDGE | REPEATER, P_EDGES, "MSECS", "10000",
     .help = "how long a client has to send a whole request", .min = 1,
     .max = INT_MAX},
    {"client-queue", NUMBER, EDGE | REPEATER, P_EDGES, "BYTES", "1048576",
     .help = "the output buffer of each client", .min = 1, .max = LONG_MAX},
    {"stuck-timeout", NUMBER, EDGE | REPEATER, P_EDGES, "MSECS", "10000",
     .help = "close (1008) a client that has been dropping this long", .min = 1,
     .max = INT_MAX},
    {"ping-interval", NUMBER, EDGE | REPEATER, P_EDGES, "MSECS", "30000",
     .help = "the WebSocket Ping interval", .min = 1, .max = INT_MAX},
    {"pong-timeout", NUMBER, EDGE | REPEATER, P_EDGES, "MSECS", "60000",
     .help = "close (1001) a client silent this long", .min = 1,
     .max = INT_MAX},
    {"max-rooms-per-client", NUMBER, EDGE, P_EDGES, "N", "10000",
     .help = "rooms one messenger may register (0: any)", .min = 0,
     .max = INT_MAX},
    {"max-rate", NUMBER, EDGE | REPEATER, P_EDGES, "N", "0",
     .help = "events per second one client may send; over it they are "
             "dropped (0: any)",
     .min = 0, .max = INT_MAX},
    {"max-clients-per-address", NUMBER, EDGE | REPEATER, P_EDGES, "N", "0",
     .help = "WebSockets from one IP address (0: any)", .min = 0,
     .max = INT_MAX},

    //  Who may connect
    {"auth-secret", TEXT, EDGE | REPEATER, P_EDGES, "SECRET", NULL,
     .help = "require HS256 tokens signed with this secret",
     .env = "CES_AUTH_SECRET", .reload = true, .secret = true},
    {"auth-key-file", TEXT, EDGE | REPEATER, P_EDGES, "FILE", NULL,
     .help = "require RS256/ES256 tokens; the issuer's PEM public key",
     .reload = true},
    {"auth-open-networks", TEXT, EDGE | REPEATER, P_EDGES, "NETWORKS", NULL,
     .help = "IPv4 networks that need no token (10.0.0.0/8,...)",
     .reload = true},
    {"allowed-origins", TEXT, EDGE | REPEATER, P_EDGES, "ORIGINS", NULL,
     .help = "browser Origins allowed (https://a,https://b)", .reload = true},

    //  Everyone
    {"validate", SWITCH, HUB | EDGE | REPEATER, P_ALL, NULL, "true",
     .help = "route events without checking they are JSON objects"},
    {"trust-validated", SWITCH, HUB, P_CES | P_HUB, NULL, "false",
     .help = "skip the hub's JSON check of events from any peer that says it "
             "checked them (peers in this process and CURVE peers are "
             "trusted anyway)"},
    {"register-timeout", NUMBER, MESSENGER, 0, NULL, "5000",
     .help = "how long a messenger waits for the hub to confirm a "
             "registration",
     .min = 1, .max = INT_MAX},
    {"log-level", CHOICE, HUB | EDGE | REPEATER | MESSENGER, P_ALL, "LEVEL",
     "info",
     .help = "log lines of this level and above: error, warn, info or "
             "debug",
     .choices = "error,warn,info,debug", .env = "LOG_LEVEL", .reload = true},
};
#define OPTIONS (sizeof (s_options) / sizeof (s_options[0]))
_Static_assert(OPTIONS <= CES_OPTION_TABLE_MAX,
               "CES_OPTION_TABLE_MAX is too small for the table");

size_t
ces_option_table_size (void)
{
    return OPTIONS;
}

const ces_option_t *
ces_option_table_row (size_t row)
{
    assert (row < OPTIONS);
    return &s_options[row];
}

void
ces_option_table_flag (const ces_option_t *option, char *flag, size_t size)
{
    bool negative =
        option->type == CES_OPTION_SWITCH && streq (option->value, "true");
    snprintf (flag, size, "%s%s%s", negative ? "no-" : "",
              option->prefix ? option->prefix : "", option->name);
}

const ces_option_t *
ces_option_table_find (int actors, const char *name)
{
    for (size_t row = 0; row < OPTIONS; row++)
        if ((s_options[row].actors & actors) &&
            streq (s_options[row].name, name))
            return &s_options[row];
    return NULL;
}

static bool
s_choice_valid (const char *choices, const char *value)
{
    size_t size = strlen (value);
    const char *choice = choices;
    while (size && *choice) {
        size_t length = strcspn (choice, ",");
        if (length == size && strncasecmp (choice, value, size) == 0)
            return true;
        choice += length + (choice[length] == ',');
    }
    return false;
}

bool
ces_option_table_valid (const ces_option_t *option, const char *value)
{
    if (option->type == CES_OPTION_NUMBER) {
        char *end;
        long number = strtol (value, &end, 10);
        return *value && !*end && number >= option->min &&
               number <= option->max;
    }
    if (option->type == CES_OPTION_CHOICE)
        return s_choice_valid (option->choices, value);
    if (option->type == CES_OPTION_SWITCH)
        return streq (value, "true") || streq (value, "false");
    return true;
}

void
ces_option_table_takes (const ces_option_t *option, char *text, size_t size)
{
    if (option->type == CES_OPTION_NUMBER && option->max >= INT_MAX)
        snprintf (text, size, "a number, at least %ld", option->min);
    else if (option->type == CES_OPTION_NUMBER)
        snprintf (text, size, "a number from %ld to %ld", option->min,
                  option->max);
    else if (option->type == CES_OPTION_SWITCH)
        snprintf (text, size, "true or false");
    else if (option->type == CES_OPTION_CHOICE) {
        //  "a,b,c" -> "one of a, b, c"
        size_t used = (size_t)snprintf (text, size, "one of ");
        for (const char *next = option->choices; *next && used + 3 < size;
             next++) {
            text[used++] = *next;
            if (*next == ',')
                text[used++] = ' ';
        }
        text[used] = 0;
    } else
        snprintf (text, size, "text");
}

//  The row of the programs' --flag (its canonical spelling), or -1
int
ces_option_table_of_flag (int programs, const char *flag)
{
    for (size_t row = 0; row < OPTIONS; row++) {
        const ces_option_t *option = &s_options[row];
        char spelled[64];
        ces_option_table_flag (option, spelled, sizeof spelled);
        if ((option->programs & programs) &&
            (streq (spelled, flag) ||
             (option->type == SWITCH && streq (option->name, flag))))
            return (int)row;
    }
    return -1;
}

//  The row a key of the file names: the flag without "--" (a switch by its
//  name, not --no-NAME), or its alias; -1 when none
int
ces_option_table_of_key (int programs, const char *key)
{
    for (size_t row = 0; row < OPTIONS; row++) {
        const ces_option_t *option = &s_options[row];
        char flag[64];
        snprintf (flag, sizeof flag, "%s%s",
                  option->prefix ? option->prefix : "", option->name);
        if ((option->programs & programs) &&
            (streq (key, flag) ||
             (option->alias && streq (key, option->alias))))
            return (int)row;
    }
    return -1;
}

bool
ces_option_table_closest_key (int programs, const char *key, char *closest,
                              size_t size)
{
    char spelled[OPTIONS][64];
    const char *keys[OPTIONS + 1];
    size_t count = 0;
    for (size_t row = 0; row < OPTIONS; row++)
        if (s_options[row].programs & programs) {
            snprintf (spelled[count], 64, "%s%s",
                      s_options[row].prefix ? s_options[row].prefix : "",
                      s_options[row].name);
            keys[count] = spelled[count];
            count++;
        }
    keys[count] = NULL;
    const char *near = ces_config_closest (key, keys);
    if (near)
        snprintf (closest, size, "%s", near);
    return near != NULL;
}

int
ces_option_table_check (int actors, const char *name, const char *value)
{
    const ces_option_t *option =
        name ? ces_option_table_find (actors, name) : NULL;
    return option && option->type != LIST && value &&
                   ces_option_table_valid (option, value)
               ? 0
               : -1;
}

const char *
ces_option_table_default (int actors, const char *name)
{
    assert (name);
    const ces_option_t *option = ces_option_table_find (actors, name);
    return option ? option->value : NULL;
}

//  --------------------------------------------------------------------------
//  Self test

//  Rows of one name agree on what they take, and no program offers one
//  spelling twice
static void
s_test_table (void)
{
    for (size_t row = 0; row < OPTIONS; row++) {
        const ces_option_t *option = &s_options[row];
        assert (option->help && *option->help);
        assert (!option->programs || option->type == CES_OPTION_SWITCH ||
                option->hint);
        assert (!option->value || option->type == CES_OPTION_LIST ||
                ces_option_table_valid (option, option->value));
        for (size_t other = row + 1; other < OPTIONS; other++) {
            const ces_option_t *twin = &s_options[other];
            if (streq (option->name, twin->name))
                assert (option->type == twin->type &&
                        option->min == twin->min && option->max == twin->max);
            char flag[64], flag_twin[64];
            ces_option_table_flag (option, flag, sizeof flag);
            ces_option_table_flag (twin, flag_twin, sizeof flag_twin);
            if (option->programs & twin->programs)
                assert (!streq (flag, flag_twin));
        }
    }
    //  The defaults are the library's
    assert (atol (ces_options_default (HUB, "max-message")) == CES_PAYLOAD_MAX);
    assert (atol (ces_options_default (EDGE, "max-message")) ==
            CES_PAYLOAD_MAX);
    assert (atoi (ces_options_default (HUB, "max-depth")) == CES_DEPTH_MAX);
    assert (atoi (ces_options_default (EDGE, "max-room-length")) ==
            CES_ROOM_MAX);
    assert (atoi (ces_options_default (HUB, "heartbeat")) ==
            CES_HEARTBEAT_MSEC);
    assert (atoi (ces_options_default (HUB, "sndhwm")) == CES_HUB_SNDHWM);
    assert (streq (ces_options_default (EDGE, "listen"), CES_EDGE_LISTEN));
    assert (
        streq (ces_options_default (REPEATER, "listen"), CES_REPEATER_LISTEN));
    assert (ces_options_default (HUB, "hub-id") == NULL);
    assert (ces_options_default (HUB, "nonsense") == NULL);
}

static void
s_test_check (void)
{
    assert (ces_options_check (HUB, "heartbeat", "10") == 0);
    assert (ces_options_check (HUB, "heartbeat", "9") == -1);
    assert (ces_options_check (HUB, "heartbeat", "3600001") == -1);
    assert (ces_options_check (HUB, "heartbeat", "zero") == -1);
    assert (ces_options_check (HUB, "heartbeat", "") == -1);
    assert (ces_options_check (HUB, "max-message", "1024") == 0);
    assert (ces_options_check (HUB, "max-payload", "1024") == -1);
    assert (ces_options_check (EDGE, "heartbeat", "100") == -1);
    assert (ces_options_check (EDGE | REPEATER, "max-clients", "15000") == 0);
    assert (ces_options_check (EDGE | REPEATER, "max-clients", "15001") == -1);
    assert (ces_options_check (EDGE, "max-rate", "0") == 0);
    assert (ces_options_check (EDGE, "max-rate", "-1") == -1);
    assert (ces_options_check (EDGE, "log-level", "DEBUG") == 0);
    assert (ces_options_check (EDGE, "log-level", "verbose") == -1);
    assert (ces_options_check (EDGE, "log-level", "") == -1);
    assert (ces_options_check (HUB, "validate", "false") == 0);
    assert (ces_options_check (HUB, "validate", "no") == -1);
    assert (ces_options_check (REPEATER, "targets", "/x.json") == 0);
    assert (ces_options_check (EDGE, "allowed-origins", "https://a") == 0);
    assert (ces_options_check (EDGE, "origins", "https://a") == -1);
    assert (ces_options_check (MESSENGER, "register-timeout", "100") == 0);
    assert (ces_options_check (HUB, "peer", "a:1") == -1);
    assert (ces_options_check (HUB, NULL, "x") == -1);
    assert (ces_options_check (HUB, "hub-id", NULL) == -1);
}

void
ces_option_table_test (bool verbose)
{
    printf (" * ces_option_table: ");
    //  @selftest
    s_test_table ();
    s_test_check ();
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
