/*  =========================================================================
    ces_event - v2 event check
    =========================================================================
*/
#include "ces_classes.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

//  Past the plain bytes from at: sixteen a turn where the CPU compares
//  sixteen at once (an event is mostly string bytes: this is the hub's
//  and the edge's busiest loop), then one by one
static const unsigned char *
s_skip_plain (const unsigned char *at, const unsigned char *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8 ('"');
    const __m128i backslash = _mm_set1_epi8 ('\\');
    const __m128i highest_control = _mm_set1_epi8 (0x1F);
    while (end - at >= 16) {
        __m128i bytes = _mm_loadu_si128 ((const __m128i *)at);
        //  Control characters: below 0x20 as unsigned bytes, i.e. equal
        //  to their minimum with 0x1F
        __m128i control =
            _mm_cmpeq_epi8 (_mm_min_epu8 (bytes, highest_control), bytes);
        __m128i special =
            _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (bytes, quote),
                                        _mm_cmpeq_epi8 (bytes, backslash)),
                          control);
        int mask = _mm_movemask_epi8 (special);
        if (mask)
            return at + __builtin_ctz ((unsigned)mask);
        at += 16;
    }
#endif
    while (end - at >= 4 && s_plain[at[0]] && s_plain[at[1]] &&
           s_plain[at[2]] && s_plain[at[3]])
        at += 4;
    while (at < end && s_plain[*at])
        at++;
    return at;
}

