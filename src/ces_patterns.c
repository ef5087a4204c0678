/*  =========================================================================
    ces_patterns - room patterns and what is registered for each
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_patterns_t {
    zhashx_t *items; //  pattern ("ITB-*") -> item
    //  How many patterns have a prefix of each length, and the longest:
    //  a room is looked up at these lengths only
    size_t lengths[CES_ROOM_MAX + 1];
    size_t longest;
    //  The match in progress: the room, and the prefix length looked at
    char room[CES_ROOM_MAX + 1];
    size_t room_size;
    size_t at;
    char key[CES_ROOM_MAX + 2]; //  the pattern of the last match
};

ces_patterns_t *
ces_patterns_new (zhashx_destructor_fn *destructor)
{
    ces_patterns_t *self = (ces_patterns_t *)zmalloc (sizeof (*self));
    assert (self);
    self->items = zhashx_new ();
    assert (self->items);
    if (destructor)
        zhashx_set_destructor (self->items, destructor);
    return self;
}

void
ces_patterns_destroy (ces_patterns_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_patterns_t *self = *self_p;
        zhashx_destroy (&self->items);
        freen (self);
        *self_p = NULL;
    }
}

bool
ces_patterns_is_pattern (const char *name)
{
    assert (name);
    size_t size = strlen (name);
    return size >= 2 && name[size - 1] == '*';
}

const char *
ces_patterns_check (const char *pattern)
{
    assert (pattern && ces_patterns_is_pattern (pattern));
    size_t size = strlen (pattern);
    if (size > CES_ROOM_MAX)
        return "a room pattern is longer than 128 bytes";
    if (memchr (pattern, '*', size - 1))
        return "a room pattern has one \"*\", at its end: \"ITB-*\" is every "
               "room whose ID starts with \"ITB-\"";
    if (ces_frame_check_room (pattern, size - 1) != CES_FRAME_OK)
        return "a room pattern's prefix (before its \"*\") has a space, a "
               "control character or invalid UTF-8";
    return NULL;
}

bool
ces_patterns_match (const char *pattern, const char *room)
{
    assert (pattern && room);
    size_t prefix = strlen (pattern) - 1;
    return strncmp (pattern, room, prefix) == 0;
}

void
ces_patterns_topic (const char *pattern, char *topic)
{
    assert (pattern && topic);
    size_t prefix = strlen (pattern) - 1;
    if (prefix > CES_ROOM_MAX)
        prefix = CES_ROOM_MAX;
    memcpy (topic, pattern, prefix);
    topic[prefix] = 0;
}

int
ces_patterns_insert (ces_patterns_t *self, const char *pattern, void *item)
{
    assert (self && pattern && item);
    assert (ces_patterns_is_pattern (pattern));
    size_t prefix = strlen (pattern) - 1;
    assert (prefix <= CES_ROOM_MAX);
    if (zhashx_insert (self->items, pattern, item))
        return -1;
    self->lengths[prefix]++;
    if (prefix > self->longest)
        self->longest = prefix;
    return 0;
}

void *
ces_patterns_lookup (ces_patterns_t *self, const char *pattern)
{
    assert (self && pattern);
    return zhashx_lookup (self->items, pattern);
}

void
ces_patterns_delete (ces_patterns_t *self, const char *pattern)
{
    assert (self && pattern);
    if (!zhashx_lookup (self->items, pattern))
        return;
    size_t prefix = strlen (pattern) - 1;
    zhashx_delete (self->items, pattern);
    self->lengths[prefix]--;
    while (self->longest && self->lengths[self->longest] == 0)
        self->longest--;
}

void
ces_patterns_purge (ces_patterns_t *self)
{
    assert (self);
    zhashx_purge (self->items);
    memset (self->lengths, 0, sizeof (self->lengths));
    self->longest = 0;
}

size_t
ces_patterns_size (ces_patterns_t *self)
{
    assert (self);
    return zhashx_size (self->items);
}

void *
ces_patterns_next_match (ces_patterns_t *self)
{
    assert (self);
    while (self->at > 0) {
        size_t at = self->at--;
        if (!self->lengths[at])
            continue;
        memcpy (self->key, self->room, at);
        self->key[at] = '*';
        self->key[at + 1] = 0;
        void *item = zhashx_lookup (self->items, self->key);
        if (item)
            return item;
    }
    return NULL;
}

void *
ces_patterns_first_match (ces_patterns_t *self, const char *room)
{
    assert (self && room);
    if (zhashx_size (self->items) == 0)
        return NULL;
    size_t size = strlen (room);
    if (size > CES_ROOM_MAX)
        size = CES_ROOM_MAX; //  checked rooms are not; a prefix still is
    memcpy (self->room, room, size);
    self->room[size] = 0;
    self->room_size = size;
    self->at = size < self->longest ? size : self->longest;
    return ces_patterns_next_match (self);
}

const char *
ces_patterns_cursor (ces_patterns_t *self)
{
    assert (self);
    return self->key;
}

void *
ces_patterns_first (ces_patterns_t *self)
{
    assert (self);
    return zhashx_first (self->items);
}

void *
ces_patterns_next (ces_patterns_t *self)
{
    assert (self);
    return zhashx_next (self->items);
}

const char *
ces_patterns_key (ces_patterns_t *self)
{
    assert (self);
    return (const char *)zhashx_cursor (self->items);
}

//  --------------------------------------------------------------------------
//  Self test

static void
s_test_free (void **item_p)
{
    freen (*item_p);
    *item_p = NULL;
}

void
ces_patterns_test (bool verbose)
{
    printf (" * ces_patterns: ");
    //  @selftest
    assert (ces_patterns_is_pattern ("ITB-*"));
    assert (!ces_patterns_is_pattern ("*"));
    assert (!ces_patterns_is_pattern ("ITB-1101"));
    assert (!ces_patterns_is_pattern ("A*B"));
    assert (ces_patterns_check ("ITB-*") == NULL);
    assert (ces_patterns_check ("I*") == NULL);
    //  Each fault has its own sentence
    const char *stars = ces_patterns_check ("**");
    assert (stars && strstr (stars, "one \"*\""));
    assert (ces_patterns_check ("A*B*") == stars);
    const char *chars = ces_patterns_check ("IT B*");
    assert (chars && chars != stars && strstr (chars, "space"));
    assert (ces_patterns_check ("IT\x01*") == chars);
    assert (ces_patterns_check ("IT\xff*") == chars);
    char long_pattern[CES_ROOM_MAX + 2];
    memset (long_pattern, 'x', CES_ROOM_MAX);
    long_pattern[CES_ROOM_MAX] = '*';
    long_pattern[CES_ROOM_MAX + 1] = 0;
    const char *length = ces_patterns_check (long_pattern);
    assert (length && strstr (length, "128"));
    long_pattern[CES_ROOM_MAX - 1] = '*';
    long_pattern[CES_ROOM_MAX] = 0;
    assert (ces_patterns_check (long_pattern) == NULL);

    assert (ces_patterns_match ("ITB-*", "ITB-1101"));
    assert (ces_patterns_match ("ITB-1101*", "ITB-1101"));
    assert (!ces_patterns_match ("ITB-*", "ITC-1"));
    assert (!ces_patterns_match ("ITB-*", "ITB"));
    char topic[CES_ROOM_MAX + 1];
    ces_patterns_topic ("ITB-*", topic);
    assert (streq (topic, "ITB-"));

    ces_patterns_t *patterns = ces_patterns_new (s_test_free);
    assert (ces_patterns_first_match (patterns, "ITB-1101") == NULL);
    assert (ces_patterns_insert (patterns, "ITB-*", strdup ("building")) == 0);
    assert (ces_patterns_insert (patterns, "I*", strdup ("campus")) == 0);
    assert (ces_patterns_insert (patterns, "ITB-1101*", strdup ("room")) == 0);
    char *again = strdup ("again");
    assert (ces_patterns_insert (patterns, "ITB-*", again) == -1);
    freen (again);
    assert (ces_patterns_size (patterns) == 3);
    assert (streq ((char *)ces_patterns_lookup (patterns, "I*"), "campus"));

    //  Longest first, each once
    char *item = (char *)ces_patterns_first_match (patterns, "ITB-1101");
    assert (item && streq (item, "room"));
    assert (streq (ces_patterns_cursor (patterns), "ITB-1101*"));
    item = (char *)ces_patterns_next_match (patterns);
    assert (item && streq (item, "building"));
    assert (streq (ces_patterns_cursor (patterns), "ITB-*"));
    item = (char *)ces_patterns_next_match (patterns);
    assert (item && streq (item, "campus"));
    assert (ces_patterns_next_match (patterns) == NULL);
    item = (char *)ces_patterns_first_match (patterns, "ITB-2202");
    assert (item && streq (item, "building"));
    assert (ces_patterns_first_match (patterns, "JFSB-1") == NULL);
    assert (ces_patterns_first_match (patterns, "") == NULL);
    //  A pattern matches the room that is its prefix
    ces_patterns_delete (patterns, "ITB-*");
    ces_patterns_delete (patterns, "ITB-*");
    item = (char *)ces_patterns_first_match (patterns, "ITB-1101");
    assert (item && streq (item, "room"));
    assert (streq ((char *)ces_patterns_next_match (patterns), "campus"));
    size_t count = 0;
    for (item = (char *)ces_patterns_first (patterns); item;
         item = (char *)ces_patterns_next (patterns))
        count += ces_patterns_is_pattern (ces_patterns_key (patterns));
    assert (count == 2);
    ces_patterns_delete (patterns, "ITB-1101*");
    ces_patterns_purge (patterns);
    assert (ces_patterns_size (patterns) == 0);
    assert (ces_patterns_first_match (patterns, "ITB-1101") == NULL);
    ces_patterns_destroy (&patterns);
    ces_patterns_destroy (&patterns);
    assert (!patterns);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
