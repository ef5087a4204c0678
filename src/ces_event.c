/*  =========================================================================
    ces_event - v2 event check
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_event_t {
    cJSON *root;
    const char *error;
    int max_depth;
    char depth_error[64];
};

ces_event_t *
ces_event_new (void)
{
    ces_event_t *self = (ces_event_t *)zmalloc (sizeof (ces_event_t));
    assert (self);
    ces_event_set_max_depth (self, CES_DEPTH_MAX);
    return self;
}

void
ces_event_destroy (ces_event_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_event_t *self = *self_p;
        cJSON_Delete (self->root);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_event_set_max_depth (ces_event_t *self, int max_depth)
{
    assert (self && max_depth >= 1 && max_depth <= CES_DEPTH_LIMIT);
    self->max_depth = max_depth;
    snprintf (self->depth_error, sizeof (self->depth_error),
              "event nests deeper than %d levels", max_depth);
}

int
ces_event_parse (ces_event_t *self, const char *json, size_t size)
{
    assert (self);
    cJSON_Delete (self->root);
    self->root = NULL;
    self->error = NULL;
    //  The scan first: it gives the reasons, and bounds the nesting
    if (ces_event_check (self, json, size))
        return -2;
    self->root = cJSON_ParseWithLength (json, size);
    if (!self->root) {
        self->error = "event is not valid JSON";
        return -2;
    }
    if (!cJSON_IsObject (self->root)) {
        cJSON_Delete (self->root);
        self->root = NULL;
        self->error = "event is JSON but not an object; send {...}";
        return -2;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  A strict JSON (RFC 8259) syntax scan that builds nothing: the hub checks
//  every event, and a cJSON tree would cost more than routing it

typedef struct {
    const unsigned char *at;
    const unsigned char *end;
    int max_depth;
    bool too_deep;
} scan_t;

static void
s_skip_space (scan_t *scan)
{
    while (scan->at < scan->end && (*scan->at == ' ' || *scan->at == '\t' ||
                                    *scan->at == '\n' || *scan->at == '\r'))
        scan->at++;
}

static bool
s_scan_literal (scan_t *scan, const char *word)
{
    size_t size = strlen (word);
    if ((size_t)(scan->end - scan->at) < size || memcmp (scan->at, word, size))
        return false;
    scan->at += size;
    return true;
}

//  Bytes a string may hold as they are: not a quote, a backslash or a
//  control character
// clang-format off
#define PLAIN_16(first) 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char s_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //  0x00
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //  0x10
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, //  0x20: '"'
    PLAIN_16 (0x30), PLAIN_16 (0x40),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, //  0x50: backslash
    PLAIN_16 (0x60), PLAIN_16 (0x70), PLAIN_16 (0x80), PLAIN_16 (0x90),
    PLAIN_16 (0xA0), PLAIN_16 (0xB0), PLAIN_16 (0xC0), PLAIN_16 (0xD0),
    PLAIN_16 (0xE0), PLAIN_16 (0xF0)};
// clang-format on

static bool
s_scan_string (scan_t *scan)
{
    const unsigned char *at = scan->at + 1; //  past the opening quote
    const unsigned char *end = scan->end;
    for (;;) {
        //  Plain text four bytes a turn, then one by one up to what needs
        //  a look
        while (end - at >= 4 && s_plain[at[0]] && s_plain[at[1]] &&
               s_plain[at[2]] && s_plain[at[3]])
            at += 4;
        while (at < end && s_plain[*at])
            at++;
        if (at >= end)
            break;
        unsigned char c = *at++;
        if (c == '"') {
            scan->at = at;
            return true;
        }
        if (c < 0x20 || at >= end)
            break; //  control characters must be escaped
        c = *at++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++, at++)
                if (at >= end || !isxdigit (*at))
                    return false;
        } else if (!strchr ("\"\\/bfnrt", c) || c == 0)
            return false;
    }
    scan->at = at;
    return false;
}

static bool
s_scan_digits (scan_t *scan)
{
    const unsigned char *start = scan->at;
    while (scan->at < scan->end && isdigit (*scan->at))
        scan->at++;
    return scan->at > start;
}

static bool
s_scan_number (scan_t *scan)
{
    if (*scan->at == '-')
        scan->at++;
    if (scan->at < scan->end && *scan->at == '0')
        scan->at++;
    else if (!s_scan_digits (scan))
        return false;
    if (scan->at < scan->end && *scan->at == '.') {
        scan->at++;
        if (!s_scan_digits (scan))
            return false;
    }
    if (scan->at < scan->end && (*scan->at == 'e' || *scan->at == 'E')) {
        scan->at++;
        if (scan->at < scan->end && (*scan->at == '+' || *scan->at == '-'))
            scan->at++;
        if (!s_scan_digits (scan))
            return false;
    }
    return true;
}

static bool s_scan_value (scan_t *scan, int depth);

//  An object or an array: members separated by commas, nothing trailing
static bool
s_scan_container (scan_t *scan, int depth, bool object)
{
    if (depth >= scan->max_depth) {
        scan->too_deep = true;
        return false;
    }
    scan->at++;
    s_skip_space (scan);
    unsigned char close = object ? '}' : ']';
    if (scan->at < scan->end && *scan->at == close) {
        scan->at++;
        return true;
    }
    while (scan->at < scan->end) {
        if (object) {
            if (*scan->at != '"' || !s_scan_string (scan))
                return false;
            s_skip_space (scan);
            if (scan->at >= scan->end || *scan->at++ != ':')
                return false;
        }
        if (!s_scan_value (scan, depth + 1))
            return false;
        s_skip_space (scan);
        if (scan->at >= scan->end)
            return false;
        unsigned char c = *scan->at++;
        if (c == close)
            return true;
        if (c != ',')
            return false;
        s_skip_space (scan);
    }
    return false;
}

static bool
s_scan_value (scan_t *scan, int depth)
{
    s_skip_space (scan);
    if (scan->at >= scan->end)
        return false;
    switch (*scan->at) {
        case '{':
            return s_scan_container (scan, depth, true);
        case '[':
            return s_scan_container (scan, depth, false);
        case '"':
            return s_scan_string (scan);
        case 't':
            return s_scan_literal (scan, "true");
        case 'f':
            return s_scan_literal (scan, "false");
        case 'n':
            return s_scan_literal (scan, "null");
        default:
            return (*scan->at == '-' || isdigit (*scan->at)) &&
                   s_scan_number (scan);
    }
}

int
ces_event_check (ces_event_t *self, const char *json, size_t size)
{
    assert (self);
    self->error = NULL;
    scan_t scan = {(const unsigned char *)json,
                   (const unsigned char *)json + size, self->max_depth, false};
    s_skip_space (&scan);
    if (scan.at >= scan.end) {
        self->error = "event is empty; send one JSON object";
        return -2;
    }
    bool object = *scan.at == '{';
    if (!s_scan_value (&scan, 0)) {
        self->error =
            scan.too_deep ? self->depth_error : "event is not valid JSON";
        return -2;
    }
    s_skip_space (&scan);
    if (scan.at != scan.end) {
        self->error = "event is not valid JSON";
        return -2;
    }
    if (!object) {
        self->error = "event is JSON but not an object; send {...}";
        return -2;
    }
    return 0;
}

const char *
ces_event_affected_room (ces_event_t *self)
{
    assert (self);
    if (!self->root)
        return NULL;
    cJSON *affected =
        cJSON_GetObjectItemCaseSensitive (self->root, "affected-room");
    cJSON *room = cJSON_GetObjectItemCaseSensitive (affected, "roomID");
    return cJSON_IsString (room) ? room->valuestring : NULL;
}

const char *
ces_event_error (ces_event_t *self)
{
    assert (self);
    return self->error ? self->error : "event is well formed";
}

//  --------------------------------------------------------------------------
//  Self test

//  Long strings are passed 4 bytes a turn: what needs a look is found at
//  every offset, and the end of the input is respected
static void
s_test_strings (ces_event_t *event)
{
    for (size_t at = 0; at < 23; at++) {
        char text[40] = "{\"s\":\"";
        memset (text + 6, 'x', 24);
        strcpy (text + 30, "\"}");
        assert (ces_event_check (event, text, strlen (text)) == 0);
        text[6 + at] = '\x1f';
        assert (ces_event_check (event, text, strlen (text)) == -2);
        text[6 + at] = '"';
        assert (ces_event_check (event, text, strlen (text)) == -2);
        text[6 + at] = '\\';
        text[7 + at] = 'n';
        assert (ces_event_check (event, text, strlen (text)) == 0);
        text[6 + at] = '\xc3';
        text[7 + at] = '\xa9';
        assert (ces_event_check (event, text, strlen (text)) == 0);
        //  Cut before its closing quote, a string is not read past the end
        assert (ces_event_check (event, text, 6 + at) == -2);
    }
}

void
ces_event_test (bool verbose)
{
    printf (" * ces_event: ");
    //  @selftest
    ces_event_t *event = ces_event_new ();
    const char *good =
        "{\"generating-system\":\"ITB-1101-CP1\","
        "\"affected-room\":{\"buildingID\":\"ITB\",\"roomID\":\"ITB-1101\"},"
        "\"key\":\"power\",\"value\":\"on\",\"event-tags\":null}\n";
    assert (ces_event_parse (event, good, strlen (good)) == 0);
    assert (streq (ces_event_affected_room (event), "ITB-1101"));

    assert (ces_event_parse (event, "{}", 2) == 0);
    assert (ces_event_affected_room (event) == NULL);
    const char *numeric = "{\"affected-room\":{\"roomID\":7}}";
    assert (ces_event_parse (event, numeric, strlen (numeric)) == 0);
    assert (ces_event_affected_room (event) == NULL);

    assert (ces_event_parse (event, "{\"a\":", 5) == -2);
    assert (strstr (ces_event_error (event), "not valid JSON"));
    assert (ces_event_affected_room (event) == NULL);
    assert (ces_event_parse (event, "[1,2]", 5) == -2);
    assert (strstr (ces_event_error (event), "not an object"));
    assert (ces_event_parse (event, "", 0) == -2);
    //  Length is respected: the bytes after size are not read
    assert (ces_event_parse (event, "{}garbage", 2) == 0);

    //  The scan agrees with the parser, without building anything
    const char *valid[] = {"{}", " {\"a\":[1,-2.5e+3,true,false,null]} ",
                           "{\"s\":\"\\u00e9\\n\\\"\"}", good};
    for (size_t i = 0; i < sizeof (valid) / sizeof (valid[0]); i++)
        assert (ces_event_check (event, valid[i], strlen (valid[i])) == 0);
    const char *invalid[] = {"",           "[1]",         "{\"a\":}",
                             "{\"a\":1,}", "{\"a\" 1}",   "{a:1}",
                             "{\"a\":01}", "{\"a\":1.}",  "{\"a\":\"\t\"}",
                             "{} {}",      "{\"a\":tru}", "{\"a\":\"\\x\"}"};
    for (size_t i = 0; i < sizeof (invalid) / sizeof (invalid[0]); i++)
        assert (ces_event_check (event, invalid[i], strlen (invalid[i])) == -2);
    assert (strstr (ces_event_error (event), "not valid JSON"));
    s_test_strings (event);
    assert (ces_event_check (event, "[1]", 3) == -2);
    assert (strstr (ces_event_error (event), "not an object"));
    //  Nesting: 64 levels by default, configurable, refused with a reason
    char deep[200];
    for (int levels = 64; levels <= 65; levels++) {
        int at = snprintf (deep, sizeof deep, "{\"a\":");
        memset (deep + at, '[', levels - 1);
        memset (deep + at + levels - 1, ']', levels - 1);
        strcpy (deep + at + 2 * (levels - 1), "}");
        int rc = ces_event_check (event, deep, strlen (deep));
        assert (rc == (levels == 64 ? 0 : -2));
        assert (ces_event_parse (event, deep, strlen (deep)) == rc);
    }
    assert (
        streq (ces_event_error (event), "event nests deeper than 64 levels"));
    ces_event_set_max_depth (event, 3);
    assert (ces_event_check (event, "{\"a\":[[1]]}", 11) == 0);
    assert (ces_event_check (event, "{\"a\":[[[1]]]}", 13) == -2);
    assert (
        streq (ces_event_error (event), "event nests deeper than 3 levels"));

    ces_event_destroy (&event);
    ces_event_destroy (&event);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
