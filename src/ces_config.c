/*  =========================================================================
    ces_config - a program's configuration file (see ces_config.h)
    =========================================================================
*/
#include "ces_classes.h"
#include "ces_config.h"
#include <ini.h>

typedef struct {
    char *key;
    char *value;
    int line;
} entry_t;

struct _ces_config_t {
    char *path;
    entry_t *entries;
    size_t size;
    size_t room;
};

//  What the reader and the handler share while inih parses
typedef struct {
    ces_config_t *config;
    FILE *file;
    char *buffer; //  getline's
    size_t buffer_size;
    int line;        //  lines read so far: the handler's line
    int error_line;  //  the first line the reader refused, or 0
    char error[160]; //  and why
} reading_t;

void
ces_config_destroy (ces_config_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_config_t *self = *self_p;
        for (size_t i = 0; i < self->size; i++) {
            freen (self->entries[i].key);
            freen (self->entries[i].value);
        }
        freen (self->entries);
        freen (self->path);
        freen (self);
        *self_p = NULL;
    }
}

static void
s_refuse (reading_t *reading, const char *why)
{
    if (!reading->error_line) {
        reading->error_line = reading->line;
        snprintf (reading->error, sizeof reading->error, "%s", why);
    }
}

//  Hands inih one line at a time, made plain: no leading blanks (inih would
//  take an indented line as the continuation of the one before), the
//  comment after a blank cut (inih cuts only " ;"), no [sections], and no
//  line longer than inih's buffer (it would split it in two). A refused line
//  ends the file for inih.
static char *
s_reader (char *str, int num, void *stream)
{
    reading_t *reading = (reading_t *)stream;
    if (reading->error_line ||
        getline (&reading->buffer, &reading->buffer_size, reading->file) < 0)
        return NULL;
    reading->line++;
    char *line = reading->buffer;
    line += strspn (line, " \t");
    if (reading->line == 1 && strncmp (line, "\xEF\xBB\xBF", 3) == 0)
        line += 3; //  a byte-order mark
    line[strcspn (line, "\r\n")] = 0;
    if (*line == '#' || *line == ';')
        *line = 0;
    for (char *mark = line; *mark; mark++)
        if ((*mark == '#' || *mark == ';') &&
            (mark[-1] == ' ' || mark[-1] == '\t')) {
            *mark = 0;
            break;
        }
    if (*line == '[') {
        s_refuse (reading, "[sections] are not used: one key = value a "
                           "line, the keys being the flag names");
        return NULL;
    }
    if (strlen (line) > (size_t)num - 2 ||
        strlen (line) > CES_CONFIG_LINE_MAX) {
        char why[96];
        snprintf (why, sizeof why, "a line may hold at most %d characters",
                  CES_CONFIG_LINE_MAX);
        s_refuse (reading, why);
        return NULL;
    }
    snprintf (str, (size_t)num, "%s\n", line);
    return str;
}

static int
s_handler (void *user, const char *section, const char *name, const char *value)
{
    (void)section; //  the reader lets no section through
    reading_t *reading = (reading_t *)user;
    ces_config_t *self = reading->config;
    if (self->size == self->room) {
        self->room = self->room ? self->room * 2 : 16;
        self->entries =
            (entry_t *)realloc (self->entries, self->room * sizeof (entry_t));
        assert (self->entries);
    }
    entry_t *entry = &self->entries[self->size++];
    entry->key = strdup (name);
    entry->value = strdup (value ? value : "");
    entry->line = reading->line;
    return 1;
}

ces_config_t *
ces_config_read (const char *path, char *error, size_t size)
{
    assert (path && error && size);
    *error = 0;
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, size, "%s: %s", path, strerror (errno));
        return NULL;
    }
    ces_config_t *self = (ces_config_t *)zmalloc (sizeof (ces_config_t));
    assert (self);
    self->path = strdup (path);
    reading_t reading = {.config = self, .file = file};
    int rc = ini_parse_stream (s_reader, &reading, s_handler, &reading);
    bool failed = ferror (file);
    fclose (file);
    freen (reading.buffer);
    if (failed)
        snprintf (error, size, "%s: cannot read it", path);
    else if (rc > 0 && (!reading.error_line || rc < reading.error_line))
        snprintf (error, size, "%s:%d: not a 'key = value' line", path, rc);
    else if (reading.error_line)
        snprintf (error, size, "%s:%d: %s", path, reading.error_line,
                  reading.error);
    else if (rc)
        snprintf (error, size, "%s: cannot read it", path);
    if (*error)
        ces_config_destroy (&self);
    return self;
}

const char *
ces_config_path (ces_config_t *self)
{
    assert (self);
    return self->path;
}

size_t
ces_config_size (ces_config_t *self)
{
    assert (self);
    return self->size;
}

