/*  =========================================================================
    ces_options - the one table of options: every program's flags, their
    environment variables and --help, and every actor's SET command
    =========================================================================
*/
#include "ces_classes.h"
#include <limits.h>

typedef enum {
    TEXT,   //  any text; the actor checks what the table cannot
    NUMBER, //  a decimal integer from min to max
    CHOICE, //  one of the comma-separated words of choices (any case)
    SWITCH, //  "true" or "false"; the flag sets the other than the default:
            //  --no-NAME when that is "true", --NAME when it is "false"
    LIST    //  repeatable flag; its environment variable is comma-separated
} type_t;

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

typedef struct {
    const char *name;    //  the flag (after "--") and the SET name
    type_t type;         //
    int actors;          //  CES_OPTIONS_* that take it by SET; 0: the
                         //  program itself reads it
    int programs;        //  CES_PROGRAM_* that offer it as a flag
    const char *hint;    //  what the value is, in --help
    const char *value;   //  the default, as text; NULL: none
    const char *help;    //  one sentence; the default, the range and the
                         //  environment variable are added to it
    long min, max;       //  NUMBER: the range
    const char *choices; //  CHOICE: the words, comma-separated
    const char *env;     //  environment variable that sets it, or NULL
    const char *prefix;  //  the flag is prefix + name ("repeater-")
    const char *alias;   //  another spelling of the flag, or NULL
    bool sent;           //  the program sends the default when not given
    bool reload;         //  SIGHUP sends it again when its value changed
    bool secret;         //  --print-config and reloads do not show it
} option_t;

//  Each row: name, type, actors, programs, hint, default, help, then what
//  only some options have (range, choices, environment, prefix, alias).
//  One row per option and per way programs offer it; rows of the same name
//  agree on type and range (the self test checks). Internal options (no
//  program) are here too, so that every SET an actor takes is in the table.
//  In --help order.
static const option_t s_options[] = {
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

//  By CES_PROGRAM_* (one bit each)
static const char *const s_program_names[] = {
    NULL, "ces", "ces-edge", NULL, "ces-repeater", NULL, NULL, NULL, "ces-hub"};

struct _ces_options_t {
    ces_options_program_t program;
    char *values[OPTIONS];     //  given by file, environment or flag, or NULL
    const char *from[OPTIONS]; //  the environment variable, or NULL
    int line[OPTIONS];         //  the line of the file, or 0 (neither: flag)
    zlist_t *lists[OPTIONS];   //  LIST: every value given
    char *sources[OPTIONS];    //  LIST: where each came from, for people
    char *path;                //  the --config file read, or NULL
    char error[512];           //  why the last parse or configure failed
};

ces_options_t *
ces_options_new (ces_options_program_t program)
{
    assert (program == CES_PROGRAM_CES || program == CES_PROGRAM_EDGE ||
            program == CES_PROGRAM_REPEATER || program == CES_PROGRAM_HUB);
    ces_options_t *self = (ces_options_t *)zmalloc (sizeof (ces_options_t));
    assert (self);
    self->program = program;
    for (size_t row = 0; row < OPTIONS; row++)
        if (s_options[row].type == LIST) {
            self->lists[row] = zlist_new ();
            assert (self->lists[row]);
            zlist_autofree (self->lists[row]);
        }
    return self;
}

//  Forgets every value given
static void
s_clear (ces_options_t *self)
{
    for (size_t row = 0; row < OPTIONS; row++) {
        zstr_free (&self->values[row]);
        zstr_free (&self->sources[row]);
        self->from[row] = NULL, self->line[row] = 0;
        if (self->lists[row])
            zlist_purge (self->lists[row]);
    }
    zstr_free (&self->path);
}

void
ces_options_destroy (ces_options_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_options_t *self = *self_p;
        s_clear (self);
        for (size_t row = 0; row < OPTIONS; row++)
            zlist_destroy (&self->lists[row]);
        freen (self);
        *self_p = NULL;
    }
}

const char *
ces_options_program (ces_options_t *self)
{
    assert (self);
    return s_program_names[self->program];
}

const char *
ces_options_error (ces_options_t *self)
{
    assert (self);
    return self->error;
}

//  --------------------------------------------------------------------------
//  The table

static bool
s_offered (ces_options_t *self, const option_t *option)
{
    return (option->programs & (int)self->program) != 0;
}

