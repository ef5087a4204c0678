/*  =========================================================================
    ces_room_state - one room's state: the latest event per (device, key),
    and when each device was last heard
    =========================================================================
*/
#include "ces_classes.h"

//  The latest event for one (device, key) of a room
typedef struct _state_t {
    struct _state_t *older, *newer; //  the room's state, by last update
    struct _device_t *device;
    ces_store_entry_t *entry;
    char key[];
} state_t;

typedef struct _device_t {
    zhashx_t *keys;     //  key -> state_t
    int64_t heard;      //  ms since 1970
    int64_t heard_disk; //  what the data directory holds
    char name[];
} device_t;

struct _ces_room_state_t {
    size_t max_keys;
    zhashx_t *devices; //  device -> device_t
    state_t *oldest, *newest;
    size_t keys;
};

static void
s_device_free (void **item_p)
{
    device_t *device = (device_t *)*item_p;
    zhashx_destroy (&device->keys);
    free (device);
    *item_p = NULL;
}

ces_room_state_t *
ces_room_state_new (size_t max_keys)
{
    ces_room_state_t *self =
        (ces_room_state_t *)zmalloc (sizeof (ces_room_state_t));
    assert (self);
    self->max_keys = max_keys;
    self->devices = zhashx_new ();
    assert (self->devices);
    zhashx_set_destructor (self->devices, s_device_free);
    return self;
}

static device_t *
s_device_require (ces_room_state_t *self, const char *name)
{
    device_t *device = (device_t *)zhashx_lookup (self->devices, name);
    if (!device) {
        device = (device_t *)zmalloc (sizeof (device_t) + strlen (name) + 1);
        assert (device);
        strcpy (device->name, name);
        device->keys = zhashx_new ();
        assert (device->keys);
        zhashx_insert (self->devices, name, device);
    }
    return device;
}

static void
s_unlink (ces_room_state_t *self, state_t *state)
{
    if (state->older)
        state->older->newer = state->newer;
    else
        self->oldest = state->newer;
    if (state->newer)
        state->newer->older = state->older;
    else
        self->newest = state->older;
    state->older = state->newer = NULL;
}

static void
s_link_newest (ces_room_state_t *self, state_t *state)
{
    state->older = self->newest;
    if (self->newest)
        self->newest->newer = state;
    else
        self->oldest = state;
    self->newest = state;
}

//  Forgets a state entry (its device stays, with its time)
static void
s_remove (ces_room_state_t *self, state_t *state, ces_disk_t *disk,
          const char *room)
{
    s_unlink (self, state);
    if (disk)
        ces_disk_delete_state (disk, room, state->device->name, state->key);
    zhashx_delete (state->device->keys, state->key);
    ces_store_entry_release (state->entry);
    free (state);
    self->keys--;
}

void
ces_room_state_destroy (ces_room_state_t **self_p)
{
    assert (self_p);
    ces_room_state_t *self = *self_p;
    if (self) {
        while (self->oldest)
            s_remove (self, self->oldest, NULL, NULL);
        zhashx_destroy (&self->devices);
        free (self);
        *self_p = NULL;
    }
}

void
ces_room_state_heard (ces_room_state_t *self, const char *name, int64_t time,
                      ces_disk_t *disk, const char *room)
{
    assert (self && name);
    device_t *device = s_device_require (self, name);
    device->heard = time;
    //  Written at most once a second: "last heard" is not worth more
    if (disk && time - device->heard_disk >= 1000) {
        device->heard_disk = time;
        ces_disk_put_device (disk, room, device->name, time);
    }
}

void
ces_room_state_load_device (ces_room_state_t *self, const char *name,
                            int64_t heard)
{
    assert (self && name);
    device_t *device = s_device_require (self, name);
    device->heard = device->heard_disk = heard;
}