const char *
ces_config_key (ces_config_t *self, size_t index)
{
    assert (self && index < self->size);
    return self->entries[index].key;
}

const char *
ces_config_value (ces_config_t *self, size_t index)
{
    assert (self && index < self->size);
    return self->entries[index].value;
}

int
ces_config_line (ces_config_t *self, size_t index)
{
    assert (self && index < self->size);
    return self->entries[index].line;
}

//  Levenshtein distance of two short words (longer ones are far apart)
static size_t
s_distance (const char *a, const char *b)
{
    size_t m = strlen (a), n = strlen (b);
    if (m > 63 || n > 63)
        return SIZE_MAX;
    size_t row[64];
    for (size_t j = 0; j <= n; j++)
        row[j] = j;
    for (size_t i = 1; i <= m; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= n; j++) {
            size_t above = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diagonal + cost;
            if (above + 1 < best)
                best = above + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[n];
}

const char *
ces_config_closest (const char *word, const char *const *words)
{
    assert (word && words);
    const char *closest = NULL;
    size_t best = 4;
    for (size_t i = 0; words[i]; i++) {
        size_t distance = s_distance (word, words[i]);
        if (distance < best)
            best = distance, closest = words[i];
    }
    return closest;
}

void
ces_config_comment (FILE *out, const char *text)
{
    assert (out && text);
    size_t column = 0;
    while (*text) {
        size_t word = strcspn (text, " ");
        if (column && column + 1 + word > 79) {
            fputc ('\n', out);
            column = 0;
        }
        if (!column)
            column = (size_t)fprintf (out, "#");
        fprintf (out, " %.*s", (int)word, text);
        column += 1 + word;
        text += word;
        text += strspn (text, " ");
    }
    if (column)
        fputc ('\n', out);
}

//  --------------------------------------------------------------------------
//  Self test

static ces_config_t *
s_test_read (const char *dir, const char *text, char *error, size_t size)
{
    char *path = zsys_sprintf ("%s/test.conf", dir);
    FILE *file = fopen (path, "w");
    assert (file);
    fputs (text, file);
    fclose (file);
    ces_config_t *config = ces_config_read (path, error, size);
    remove (path);
    zstr_free (&path);
    return config;
}

//  What programs see: the file under the environment and flags
//  (ces_options applies it)

//  Writes text to dir/ces.conf; returns its path (caller frees)
static char *
s_test_file (const char *dir, const char *text)
{
    char *path = zsys_sprintf ("%s/ces.conf", dir);
    FILE *file = fopen (path, "w");
    assert (file);
    fputs (text, file);
    fclose (file);
    return path;
}

static char *
s_test_print (ces_options_t *self, bool example)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    if (example)
        ces_options_example (self, out);
    else
        ces_options_print (self, out);
    fclose (out);
    return text;
}

