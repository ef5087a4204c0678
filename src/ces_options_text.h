/*  =========================================================================
    ces_options_text - the texts of the option table: --help,
    --print-config and --example-config

    Written from the rows a program offers, read one at a time through
    ces_options_row (the table itself stays private to ces_options). The
    public ces_options_usage, ces_options_print and ces_options_example
    call these.
    =========================================================================
*/
#ifndef CES_OPTIONS_TEXT_H_INCLUDED
#define CES_OPTIONS_TEXT_H_INCLUDED

//  One row of the option table, as the program of a ces_options_t offers
//  it, and its value in force there
typedef struct {
    const char *name;   //  the key and SET name
    const char *prefix; //  what the flag and the key start with, or ""
    char flag[64];      //  the flag as the program spells it, without "--"
    const char *hint;   //  what the value is, in --help, or NULL
    const char *value;  //  the default, as text, or NULL
    const char *help;   //  one sentence
    const char *alias;  //  another spelling of the flag, or NULL
    const char *env;    //  the environment variable that sets it, or NULL
    bool is_switch;     //  "true" or "false", set by --NAME or --no-NAME
    bool ranged;        //  a number with a range worth showing: min to max
    long min, max;
    bool reload; //  SIGHUP sends it again when its value changed
    //  In force
    const char *shown; //  the value for people ("(hidden)" for a secret
                       //  given, "" none); NULL for a repeatable option
    zlist_t *list;     //  a repeatable option: every value given (strings)
    char source[300];  //  "default", "flag", "env NAME", "file:LINE", or a
                       //  repeatable option's sources
} ces_options_row_t;

//  How many rows the table has (ces_options.c)
size_t ces_options_rows (void);

//  Fills *row with row index of the table (below ces_options_rows) if the
//  program of self offers it; false, *row untouched, if not (ces_options.c)
bool ces_options_row (ces_options_t *self, size_t index,
                      ces_options_row_t *row);

//  --help: a line per option the program offers, wrapped at 79 columns,
//  then the flags that ask rather than set
void ces_options_text_usage (ces_options_t *self, FILE *out);

//  --print-config: "key = value  # source", after a header
void ces_options_text_print (ces_options_t *self, FILE *out);

//  --example-config: every key at its default, commented, with its help
void ces_options_text_example (ces_options_t *self, FILE *out);

//  Self test of this class
void ces_options_text_test (bool verbose);

#endif