static bool
s_scan_string (scan_t *scan)
{
    const unsigned char *at = scan->at + 1; //  past the opening quote
    const unsigned char *end = scan->end;
    for (;;) {
        at = s_skip_plain (at, end);
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

//  --------------------------------------------------------------------------
//  The state address: top-level "key" and "target-device"."deviceID"

//  A member name or value string just scanned, from start (its opening
//  quote) to scan->at (past its closing quote), into out: as it is when it
//  has no escape, decoded by cJSON when it has one. False when it is empty,
//  too long, or holds a NUL (a C string could not say it).
static bool
s_copy_string (const unsigned char *start, const unsigned char *end, char *out)
{
    size_t size = (size_t)(end - start) - 2;
    if (size == 0 || size > CES_EVENT_ADDRESS_MAX)
        return false;
    if (!memchr (start + 1, '\\', size)) {
        memcpy (out, start + 1, size);
        out[size] = 0;
        return true;
    }
    if (memmem (start + 1, size, "\\u0000", 6))
        return false;
    cJSON *decoded = cJSON_ParseWithLength ((const char *)start, size + 2);
    const char *text = cJSON_GetStringValue (decoded);
    bool copied = text && *text && strlen (text) <= CES_EVENT_ADDRESS_MAX;
    if (copied)
        strcpy (out, text);
    cJSON_Delete (decoded);
    return copied;
}

static bool
s_name_is (const unsigned char *start, const unsigned char *end,
           const char *name)
{
    size_t size = strlen (name);
    return (size_t)(end - start) == size + 2 &&
           memcmp (start + 1, name, size) == 0;
}

//  An object whose members are scanned, and whose string member wanted
//  (if any) is copied into out; object_wanted names a member object to
//  walk the same way for its member inner_wanted
static bool
s_scan_members (scan_t *scan, int depth, const char *wanted, char *out,
                const char *object_wanted, const char *inner_wanted,
                char *inner_out)
{
    if (depth >= scan->max_depth) {
        scan->too_deep = true;
        return false;
    }
    scan->at++;
    s_skip_space (scan);
    if (scan->at < scan->end && *scan->at == '}') {
        scan->at++;
        return true;
    }
    while (scan->at < scan->end) {
        const unsigned char *name = scan->at;
        if (*scan->at != '"' || !s_scan_string (scan))
            return false;
        const unsigned char *name_end = scan->at;
        s_skip_space (scan);
        if (scan->at >= scan->end || *scan->at++ != ':')
            return false;
        s_skip_space (scan);
        const unsigned char *value = scan->at;
        bool scanned;
        if (object_wanted && value < scan->end && *value == '{' &&
            s_name_is (name, name_end, object_wanted))
            scanned = s_scan_members (scan, depth + 1, inner_wanted, inner_out,
                                      NULL, NULL, NULL);
        else
            scanned = s_scan_value (scan, depth + 1);
        if (!scanned)
            return false;
        if (wanted && *value == '"' && s_name_is (name, name_end, wanted) &&
            !s_copy_string (value, scan->at, out))
            *out = 0;
        s_skip_space (scan);
        if (scan->at >= scan->end)
            return false;
        unsigned char c = *scan->at++;
        if (c == '}')
            return true;
        if (c != ',')
            return false;
        s_skip_space (scan);
    }
    return false;
}

int
ces_event_address (ces_event_t *self, const char *json, size_t size,
                   char *device, char *key)
{
    assert (self && device && key);
    *device = *key = 0;
    scan_t scan = {(const unsigned char *)json,
                   (const unsigned char *)json + size, self->max_depth, false};
    s_skip_space (&scan);
    bool scanned = scan.at < scan.end && *scan.at == '{' &&
                   s_scan_members (&scan, 0, "key", key, "target-device",
                                   "deviceID", device);
    if (scanned)
        s_skip_space (&scan);
    if (!scanned || scan.at != scan.end) {
        *device = *key = 0;
        //  The reasons are ces_event_check's: a bad event costs twice
        if (ces_event_check (self, json, size) == 0)
            self->error = "event is not valid JSON";
        return -2;
    }
    self->error = NULL;
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

    //  A long string with a byte that needs a look at every offset (the
    //  scan takes sixteen plain bytes at once): control characters, escapes
    //  good and bad, a quote that ends it early; DEL and UTF-8 are plain
    struct {
        const char *bytes;
        int verdict;
    } specials[] = {{"\x01", -2}, {"\x1f", -2},   {"\\n", 0},
                    {"\\q", -2},  {"\\u00e9", 0}, {"\\u00g9", -2},
                    {"\"", -2},   {"\x7f", 0},    {"\xc3\xa9", 0}};
    for (size_t kind = 0; kind < sizeof specials / sizeof *specials; kind++)
        for (int offset = 0; offset < 40; offset++) {
            char text[128];
            int size =
                snprintf (text, sizeof text, "{\"a\":\"%.*s%s%.*s\"}", offset,
                          "0123456789012345678901234567890123456789",
                          specials[kind].bytes, 40 - offset,
                          "abcdefghijabcdefghijabcdefghijabcdefghij");
            assert (ces_event_check (event, text, (size_t)size) ==
                    specials[kind].verdict);
        }
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

    //  The state address, found in the same strict scan
    ces_event_set_max_depth (event, CES_DEPTH_MAX);
    char device[CES_EVENT_ADDRESS_MAX + 1], key[CES_EVENT_ADDRESS_MAX + 1];
    const char *addressed =
        "{\"target-device\":{\"roomID\":\"R\",\"deviceID\":\"R-D1\"},"
        "\"data\":{\"key\":\"no\"},\"key\":\"pow\\u0065r\",\"value\":1}";
    assert (ces_event_address (event, addressed, strlen (addressed), device,
                               key) == 0);
    assert (streq (device, "R-D1") && streq (key, "power"));
    assert (ces_event_address (event, good, strlen (good), device, key) == 0);
    assert (*device == 0 && streq (key, "power")); //  no target-device
    const char *unaddressed[] = {
        "{\"target-device\":{\"deviceID\":7},\"key\":\"k\"}",
        "{\"target-device\":{\"deviceID\":\"\"},\"key\":\"k\"}",
        "{\"target-device\":{\"deviceID\":\"d\\u0000\"},\"key\":\"k\"}",
        "{\"deviceID\":\"d\",\"key\":\"k\"}"};
    for (size_t i = 0; i < sizeof (unaddressed) / sizeof (unaddressed[0]);
         i++) {
        assert (ces_event_address (event, unaddressed[i],
                                   strlen (unaddressed[i]), device, key) == 0);
        assert (*device == 0 && streq (key, "k"));
    }
    for (size_t i = 0; i < sizeof (invalid) / sizeof (invalid[0]); i++)
        assert (ces_event_address (event, invalid[i], strlen (invalid[i]),
                                   device, key) == -2);
    assert (ces_event_address (event, "[1]", 3, device, key) == -2);
    assert (strstr (ces_event_error (event), "not an object"));

    ces_event_destroy (&event);
    ces_event_destroy (&event);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
