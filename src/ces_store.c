/*  =========================================================================
    ces_store - what the hub remembers of each room: stream, history, state

    Each room's stream is here: its epoch and sequence, and its history (a
    ring per room, one arrival list across rooms for the byte and age
    bounds). Its state is a ces_room_state; the events kept are
    ces_store_entry's, shared by the two.
    =========================================================================
*/
#include "ces_classes.h"
#include <sys/random.h>

typedef struct _stream_t stream_t;

//  One event as the store keeps it: in its room's history, its state, or
//  both (a reference each)
typedef ces_store_entry_t entry_t;

struct _stream_t {
    ces_store_t *store;
    char name[CES_ROOM_MAX + 1];
    uint64_t epoch;
    uint64_t seq;
    //  History: a ring of the room's last events, seq first .. seq
    entry_t **ring;
    size_t ring_size; //  a power of two
    size_t ring_head; //  where the oldest is
    size_t ring_count;
    ces_room_state_t *state; //  per (device, key), and devices heard
    bool dirty;              //  seq changed since the last commit
    stream_t *next_dirty;
};

typedef struct {
    uint64_t appended;
    uint64_t evicted_count;
    uint64_t evicted_age;
    uint64_t evicted_bytes;
    uint64_t state_evicted;
    uint64_t devices_evicted;
    uint64_t recovered;
    uint64_t refused;
    uint64_t state_served;
    uint64_t commit_failures;
    uint64_t rooms;
    uint64_t history_events;
    uint64_t history_bytes;
    uint64_t state_keys;
} counters_t;

struct _ces_store_t {
    ces_store_limits_t limits;
    zhashx_t *streams;        //  room -> stream_t
    entry_t *oldest, *newest; //  all rooms' history
    stream_t *dirty;          //  streams to write at commit
    ces_disk_t *disk;         //  NULL without a data directory
    char *data_dir;
    counters_t counters;
};

//  --------------------------------------------------------------------------
//  Epochs

static uint64_t
s_new_epoch (void)
{
    uint64_t epoch = 0;
    while (epoch == 0)
        if (getrandom (&epoch, sizeof epoch, 0) != (ssize_t)sizeof epoch)
            epoch = (uint64_t)zclock_usecs () * 0x9E3779B97F4A7C15ULL;
    return epoch;
}

//  --------------------------------------------------------------------------
//  History

static entry_t *
s_history_at (stream_t *stream, size_t index)
{
    return stream->ring[(stream->ring_head + index) & (stream->ring_size - 1)];
}

static uint64_t
s_history_first (stream_t *stream)
{
    return stream->ring_count ? s_history_at (stream, 0)->seq : 0;
}

//  Drops the room's oldest history event; why counts where it is seen
static void
s_history_drop_oldest (stream_t *stream, uint64_t *why)
{
    ces_store_t *store = stream->store;
    entry_t *entry = s_history_at (stream, 0);
    stream->ring_head = (stream->ring_head + 1) & (stream->ring_size - 1);
    stream->ring_count--;
    if (entry->older)
        entry->older->newer = entry->newer;
    else
        store->oldest = entry->newer;
    if (entry->newer)
        entry->newer->older = entry->older;
    else
        store->newest = entry->older;
    entry->in_history = false;
    store->counters.history_events--;
    store->counters.history_bytes -= entry->size;
    (*why)++;
    if (store->disk)
        ces_disk_delete_event (store->disk, stream->name, entry->seq);
    ces_store_entry_release (entry);
}

static void
s_history_grow (stream_t *stream)
{
    size_t size = stream->ring_size ? stream->ring_size * 2 : 8;
    entry_t **ring = (entry_t **)malloc (size * sizeof (entry_t *));
    assert (ring);
    for (size_t index = 0; index < stream->ring_count; index++)
        ring[index] = s_history_at (stream, index);
    free (stream->ring);
    stream->ring = ring;
    stream->ring_size = size;
    stream->ring_head = 0;
}

