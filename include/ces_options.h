/*  =========================================================================
    ces_options - the one table of options: every program's flags, their
    environment variables and --help, and every actor's SET command

    Each option has a name, a type (text, a number in a range, one of a few
    words, a switch, or a repeatable list), a default, an environment
    variable, a help line, the actors that take it as SET and the programs
    that offer it as a flag. The flag is --NAME and the SET command is
    "SET", NAME, value: the same name in every layer. Two spellings are
    kept for what users already type: an alias (ces-repeater's --hub for
    --hub-router, ces-hub's --max-payload for --max-message), and in `ces`,
    which runs an edge and a repeater side by side, a --repeater-NAME flag
    that sets NAME on the repeater alone (--repeater-listen,
    --repeater-max-clients). A switch whose default is on is turned off with
    --no-NAME (--no-validate sets "validate" to "false").

    A program reads its --config file (or CES_CONFIG), then its
    environment, then its flags (a flag wins over the environment, which
    wins over the file, which wins over the defaults). The file's keys are
    the flags' names (ces_config reads it):

        ces_options_t *options = ces_options_new (CES_PROGRAM_EDGE);
        int rc = ces_options_parse (options, argc, argv);
        //  0 go on, CES_OPTIONS_HELP etc. when asked, -1 bad flag, key or
        //  value: ces_options_error says which and why (FILE:LINE: ... for
        //  the file)
        zactor_t *edge = zactor_new (ces_edge_actor, NULL);
        rc = ces_options_configure (options, edge, CES_OPTIONS_EDGE);
        //  sends SET for every option given for that actor; -1 when the
        //  actor refused one (ces_options_error names the flag)

    SIGHUP: read everything again with the same flags, send what may
    change while running, and name what needs a restart:

        ces_options_t *fresh = ces_options_new (CES_PROGRAM_EDGE);
        if (ces_options_parse (fresh, argc, argv) == 0) {
            zlist_t *changed = ces_options_changed (options, fresh);
            //  each: ces_options_reloadable (fresh, flag)?
            ces_options_reconfigure (options, fresh, edge, CES_OPTIONS_EDGE);
        }

    An actor checks a SET against the same table:

        if (ces_options_check (CES_OPTIONS_HUB, name, value) != 0)
            return -1;     //  unknown option, or a value out of its range
    =========================================================================
*/
#ifndef CES_OPTIONS_H_INCLUDED
#define CES_OPTIONS_H_INCLUDED

typedef struct _ces_options_t ces_options_t;

//  The actors that take options by SET (a bit mask)
#define CES_OPTIONS_HUB       1
#define CES_OPTIONS_EDGE      2
#define CES_OPTIONS_REPEATER  4
#define CES_OPTIONS_MESSENGER 8

//  The programs that offer options as flags
typedef enum {
    CES_PROGRAM_CES = 1,      //  ces: hub, edge and repeater in one process
    CES_PROGRAM_EDGE = 2,     //  ces-edge
    CES_PROGRAM_REPEATER = 4, //  ces-repeater
    CES_PROGRAM_HUB = 8       //  ces-hub
} ces_options_program_t;

//  The options of one program, none given yet. Caller owns return value
//  and must destroy it when done.
ces_options_t *ces_options_new (ces_options_program_t program);
void ces_options_destroy (ces_options_t **self_p);

//  The program's name: "ces", "ces-edge", "ces-repeater" or "ces-hub"
const char *ces_options_program (ces_options_t *self);

//  What ces_options_parse returns when a flag asks rather than sets
#define CES_OPTIONS_HELP    1 //  --help or -h
#define CES_OPTIONS_VERSION 2 //  --version
#define CES_OPTIONS_PRINT   3 //  --print-config (after reading the file)
#define CES_OPTIONS_EXAMPLE 4 //  --example-config

//  Reads the --config file (the flag, or CES_CONFIG), the environment
//  variables of the program's options, then argv (--NAME VALUE,
//  --NAME=VALUE, a unique prefix of a name, --help or -h, --version,
//  --print-config, --example-config). Checks every value against its
//  option's type and range, and every key of the file. Returns 0, one of
//  CES_OPTIONS_HELP..EXAMPLE, or -1 with the reason in ces_options_error.
//  --help, --version and --example-config do not read the file.
int ces_options_parse (ces_options_t *self, int argc, char *argv[]);

//  Why the last parse or configure failed: one line that names the flag
//  (and the environment variable the value came from) and what it takes.
const char *ces_options_error (ces_options_t *self);

//  Writes one entry per flag of the program, generated from the table:
//  the flag, its aliases, what it does, its default, range and environment
//  variable; then --help.
void ces_options_usage (ces_options_t *self, FILE *out);

//  Every option of the program as "key = value  # source" lines, the
//  source being default, flag, env NAME or file:LINE (--print-config)
void ces_options_print (ces_options_t *self, FILE *out);

//  A configuration file of every key at its default, commented out, each
//  under its help (--example-config; ops/*.conf.example)
void ces_options_example (ces_options_t *self, FILE *out);

//  The --config file read, or NULL (borrowed)
const char *ces_options_path (ces_options_t *self);

//  The value in force for --flag (a flag's name as the program spells it,
//  e.g. "repeater-listen"): given by flag, else by environment, else the
//  default; NULL when none. Borrowed.
const char *ces_options_get (ces_options_t *self, const char *flag);

//  True when --flag was given or its environment variable set
bool ces_options_given (ces_options_t *self, const char *flag);

//  The values of a repeatable --flag (e.g. "peer"): its environment
//  variable's comma-separated items, then each flag in order. Borrowed.
zlist_t *ces_options_list (ces_options_t *self, const char *flag);

//  Sends "SET", NAME, value to the actor for every option of the program
//  that this actor (actor_kind, one of CES_OPTIONS_*) takes and that was given,
//  in table order after "log-level", and waits for each signal. Returns 0, or
//  -1 at the first refusal with "invalid value 'V' for --FLAG" in
//  ces_options_error.
int ces_options_configure (ces_options_t *self, zactor_t *actor,
                           int actor_kind);

//  The flags (as the program spells them) whose value differs between self
//  and fresh, in table order. Caller owns return value and must destroy it
//  when done.
zlist_t *ces_options_changed (ces_options_t *self, ces_options_t *fresh);

//  True when --flag can change while the program runs (SIGHUP)
bool ces_options_reloadable (ces_options_t *self, const char *flag);

//  The value in force for people: "" when none, "(hidden)" for a secret
const char *ces_options_shown (ces_options_t *self, const char *flag);

//  Sends "SET", NAME, value (the default, or "" when none, for an option no
//  longer given) to the actor for every option it takes that can change
//  while running and whose value in fresh differs from self; waits for each
//  signal. Returns 0, or -1 at the first refusal with the reason in
//  ces_options_error (fresh).
int ces_options_reconfigure (ces_options_t *self, ces_options_t *fresh,
                             zactor_t *actor, int actor_kind);

//  For actors: 0 when name is an option one of the actors in the mask takes
//  and value has its type and is in its range; -1 otherwise. (What the
//  table cannot know, such as whether a file exists, the actor checks.)
int ces_options_check (int actors, const char *name, const char *value);

//  The default of an option for one of the actors in the mask, as text;
//  NULL when it has none (e.g. "hub-id": random) or is unknown.
const char *ces_options_default (int actors, const char *name);

#endif