size_t
ces_room_state_set (ces_room_state_t *self, const char *name, const char *key,
                    ces_store_entry_t *entry, ces_disk_t *disk,
                    const char *room)
{
    assert (self && name && key && entry);
    device_t *device = s_device_require (self, name);
    size_t evicted = 0;
    state_t *state = (state_t *)zhashx_lookup (device->keys, key);
    if (state) {
        s_unlink (self, state);
        ces_store_entry_release (state->entry);
    } else {
        if (self->keys >= self->max_keys) {
            state_t *oldest = self->oldest;
            if (oldest->device == device && streq (oldest->key, key))
                return 0; //  cannot happen: it would have been found
            s_remove (self, oldest, disk, room);
            evicted = 1;
        }
        state = (state_t *)zmalloc (sizeof (state_t) + strlen (key) + 1);
        assert (state);
        strcpy (state->key, key);
        state->device = device;
        zhashx_insert (device->keys, key, state);
        self->keys++;
    }
    state->entry = entry;
    ces_store_entry_link (entry);
    s_link_newest (self, state);
    if (disk)
        ces_disk_put_state (disk, room, device->name, key, entry->seq,
                            entry->time, entry->message, entry->size);
    return evicted;
}

//  Devices are bounded like keys: the one heard longest ago goes
size_t
ces_room_state_bound_devices (ces_room_state_t *self, ces_disk_t *disk,
                              const char *room)
{
    assert (self);
    size_t evicted = 0;
    while (zhashx_size (self->devices) > self->max_keys) {
        device_t *oldest = NULL;
        for (device_t *device = (device_t *)zhashx_first (self->devices);
             device; device = (device_t *)zhashx_next (self->devices))
            if (zhashx_size (device->keys) == 0 &&
                (!oldest || device->heard < oldest->heard))
                oldest = device;
        if (!oldest)
            break; //  every device holds a key: the key bound holds them
        if (disk)
            ces_disk_delete_device (disk, room, oldest->name);
        char *name = strdup (oldest->name);
        zhashx_delete (self->devices, name);
        freen (name);
        evicted++;
    }
    return evicted;
}

size_t
ces_room_state_keys (ces_room_state_t *self)
{
    assert (self);
    return self->keys;
}

size_t
ces_room_state_devices (ces_room_state_t *self)
{
    assert (self);
    return zhashx_size (self->devices);
}

static int
s_compare_seq (const void *a, const void *b)
{
    uint64_t x = (*(state_t *const *)a)->entry->seq;
    uint64_t y = (*(state_t *const *)b)->entry->seq;
    return x < y ? -1 : x > y;
}

//  The entries in sequence order (caller frees), or NULL
static state_t **
s_sorted (ces_room_state_t *self)
{
    if (!self->keys)
        return NULL;
    state_t **sorted = (state_t **)malloc (self->keys * sizeof (state_t *));
    assert (sorted);
    size_t count = 0;
    for (state_t *state = self->oldest; state; state = state->newer)
        sorted[count++] = state;
    qsort (sorted, count, sizeof (state_t *), s_compare_seq);
    return sorted;
}

size_t
ces_room_state_visit (ces_room_state_t *self, size_t max_bytes,
                      ces_store_visit_fn *visit, void *arg)
{
    assert (self && visit);
    state_t **sorted = s_sorted (self);
    //  At most max_bytes: the newest entries that fit
    size_t first = self->keys, bytes = 0;
    while (first > 0 && bytes + sorted[first - 1]->entry->size <= max_bytes)
        bytes += sorted[--first]->entry->size;
    for (size_t index = first; index < self->keys; index++)
        visit (arg, sorted[index]->entry->seq, sorted[index]->entry->message,
               sorted[index]->entry->size);
    free (sorted);
    return self->keys - first;
}

void
ces_room_state_json (ces_room_state_t *self, cJSON *object)
{
    assert (self && object);
    cJSON *events = cJSON_AddArrayToObject (object, "state");
    state_t **sorted = s_sorted (self);
    for (size_t index = 0; index < self->keys; index++) {
        cJSON *item = ces_store_entry_json (sorted[index]->entry);
        cJSON_AddStringToObject (item, "device", sorted[index]->device->name);
        cJSON_AddStringToObject (item, "key", sorted[index]->key);
        cJSON_AddItemToArray (events, item);
    }
    free (sorted);
    cJSON *devices = cJSON_AddArrayToObject (object, "devices");
    int64_t now = zclock_time ();
    for (device_t *device = (device_t *)zhashx_first (self->devices); device;
         device = (device_t *)zhashx_next (self->devices)) {
        cJSON *item = cJSON_CreateObject ();
        cJSON_AddStringToObject (item, "device", device->name);
        cJSON_AddNumberToObject (item, "heard", (double)device->heard);
        cJSON_AddNumberToObject (item, "silent_ms",
                                 (double)(now - device->heard));
        cJSON_AddItemToArray (devices, item);
    }
}