static void
s_history_add (stream_t *stream, entry_t *entry)
{
    ces_store_t *store = stream->store;
    if (stream->ring_count == store->limits.history)
        s_history_drop_oldest (stream, &store->counters.evicted_count);
    if (stream->ring_count == stream->ring_size)
        s_history_grow (stream);
    stream->ring[(stream->ring_head + stream->ring_count++) &
                 (stream->ring_size - 1)] = entry;
    ces_store_entry_link (entry);
    entry->in_history = true;
    entry->older = store->newest;
    entry->newer = NULL;
    if (store->newest)
        store->newest->newer = entry;
    else
        store->oldest = entry;
    store->newest = entry;
    store->counters.history_events++;
    store->counters.history_bytes += entry->size;
    while (store->counters.history_bytes > store->limits.history_bytes &&
           store->oldest)
        s_history_drop_oldest ((stream_t *)store->oldest->stream,
                               &store->counters.evicted_bytes);
}

//  --------------------------------------------------------------------------
//  Streams

static void
s_stream_free (void **item_p)
{
    stream_t *stream = (stream_t *)*item_p;
    //  Not an eviction: the data directory keeps what it holds
    ces_disk_t *disk = stream->store->disk;
    stream->store->disk = NULL;
    stream->store->counters.state_keys -= ces_room_state_keys (stream->state);
    ces_room_state_destroy (&stream->state);
    uint64_t ignored = 0;
    while (stream->ring_count)
        s_history_drop_oldest (stream, &ignored);
    stream->store->disk = disk;
    free (stream->ring);
    stream->store->counters.rooms--;
    free (stream);
    *item_p = NULL;
}

//  Only a data directory needs to know what changed: in memory, the event
//  path does no bookkeeping for a commit that writes nothing
static void
s_stream_mark_dirty (stream_t *stream)
{
    if (stream->store->disk && !stream->dirty) {
        stream->dirty = true;
        stream->next_dirty = stream->store->dirty;
        stream->store->dirty = stream;
    }
}

//  Sets a state entry of the room (disk: NULL when loading), counted
static void
s_state_set (stream_t *stream, const char *device, const char *key,
             entry_t *entry, ces_disk_t *disk)
{
    counters_t *counters = &stream->store->counters;
    size_t before = ces_room_state_keys (stream->state);
    counters->state_evicted += ces_room_state_set (stream->state, device, key,
                                                   entry, disk, stream->name);
    counters->state_keys += ces_room_state_keys (stream->state);
    counters->state_keys -= before;
}

static stream_t *
s_stream_require (ces_store_t *self, const char *room)
{
    stream_t *stream = (stream_t *)zhashx_lookup (self->streams, room);
    if (!stream) {
        stream = (stream_t *)zmalloc (sizeof (stream_t));
        assert (stream);
        stream->store = self;
        snprintf (stream->name, sizeof stream->name, "%s", room);
        stream->epoch = s_new_epoch ();
        stream->state = ces_room_state_new (self->limits.state_keys);
        zhashx_insert (self->streams, room, stream);
        self->counters.rooms++;
        s_stream_mark_dirty (stream);
    }
    return stream;
}

uint64_t
ces_store_append (ces_store_t *self, const char *room, const byte *message,
                  size_t size, const char *device, const char *key,
                  uint64_t *epoch)
{
    assert (self && room && message && device && key && epoch);
    stream_t *stream = s_stream_require (self, room);
    uint64_t seq = ++stream->seq;
    *epoch = stream->epoch;
    self->counters.appended++;
    s_stream_mark_dirty (stream);
    bool stateful = *device && *key && self->limits.state_keys;
    if (!self->limits.history && !stateful)
        return seq;
    int64_t now = zclock_time ();
    entry_t *entry = ces_store_entry_new (stream, seq, now, message, size);
    ces_store_entry_link (entry); //  ours, while we place it
    if (self->limits.history) {
        s_history_add (stream, entry);
        if (self->disk)
            ces_disk_put_event (self->disk, room, seq, now, message, size);
    }
    if (*device && self->limits.state_keys) {
        ces_room_state_heard (stream->state, device, now, self->disk, room);
        if (*key)
            s_state_set (stream, device, key, entry, self->disk);
        self->counters.devices_evicted +=
            ces_room_state_bound_devices (stream->state, self->disk, room);
    }
    ces_store_entry_release (entry);
    return seq;
}

