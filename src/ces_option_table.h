/*  =========================================================================
    ces_option_table - the rows behind ces_options: each option's name,
    type, range, default, help, environment variable, the actors that take
    it by SET and the programs that offer it as a flag

    The table is data, kept apart from what reads it (ces_options parses
    flags, the environment and the file against it; ces_options_text writes
    --help from it), so that adding an option is adding a row here. What a
    row means on its own is here too: how its flag is spelled, whether a
    value fits it, what it takes (for error messages).
    =========================================================================
*/
#ifndef CES_OPTION_TABLE_H_INCLUDED
#define CES_OPTION_TABLE_H_INCLUDED

typedef enum {
    CES_OPTION_TEXT,   //  any text; the actor checks what the table cannot
    CES_OPTION_NUMBER, //  a decimal integer from min to max
    CES_OPTION_CHOICE, //  one of the comma-separated words of choices (any
                       //  case)
    CES_OPTION_SWITCH, //  "true" or "false"; the flag sets the other than the
                       //  default:
                       //  --no-NAME when that is "true", --NAME when it is
                       //  "false"
    CES_OPTION_LIST    //  repeatable flag; its environment variable is
                       //  comma-separated
} ces_option_type_t;

typedef struct {
    const char *name;       //  the flag (after "--") and the SET name
    ces_option_type_t type; //
    int actors;             //  CES_OPTIONS_* that take it by SET; 0: the
                            //  program itself reads it
    int programs;           //  CES_PROGRAM_* that offer it as a flag
    const char *hint;       //  what the value is, in --help
    const char *value;      //  the default, as text; NULL: none
    const char *help;       //  one sentence; the default, the range and the
                            //  environment variable are added to it
    long min, max;          //  NUMBER: the range
    const char *choices;    //  CHOICE: the words, comma-separated
    const char *env;        //  environment variable that sets it, or NULL
    const char *prefix;     //  the flag is prefix + name ("repeater-")
    const char *alias;      //  another spelling of the flag, or NULL
    bool sent;              //  the program sends the default when not given
    bool reload;            //  SIGHUP sends it again when its value changed
    bool secret;            //  --print-config and reloads do not show it
} ces_option_t;

//  Rows the table can hold: the size of ces_options' per-row arrays
#define CES_OPTION_TABLE_MAX 80

//  How many rows there are, in --help order
size_t ces_option_table_size (void);

//  Row number row (less than ces_option_table_size)
const ces_option_t *ces_option_table_row (size_t row);

//  The first row of that name that one of actors (CES_OPTIONS_*) takes by
//  SET, or NULL
const ces_option_t *ces_option_table_find (int actors, const char *name);

//  The flag as programs spell it, without "--": prefix + name, or no-NAME
//  for a switch that is on by default
void ces_option_table_flag (const ces_option_t *option, char *flag,
                            size_t size);

//  True when value has the option's type and is in its range
bool ces_option_table_valid (const ces_option_t *option, const char *value);

//  What the option takes, for an error message ("a number from 1 to 9")
void ces_option_table_takes (const ces_option_t *option, char *text,
                             size_t size);

//  The row of one of programs' (CES_PROGRAM_*) --flag, in its canonical
//  spelling or, for a switch, its name; -1 when none
int ces_option_table_of_flag (int programs, const char *flag);

//  The row a key of a --config file names (the flag without "--", a switch
//  by its name, or an alias) among the rows of programs; -1 when none
int ces_option_table_of_key (int programs, const char *key);

//  The key of programs nearest to an unknown key, for "did you mean"; true
//  and the key in closest when one is near enough
bool ces_option_table_closest_key (int programs, const char *key, char *closest,
                                   size_t size);

//  ces_options_check and ces_options_default (include/ces_options.h): an
//  actor's SET against the rows
int ces_option_table_check (int actors, const char *name, const char *value);
const char *ces_option_table_default (int actors, const char *name);

//  Self test of this class
void ces_option_table_test (bool verbose);

#endif