//  The flag as the program spells it, without "--"
static void
s_flag (const option_t *option, char *flag, size_t size)
{
    bool negative = option->type == SWITCH && streq (option->value, "true");
    snprintf (flag, size, "%s%s%s", negative ? "no-" : "",
              option->prefix ? option->prefix : "", option->name);
}

static const option_t *
s_find (int actors, const char *name)
{
    for (size_t row = 0; row < OPTIONS; row++)
        if ((s_options[row].actors & actors) &&
            streq (s_options[row].name, name))
            return &s_options[row];
    return NULL;
}

//  The row of the program's --flag (its canonical spelling), or -1
static int
s_row_of_flag (ces_options_t *self, const char *flag)
{
    for (size_t row = 0; row < OPTIONS; row++) {
        char spelled[64];
        s_flag (&s_options[row], spelled, sizeof spelled);
        if (s_offered (self, &s_options[row]) &&
            (streq (spelled, flag) || (s_options[row].type == SWITCH &&
                                       streq (s_options[row].name, flag))))
            return (int)row;
    }
    return -1;
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

//  True when value has the option's type and is in its range
static bool
s_valid (const option_t *option, const char *value)
{
    if (option->type == NUMBER) {
        char *end;
        long number = strtol (value, &end, 10);
        return *value && !*end && number >= option->min &&
               number <= option->max;
    }
    if (option->type == CHOICE)
        return s_choice_valid (option->choices, value);
    if (option->type == SWITCH)
        return streq (value, "true") || streq (value, "false");
    return true;
}

//  What the option takes, for an error message
static void
s_takes (const option_t *option, char *text, size_t size)
{
    if (option->type == NUMBER && option->max >= INT_MAX)
        snprintf (text, size, "a number, at least %ld", option->min);
    else if (option->type == NUMBER)
        snprintf (text, size, "a number from %ld to %ld", option->min,
                  option->max);
    else if (option->type == SWITCH)
        snprintf (text, size, "true or false");
    else if (option->type == CHOICE) {
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

//  Where a value came from, for people: "flag", "env NAME", "file:LINE";
//  with where, the file's path too
static void
s_source (ces_options_t *self, const char *env, int line, bool where,
          char *text, size_t size)
{
    if (env)
        snprintf (text, size, "env %s", env);
    else if (line)
        snprintf (text, size, "%s:%d", where ? self->path : "file", line);
    else
        snprintf (text, size, "flag");
}

static int
s_invalid (ces_options_t *self, const option_t *option, const char *value,
           const char *env, int line)
{
    char flag[64], takes[128];
    s_flag (option, flag, sizeof flag);
    s_takes (option, takes, sizeof takes);
    if (line)
        snprintf (self->error, sizeof self->error,
                  "%s:%d: invalid value '%s' for %s%s: %s", self->path, line,
                  value, option->prefix ? option->prefix : "", option->name,
                  takes);
    else
        snprintf (self->error, sizeof self->error,
                  "invalid value '%s' for --%s%s%s%s: %s", value, flag,
                  env ? " (from " : "", env ? env : "", env ? ")" : "", takes);
    return -1;
}

//  Stores a value given for a row by a flag (env NULL, line 0), env, or
//  the file's line; the environment and the file give lists
//  comma-separated
static int
s_give (ces_options_t *self, size_t row, const char *value, const char *env,
        int line)
{
    const option_t *option = &s_options[row];
    char source[64];
    s_source (self, env, line, false, source, sizeof source);
    if (option->type == LIST) {
        char *items = strdup (value), *saveptr = NULL;
        for (char *item = strtok_r (items, env || line ? "," : "", &saveptr);
             item; item = strtok_r (NULL, env || line ? "," : "", &saveptr))
            zlist_append (self->lists[row], item);
        freen (items);
        char *sources = zsys_sprintf (
            "%s%s%s", self->sources[row] ? self->sources[row] : "",
            self->sources[row] ? ", " : "", source);
        zstr_free (&self->sources[row]);
        self->sources[row] = sources;
        return 0;
    }
    if (!s_valid (option, value))
        return s_invalid (self, option, value, env, line);
    zstr_free (&self->values[row]);
    self->values[row] = strdup (value);
    self->from[row] = env, self->line[row] = line;
    return 0;
}

//  --------------------------------------------------------------------------
//  Parsing

//  The words that ask something of the program rather than set an option,
//  by what ces_options_parse returns; their row "number" is -1 - that
static const char *const s_asks[] = {NULL, "help", "version", "print-config",
                                     "example-config"};
#define ASKS (sizeof (s_asks) / sizeof (s_asks[0]))
#define HELP -2 //  the row "number" of --help

//  Whether --name names --flag (or its alias) exactly (2), by a prefix (1),
//  or not at all (0)
static int
s_names (const char *name, const char *flag, const char *alias)
{
    if (streq (name, flag) || (alias && streq (alias, name)))
        return 2;
    size_t size = strlen (name);
    return size && (strncmp (flag, name, size) == 0 ||
                    (alias && strncmp (alias, name, size) == 0));
}

//  The row of --name (a flag, an alias, or a unique prefix of one), or
//  HELP and below for s_asks; -1 with the reason in self->error
static int
s_match (ces_options_t *self, const char *name)
{
    int found = -1;
    size_t matches = 0;
    for (size_t ask = 1; ask < ASKS; ask++) {
        int named = s_names (name, s_asks[ask], NULL);
        if (named == 2)
            return -1 - (int)ask;
        if (named == 1)
            found = -1 - (int)ask, matches++;
    }
    for (size_t row = 0; row < OPTIONS; row++) {
        char flag[64];
        s_flag (&s_options[row], flag, sizeof flag);
        int named = s_offered (self, &s_options[row])
                        ? s_names (name, flag, s_options[row].alias)
                        : 0;
        if (named == 2)
            return (int)row;
        if (named == 1)
            found = (int)row, matches++;
    }
    if (matches == 1)
        return found;
    snprintf (self->error, sizeof self->error,
              matches ? "option '--%s' is ambiguous"
                      : "unrecognized option '--%s'",
              name);
    return -1;
}

static int
s_parse_environment (ces_options_t *self)
{
    for (size_t row = 0; row < OPTIONS; row++) {
        const option_t *option = &s_options[row];
        const char *value = s_offered (self, option) && option->env
                                ? getenv (option->env)
                                : NULL;
        if (value && *value && s_give (self, row, value, option->env, 0))
            return -1;
    }
    return 0;
}

//  Says why parsing stopped; returns -1
static int
s_fail (ces_options_t *self, const char *format, const char *word)
{
    snprintf (self->error, sizeof self->error, format, word);
    return -1;
}

//  Takes argv[*arg] (and its value, moving *arg on); 0, or -1 with the
//  reason in self->error
static int
s_parse_word (ces_options_t *self, int argc, char *argv[], int *arg, int *asked)
{
    const char *word = argv[*arg];
    if (streq (word, "-h")) {
        *asked = CES_OPTIONS_HELP;
        return 0;
    }
    if (*word != '-' || !word[1])
        return s_fail (self, "unexpected argument '%s'", word);
    if (word[1] != '-')
        return s_fail (self, "invalid option '%s'", word);
    char name[64];
    const char *equals = strchr (word + 2, '=');
    size_t size = equals ? (size_t)(equals - word - 2) : strlen (word + 2);
    snprintf (name, sizeof name, "%.*s", (int)size, word + 2);
    int row = s_match (self, name);
    if (row == -1)
        return -1;
    if (row <= HELP || s_options[row].type == SWITCH) {
        if (equals)
            return s_fail (self, "option '--%s' doesn't allow an argument",
                           name);
        //  --help wins over the rest
        if (row <= HELP && (!*asked || -1 - row < *asked))
            *asked = -1 - row;
        if (row <= HELP)
            return 0;
        //  A switch sets the other value than its default
        const char *value =
            streq (s_options[row].value, "true") ? "false" : "true";
        return s_give (self, (size_t)row, value, NULL, 0);
    }
    const char *value = equals ? equals + 1 : NULL;
    if (!value && *arg + 1 < argc)
        value = argv[++*arg];
    if (!value)
        return s_fail (self, "option '--%s' requires an argument", name);
    return s_give (self, (size_t)row, value, NULL, 0);
}

static int
s_parse_flags (ces_options_t *self, int argc, char *argv[], int *asked)
{
    for (int arg = 1; arg < argc; arg++) {
        //  "--" ends the options, and no program takes arguments
        if (streq (argv[arg], "--") && arg + 1 < argc)
            return s_fail (self, "unexpected argument '%s'", argv[arg + 1]);
        if (streq (argv[arg], "--"))
            break;
        if (s_parse_word (self, argc, argv, &arg, asked))
            return -1;
    }
    return 0;
}

//  The row a key of the file names: the flag without "--" (a switch by its
//  name, not --no-NAME), or its alias; -1 when none
static int
s_row_of_key (ces_options_t *self, const char *key)
{
    for (size_t row = 0; row < OPTIONS; row++) {
        const option_t *option = &s_options[row];
        char flag[64];
        snprintf (flag, sizeof flag, "%s%s",
                  option->prefix ? option->prefix : "", option->name);
        if (s_offered (self, option) &&
            (streq (key, flag) ||
             (option->alias && streq (key, option->alias))))
            return (int)row;
    }
    return -1;
}

static int
s_unknown_key (ces_options_t *self, const char *key, int line)
{
    char spelled[OPTIONS][64];
    const char *keys[OPTIONS + 1];
    size_t count = 0;
    for (size_t row = 0; row < OPTIONS; row++)
        if (s_offered (self, &s_options[row])) {
            snprintf (spelled[count], 64, "%s%s",
                      s_options[row].prefix ? s_options[row].prefix : "",
                      s_options[row].name);
            keys[count] = spelled[count];
            count++;
        }
    keys[count] = NULL;
    const char *closest = ces_config_closest (key, keys);
    char hint[96] = "";
    if (closest)
        snprintf (hint, sizeof hint, "did you mean '%s'? ", closest);
    snprintf (self->error, sizeof self->error,
              "%s:%d: unknown key '%s' (%sthe keys are the flags of %s --help, "
              "without the dashes)",
              self->path, line, key, hint, ces_options_program (self));
    return -1;
}

//  One "key = value" line of the file
static int
s_give_line (ces_options_t *self, ces_config_t *config, size_t index)
{
    const char *key = ces_config_key (config, index);
    const char *value = ces_config_value (config, index);
    int line = ces_config_line (config, index);
    int row = s_row_of_key (self, key);
    if (row < 0)
        return s_unknown_key (self, key, line);
    if (streq (key, "config")) {
        snprintf (self->error, sizeof self->error,
                  "%s:%d: config is a flag, not a key of the file", self->path,
                  line);
        return -1;
    }
    if (self->line[row] && s_options[row].type != LIST) {
        snprintf (self->error, sizeof self->error,
                  "%s:%d: %s is set already on line %d", self->path, line, key,
                  self->line[row]);
        return -1;
    }
    //  "key =" leaves it unset
    return *value ? s_give (self, (size_t)row, value, NULL, line) : 0;
}

static int
s_parse_file (ces_options_t *self, const char *path)
{
    self->path = strdup (path);
    ces_config_t *config =
        ces_config_read (path, self->error, sizeof self->error);
    if (!config)
        return -1;
    for (size_t index = 0; index < ces_config_size (config); index++)
        if (s_give_line (self, config, index)) {
            ces_config_destroy (&config);
            return -1;
        }
    ces_config_destroy (&config);
    return 0;
}

int
ces_options_parse (ces_options_t *self, int argc, char *argv[])
{
    assert (self);
    *self->error = 0;
    int asked = 0;
    if (s_parse_environment (self) || s_parse_flags (self, argc, argv, &asked))
        return -1;
    const char *path = ces_options_get (self, "config");
    if (!path || asked == CES_OPTIONS_HELP || asked == CES_OPTIONS_VERSION ||
        asked == CES_OPTIONS_EXAMPLE)
        return asked;
    //  Again from the file up, each a layer over the one before
    char *file = strdup (path);
    s_clear (self);
    int rc = s_parse_file (self, file) || s_parse_environment (self) ||
                     s_parse_flags (self, argc, argv, &asked)
                 ? -1
                 : asked;
    freen (file);
    return rc;
}

//  --------------------------------------------------------------------------
//  What the program asks

const char *
ces_options_get (ces_options_t *self, const char *flag)
{
    assert (self && flag);
    int row = s_row_of_flag (self, flag);
    if (row < 0)
        return NULL;
    return self->values[row] ? self->values[row] : s_options[row].value;
}

bool
ces_options_given (ces_options_t *self, const char *flag)
{
    assert (self && flag);
    int row = s_row_of_flag (self, flag);
    return row >= 0 && (self->values[row] ||
                        (self->lists[row] && zlist_size (self->lists[row])));
}

zlist_t *
ces_options_list (ces_options_t *self, const char *flag)
{
    assert (self && flag);
    int row = s_row_of_flag (self, flag);
    assert (row >= 0 && s_options[row].type == LIST);
    return self->lists[row];
}

static int
s_set (ces_options_t *self, zactor_t *actor, size_t row, const char *value)
{
    const option_t *option = &s_options[row];
    zstr_sendx (actor, "SET", option->name, value, NULL);
    if (zsock_wait (actor) == 0)
        return 0;
    char flag[64], source[300] = "";
    s_flag (option, flag, sizeof flag);
    if (self->from[row] || self->line[row])
        s_source (self, self->from[row], self->line[row], true, source,
                  sizeof source);
    snprintf (self->error, sizeof self->error,
              "invalid value '%s' for --%s%s%s%s",
              option->secret ? "(hidden)" : value, flag,
              *source ? " (from " : "", source, *source ? ")" : "");
    return -1;
}

static int
s_send (ces_options_t *self, zactor_t *actor, size_t row)
{
    const option_t *option = &s_options[row];
    const char *value = self->values[row];
    if (!value && option->sent)
        value = option->value;
    return value ? s_set (self, actor, row, value) : 0;
}

//  The value in force for people: "" when none
static const char *
s_value (ces_options_t *self, size_t row)
{
    const char *value =
        self->values[row] ? self->values[row] : s_options[row].value;
    return value ? value : "";
}

static bool
s_changed (ces_options_t *self, ces_options_t *fresh, size_t row)
{
    if (s_options[row].type != LIST)
        return !streq (s_value (self, row), s_value (fresh, row));
    zlist_t *old = self->lists[row], *now = fresh->lists[row];
    if (zlist_size (old) != zlist_size (now))
        return true;
    for (char *a = (char *)zlist_first (old), *b = (char *)zlist_first (now);
         a && b; a = (char *)zlist_next (old), b = (char *)zlist_next (now))
        if (!streq (a, b))
            return true;
    return false;
}

zlist_t *
ces_options_changed (ces_options_t *self, ces_options_t *fresh)
{
    assert (self && fresh && self->program == fresh->program);
    zlist_t *changed = zlist_new ();
    assert (changed);
    zlist_autofree (changed);
    for (size_t row = 0; row < OPTIONS; row++)
        if (s_offered (self, &s_options[row]) && s_changed (self, fresh, row)) {
            char flag[64];
            s_flag (&s_options[row], flag, sizeof flag);
            zlist_append (changed, flag);
        }
    return changed;
}

bool
ces_options_reloadable (ces_options_t *self, const char *flag)
{
    assert (self && flag);
    int row = s_row_of_flag (self, flag);
    return row >= 0 && s_options[row].reload;
}

static const char *
s_shown (ces_options_t *self, size_t row)
{
    return s_options[row].secret && *s_value (self, row) ? "(hidden)"
                                                         : s_value (self, row);
}

const char *
ces_options_shown (ces_options_t *self, const char *flag)
{
    assert (self && flag);
    int row = s_row_of_flag (self, flag);
    assert (row >= 0);
    return s_shown (self, (size_t)row);
}

const char *
ces_options_path (ces_options_t *self)
{
    assert (self);
    return self->path;
}

int
ces_options_reconfigure (ces_options_t *self, ces_options_t *fresh,
                         zactor_t *actor, int actor_kind)
{
    assert (self && fresh && actor);
    *fresh->error = 0;
    for (size_t row = 0; row < OPTIONS; row++) {
        const option_t *option = &s_options[row];
        if (s_offered (self, option) && option->reload &&
            (option->actors & actor_kind) && s_changed (self, fresh, row) &&
            s_set (fresh, actor, row, s_value (fresh, row)))
            return -1;
    }
    return 0;
}

int
ces_options_configure (ces_options_t *self, zactor_t *actor, int actor_kind)
{
    assert (self && actor);
    *self->error = 0;
    //  The log level first, so that the actor logs the rest at that level
    for (int pass = 0; pass < 2; pass++)
        for (size_t row = 0; row < OPTIONS; row++) {
            const option_t *option = &s_options[row];
            bool first = streq (option->name, "log-level");
            if (s_offered (self, option) && (option->actors & actor_kind) &&
                option->type != LIST && first == (pass == 0) &&
                s_send (self, actor, row))
                return -1;
        }
    return 0;
}

//  --------------------------------------------------------------------------
//  --help, --print-config, --example-config: written by ces_options_text
//  from the rows, one at a time

size_t
ces_options_rows (void)
{
    return OPTIONS;
}

bool
ces_options_row (ces_options_t *self, size_t index, ces_options_row_t *row)
{
    assert (self && row && index < OPTIONS);
    const option_t *option = &s_options[index];
    if (!s_offered (self, option))
        return false;
    row->name = option->name;
    row->prefix = option->prefix ? option->prefix : "";
    s_flag (option, row->flag, sizeof row->flag);
    row->hint = option->hint;
    row->value = option->value;
    row->help = option->help;
    row->alias = option->alias;
    row->env = option->env;
    row->is_switch = option->type == SWITCH;
    row->ranged = option->type == NUMBER && option->max < INT_MAX;
    row->min = option->min;
    row->max = option->max;
    row->reload = option->reload;
    row->shown = option->type == LIST ? NULL : s_shown (self, index);
    row->list = option->type == LIST ? self->lists[index] : NULL;
    if (option->type == LIST)
        snprintf (row->source, sizeof row->source, "%s",
                  self->sources[index] ? self->sources[index] : "default");
    else if (self->values[index])
        s_source (self, self->from[index], self->line[index], false,
                  row->source, sizeof row->source);
    else
        snprintf (row->source, sizeof row->source, "default");
    return true;
}

void
ces_options_usage (ces_options_t *self, FILE *out)
{
    ces_options_text_usage (self, out);
}

void
ces_options_print (ces_options_t *self, FILE *out)
{
    ces_options_text_print (self, out);
}

void
ces_options_example (ces_options_t *self, FILE *out)
{
    ces_options_text_example (self, out);
}

//  --------------------------------------------------------------------------
//  For actors

int
ces_options_check (int actors, const char *name, const char *value)
{
    const option_t *option = name ? s_find (actors, name) : NULL;
    return option && option->type != LIST && value && s_valid (option, value)
               ? 0
               : -1;
}

const char *
ces_options_default (int actors, const char *name)
{
    assert (name);
    const option_t *option = s_find (actors, name);
    return option ? option->value : NULL;
}

//  --------------------------------------------------------------------------
//  Self test

//  An actor that takes any SET but "refused" and answers DUMP with what it
//  was given, "name=value" joined with spaces
static void
s_test_actor (zsock_t *pipe, void *args)
{
    (void)args;
    zsock_signal (pipe, 0);
    char *given = strdup ("");
    bool terminated = false;
    while (!terminated) {
        char *command = NULL, *name = NULL, *value = NULL;
        if (zstr_recvx (pipe, &command, &name, &value, NULL) < 1)
            break;
        if (streq (command, "$TERM"))
            terminated = true;
        else if (streq (command, "DUMP"))
            zstr_send (pipe, given);
        else if (streq (command, "SET")) {
            assert (name && value);
            char *more = zsys_sprintf ("%s%s%s=%s", given, *given ? " " : "",
                                       name, value);
            zstr_free (&given);
            given = more;
            zsock_signal (pipe, streq (value, "refused") ? 1 : 0);
        }
        zstr_free (&command);
        zstr_free (&name);
        zstr_free (&value);
    }
    zstr_free (&given);
}

//  Parses a NULL-terminated list of flags; returns what parse returned
static int
s_test_parse (ces_options_t *self, const char *first, ...)
{
    char *argv[32] = {"program"};
    int argc = 1;
    va_list args;
    va_start (args, first);
    for (const char *arg = first; arg && argc < 31; arg = va_arg (args, char *))
        argv[argc++] = (char *)arg;
    va_end (args);
    return ces_options_parse (self, argc, argv);
}

static char *
s_test_configure (ces_options_t *self, int actor_kind)
{
    zactor_t *actor = zactor_new (s_test_actor, NULL);
    assert (actor);
    int rc = ces_options_configure (self, actor, actor_kind);
    zstr_send (actor, "DUMP");
    char *given = zstr_recv (actor);
    zactor_destroy (&actor);
    if (rc) {
        zstr_free (&given);
        given = strdup (ces_options_error (self));
    }
    return given;
}

//  Rows of one name agree on what they take, and no program offers one
//  spelling twice
static void
s_test_table (void)
{
    for (size_t row = 0; row < OPTIONS; row++) {
        const option_t *option = &s_options[row];
        assert (option->help && *option->help);
        assert (!option->programs || option->type == SWITCH || option->hint);
        assert (!option->value || option->type == LIST ||
                s_valid (option, option->value));
        for (size_t other = row + 1; other < OPTIONS; other++) {
            const option_t *twin = &s_options[other];
            if (streq (option->name, twin->name))
                assert (option->type == twin->type &&
                        option->min == twin->min && option->max == twin->max);
            char flag[64], flag_twin[64];
            s_flag (option, flag, sizeof flag);
            s_flag (twin, flag_twin, sizeof flag_twin);
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

static void
s_test_parse_errors (void)
{
    struct {
        const char *flag, *value, *error;
    } cases[] = {
        {"--heartbeat", "zero",
         "invalid value 'zero' for --heartbeat: a number from 10 to 3600000"},
        {"--max-clients", "0",
         "invalid value '0' for --max-clients: a number from 1 to 15000"},
        {"--stuck-timeout", "-5",
         "invalid value '-5' for --stuck-timeout: a number, at least 1"},
        {"--log-level", "loud",
         "invalid value 'loud' for --log-level: one of error, warn, info, "
         "debug"},
        {"--bogus", "1", "unrecognized option '--bogus'"},
        {"--max", "1", "option '--max' is ambiguous"},
        {"-x", NULL, "invalid option '-x'"},
        {"stray", NULL, "unexpected argument 'stray'"},
        {"--no-validate=yes", NULL,
         "option '--no-validate' doesn't allow an argument"},
        {"--listen", NULL, "option '--listen' requires an argument"},
        {"--", "stray", "unexpected argument 'stray'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ces_options_t *options = ces_options_new (CES_PROGRAM_CES);
        assert (s_test_parse (options, cases[i].flag, cases[i].value, NULL) ==
                -1);
        if (!streq (ces_options_error (options), cases[i].error))
            zsys_error ("%s: got \"%s\"", cases[i].flag,
                        ces_options_error (options));
        assert (streq (ces_options_error (options), cases[i].error));
        ces_options_destroy (&options);
    }
    //  Each program has its own flags
    ces_options_t *options = ces_options_new (CES_PROGRAM_EDGE);
    assert (s_test_parse (options, "--heartbeat", "100", NULL) == -1);
    assert (streq (ces_options_error (options),
                   "unrecognized option '--heartbeat'"));
    ces_options_destroy (&options);
}

//  ces: the hub, the edge and the repeater each get their own options
static void
s_test_ces (bool verbose)
{
    ces_options_t *options = ces_options_new (CES_PROGRAM_CES);
    assert (streq (ces_options_program (options), "ces"));
    assert (s_test_parse (options, "--listen", "127.0.0.1:1",
                          "--repeater-listen=127.0.0.1:2", "--max-clients",
                          "50", "--repeater-max-clients", "5", "--no-val",
                          "--max-message", "2048", "--heartbeat", "100",
                          "--peer", "b:2", "--curve-cert", "hub.key_secret",
                          "--log-level", "warn", NULL) == 0);
    assert (streq (ces_options_get (options, "router"), CES_HUB_ROUTER));
    assert (!ces_options_given (options, "router"));
    assert (ces_options_given (options, "peer"));
    assert (streq (ces_options_get (options, "listen"), "127.0.0.1:1"));
    assert (
        streq (ces_options_get (options, "repeater-listen"), "127.0.0.1:2"));
    assert (ces_options_get (options, "hub-router") == NULL);
    assert (zlist_size (ces_options_list (options, "peer")) == 1);
    char *hub = s_test_configure (options, HUB);
    char *edge = s_test_configure (options, EDGE);
    char *repeater = s_test_configure (options, REPEATER);
    if (verbose)
        zsys_info ("hub: %s\nedge: %s\nrepeater: %s", hub, edge, repeater);
    assert (streq (hub,
                   "log-level=warn heartbeat=100 curve-cert=hub.key_secret "
                   "max-message=2048 validate=false"));
    assert (streq (edge, "log-level=warn listen=127.0.0.1:1 max-clients=50 "
                         "max-message=2048 validate=false"));
    assert (streq (repeater, "log-level=warn listen=127.0.0.1:2 "
                             "max-clients=5 max-message=2048 "
                             "validate=false"));
    zstr_free (&hub);
    zstr_free (&edge);
    zstr_free (&repeater);
    ces_options_destroy (&options);
}

//  The environment first, then flags; a refusal names the flag and where
//  its value came from
static void
s_test_environment (void)
{
    char *saved[3];
    const char *names[3] = {"HUB_ADDRESS", "LOG_LEVEL", "CES_HUB_PEERS"};
    for (int i = 0; i < 3; i++) {
        const char *value = getenv (names[i]);
        saved[i] = value ? strdup (value) : NULL;
    }
    setenv ("HUB_ADDRESS", "tcp://10.0.0.1:7200", 1);
    setenv ("LOG_LEVEL", "debug", 1);
    ces_options_t *options = ces_options_new (CES_PROGRAM_REPEATER);
    assert (s_test_parse (options, "--hub", "tcp://10.0.0.2:7200", NULL) == 0);
    assert (
        streq (ces_options_get (options, "hub-router"), "tcp://10.0.0.2:7200"));
    char *given = s_test_configure (options, REPEATER);
    assert (streq (given, "log-level=debug hub-router=tcp://10.0.0.2:7200"));
    zstr_free (&given);
    ces_options_destroy (&options);

    setenv ("LOG_LEVEL", "loud", 1);
    options = ces_options_new (CES_PROGRAM_REPEATER);
    assert (s_test_parse (options, NULL) == -1);
    assert (streq (ces_options_error (options),
                   "invalid value 'loud' for --log-level (from LOG_LEVEL): one "
                   "of error, warn, info, debug"));
    ces_options_destroy (&options);
    unsetenv ("LOG_LEVEL");

    //  The actor refuses what the table cannot know
    options = ces_options_new (CES_PROGRAM_REPEATER);
    assert (s_test_parse (options, "--targets", "refused", NULL) == 0);
    given = s_test_configure (options, REPEATER);
    assert (streq (given, "invalid value 'refused' for --targets"));
    zstr_free (&given);
    ces_options_destroy (&options);

    setenv ("CES_HUB_PEERS", "a:1,b:2", 1);
    options = ces_options_new (CES_PROGRAM_HUB);
    assert (s_test_parse (options, "--peer", "c:3", "--max-payload", "99", "-h",
                          NULL) == 1);
    zlist_t *peers = ces_options_list (options, "peer");
    assert (zlist_size (peers) == 3);
    assert (streq ((char *)zlist_first (peers), "a:1"));
    assert (streq ((char *)zlist_last (peers), "c:3"));
    given = s_test_configure (options, HUB);
    assert (streq (given, "http=" CES_HUB_HTTP " max-message=99"));
    zstr_free (&given);
    ces_options_destroy (&options);

    for (int i = 0; i < 3; i++) {
        if (saved[i])
            setenv (names[i], saved[i], 1);
        else
            unsetenv (names[i]);
        zstr_free (&saved[i]);
    }
}

static void
s_test_usage (bool verbose)
{
    ces_options_t *options = ces_options_new (CES_PROGRAM_REPEATER);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    ces_options_usage (options, out);
    fclose (out);
    if (verbose)
        printf ("\n%s", text);
    assert (strstr (text, "  --hub-router ENDPOINT"));
    assert (strstr (text, "also --hub"));
    assert (strstr (text, "environment HUB_ADDRESS"));
    assert (strstr (text, "  --max-clients N"));
    assert (strstr (text, "1 to 15000"));
    assert (strstr (text, "  --no-validate "));
    assert (strstr (text, "  --help "));
    assert (!strstr (text, "--repeater-listen"));
    assert (!strstr (text, "--heartbeat"));
    for (char *line = text; *line; line = strchr (line, '\n') + 1)
        assert (strcspn (line, "\n") <= 79);
    freen (text);
    ces_options_destroy (&options);
}

void
ces_options_test (bool verbose)
{
    printf (" * ces_options: ");
    //  @selftest
    s_test_table ();
    s_test_check ();
    s_test_parse_errors ();
    s_test_ces (verbose);
    s_test_environment ();
    s_test_usage (verbose);
    //  @end
    printf ("OK\n");
}
