/*  =========================================================================
    ces_config - a program's configuration file, read with inih (Debian
    libinih): one "key = value" a line, the keys being the program's flag
    names (ces_options applies and checks them)

    The format, as an operator in /etc sees it:
        # a comment line (also ; ...)
        max-clients = 5000       # a comment after a space (also ; ...)
        allowed-origins = https://a.example,https://b.example
        peer = 10.0.0.2:7200     # a repeatable key: several lines, or
        peer = 10.0.0.3:7200,10.0.0.4:7200   # comma-separated items
    Leading blanks are ignored (no continuation lines), there are no
    [sections], a key given twice is an error (but for repeatable ones,
    which ces_options knows), and a line may hold at most
    CES_CONFIG_LINE_MAX characters once its comment is cut. An empty value
    ("key =") leaves the key unset.

        char error[256];
        ces_config_t *config = ces_config_read ("/etc/ces/ces.conf", error,
                                                sizeof error);
        //  NULL: "FILE: why" (cannot open) or "FILE:LINE: why"
        for (size_t i = 0; i < ces_config_size (config); i++)
            printf ("%s:%d %s=%s\n", ces_config_path (config),
                    ces_config_line (config, i), ces_config_key (config, i),
                    ces_config_value (config, i));
        ces_config_destroy (&config);
    =========================================================================
*/
#ifndef CES_CONFIG_H_INCLUDED
#define CES_CONFIG_H_INCLUDED

//  inih reads lines into a buffer of 200 bytes (INI_MAX_LINE)
#define CES_CONFIG_LINE_MAX 198

typedef struct _ces_config_t ces_config_t;

//  Reads the file; NULL with the reason ("PATH: ..." or "PATH:LINE: ...")
//  in error. Caller owns return value and must destroy it when done.
ces_config_t *ces_config_read (const char *path, char *error, size_t size);
void ces_config_destroy (ces_config_t **self_p);

//  The path it was read from (borrowed)
const char *ces_config_path (ces_config_t *self);

//  The "key = value" lines, in file order: key, value (borrowed), line
size_t ces_config_size (ces_config_t *self);
const char *ces_config_key (ces_config_t *self, size_t index);
const char *ces_config_value (ces_config_t *self, size_t index);
int ces_config_line (ces_config_t *self, size_t index);

//  The word of words (NULL-terminated) closest to word by edit distance,
//  when at most 3 edits away ("did you mean"); NULL otherwise. Borrowed.
const char *ces_config_closest (const char *word, const char *const *words);

//  Writes text as "# " comment lines wrapped at 79 columns
void ces_config_comment (FILE *out, const char *text);

void ces_config_test (bool verbose);

#endif
