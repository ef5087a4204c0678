/*  =========================================================================
    ces_options_text - the texts of the option table: --help,
    --print-config and --example-config
    =========================================================================
*/
#include "ces_classes.h"

//  Writes text from column `at` (the cursor is at `column`), wrapped at 79
static void
s_wrap (FILE *out, const char *text, size_t column, size_t at)
{
    const size_t width = 79;
    if (column > at) {
        fprintf (out, "\n%*s", (int)at, "");
        column = at;
    } else {
        fprintf (out, "%*s", (int)(at - column), "");
        column = at;
    }
    bool first = true;
    while (*text) {
        size_t word = strcspn (text, " ");
        if (!first && column + 1 + word > width) {
            fprintf (out, "\n%*s", (int)at, "");
            column = at;
            first = true;
        }
        if (!first)
            fputc (' ', out), column++;
        fprintf (out, "%.*s", (int)word, text);
        column += word;
        first = false;
        text += word;
        text += strspn (text, " ");
    }
    fputc ('\n', out);
}

//  What the option does, its default, range, alias and environment variable
static void
s_explain (const ces_options_row_t *row, char *text, size_t size)
{
    char tail[256] = "";
    size_t used = 0;
    if (row->value && !row->is_switch)
        used += (size_t)snprintf (tail + used, sizeof tail - used,
                                  "%sdefault %s", used ? "; " : "", row->value);
    if (row->ranged)
        used +=
            (size_t)snprintf (tail + used, sizeof tail - used, "%s%ld to %ld",
                              used ? "; " : "", row->min, row->max);
    if (row->alias)
        used += (size_t)snprintf (tail + used, sizeof tail - used,
                                  "%salso --%s", used ? "; " : "", row->alias);
    if (row->env)
        used +=
            (size_t)snprintf (tail + used, sizeof tail - used,
                              "%senvironment %s", used ? "; " : "", row->env);
    snprintf (text, size, "%s%s%s%s", row->help, used ? " [" : "", tail,
              used ? "]" : "");
}

static void
s_usage_line (const ces_options_row_t *row, FILE *out)
{
    char left[96], text[512];
    snprintf (left, sizeof left, "  --%s%s%s", row->flag, row->hint ? " " : "",
              row->hint ? row->hint : "");
    s_explain (row, text, sizeof text);
    fputs (left, out);
    s_wrap (out, text, strlen (left), 28);
}

void
ces_options_text_usage (ces_options_t *self, FILE *out)
{
    assert (self && out);
    ces_options_row_t row;
    for (size_t index = 0; index < ces_options_rows (); index++)
        if (ces_options_row (self, index, &row))
            s_usage_line (&row, out);
    const char *asks[][2] = {
        {"  --print-config", "print the configuration in force, each value "
                             "with where it came from (default, file:LINE, "
                             "env NAME, flag), and exit"},
        {"  --example-config", "print a configuration file of every key at its "
                               "default, commented, and exit"},
        {"  --version", "print the version and exit"},
        {"  --help", "this text"}};
    for (size_t ask = 0; ask < sizeof asks / sizeof asks[0]; ask++) {
        fputs (asks[ask][0], out);
        s_wrap (out, asks[ask][1], strlen (asks[ask][0]), 28);
    }
}

//  A repeatable option's values, comma-separated; caller frees it
static char *
s_joined (zlist_t *list)
{
    char *joined = strdup ("");
    for (char *item = (char *)zlist_first (list); item;
         item = (char *)zlist_next (list)) {
        char *more = zsys_sprintf ("%s%s%s", joined, *joined ? "," : "", item);
        zstr_free (&joined);
        joined = more;
    }
    return joined;
}

//  "key = value" padded to a column, then "# source"
void
ces_options_text_print (ces_options_t *self, FILE *out)
{
    assert (self && out);
    const char *path = ces_options_path (self);
    fprintf (out,
             "# %s: the configuration in force; a flag wins over the "
             "environment,\n# which wins over %s, which wins over the "
             "defaults\n",
             ces_options_program (self), path ? path : "the --config file");
    ces_options_row_t row;
    for (size_t index = 0; index < ces_options_rows (); index++) {
        if (!ces_options_row (self, index, &row))
            continue;
        char *joined = row.list ? s_joined (row.list) : NULL;
        int width = fprintf (out, "%s%s = %s", row.prefix, row.name,
                             joined ? joined : row.shown);
        fprintf (out, "%*s# %s\n", width < 39 ? 40 - width : 1, "", row.source);
        zstr_free (&joined);
    }
}

//  Where the units of ops/systemd read each program's file
static const char *
s_unit_file (const char *program)
{
    static const char *const units[][2] = {
        {"ces", "ces.conf"},
        {"ces-edge", "edge-NAME.conf (ces-edge@NAME)"},
        {"ces-repeater", "repeater-NAME.conf (ces-repeater@NAME)"},
        {"ces-hub", "hub.conf"}};
    for (size_t unit = 0; unit < sizeof units / sizeof units[0]; unit++)
        if (streq (units[unit][0], program))
            return units[unit][1];
    assert (false);
    return NULL;
}

