/*  =========================================================================
    ces_program - what the mains of ces, ces-edge, ces-repeater and ces-hub
    share (see ces_program.h)
    =========================================================================
*/
#include "ces_program.h"
#include <limits.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

struct _ces_program_t {
    ces_options_program_t kind;
    const char *name;       //  "ces-edge", ...
    int argc;               //  main's, read again on SIGHUP
    char **argv;            //
    ces_options_t *options; //  what the file, environment and flags said
    bool done;              //  --help, or a step failed
    int exit_code;
    bool json;           //  --log-format json
    zactor_t *actors[3]; //  the hub, edge and repeater configured
};

//  Process state: a signal handler can only set a flag
static volatile sig_atomic_t s_reload_requested;

//  --log-format json: czmq writes each log line to its log stream, this
//  one, as "L: (ident) yy-mm-dd hh:mm:ss message\n" under the stream's
//  lock; each whole line is written out as one JSON object on stdout
typedef struct {
    char line[2048];
    size_t used;
    const char *program;
} json_log_t;
static json_log_t s_json_log;

static void
s_json_line (json_log_t *log, char *line)
{
    const char *level = "info", *message = line;
    char ident[64];
    int date_end = 0;
    if (line[0] && line[1] == ':' &&
        sscanf (line + 2, " (%63[^)]) %*s %*s%n", ident, &date_end) == 1 &&
        date_end && line[2 + date_end] == ' ') {
        const char *levels[][2] = {{"E", "error"},
                                   {"W", "warn"},
                                   {"N", "notice"},
                                   {"I", "info"},
                                   {"D", "debug"}};
        for (size_t i = 0; i < 5; i++)
            if (line[0] == levels[i][0][0])
                level = levels[i][1];
        message = line + 2 + date_end + 1;
    }
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r (&now.tv_sec, &utc);
    char time[40];
    size_t size = strftime (time, sizeof time, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf (time + size, sizeof time - size, ".%03ldZ",
              now.tv_nsec / 1000000);
    cJSON *object = cJSON_CreateObject ();
    cJSON_AddStringToObject (object, "time", time);
    cJSON_AddStringToObject (object, "level", level);
    cJSON_AddStringToObject (object, "program", log->program);
    cJSON_AddStringToObject (object, "message", message);
    char *text = cJSON_PrintUnformatted (object);
    cJSON_Delete (object);
    if (text) {
        fprintf (stdout, "%s\n", text);
        fflush (stdout);
        cJSON_free (text);
    }
}

static ssize_t
s_json_write (void *cookie, const char *data, size_t size)
{
    json_log_t *log = (json_log_t *)cookie;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '\n' || log->used == sizeof log->line - 1) {
            log->line[log->used] = 0;
            s_json_line (log, log->line);
            log->used = 0;
        }
        if (data[i] != '\n')
            log->line[log->used++] = data[i];
    }
    return (ssize_t)size;
}

static void
s_log_json (ces_program_t *self)
{
    s_json_log.program = self->name;
    cookie_io_functions_t functions = {.write = s_json_write};
    //  Open for the life of the process: actors log until the very end
    FILE *stream = fopencookie (&s_json_log, "w", functions);
    assert (stream);
    zsys_set_logstream (stream);
    self->json = true;
}

//  True when the program logs lines of this level (ces_options' log-level)
static bool
s_logs (ces_program_t *self, int level)
{
    const char *names[] = {"error", "warn", "info", "debug"};
    const char *wanted = ces_options_get (self->options, "log-level");
    for (int at = 0; at < 4; at++)
        if (wanted && strcasecmp (wanted, names[at]) == 0)
            return level <= at;
    return true;
}

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
    //  By the program's path: started as /proc/self/exe, it would be named
    //  "exe" (ps, pidof, systemctl status)
    char path[PATH_MAX];
    ssize_t length = readlink ("/proc/self/exe", path, sizeof path - 1);
    if (length > 0) {
        path[length] = '\0';
        execv (path, argv);
    }
    execv ("/proc/self/exe", argv);
    //  No /proc: run with the cache
}

static void
s_usage (ces_program_t *self, const char *about)
{
    printf ("usage: %s [options]\n\n%s\n\n", self->name, about);
    ces_options_usage (self->options, stdout);
}

//  The peers of --peers-file join those of --peer and the environment;
//  false with the reason in error
static bool
s_read_peers_file (ces_options_t *options, char *error, size_t size)
{
    const char *file = ces_options_get (options, "peers-file");
    return !file ||
           ces_mesh_read_peers (file, ces_options_list (options, "peer"), error,
                                size) == 0;
}