int
ces_store_commit (ces_store_t *self)
{
    assert (self);
    while (self->dirty) {
        stream_t *stream = self->dirty;
        self->dirty = stream->next_dirty;
        stream->dirty = false;
        stream->next_dirty = NULL;
        if (self->disk) {
            char epoch[CES_STORE_EPOCH_SIZE];
            ces_position_epoch_text (stream->epoch, epoch);
            ces_disk_put_room (self->disk, stream->name, epoch, stream->seq);
        }
    }
    if (self->disk && ces_disk_commit (self->disk)) {
        self->counters.commit_failures++;
        return -1;
    }
    return 0;
}

bool
ces_store_durable (ces_store_t *self)
{
    assert (self);
    return self->disk != NULL;
}

void
ces_store_expire (ces_store_t *self)
{
    assert (self);
    int64_t oldest_kept = zclock_time () - self->limits.history_age;
    while (self->oldest && self->oldest->time < oldest_kept)
        s_history_drop_oldest ((stream_t *)self->oldest->stream,
                               &self->counters.evicted_age);
}

//  --------------------------------------------------------------------------
//  Reading

void
ces_store_position (ces_store_t *self, const char *room, char *epoch,
                    uint64_t *seq)
{
    assert (self && room && epoch && seq);
    stream_t *stream = s_stream_require (self, room);
    ces_position_epoch_text (stream->epoch, epoch);
    *seq = stream->seq;
}

ces_store_recovery_t
ces_store_recover (ces_store_t *self, const char *room, const char *epoch,
                   uint64_t since, ces_store_visit_fn *visit, void *arg,
                   const char **reason)
{
    assert (self && room && epoch && visit && reason);
    stream_t *stream = s_stream_require (self, room);
    uint64_t asked;
    *reason = NULL;
    if (!ces_position_epoch_parse (epoch, &asked) || asked != stream->epoch)
        *reason = "the room's stream has another epoch: its history before "
                  "is gone";
    else if (since > stream->seq)
        *reason = "the position is ahead of the room's sequence";
    else if (since < stream->seq &&
             (!stream->ring_count || s_history_first (stream) > since + 1))
        *reason = "the history no longer reaches the position";
    else if (since < stream->seq) {
        //  One answer carries them all: a bounded one
        size_t bytes = 0;
        for (size_t index = (size_t)(since + 1 - s_history_first (stream));
             index < stream->ring_count; index++)
            bytes += s_history_at (stream, index)->size;
        if (bytes > CES_STORE_REPLAY_BYTES)
            *reason = "more than 16 MiB of events were missed; ask for the "
                      "state";
    }
    if (*reason) {
        self->counters.refused++;
        return CES_STORE_REFUSED;
    }
    if (since < stream->seq) {
        size_t index = (size_t)(since + 1 - s_history_first (stream));
        for (; index < stream->ring_count; index++) {
            entry_t *entry = s_history_at (stream, index);
            visit (arg, entry->seq, entry->message, entry->size);
        }
    }
    self->counters.recovered++;
    return CES_STORE_RECOVERED;
}

size_t
ces_store_state (ces_store_t *self, const char *room, ces_store_visit_fn *visit,
                 void *arg)
{
    assert (self && room && visit);
    stream_t *stream = s_stream_require (self, room);
    size_t given = ces_room_state_visit (stream->state, CES_STORE_REPLAY_BYTES,
                                         visit, arg);
    self->counters.state_served++;
    return given;
}

//  --------------------------------------------------------------------------
//  HTTP views

static void
s_room_summary (stream_t *stream, cJSON *object)
{
    char epoch[CES_STORE_EPOCH_SIZE];
    ces_position_epoch_text (stream->epoch, epoch);
    cJSON_AddStringToObject (object, "room", stream->name);
    cJSON_AddStringToObject (object, "epoch", epoch);
    cJSON_AddNumberToObject (object, "seq", (double)stream->seq);
    cJSON_AddNumberToObject (object, "state_keys",
                             (double)ces_room_state_keys (stream->state));
    cJSON_AddNumberToObject (object, "devices",
                             (double)ces_room_state_devices (stream->state));
    cJSON *history = cJSON_AddObjectToObject (object, "history");
    cJSON_AddNumberToObject (history, "first",
                             (double)s_history_first (stream));
    cJSON_AddNumberToObject (history, "last",
                             stream->ring_count ? (double)stream->seq : 0);
    cJSON_AddNumberToObject (history, "count", (double)stream->ring_count);
}