//  The comments at the head of the file
static void
s_example_head (ces_options_t *self, FILE *out)
{
    const char *name = ces_options_program (self);
    char *text = zsys_sprintf (
        "%s configuration: %s --config FILE, or /etc/ces/%s under systemd. One "
        "\"key = value\" a line; the keys are the flags of %s --help without "
        "the dashes (a switch by its name: validate = false). A repeatable key "
        "may appear on several lines or take comma-separated values. # and ; "
        "start a comment at the start of a line or after a blank. The "
        "environment and flags win over this file. Every key is shown at its "
        "default, commented out.",
        name, name, s_unit_file (name), name);
    ces_config_comment (out, text);
    zstr_free (&text);
    char reloaded[512] = "";
    ces_options_row_t row;
    for (size_t index = 0, used = 0; index < ces_options_rows (); index++)
        if (ces_options_row (self, index, &row) && row.reload)
            used += (size_t)snprintf (reloaded + used, sizeof reloaded - used,
                                      "%s%s%s", used ? ", " : "", row.prefix,
                                      row.name);
    text = zsys_sprintf ("SIGHUP reloads %s; a change of any other key "
                         "is logged as needing a restart. Generated by "
                         "%s --example-config.",
                         reloaded, name);
    ces_config_comment (out, text);
    zstr_free (&text);
}

void
ces_options_text_example (ces_options_t *self, FILE *out)
{
    assert (self && out);
    s_example_head (self, out);
    ces_options_row_t row;
    for (size_t index = 0; index < ces_options_rows (); index++) {
        if (!ces_options_row (self, index, &row) || streq (row.name, "config"))
            continue;
        char text[512];
        s_explain (&row, text, sizeof text);
        fputc ('\n', out);
        ces_config_comment (out, text);
        fprintf (out, "#%s%s =%s%s\n", row.prefix, row.name,
                 row.value ? " " : "", row.value ? row.value : "");
    }
}

//  --------------------------------------------------------------------------
//  Self test

//  What fn writes for options, as a string; caller frees it
static char *
s_test_text (ces_options_t *options,
             void (*fn) (ces_options_t *self, FILE *out))
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    fn (options, out);
    fclose (out);
    return text;
}

void
ces_options_text_test (bool verbose)
{
    printf (" * ces_options_text: ");
    //  @selftest
    //  The rows a program offers, and only those
    ces_options_t *options = ces_options_new (CES_PROGRAM_HUB);
    ces_options_row_t row;
    size_t offered = 0;
    bool heartbeat = false;
    for (size_t index = 0; index < ces_options_rows (); index++)
        if (ces_options_row (options, index, &row)) {
            offered++;
            assert (row.name && row.prefix && row.help && *row.flag);
            assert (streq (row.source, "default"));
            heartbeat |= streq (row.name, "heartbeat");
            assert (!streq (row.name, "max-clients"));
        }
    assert (offered > 0 && offered < ces_options_rows () && heartbeat);

    //  --help: wrapped at 79, a column for the text
    char *text = s_test_text (options, ces_options_text_usage);
    if (verbose)
        printf ("\n%s", text);
    assert (strstr (text, "  --heartbeat "));
    assert (strstr (text, "\n  --help                    this text\n"));
    for (char *line = text; *line; line = strchr (line, '\n') + 1)
        assert (strcspn (line, "\n") <= 79);
    freen (text);

    //  --example-config: every key but config, commented, at its default
    text = s_test_text (options, ces_options_text_example);
    assert (strstr (text, "/etc/ces/hub.conf under\n# systemd"));
    assert (strstr (text, "\n#heartbeat = "));
    assert (!strstr (text, "\n#config ="));
    assert (strstr (text, "SIGHUP reloads "));
    freen (text);
    ces_options_destroy (&options);

    //  --print-config: the value in force and where it came from
    options = ces_options_new (CES_PROGRAM_EDGE);
    char *edge_argv[] = {"ces-edge", "--max-clients", "77", NULL};
    assert (ces_options_parse (options, 3, edge_argv) == 0);
    text = s_test_text (options, ces_options_text_print);
    if (verbose)
        printf ("\n%s", text);
    assert (strstr (text, "# ces-edge: the configuration in force"));
    assert (
        strstr (text, "\nmax-clients = 77                        # flag\n"));
    freen (text);
    ces_options_destroy (&options);
    //  A repeatable option: its values joined
    options = ces_options_new (CES_PROGRAM_HUB);
    char *hub_argv[] = {"ces-hub", "--peer", "h1:1", "--peer", "h2:2", NULL};
    assert (ces_options_parse (options, 5, hub_argv) == 0);
    text = s_test_text (options, ces_options_text_print);
    assert (strstr (text, "\npeer = h1:1,h2:2 "));
    freen (text);
    ces_options_destroy (&options);
    //  @end
    printf ("OK\n");
}
