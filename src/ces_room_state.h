/*  =========================================================================
    ces_room_state - one room's state: the latest event per (device, key),
    and when each device was last heard

    A table of the room's devices, each with its keys, and one list of the
    entries by last update. Bounded by max_keys: a new (device, key) in a
    full table evicts the least recently updated one; the devices are
    bounded by the same number, the one heard longest ago that holds no
    key going first. The entries are ces_store_entry's, shared with the
    history (a reference each).

    With disk (NULL: none) a change is written through to the data
    directory under the room's name: a state entry when set or evicted, a
    device when forgotten, and its "last heard" at most once a second.
    =========================================================================
*/
#ifndef CES_ROOM_STATE_H_INCLUDED
#define CES_ROOM_STATE_H_INCLUDED

typedef struct _ces_room_state_t ces_room_state_t;

//  An empty state of at most max_keys (device, key) pairs and devices.
ces_room_state_t *ces_room_state_new (size_t max_keys);

//  Release the entries and free; writes nothing (the data directory keeps
//  what it holds). Idempotent, nulls the caller's pointer.
void ces_room_state_destroy (ces_room_state_t **self_p);

//  The device was heard at time (ms since 1970); it is added when new.
void ces_room_state_heard (ces_room_state_t *self, const char *device,
                           int64_t time, ces_disk_t *disk, const char *room);

//  A device loaded from the data directory, heard at heard.
void ces_room_state_load_device (ces_room_state_t *self, const char *device,
                                 int64_t heard);

//  entry (linked here) is the latest of (device, key); the device is added
//  when new. Returns 1 when a full table evicted a pair for it, else 0.
size_t ces_room_state_set (ces_room_state_t *self, const char *device,
                           const char *key, ces_store_entry_t *entry,
                           ces_disk_t *disk, const char *room);

//  Forget devices over the bound, heard longest ago first, that hold no
//  key. Returns how many.
size_t ces_room_state_bound_devices (ces_room_state_t *self, ces_disk_t *disk,
                                     const char *room);

//  How many (device, key) pairs, and how many devices.
size_t ces_room_state_keys (ces_room_state_t *self);
size_t ces_room_state_devices (ces_room_state_t *self);

//  Give back one event per (device, key), in sequence order: the newest
//  entries within max_bytes of messages. Returns how many.
size_t ces_room_state_visit (ces_room_state_t *self, size_t max_bytes,
                             ces_store_visit_fn *visit, void *arg);

//  Add "state" (the entries in sequence order, each with its device and
//  key) and "devices" (each with heard and silent_ms) to object.
void ces_room_state_json (ces_room_state_t *self, cJSON *object);

//  Self test of this class.
void ces_room_state_test (bool verbose);

#endif