void
ces_store_rooms_json (ces_store_t *self, cJSON *rooms)
{
    assert (self && rooms);
    for (stream_t *stream = (stream_t *)zhashx_first (self->streams); stream;
         stream = (stream_t *)zhashx_next (self->streams)) {
        cJSON *room = cJSON_CreateObject ();
        s_room_summary (stream, room);
        cJSON_AddItemToArray (rooms, room);
    }
}

bool
ces_store_room_json (ces_store_t *self, const char *room, cJSON *object)
{
    assert (self && room && object);
    stream_t *stream = (stream_t *)zhashx_lookup (self->streams, room);
    if (stream)
        s_room_summary (stream, object);
    return stream != NULL;
}

bool
ces_store_state_json (ces_store_t *self, const char *room, cJSON *object)
{
    assert (self && room && object);
    stream_t *stream = (stream_t *)zhashx_lookup (self->streams, room);
    if (!stream)
        return false;
    char epoch[CES_STORE_EPOCH_SIZE];
    ces_position_epoch_text (stream->epoch, epoch);
    cJSON_AddStringToObject (object, "room", stream->name);
    cJSON_AddStringToObject (object, "epoch", epoch);
    cJSON_AddNumberToObject (object, "seq", (double)stream->seq);
    ces_room_state_json (stream->state, object);
    return true;
}

bool
ces_store_history_json (ces_store_t *self, const char *room, uint64_t since,
                        size_t limit, cJSON *object)
{
    assert (self && room && object);
    stream_t *stream = (stream_t *)zhashx_lookup (self->streams, room);
    if (!stream)
        return false;
    s_room_summary (stream, object);
    cJSON *events = cJSON_AddArrayToObject (object, "events");
    uint64_t first = s_history_first (stream);
    size_t index =
        since >= first && stream->ring_count ? (size_t)(since + 1 - first) : 0;
    for (size_t given = 0; index < stream->ring_count && given < limit;
         index++, given++)
        cJSON_AddItemToArray (
            events, ces_store_entry_json (s_history_at (stream, index)));
    return true;
}

//  --------------------------------------------------------------------------
//  Counters

static const ces_counter_t s_counter_table[] = {
    {"appended", "ces_hub_store_events_total", NULL, CES_COUNTER,
     "Events numbered and kept in their room's stream.",
     offsetof (counters_t, appended)},
    {"evicted.count", "ces_hub_store_evicted_total", "reason=\"count\"",
     CES_COUNTER,
     "History events evicted, by bound (--history, --history-age, "
     "--history-bytes).",
     offsetof (counters_t, evicted_count)},
    {"evicted.age", "ces_hub_store_evicted_total", "reason=\"age\"",
     CES_COUNTER, NULL, offsetof (counters_t, evicted_age)},
    {"evicted.bytes", "ces_hub_store_evicted_total", "reason=\"bytes\"",
     CES_COUNTER, NULL, offsetof (counters_t, evicted_bytes)},
    {"evicted.state_keys", "ces_hub_store_state_evicted_total", NULL,
     CES_COUNTER, "State entries evicted by --state-keys.",
     offsetof (counters_t, state_evicted)},
    {"evicted.devices", "ces_hub_store_devices_evicted_total", NULL,
     CES_COUNTER, "Devices forgotten by --state-keys.",
     offsetof (counters_t, devices_evicted)},
    {"recoveries.recovered", "ces_hub_store_recoveries_total",
     "result=\"recovered\"", CES_COUNTER,
     "Positions asked to be recovered, by result.",
     offsetof (counters_t, recovered)},
    {"recoveries.refused", "ces_hub_store_recoveries_total",
     "result=\"refused\"", CES_COUNTER, NULL, offsetof (counters_t, refused)},
    {"state_served", "ces_hub_store_state_served_total", NULL, CES_COUNTER,
     "Room states given to clients.", offsetof (counters_t, state_served)},
    {"commit_failures", "ces_hub_store_commit_failures_total", NULL,
     CES_COUNTER, "Data directory commits that failed.",
     offsetof (counters_t, commit_failures)},
    {"rooms", "ces_hub_store_rooms", NULL, CES_GAUGE, "Rooms with a stream.",
     offsetof (counters_t, rooms)},
    {"history.events", "ces_hub_store_history_events", NULL, CES_GAUGE,
     "Events in all rooms' history.", offsetof (counters_t, history_events)},
    {"history.bytes", "ces_hub_store_history_bytes", NULL, CES_GAUGE,
     "Message bytes in all rooms' history.",
     offsetof (counters_t, history_bytes)},
    {"state_keys", "ces_hub_store_state_keys", NULL, CES_GAUGE,
     "State entries in all rooms.", offsetof (counters_t, state_keys)},
};