//  The file, then the environment, then flags; every key checked
static void
s_test_file_layers (bool verbose)
{
    char dir[] = "/tmp/ces-options-test-XXXXXX";
    assert (mkdtemp (dir));
    char *path = s_test_file (dir, "# edge\n"
                                   "max-clients = 50\n"
                                   "log-level = warn\n"
                                   "allowed-origins = https://a\n"
                                   "validate = false\n"
                                   "auth-secret = sesame\n"
                                   "max-payload = 4096\n"
                                   "hub-key =\n");
    setenv ("LOG_LEVEL", "error", 1);
    ces_options_t *options = ces_options_new (CES_PROGRAM_EDGE);
    assert (ces_options_test_parse (options, "--config", path, "--max-clients",
                                    "60", NULL) == 0);
    assert (streq (ces_options_path (options), path));
    assert (streq (ces_options_get (options, "max-clients"), "60"));
    assert (streq (ces_options_get (options, "log-level"), "error"));
    assert (streq (ces_options_get (options, "allowed-origins"), "https://a"));
    assert (streq (ces_options_get (options, "max-message"), "4096"));
    assert (streq (ces_options_get (options, "validate"), "false"));
    assert (!ces_options_given (options, "hub-key"));
    char *text = s_test_print (options, false);
    if (verbose)
        printf ("\n%s", text);
    assert (strstr (text, "\nmax-clients = 60 "));
    assert (strstr (text, "# flag\n"));
    assert (strstr (text, "log-level = error"));
    assert (strstr (text, "# env LOG_LEVEL\n"));
    assert (strstr (text, "allowed-origins = https://a"));
    assert (strstr (text, "# file:4\n"));
    assert (strstr (text, "auth-secret = (hidden)"));
    assert (!strstr (text, "sesame"));
    assert (strstr (text, "listen = " CES_EDGE_LISTEN));
    assert (strstr (text, "# default\n"));
    zstr_free (&text);
    unsetenv ("LOG_LEVEL");

    //  What changed on a reload, and what a running actor is sent
    zstr_free (&path);
    path = s_test_file (dir, "max-clients = 70\nlog-level = debug\n"
                             "validate = false\nauth-secret = sesame\n"
                             "max-message = 4096\n");
    ces_options_t *fresh = ces_options_new (CES_PROGRAM_EDGE);
    assert (ces_options_test_parse (fresh, "--config", path, "--max-clients",
                                    "60", NULL) == 0);
    zlist_t *changed = ces_options_changed (options, fresh);
    assert (zlist_size (changed) == 2);
    assert (streq ((char *)zlist_first (changed), "allowed-origins"));
    assert (streq ((char *)zlist_next (changed), "log-level"));
    zlist_destroy (&changed);
    assert (ces_options_reloadable (fresh, "allowed-origins"));
    assert (!ces_options_reloadable (fresh, "max-clients"));
    zactor_t *actor = zactor_new (ces_options_test_actor, NULL);
    assert (actor);
    assert (ces_options_reconfigure (options, fresh, actor, CES_OPTIONS_EDGE) ==
            0);
    zstr_send (actor, "DUMP");
    char *given = zstr_recv (actor);
    assert (streq (given, "allowed-origins= log-level=debug"));
    zstr_free (&given);
    zactor_destroy (&actor);
    ces_options_destroy (&fresh);
    ces_options_destroy (&options);

    //  Errors name the file, the line and what is allowed
    struct {
        const char *text, *error;
    } bad[] = {
        {"listen = 127.0.0.1:1\nmax-client = 5\n",
         ":2: unknown key 'max-client' (did you mean 'max-clients'? the keys "
         "are the flags of ces-edge --help, without the dashes)"},
        {"\n\nmax-clients = 0\n",
         ":3: invalid value '0' for max-clients: a number from 1 to 15000"},
        {"log-level = loud\n",
         ":1: invalid value 'loud' for log-level: one of error, warn, info, "
         "debug"},
        {"max-clients = 5\nmax-clients = 6\n",
         ":2: max-clients is set already on line 1"},
        {"no-validate = true\n", ":1: unknown key 'no-validate' (did you "
                                 "mean 'validate'?"},
        {"config = /x\n", ":1: config is a flag, not a key of the file"},
        {"heartbeat = 100\n", ":1: unknown key 'heartbeat' (the keys"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zstr_free (&path);
        path = s_test_file (dir, bad[i].text);
        options = ces_options_new (CES_PROGRAM_EDGE);
        assert (ces_options_test_parse (options, "--config", path, NULL) == -1);
        if (!strstr (ces_options_error (options), bad[i].error))
            zsys_error ("got \"%s\"", ces_options_error (options));
        assert (strstr (ces_options_error (options), bad[i].error));
        assert (strncmp (ces_options_error (options), path, strlen (path)) ==
                0);
        //  --help and --version need no file
        ces_options_destroy (&options);
        options = ces_options_new (CES_PROGRAM_EDGE);
        assert (ces_options_test_parse (options, "--config", path, "--version",
                                        NULL) == CES_OPTIONS_VERSION);
        ces_options_destroy (&options);
    }

    //  A list: lines and commas from the file, then the environment, then
    //  flags; a bad value from the file is named even when a flag wins
    zstr_free (&path);
    path = s_test_file (dir, "peer = a:1\npeer = b:2,c:3\n");
    setenv ("CES_HUB_PEERS", "d:4", 1);
    options = ces_options_new (CES_PROGRAM_HUB);
    assert (ces_options_test_parse (options, "--config", path, "--peer", "e:5",
                                    "--print-config",
                                    NULL) == CES_OPTIONS_PRINT);
    zlist_t *peers = ces_options_list (options, "peer");
    assert (zlist_size (peers) == 5);
    assert (streq ((char *)zlist_first (peers), "a:1"));
    assert (streq ((char *)zlist_last (peers), "e:5"));
    text = s_test_print (options, false);
    assert (strstr (text, "peer = a:1,b:2,c:3,d:4,e:5"));
    assert (strstr (text, "# file:1, file:2, env CES_HUB_PEERS, flag\n"));
    zstr_free (&text);
    ces_options_destroy (&options);
    unsetenv ("CES_HUB_PEERS");
    zstr_free (&path);
    path = s_test_file (dir, "peer = a:1\n\nheartbeat = 5\n");
    options = ces_options_new (CES_PROGRAM_HUB);
    assert (ces_options_test_parse (options, "--config", path, "--heartbeat",
                                    "100", NULL) == -1);
    assert (strstr (ces_options_error (options), ":3: invalid value '5'"));
    ces_options_destroy (&options);
    options = ces_options_new (CES_PROGRAM_HUB);
    assert (ces_options_test_parse (options, "--config", "/nonexistent.conf",
                                    NULL) == -1);
    assert (streq (ces_options_error (options),
                   "/nonexistent.conf: No such file or directory"));
    ces_options_destroy (&options);

    //  The example is a file the program reads, and changes nothing
    options = ces_options_new (CES_PROGRAM_CES);
    assert (ces_options_test_parse (options, "--example-config", NULL) ==
            CES_OPTIONS_EXAMPLE);
    text = s_test_print (options, true);
    ces_options_destroy (&options);
    zstr_free (&path);
    path = s_test_file (dir, text);
    assert (strstr (text, "\n#repeater-listen = " CES_REPEATER_LISTEN "\n"));
    assert (strstr (text, "\n#validate = true\n"));
    assert (!strstr (text, "#config ="));
    for (char *line = text; *line; line = strchr (line, '\n') + 1)
        assert (strcspn (line, "\n") <= 79);
    zstr_free (&text);
    options = ces_options_new (CES_PROGRAM_CES);
    assert (ces_options_test_parse (options, "--config", path, NULL) == 0);
    ces_options_t *plain = ces_options_new (CES_PROGRAM_CES);
    assert (ces_options_test_parse (plain, NULL) == 0);
    changed = ces_options_changed (plain, options);
    assert (zlist_size (changed) == 1); //  config itself
    zlist_destroy (&changed);
    ces_options_destroy (&plain);
    ces_options_destroy (&options);

    remove (path);
    zstr_free (&path);
    assert (rmdir (dir) == 0);
}

void
ces_config_test (bool verbose)
{
    printf (" * ces_config: ");
    //  @selftest
    char dir[] = "/tmp/ces-config-test-XXXXXX";
    assert (mkdtemp (dir));
    char error[256];
    ces_config_t *config =
        s_test_read (dir,
                     "# a comment\n"
                     "; another\n"
                     "\n"
                     "max-clients = 500   # five hundred\n"
                     "   log-level=debug\n"
                     "allowed-origins = https://a,https://b ; two\n"
                     "auth-secret = s#cret;x\n"
                     "peer = a:1\n"
                     "hub-id =\n",
                     error, sizeof error);
    assert (config);
    assert (ces_config_size (config) == 6);
    assert (streq (ces_config_key (config, 0), "max-clients"));
    assert (streq (ces_config_value (config, 0), "500"));
    assert (ces_config_line (config, 0) == 4);
    assert (streq (ces_config_key (config, 1), "log-level"));
    assert (streq (ces_config_value (config, 1), "debug"));
    assert (ces_config_line (config, 1) == 5);
    assert (streq (ces_config_value (config, 2), "https://a,https://b"));
    assert (streq (ces_config_value (config, 3), "s#cret;x"));
    assert (streq (ces_config_key (config, 5), "hub-id"));
    assert (streq (ces_config_value (config, 5), ""));
    assert (ces_config_line (config, 5) == 9);
    assert (strstr (ces_config_path (config), "/test.conf"));
    ces_config_destroy (&config);
    ces_config_destroy (&config);

    struct {
        const char *text, *error;
    } bad[] = {
        {"a = 1\nno value here\n", ":2: not a 'key = value' line"},
        {"a = 1\n\n[hub]\nb = 2\n", ":3: [sections] are not used"},
        {"a = 1\nb = 2\nc = 3\nd = 4\n", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config = s_test_read (dir, bad[i].text, error, sizeof error);
        if (verbose)
            zsys_info ("%s", error);
        assert (!bad[i].error == !!config);
        assert (!bad[i].error || strstr (error, bad[i].error));
        ces_config_destroy (&config);
    }
    //  A line too long for inih is refused, not split
    char *longer = zsys_sprintf ("a = 1\nallowed-origins = %0*d\n", 300, 0);
    config = s_test_read (dir, longer, error, sizeof error);
    assert (!config && strstr (error, ":2: a line may hold at most 198"));
    zstr_free (&longer);
    config = ces_config_read ("/nonexistent/ces.conf", error, sizeof error);
    assert (!config);
    assert (streq (error, "/nonexistent/ces.conf: No such file or directory"));

    const char *const words[] = {"max-clients", "max-message", "log-level",
                                 NULL};
    assert (streq (ces_config_closest ("max-client", words), "max-clients"));
    assert (streq (ces_config_closest ("loglevel", words), "log-level"));
    assert (ces_config_closest ("listen", words) == NULL);

    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    ces_config_comment (out, "one two three four five six seven eight nine "
                             "ten eleven twelve thirteen fourteen fifteen "
                             "sixteen");
    fclose (out);
    assert (streq (text, "# one two three four five six seven eight nine ten "
                         "eleven twelve thirteen\n# fourteen fifteen "
                         "sixteen\n"));
    freen (text);
    assert (rmdir (dir) == 0);
    s_test_file_layers (verbose);
    //  @end
    printf ("OK\n");
}
