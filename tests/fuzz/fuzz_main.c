/*  A driver for the fuzz targets when libFuzzer is not there (ctest): runs
    every file of the corpus directories given, then a fixed number of
    deterministic mutations of them, so that the run is the same each time.
    usage: fuzz_X [-n mutations] corpus-dir...  */
#include "ces.h"
#include <dirent.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
    uint8_t *data;
    size_t size;
} input_t;

static uint64_t
s_next (uint64_t *state)
{
    //  xorshift64*: deterministic and good enough to pick mutations
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

static size_t
s_mutate (const input_t *seed, uint8_t *out, size_t capacity, uint64_t *state)
{
    size_t size = seed->size < capacity ? seed->size : capacity;
    memcpy (out, seed->data, size);
    static const uint8_t interesting[] = {'\n', '\r', 0,   0xFF, ' ',
                                          '{',  '}',  '"', '*',  0x7F};
    int edits = 1 + (int)(s_next (state) % 8);
    for (int edit = 0; edit < edits; edit++) {
        size_t at = size ? (size_t)(s_next (state) % size) : 0;
        switch (s_next (state) % 5) {
            case 0: //  flip a bit
                if (size)
                    out[at] ^= (uint8_t)(1 << (s_next (state) % 8));
                break;
            case 1: //  an interesting byte
                if (size)
                    out[at] =
                        interesting[s_next (state) % sizeof (interesting)];
                break;
            case 2: //  cut the end
                size = at;
                break;
            case 3: //  insert a byte
                if (size < capacity) {
                    memmove (out + at + 1, out + at, size - at);
                    out[at] =
                        interesting[s_next (state) % sizeof (interesting)];
                    size++;
                }
                break;
            default: //  repeat a slice
                if (size && size * 2 <= capacity) {
                    memcpy (out + size, out, size);
                    size *= 2;
                }
                break;
        }
    }
    return size;
}

int
main (int argc, char *argv[])
{
    long mutations = 20000;
    zlistx_t *inputs = zlistx_new ();
    for (int arg = 1; arg < argc; arg++) {
        if (streq (argv[arg], "-n") && arg + 1 < argc) {
            mutations = atol (argv[++arg]);
            continue;
        }
        DIR *dir = opendir (argv[arg]);
        if (!dir) {
            fprintf (stderr, "cannot open corpus %s\n", argv[arg]);
            return 1;
        }
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (entry->d_name[0] == '.')
                continue;
            char *path = zsys_sprintf ("%s/%s", argv[arg], entry->d_name);
            zfile_t *file = zfile_new (NULL, path);
            zchunk_t *chunk = file && zfile_input (file) == 0
                                  ? zfile_read (file, zfile_cursize (file), 0)
                                  : NULL;
            if (chunk) {
                input_t *input = (input_t *)zmalloc (sizeof (input_t));
                input->size = zchunk_size (chunk);
                input->data = (uint8_t *)malloc (input->size + 1);
                memcpy (input->data, zchunk_data (chunk), input->size);
                zlistx_add_end (inputs, input);
            }
            zchunk_destroy (&chunk);
            zfile_destroy (&file);
            zstr_free (&path);
        }
        closedir (dir);
    }
    if (zlistx_size (inputs) == 0) {
        fprintf (stderr, "usage: %s [-n mutations] corpus-dir...\n", argv[0]);
        return 1;
    }
    input_t *input = (input_t *)zlistx_first (inputs);
    while (input) {
        LLVMFuzzerTestOneInput (input->data, input->size);
        input = (input_t *)zlistx_next (inputs);
    }
    size_t count = zlistx_size (inputs);
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    uint8_t *buffer = (uint8_t *)malloc (65536);
    for (long i = 0; i < mutations; i++) {
        input = (input_t *)zlistx_first (inputs);
        for (size_t skip = (size_t)(s_next (&state) % count); skip; skip--)
            input = (input_t *)zlistx_next (inputs);
        size_t size = s_mutate (input, buffer, 65536, &state);
        //  An exact-size copy, so that ASan sees reads past the input
        uint8_t *exact = (uint8_t *)malloc (size ? size : 1);
        memcpy (exact, buffer, size);
        LLVMFuzzerTestOneInput (exact, size);
        free (exact);
    }
    printf ("%zu corpus inputs and %ld mutations: no crash\n", count,
            mutations);
    free (buffer);
    input = (input_t *)zlistx_first (inputs);
    while (input) {
        free (input->data);
        free (input);
        input = (input_t *)zlistx_next (inputs);
    }
    zlistx_destroy (&inputs);
    return 0;
}