void
ces_store_status (ces_store_t *self, cJSON *object)
{
    assert (self && object);
    ces_counters_json (s_counter_table, CES_COUNTERS_SIZE (s_counter_table),
                       &self->counters, object);
    cJSON *limits = cJSON_AddObjectToObject (object, "limits");
    cJSON_AddNumberToObject (limits, "history", (double)self->limits.history);
    cJSON_AddNumberToObject (limits, "history_age_ms",
                             (double)self->limits.history_age);
    cJSON_AddNumberToObject (limits, "history_bytes",
                             (double)self->limits.history_bytes);
    cJSON_AddNumberToObject (limits, "state_keys",
                             (double)self->limits.state_keys);
    if (self->disk)
        ces_disk_status (self->disk,
                         cJSON_AddObjectToObject (object, "data_dir"));
}

void
ces_store_metrics (ces_store_t *self, FILE *out)
{
    assert (self && out);
    ces_counters_metrics (s_counter_table, CES_COUNTERS_SIZE (s_counter_table),
                          &self->counters, out);
}

//  --------------------------------------------------------------------------
//  Loading the data directory

static void
s_load_room (void *arg, const char *room, const char *epoch, uint64_t seq)
{
    ces_store_t *self = (ces_store_t *)arg;
    stream_t *stream = s_stream_require (self, room);
    uint64_t value;
    if (ces_position_epoch_parse (epoch, &value))
        stream->epoch = value;
    stream->seq = seq;
}

static void
s_load_event (void *arg, const char *room, uint64_t seq, int64_t time,
              const byte *message, size_t size)
{
    ces_store_t *self = (ces_store_t *)arg;
    stream_t *stream = (stream_t *)zhashx_lookup (self->streams, room);
    if (!stream || seq > stream->seq || !self->limits.history)
        return;
    //  The history is contiguous: after a hole only what follows is kept
    if (stream->ring_count &&
        s_history_first (stream) + stream->ring_count != seq) {
        uint64_t ignored = 0;
        while (stream->ring_count)
            s_history_drop_oldest (stream, &ignored);
    }
    entry_t *entry = ces_store_entry_new (stream, seq, time, message, size);
    ces_store_entry_link (entry);
    ces_disk_t *disk = self->disk; //  what is loaded is already there
    self->disk = NULL;
    s_history_add (stream, entry);
    self->disk = disk;
    ces_store_entry_release (entry);
}

static void
s_load_state (void *arg, const char *room, const char *device, const char *key,
              uint64_t seq, int64_t time, const byte *message, size_t size)
{
    ces_store_t *self = (ces_store_t *)arg;
    stream_t *stream = (stream_t *)zhashx_lookup (self->streams, room);
    if (!stream || !self->limits.state_keys)
        return;
    entry_t *entry = ces_store_entry_new (stream, seq, time, message, size);
    ces_store_entry_link (entry);
    s_state_set (stream, device, key, entry, NULL); //  already there
    ces_store_entry_release (entry);
}

