/*  =========================================================================
    ces_patterns - room patterns and what is registered for each

    A room pattern is a room ID prefix followed by one '*': "ITB-*" is
    every room whose ID starts with "ITB-" (a building), "ITB-1101" itself
    included in "ITB-1101*". "*" alone is every room, and callers keep it
    apart as before: it is not a pattern here. A room ID that has a '*'
    elsewhere ("A*B") is a room, as it always was.

    A map of patterns to items (a list of clients, counts), found by the
    rooms they match: the edge's room index, the hub's room interest and
    the mesh's interest of each peer hub keep one. Finding the patterns of
    a room costs one hash lookup per distinct prefix length held that fits
    in the room, longest first, and nothing while the map is empty.
    =========================================================================
*/
#ifndef CES_PATTERNS_H_INCLUDED
#define CES_PATTERNS_H_INCLUDED

typedef struct _ces_patterns_t ces_patterns_t;

//  Create an empty map; destructor (may be NULL) destroys its items.
ces_patterns_t *ces_patterns_new (zhashx_destructor_fn *destructor);

//  Destroy the map and its items; idempotent, nulls the caller's pointer.
void ces_patterns_destroy (ces_patterns_t **self_p);

//  Is name a pattern: two bytes or more, the last a '*'?
bool ces_patterns_is_pattern (const char *name);

//  NULL if pattern (a name ces_patterns_is_pattern says is one) is valid:
//  at most 128 bytes, one '*' (its last byte), and a prefix that is a room
//  ID's start (no space, no control character, UTF-8). Else a sentence a
//  person can act on, one per fault.
const char *ces_patterns_check (const char *pattern);

//  Does room start with the prefix of pattern?
bool ces_patterns_match (const char *pattern, const char *room);

//  The topic of a pattern at a hub's XPUB: its prefix, no newline (a
//  ZeroMQ SUB matches topics by prefix). Writes at most CES_ROOM_MAX bytes
//  and a NUL into topic.
void ces_patterns_topic (const char *pattern, char *topic);

//  Add pattern with item; -1 if the map holds it already (nothing done).
int ces_patterns_insert (ces_patterns_t *self, const char *pattern, void *item);

//  The item of pattern, or NULL.
void *ces_patterns_lookup (ces_patterns_t *self, const char *pattern);

//  Remove pattern and destroy its item; nothing if it is not there.
void ces_patterns_delete (ces_patterns_t *self, const char *pattern);

//  Remove every pattern.
void ces_patterns_purge (ces_patterns_t *self);

//  Patterns held.
size_t ces_patterns_size (ces_patterns_t *self);

//  The items of the patterns room matches, longest prefix first: the
//  first, then the next ones, NULL after the last. Do not change the map
//  in between.
void *ces_patterns_first_match (ces_patterns_t *self, const char *room);
void *ces_patterns_next_match (ces_patterns_t *self);

//  The pattern of the item first_match or next_match returned last.
const char *ces_patterns_cursor (ces_patterns_t *self);

//  Every pattern and its item, in no order: first, next, NULL after the
//  last; ces_patterns_key names the pattern of the item last returned.
void *ces_patterns_first (ces_patterns_t *self);
void *ces_patterns_next (ces_patterns_t *self);
const char *ces_patterns_key (ces_patterns_t *self);

void ces_patterns_test (bool verbose);

#endif