//  --------------------------------------------------------------------------
//  Self test

typedef struct {
    uint64_t seqs[8];
    size_t count;
} visited_t;

static void
s_test_visit (void *arg, uint64_t seq, const byte *message, size_t size)
{
    visited_t *visited = (visited_t *)arg;
    assert (message && size > 0);
    assert (visited->count < 8);
    visited->seqs[visited->count++] = seq;
}

//  An entry of seq, set as (device, key); returns whether it evicted
static size_t
s_test_set (ces_room_state_t *state, const char *device, const char *key,
            uint64_t seq)
{
    ces_store_entry_t *entry =
        ces_store_entry_new (NULL, seq, (int64_t)seq, (const byte *)"R\n{}", 4);
    ces_store_entry_link (entry); //  the caller's, as the store holds one
    ces_room_state_heard (state, device, (int64_t)seq, NULL, NULL);
    size_t evicted = ces_room_state_set (state, device, key, entry, NULL, NULL);
    ces_store_entry_release (entry);
    return evicted;
}

void
ces_room_state_test (bool verbose)
{
    printf (" * ces_room_state: ");
    //  @selftest
    //  The latest per (device, key), given back in sequence order
    ces_room_state_t *state = ces_room_state_new (3);
    assert (s_test_set (state, "D1", "power", 1) == 0);
    assert (s_test_set (state, "D1", "power", 2) == 0);
    assert (s_test_set (state, "D2", "volume", 3) == 0);
    assert (ces_room_state_keys (state) == 2);
    visited_t visited = {{0}, 0};
    assert (ces_room_state_visit (state, 1 << 20, s_test_visit, &visited) == 2);
    assert (visited.seqs[0] == 2 && visited.seqs[1] == 3);

    //  Full: a new pair evicts the least recently updated one
    assert (s_test_set (state, "D3", "level", 4) == 0);
    assert (s_test_set (state, "D1", "power", 5) == 0); //  updated: D2 oldest
    assert (s_test_set (state, "D4", "mute", 6) == 1);
    visited.count = 0;
    assert (ces_room_state_visit (state, 1 << 20, s_test_visit, &visited) == 3);
    assert (visited.seqs[0] == 4 && visited.seqs[1] == 5 &&
            visited.seqs[2] == 6);

    //  Within max_bytes: the newest that fit
    visited.count = 0;
    assert (ces_room_state_visit (state, 9, s_test_visit, &visited) == 2);
    assert (visited.seqs[0] == 5 && visited.seqs[1] == 6);

    //  Devices: bounded too, the one heard longest ago with no key goes
    assert (ces_room_state_devices (state) == 4); //  D2 kept, with no key
    assert (ces_room_state_bound_devices (state, NULL, NULL) == 1);
    assert (ces_room_state_devices (state) == 3);
    ces_room_state_heard (state, "D9", 7, NULL, NULL);
    ces_room_state_load_device (state, "D8", 8);
    //  ... but not a device that holds a key
    assert (ces_room_state_bound_devices (state, NULL, NULL) == 2);
    assert (ces_room_state_devices (state) == 3);

    //  As JSON
    cJSON *object = cJSON_CreateObject ();
    ces_room_state_json (state, object);
    cJSON *entries = cJSON_GetObjectItem (object, "state");
    assert (cJSON_GetArraySize (entries) == 3);
    cJSON *first = cJSON_GetArrayItem (entries, 0);
    assert (streq (cJSON_GetStringValue (cJSON_GetObjectItem (first, "device")),
                   "D3"));
    assert (streq (cJSON_GetStringValue (cJSON_GetObjectItem (first, "key")),
                   "level"));
    assert (cJSON_GetArraySize (cJSON_GetObjectItem (object, "devices")) == 3);
    cJSON_Delete (object);

    ces_room_state_destroy (&state);
    assert (state == NULL);
    ces_room_state_destroy (&state); //  idempotent
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