static void
s_load_device (void *arg, const char *room, const char *name, int64_t heard)
{
    ces_store_t *self = (ces_store_t *)arg;
    stream_t *stream = (stream_t *)zhashx_lookup (self->streams, room);
    if (!stream || !self->limits.state_keys)
        return;
    ces_room_state_load_device (stream->state, name, heard);
}

static int
s_load (ces_store_t *self, char **error)
{
    if (ces_disk_lost (self->disk)) {
        //  A machine crash may have lost commits: the sequence numbers
        //  after the last flush could be given twice. New streams.
        zsys_warning ("store: %s was not closed cleanly before the machine "
                      "restarted; its rooms start new epochs",
                      self->data_dir);
        ces_disk_load (self->disk,
                       &(ces_disk_loader_t){s_load_room, NULL, NULL, NULL},
                       self);
        for (stream_t *stream = (stream_t *)zhashx_first (self->streams);
             stream; stream = (stream_t *)zhashx_next (self->streams))
            ces_disk_delete_room (self->disk, stream->name);
        zhashx_purge (self->streams);
        self->dirty = NULL;
        return ces_disk_commit (self->disk);
    }
    ces_disk_loader_t loader = {s_load_room, s_load_event, s_load_state,
                                s_load_device};
    if (ces_disk_load (self->disk, &loader, self)) {
        *error =
            zsys_sprintf ("cannot read the data directory %s", self->data_dir);
        return -1;
    }
    //  Nothing loaded needs writing back
    while (self->dirty) {
        stream_t *stream = self->dirty;
        self->dirty = stream->next_dirty;
        stream->dirty = false;
        stream->next_dirty = NULL;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Construction

ces_store_t *
ces_store_new (const ces_store_limits_t *limits, char **error)
{
    assert (limits && error);
    *error = NULL;
    ces_store_t *self = (ces_store_t *)zmalloc (sizeof (ces_store_t));
    assert (self);
    self->limits = *limits;
    self->limits.data_dir = NULL;
    self->streams = zhashx_new ();
    assert (self->streams);
    zhashx_set_destructor (self->streams, s_stream_free);
    if (limits->data_dir) {
        self->data_dir = strdup (limits->data_dir);
        self->disk = ces_disk_new (limits->data_dir, limits->map_size, error);
        if (!self->disk || s_load (self, error)) {
            ces_store_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
ces_store_destroy (ces_store_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_store_t *self = *self_p;
        if (self->disk)
            ces_store_commit (self);
        zhashx_destroy (&self->streams);
        ces_disk_destroy (&self->disk);
        freen (self->data_dir);
        freen (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Self test

typedef struct {
    uint64_t seqs[64];
    size_t count;
} visited_t;

static void
s_test_visit (void *arg, uint64_t seq, const byte *message, size_t size)
{
    visited_t *visited = (visited_t *)arg;
    assert (size > 2 && message[0] == 'R');
    assert (visited->count < 64);
    visited->seqs[visited->count++] = seq;
}

static uint64_t
s_test_append (ces_store_t *store, const char *room, const char *device,
               const char *key, int value)
{
    char message[200];
    int size = snprintf (message, sizeof message,
                         "%s\n{\"target-device\":{\"deviceID\":\"%s\"},"
                         "\"key\":\"%s\",\"value\":%d}",
                         room, device, key, value);
    uint64_t epoch;
    return ces_store_append (store, room, (byte *)message, (size_t)size, device,
                             key, &epoch);
}

void
ces_store_test (bool verbose)
{
    printf (" * ces_store: ");
    //  @selftest
    ces_store_limits_t limits = {5, 3600000, 1 << 20, 3, NULL, 0};
    char *error = NULL;
    ces_store_t *store = ces_store_new (&limits, &error);
    assert (store && !error);

    //  Sequences per room, from 1
    assert (s_test_append (store, "R-1", "D1", "power", 1) == 1);
    assert (s_test_append (store, "R-1", "D1", "power", 2) == 2);
    assert (s_test_append (store, "R-1", "D2", "volume", 3) == 3);
    assert (s_test_append (store, "R-2", "D1", "power", 4) == 1);
    char epoch[CES_STORE_EPOCH_SIZE], other[CES_STORE_EPOCH_SIZE];
    uint64_t seq;
    ces_store_position (store, "R-1", epoch, &seq);
    assert (seq == 3 && strlen (epoch) == 16);
    ces_store_position (store, "R-2", other, &seq);
    assert (seq == 1 && !streq (epoch, other));

    //  State: the latest per (device, key), in sequence order
    visited_t visited = {{0}, 0};
    assert (ces_store_state (store, "R-1", s_test_visit, &visited) == 2);
    assert (visited.seqs[0] == 2 && visited.seqs[1] == 3);

    //  Recovery: everything after the position, or nothing
    const char *reason;
    visited.count = 0;
    assert (ces_store_recover (store, "R-1", epoch, 1, s_test_visit, &visited,
                               &reason) == CES_STORE_RECOVERED);
    assert (visited.count == 2 && visited.seqs[0] == 2 && visited.seqs[1] == 3);
    visited.count = 0;
    assert (ces_store_recover (store, "R-1", epoch, 3, s_test_visit, &visited,
                               &reason) == CES_STORE_RECOVERED);
    assert (visited.count == 0);
    assert (ces_store_recover (store, "R-1", other, 1, s_test_visit, &visited,
                               &reason) == CES_STORE_REFUSED);
    assert (strstr (reason, "epoch") && visited.count == 0);
    assert (ces_store_recover (store, "R-1", epoch, 4, s_test_visit, &visited,
                               &reason) == CES_STORE_REFUSED);
    assert (ces_store_recover (store, "R-1", "bad", 1, s_test_visit, &visited,
                               &reason) == CES_STORE_REFUSED);

    //  History bound: 5 per room; older positions are refused
    for (int value = 0; value < 5; value++)
        s_test_append (store, "R-1", "D3", "level", value);
    assert (ces_store_recover (store, "R-1", epoch, 1, s_test_visit, &visited,
                               &reason) == CES_STORE_REFUSED);
    assert (strstr (reason, "history") && visited.count == 0);
    assert (ces_store_recover (store, "R-1", epoch, 3, s_test_visit, &visited,
                               &reason) == CES_STORE_RECOVERED);
    assert (visited.count == 5 && visited.seqs[4] == 8);

    //  State bound: 3 keys per room, the least recently updated goes
    s_test_append (store, "R-1", "D4", "mute", 1);
    visited.count = 0;
    assert (ces_store_state (store, "R-1", s_test_visit, &visited) == 3);
    assert (visited.seqs[0] == 3 && visited.seqs[2] == 9);

    //  Events without an address are history only; device alone is heard
    uint64_t ignored;
    assert (ces_store_append (store, "R-1", (byte *)"R-1\n{}", 6, "", "",
                              &ignored) == 10);
    assert (ces_store_append (store, "R-1", (byte *)"R-1\n{}", 6, "D9", "",
                              &ignored) == 11);
    cJSON *state = cJSON_CreateObject ();
    assert (ces_store_state_json (store, "R-1", state));
    assert (cJSON_GetArraySize (cJSON_GetObjectItem (state, "state")) == 3);
    cJSON *devices = cJSON_GetObjectItem (state, "devices");
    assert (cJSON_GetArraySize (devices) == 3); //  D4, D2, D9 (D1, D3 gone)
    cJSON_Delete (state);
    cJSON *history = cJSON_CreateObject ();
    assert (ces_store_history_json (store, "R-1", 8, 2, history));
    cJSON *events = cJSON_GetObjectItem (history, "events");
    assert (cJSON_GetArraySize (events) == 2);
    assert (cJSON_GetNumberValue (cJSON_GetObjectItem (
                cJSON_GetArrayItem (events, 0), "seq")) == 9);
    cJSON_Delete (history);
    history = cJSON_CreateObject ();
    assert (!ces_store_history_json (store, "R-9", 0, 1, history));
    cJSON_Delete (history);

    //  Bytes and age bounds evict across rooms, oldest first
    cJSON *status = cJSON_CreateObject ();
    ces_store_status (store, status);
    assert (cJSON_GetNumberValue (cJSON_GetObjectItem (
                cJSON_GetObjectItem (status, "evicted"), "count")) == 6);
    cJSON_Delete (status);
    ces_store_destroy (&store);
    limits.history_bytes = 100;
    limits.history_age = 0;
    store = ces_store_new (&limits, &error);
    for (int value = 0; value < 4; value++)
        s_test_append (store, value % 2 ? "R-1" : "R-2", "D", "k", value);
    status = cJSON_CreateObject ();
    ces_store_status (store, status);
    cJSON *history_status = cJSON_GetObjectItem (status, "history");
    assert (cJSON_GetNumberValue (
                cJSON_GetObjectItem (history_status, "bytes")) <= 100);
    cJSON_Delete (status);
    zclock_sleep (2); //  the age bound is 0 ms: anything older goes
    ces_store_expire (store);
    status = cJSON_CreateObject ();
    ces_store_status (store, status);
    history_status = cJSON_GetObjectItem (status, "history");
    assert (cJSON_GetNumberValue (
                cJSON_GetObjectItem (history_status, "events")) == 0);
    cJSON_Delete (status);
    ces_store_destroy (&store);
    ces_store_destroy (&store);
    assert (!store);

    //  One answer is bounded: a recovery over 16 MiB is refused, the state
    //  gives the newest entries within it
    limits = (ces_store_limits_t){100, 3600000, 1 << 30, 100, NULL, 0};
    store = ces_store_new (&limits, &error);
    size_t big = 1 << 20;
    byte *message = (byte *)malloc (big);
    memset (message, 'x', big);
    memcpy (message, "RB\n", 3);
    for (int key = 0; key < 20; key++) {
        char name[8];
        snprintf (name, sizeof name, "k%d", key);
        ces_store_append (store, "RB", message, big, "D", name, &ignored);
    }
    free (message);
    ces_store_position (store, "RB", epoch, &seq);
    assert (ces_store_recover (store, "RB", epoch, 0, s_test_visit, &visited,
                               &reason) == CES_STORE_REFUSED);
    assert (strstr (reason, "16 MiB"));
    visited.count = 0;
    assert (ces_store_recover (store, "RB", epoch, 10, s_test_visit, &visited,
                               &reason) == CES_STORE_RECOVERED);
    assert (visited.count == 10);
    visited.count = 0;
    assert (ces_store_state (store, "RB", s_test_visit, &visited) == 16);
    assert (visited.seqs[0] == 5 && visited.seqs[15] == 20);
    ces_store_destroy (&store);

    //  With a data directory: the same streams after a restart
    char dir[] = "/tmp/ces-store-test-XXXXXX";
    assert (mkdtemp (dir));
    limits = (ces_store_limits_t){5, 3600000, 1 << 20, 3, dir, 64 << 20};
    store = ces_store_new (&limits, &error);
    assert (store && ces_store_durable (store));
    for (int value = 0; value < 7; value++)
        s_test_append (store, "R-1", value % 2 ? "D1" : "D2", "k", value);
    assert (ces_store_commit (store) == 0);
    ces_store_position (store, "R-1", epoch, &seq);
    ces_store_destroy (&store);
    store = ces_store_new (&limits, &error);
    assert (store);
    ces_store_position (store, "R-1", other, &seq);
    assert (streq (epoch, other) && seq == 7);
    visited.count = 0;
    assert (ces_store_recover (store, "R-1", epoch, 4, s_test_visit, &visited,
                               &reason) == CES_STORE_RECOVERED);
    assert (visited.count == 3 && visited.seqs[2] == 7);
    visited.count = 0;
    assert (ces_store_state (store, "R-1", s_test_visit, &visited) == 2);
    assert (visited.seqs[0] == 6 && visited.seqs[1] == 7);
    assert (s_test_append (store, "R-1", "D1", "k", 8) == 8);
    //  A second store cannot open the same directory
    char *refused = NULL;
    assert (ces_store_new (&limits, &refused) == NULL && refused);
    freen (refused);
    ces_store_destroy (&store);
    zdir_t *scratch = zdir_new (dir, NULL);
    zdir_remove (scratch, true);
    zdir_destroy (&scratch);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
