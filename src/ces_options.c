/*  =========================================================================
    ces_options - the one table of options: every program's flags, their
    environment variables and --help, and every actor's SET command (the
    rows themselves are in ces_option_table)
    =========================================================================
*/
#include "ces_classes.h"
#include <limits.h>

#define HUB      CES_OPTIONS_HUB
#define EDGE     CES_OPTIONS_EDGE
#define REPEATER CES_OPTIONS_REPEATER

//  The rows are in ces_option_table; this class reads values for them
#define OPTIONS ces_option_table_size ()

static const ces_option_t *
s_row (size_t row)
{
    return ces_option_table_row (row);
}

//  By CES_PROGRAM_* (one bit each)
static const char *const s_program_names[] = {
    NULL, "ces", "ces-edge", NULL, "ces-repeater", NULL, NULL, NULL, "ces-hub"};

struct _ces_options_t {
    ces_options_program_t program;
    char *values[CES_OPTION_TABLE_MAX]; //  given by file, environment or flag,
                                        //  or NULL
    const char
        *from[CES_OPTION_TABLE_MAX]; //  the environment variable, or NULL
    int line[CES_OPTION_TABLE_MAX];  //  the line of the file, or 0 (neither:
                                     //  flag)
    zlist_t *lists[CES_OPTION_TABLE_MAX]; //  a list: every value given
    char *sources[CES_OPTION_TABLE_MAX];  //  a list: where each came from, for
                                          //  people
    char *path;                           //  the --config file read, or NULL
    char error[512]; //  why the last parse or configure failed
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
        if (s_row (row)->type == CES_OPTION_LIST) {
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
//  The rows this program offers (ces_option_table has them)

static bool
s_offered (ces_options_t *self, const ces_option_t *option)
{
    return (option->programs & (int)self->program) != 0;
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
s_invalid (ces_options_t *self, const ces_option_t *option, const char *value,
           const char *env, int line)
{
    char flag[64], takes[128];
    ces_option_table_flag (option, flag, sizeof flag);
    ces_option_table_takes (option, takes, sizeof takes);
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
    const ces_option_t *option = s_row (row);
    char source[64];
    s_source (self, env, line, false, source, sizeof source);
    if (option->type == CES_OPTION_LIST) {
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
    if (!ces_option_table_valid (option, value))
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
        ces_option_table_flag (s_row (row), flag, sizeof flag);
        int named = s_offered (self, s_row (row))
                        ? s_names (name, flag, s_row (row)->alias)
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
        const ces_option_t *option = s_row (row);
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
    if (row <= HELP || s_row (row)->type == CES_OPTION_SWITCH) {
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
            streq (s_row (row)->value, "true") ? "false" : "true";
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

static int
s_unknown_key (ces_options_t *self, const char *key, int line)
{
    char closest[64];
    bool near = ces_option_table_closest_key ((int)self->program, key, closest,
                                              sizeof closest);
    char hint[96] = "";
    if (near)
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
    int row = ces_option_table_of_key ((int)self->program, key);
    if (row < 0)
        return s_unknown_key (self, key, line);
    if (streq (key, "config")) {
        snprintf (self->error, sizeof self->error,
                  "%s:%d: config is a flag, not a key of the file", self->path,
                  line);
        return -1;
    }
    if (self->line[row] && s_row (row)->type != CES_OPTION_LIST) {
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
    int row = ces_option_table_of_flag ((int)self->program, flag);
    if (row < 0)
        return NULL;
    return self->values[row] ? self->values[row] : s_row (row)->value;
}

bool
ces_options_given (ces_options_t *self, const char *flag)
{
    assert (self && flag);
    int row = ces_option_table_of_flag ((int)self->program, flag);
    return row >= 0 && (self->values[row] ||
                        (self->lists[row] && zlist_size (self->lists[row])));
}

zlist_t *
ces_options_list (ces_options_t *self, const char *flag)
{
    assert (self && flag);
    int row = ces_option_table_of_flag ((int)self->program, flag);
    assert (row >= 0 && s_row (row)->type == CES_OPTION_LIST);
    return self->lists[row];
}

static int
s_set (ces_options_t *self, zactor_t *actor, size_t row, const char *value)
{
    const ces_option_t *option = s_row (row);
    zstr_sendx (actor, "SET", option->name, value, NULL);
    if (zsock_wait (actor) == 0)
        return 0;
    char flag[64], source[300] = "";
    ces_option_table_flag (option, flag, sizeof flag);
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
    const ces_option_t *option = s_row (row);
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
        self->values[row] ? self->values[row] : s_row (row)->value;
    return value ? value : "";
}

static bool
s_changed (ces_options_t *self, ces_options_t *fresh, size_t row)
{
    if (s_row (row)->type != CES_OPTION_LIST)
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
        if (s_offered (self, s_row (row)) && s_changed (self, fresh, row)) {
            char flag[64];
            ces_option_table_flag (s_row (row), flag, sizeof flag);
            zlist_append (changed, flag);
        }
    return changed;
}

bool
ces_options_reloadable (ces_options_t *self, const char *flag)
{
    assert (self && flag);
    int row = ces_option_table_of_flag ((int)self->program, flag);
    return row >= 0 && s_row (row)->reload;
}

static const char *
s_shown (ces_options_t *self, size_t row)
{
    return s_row (row)->secret && *s_value (self, row) ? "(hidden)"
                                                       : s_value (self, row);
}

const char *
ces_options_shown (ces_options_t *self, const char *flag)
{
    assert (self && flag);
    int row = ces_option_table_of_flag ((int)self->program, flag);
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
        const ces_option_t *option = s_row (row);
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
            const ces_option_t *option = s_row (row);
            bool first = streq (option->name, "log-level");
            if (s_offered (self, option) && (option->actors & actor_kind) &&
                option->type != CES_OPTION_LIST && first == (pass == 0) &&
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
    const ces_option_t *option = s_row (index);
    if (!s_offered (self, option))
        return false;
    row->name = option->name;
    row->prefix = option->prefix ? option->prefix : "";
    ces_option_table_flag (option, row->flag, sizeof row->flag);
    row->hint = option->hint;
    row->value = option->value;
    row->help = option->help;
    row->alias = option->alias;
    row->env = option->env;
    row->is_switch = option->type == CES_OPTION_SWITCH;
    row->ranged = option->type == CES_OPTION_NUMBER && option->max < INT_MAX;
    row->min = option->min;
    row->max = option->max;
    row->reload = option->reload;
    row->shown = option->type == CES_OPTION_LIST ? NULL : s_shown (self, index);
    row->list = option->type == CES_OPTION_LIST ? self->lists[index] : NULL;
    if (option->type == CES_OPTION_LIST)
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
    return ces_option_table_check (actors, name, value);
}

const char *
ces_options_default (int actors, const char *name)
{
    return ces_option_table_default (actors, name);
}

//  --------------------------------------------------------------------------
//  Self test

//  Self-test helpers, for this class and ces_config's: an actor that takes
//  any SET but "refused" and answers DUMP with what it was given,
//  "name=value" joined with spaces
void
ces_options_test_actor (zsock_t *pipe, void *args)
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
int
ces_options_test_parse (ces_options_t *self, const char *first, ...)
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
    zactor_t *actor = zactor_new (ces_options_test_actor, NULL);
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
        assert (ces_options_test_parse (options, cases[i].flag, cases[i].value,
                                        NULL) == -1);
        if (!streq (ces_options_error (options), cases[i].error))
            zsys_error ("%s: got \"%s\"", cases[i].flag,
                        ces_options_error (options));
        assert (streq (ces_options_error (options), cases[i].error));
        ces_options_destroy (&options);
    }
    //  Each program has its own flags
    ces_options_t *options = ces_options_new (CES_PROGRAM_EDGE);
    assert (ces_options_test_parse (options, "--heartbeat", "100", NULL) == -1);
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
    assert (ces_options_test_parse (
                options, "--listen", "127.0.0.1:1",
                "--repeater-listen=127.0.0.1:2", "--max-clients", "50",
                "--repeater-max-clients", "5", "--no-val", "--max-message",
                "2048", "--heartbeat", "100", "--peer", "b:2", "--curve-cert",
                "hub.key_secret", "--log-level", "warn", NULL) == 0);
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
    assert (ces_options_test_parse (options, "--hub", "tcp://10.0.0.2:7200",
                                    NULL) == 0);
    assert (
        streq (ces_options_get (options, "hub-router"), "tcp://10.0.0.2:7200"));
    char *given = s_test_configure (options, REPEATER);
    assert (streq (given, "log-level=debug hub-router=tcp://10.0.0.2:7200"));
    zstr_free (&given);
    ces_options_destroy (&options);

    setenv ("LOG_LEVEL", "loud", 1);
    options = ces_options_new (CES_PROGRAM_REPEATER);
    assert (ces_options_test_parse (options, NULL) == -1);
    assert (streq (ces_options_error (options),
                   "invalid value 'loud' for --log-level (from LOG_LEVEL): one "
                   "of error, warn, info, debug"));
    ces_options_destroy (&options);
    unsetenv ("LOG_LEVEL");

    //  The actor refuses what the table cannot know
    options = ces_options_new (CES_PROGRAM_REPEATER);
    assert (ces_options_test_parse (options, "--targets", "refused", NULL) ==
            0);
    given = s_test_configure (options, REPEATER);
    assert (streq (given, "invalid value 'refused' for --targets"));
    zstr_free (&given);
    ces_options_destroy (&options);

    setenv ("CES_HUB_PEERS", "a:1,b:2", 1);
    options = ces_options_new (CES_PROGRAM_HUB);
    assert (ces_options_test_parse (options, "--peer", "c:3", "--max-payload",
                                    "99", "-h", NULL) == 1);
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
    s_test_parse_errors ();
    s_test_ces (verbose);
    s_test_environment ();
    s_test_usage (verbose);
    //  @end
    printf ("OK\n");
}
