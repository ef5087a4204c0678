/*  =========================================================================
    ces-keygen - writes a CURVE certificate for a hub, edge, repeater or
    embedded messenger: NAME.key (public, to hand out) and NAME.key_secret
    (both keys, private to the process that uses it).
    =========================================================================
*/
#include "ces.h"
#include <getopt.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: ces-keygen [--dir DIR] [--force] NAME\n"
             "\n"
             "Writes a CURVE certificate pair for the hub's ZeroMQ links:\n"
             "  DIR/NAME.key         the public certificate: copy it into a\n"
             "                       hub's --curve-clients directory, or give\n"
             "                       a hub's to its clients as --hub-key\n"
             "  DIR/NAME.key_secret  both keys, readable by you only: the\n"
             "                       --curve-cert of the process it names\n"
             "\n"
             "  --dir DIR   where to write (default: the current directory)\n"
             "  --force     replace an existing pair\n"
             "  --help      this text\n"
             "  --version   print the version and exit\n");
}

int
main (int argc, char *argv[])
{
    const char *dir = ".";
    bool force = false;
    static const struct option options[] = {
        {"dir", required_argument, NULL, 'd'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    int option;
    while ((option = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        if (option == 'd')
            dir = optarg;
        else if (option == 'f')
            force = true;
        else if (option == 'h') {
            s_usage (stdout);
            return 0;
        } else if (option == 'V') {
            printf ("ces-keygen (ces) %d.%d.%d\n", CES_VERSION_MAJOR,
                    CES_VERSION_MINOR, CES_VERSION_PATCH);
            return 0;
        } else {
            fprintf (stderr, "ces-keygen: try --help\n");
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf (stderr, "ces-keygen: give one NAME; try --help\n");
        return 2;
    }
    const char *name = argv[optind];
    if (!*name || strchr (name, '/')) {
        fprintf (stderr, "ces-keygen: NAME is a file name, not a path: use "
                         "--dir\n");
        return 2;
    }
    char *path = zsys_sprintf ("%s/%s.key", dir, name);
    char *secret_path = zsys_sprintf ("%s_secret", path);
    int exit_code = 0;
    char reason[256];
    if (!force && (zsys_file_exists (path) || zsys_file_exists (secret_path))) {
        fprintf (stderr,
                 "ces-keygen: %s exists; --force replaces it (and every "
                 "process using it must get the new one)\n",
                 path);
        exit_code = 1;
    } else if (ces_curve_generate (path, name, reason, sizeof (reason))) {
        fprintf (stderr, "ces-keygen: %s\n", reason);
        exit_code = 1;
    } else {
        ces_curve_t *keys =
            ces_curve_new (secret_path, NULL, reason, sizeof (reason));
        assert (keys);
        printf ("public key: %s\n"
                "public certificate: %s\n"
                "secret certificate: %s (mode 600)\n",
                ces_curve_public_key (keys), path, secret_path);
        ces_curve_destroy (&keys);
    }
    zstr_free (&path);
    zstr_free (&secret_path);
    return exit_code;
}