//  --help, --version, --print-config and --example-config
static void
s_answer (ces_program_t *self, int asked, const char *about)
{
    if (asked == CES_OPTIONS_HELP)
        s_usage (self, about);
    else if (asked == CES_OPTIONS_VERSION && self->kind == CES_PROGRAM_CES)
        printf ("ces %d.%d.%d\n", CES_VERSION_MAJOR, CES_VERSION_MINOR,
                CES_VERSION_PATCH);
    else if (asked == CES_OPTIONS_VERSION)
        printf ("%s (ces) %d.%d.%d\n", self->name, CES_VERSION_MAJOR,
                CES_VERSION_MINOR, CES_VERSION_PATCH);
    else if (asked == CES_OPTIONS_PRINT)
        ces_options_print (self->options, stdout);
    else
        ces_options_example (self->options, stdout);
    self->done = true;
}

ces_program_t *
ces_program_new (ces_options_program_t kind, const char *about, int argc,
                 char *argv[])
{
    assert (about);
    ces_program_t *self = (ces_program_t *)zmalloc (sizeof (ces_program_t));
    assert (self);
    self->kind = kind;
    self->argc = argc, self->argv = argv;
    self->options = ces_options_new (kind);
    self->name = ces_options_program (self->options);
    int rc = ces_options_parse (self->options, argc, argv);
    if (rc > 0) {
        s_answer (self, rc, about);
        return self;
    }
    if (rc == -1) {
        fprintf (stderr, "%s: %s\n%s: try --help\n", self->name,
                 ces_options_error (self->options), self->name);
        self->done = true, self->exit_code = 2;
        return self;
    }
    char error[256];
    if (kind & (CES_PROGRAM_CES | CES_PROGRAM_HUB) &&
        !s_read_peers_file (self->options, error, sizeof error)) {
        fprintf (stderr, "%s: --peers-file: %s\n", self->name, error);
        self->done = true, self->exit_code = 2;
        return self;
    }
    //  Workers share one ZeroMQ socket: czmq's default socket limit will do
    zsys_init ();
    zsys_set_logident (self->name);
    if (streq (ces_options_get (self->options, "log-format"), "json"))
        s_log_json (self);
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_sighup;
    sigaction (SIGHUP, &action, NULL);
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
    //  SIGHUP sends them what changed
    int slot = actor_kind == CES_OPTIONS_HUB    ? 0
               : actor_kind == CES_OPTIONS_EDGE ? 1
                                                : 2;
    self->actors[slot] = actor;
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
ces_program_say (ces_program_t *self, const char *text)
{
    assert (self && text);
    if (!self->json) {
        fputs (text, stdout);
        fflush (stdout);
        return;
    }
    //  One log line a line
    char *copy = strdup (text), *saveptr = NULL;
    for (char *line = strtok_r (copy, "\n", &saveptr); line;
         line = strtok_r (NULL, "\n", &saveptr))
        zsys_info ("%s", line);
    freen (copy);
}

void
ces_program_banner (ces_program_t *self, int edge_port, int repeater_port,
                    const char *router, const char *pub)
{
    assert (self);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    fprintf (out, "%s ready\n", self->name);
    if (edge_port)
        fprintf (out,
                 "  browser:    http://127.0.0.1:%d/  (watch a room, send an "
                 "event)\n"
                 "  WebSocket:  ws://127.0.0.1:%d/connect/messenger  (also "
                 "/connect/repeater, /connect/hub)\n"
                 "  HTTP:       POST http://127.0.0.1:%d/event  (one JSON "
                 "event)\n"
                 "  status:     http://127.0.0.1:%d/status  /metrics  "
                 "/health\n",
                 edge_port, edge_port, edge_port, edge_port);
    if (edge_port)
        fprintf (out,
                 "  rooms:      http://127.0.0.1:%d/rooms  (each room's state "
                 "and history; ces.v2 clients recover)\n",
                 edge_port);
    if (edge_port && self->kind == CES_PROGRAM_CES)
        fprintf (
            out,
            "  mesh:       POST http://127.0.0.1:%d/interconnect/HOST:PORT "
            "(another hub's ROUTER)\n",
            edge_port);
    if (repeater_port)
        fprintf (out,
                 "  repeater:   ws://127.0.0.1:%d/connect/ROOM/ID, POST "
                 "http://127.0.0.1:%d/send  (outside systems; status on "
                 "/status)\n",
                 repeater_port, repeater_port);
    if (router)
        fprintf (out,
                 "  ZeroMQ:     hub ROUTER %s, PUB %s (other edges, embedded "
                 "messengers)\n",
                 router, pub);
    fprintf (out, "  stop with Ctrl-C; SIGHUP reloads the configuration\n");
    fclose (out);
    ces_program_say (self, text);
    freen (text);
}

//  SIGHUP: the file and the environment read again with the same flags;
//  what may change while running is sent to the actors, the rest named
static void
s_reload (ces_program_t *self, zactor_t *repeater)
{
    sd_notify (0, "RELOADING=1");
    ces_options_t *fresh = ces_options_new (self->kind);
    char error[256] = "";
    bool peers = self->kind & (CES_PROGRAM_CES | CES_PROGRAM_HUB);
    if (ces_options_parse (fresh, self->argc, self->argv) != 0 ||
        (peers && !s_read_peers_file (fresh, error, sizeof error))) {
        zsys_error ("reload refused, nothing changed: %s%s",
                    *error ? "--peers-file: " : "",
                    *error ? error : ces_options_error (fresh));
        ces_options_destroy (&fresh);
        sd_notify (0, "READY=1");
        return;
    }
    const char *path = ces_options_path (fresh);
    zlist_t *changed = ces_options_changed (self->options, fresh);
    for (const char *flag = (const char *)zlist_first (changed); flag;
         flag = (const char *)zlist_next (changed))
        if (!ces_options_reloadable (fresh, flag))
            zsys_warning ("reload: %s changed%s%s: needs a restart", flag,
                          path ? " in " : "", path ? path : "");
        else if (s_logs (self, 2))
            zsys_info ("reload: %s is now %s (was %s)", flag,
                       *ces_options_shown (fresh, flag)
                           ? ces_options_shown (fresh, flag)
                           : "not set",
                       *ces_options_shown (self->options, flag)
                           ? ces_options_shown (self->options, flag)
                           : "not set");
    zlist_destroy (&changed);
    const int kinds[3] = {CES_OPTIONS_HUB, CES_OPTIONS_EDGE,
                          CES_OPTIONS_REPEATER};
    bool refused = false;
    for (int slot = 0; slot < 3; slot++)
        if (self->actors[slot] &&
            ces_options_reconfigure (self->options, fresh, self->actors[slot],
                                     kinds[slot])) {
            zsys_error ("reload: %s; the value before is kept",
                        ces_options_error (fresh));
            refused = true;
        }
    //  Kept on a refusal: the next reload sends all that changed again
    if (!refused) {
        ces_options_destroy (&self->options);
        self->options = fresh;
    } else
        ces_options_destroy (&fresh);
    //  The repeater reads its targets file again, changed or not
    if (repeater) {
        zstr_send (repeater, "RELOAD");
        char *status = NULL, *reason = NULL;
        zstr_recvx (repeater, &status, &reason, NULL);
        zstr_free (&status);
        zstr_free (&reason);
    }
    sd_notify (0, "READY=1");
}

//  Is the edge or repeater actor's link to its hub up (its /status)?
static bool
s_hub_connected (zactor_t *actor)
{
    zstr_send (actor, "STATUS");
    char *json = zstr_recv (actor);
    cJSON *status = cJSON_Parse (json);
    bool connected = cJSON_IsTrue (cJSON_GetObjectItem (
        cJSON_GetObjectItem (status, "edge"), "hub_connected"));
    cJSON_Delete (status);
    zstr_free (&json);
    return connected;
}

void
ces_program_await_hub (ces_program_t *self, zactor_t *actor, int msecs)
{
    assert (self);
    if (!actor)
        return;
    //  The hub in this process answers within milliseconds; the link says
    //  HELLO at once and again 50 ms later at most, so a short poll is due
    int64_t deadline = zclock_mono () + msecs;
    while (!s_hub_connected (actor) && zclock_mono () < deadline &&
           !zsys_interrupted)
        zclock_sleep (10);
}

void
ces_program_wait (ces_program_t *self, zactor_t *actor, zactor_t *repeater)
{
    assert (self && actor);
    zpoller_t *poller = zpoller_new (actor, NULL);
    assert (poller);
    //  systemd: ready now; its watchdog fed at half its interval
    sd_notify (0, "READY=1\nSTATUS=serving");
    uint64_t watchdog_usec = 0;
    int64_t feed_every = sd_watchdog_enabled (0, &watchdog_usec) > 0
                             ? (int64_t)(watchdog_usec / 2000)
                             : 0;
    int64_t next_feed = zclock_mono () + feed_every;
    int timeout = feed_every && feed_every < 200 ? (int)feed_every : 200;
    //  The actors send nothing unasked; this wakes on signals
    while (!zsys_interrupted) {
        zpoller_wait (poller, timeout);
        if (feed_every && zclock_mono () >= next_feed) {
            sd_notify (0, "WATCHDOG=1");
            next_feed = zclock_mono () + feed_every;
        }
        if (s_reload_requested) {
            s_reload_requested = 0;
            s_reload (self, repeater);
        }
    }
    zpoller_destroy (&poller);
    sd_notify (0, "STOPPING=1\nSTATUS=shutting down");
    zsys_info ("shutting down");
}
