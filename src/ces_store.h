/*  =========================================================================
    ces_store - what the hub remembers of each room: its stream (an epoch
    and a sequence), its recent history and its state

    Every event the hub publishes is appended to its room's stream: it gets
    the room's next sequence number, joins the room's history, and — when it
    names a device and a key — becomes the room's state for that pair. The
    epoch is a random ID that names the stream; it changes only when the
    stream's history is lost (a restart without a data directory, or the
    data directory lost in a machine crash), so a client that holds an
    (epoch, seq) position knows whether the history can fill its gap.

    Everything lives in memory; with a data directory each change is also
    written through ces_disk, committed by ces_store_commit before the hub
    publishes what it appended, and loaded back at start.

    Bounds: history events per room, their age, the history's total bytes,
    state keys per room. What a bound evicts is counted.
    =========================================================================
*/
#ifndef CES_STORE_H_INCLUDED
#define CES_STORE_H_INCLUDED

typedef struct _ces_store_t ces_store_t;

typedef struct {
    size_t history;       //  events per room; 0 keeps no history
    int64_t history_age;  //  ms an event stays in the history
    size_t history_bytes; //  all rooms' history, message bytes
    size_t state_keys;    //  (device, key) pairs per room; 0 keeps no state
    const char *data_dir; //  NULL: memory only
    size_t map_size;      //  the data directory's LMDB map, bytes
} ces_store_limits_t;

//  The defaults of the hub's options
#define CES_STORE_HISTORY       1000
#define CES_STORE_HISTORY_AGE   3600000
#define CES_STORE_HISTORY_BYTES (256 * 1024 * 1024)
#define CES_STORE_STATE_KEYS    10000
//  The data directory's map: room enough for the history's bytes, the
//  state and LMDB's own pages (the file grows as it is used)
#define CES_STORE_MAP_SIZE (4ULL * 1024 * 1024 * 1024)

//  The most a recovery or a state gives in one answer, in message bytes
#define CES_STORE_REPLAY_BYTES (16 * 1024 * 1024)

//  An epoch as text: 16 lowercase hex digits and a NUL
#define CES_STORE_EPOCH_SIZE CES_POSITION_EPOCH_SIZE

//  What a since position found (ces_store_recover)
typedef enum {
    CES_STORE_RECOVERED, //  the history holds every event after it
    CES_STORE_REFUSED    //  it does not; nothing is given, see the reason
} ces_store_recovery_t;

//  Called for each event given back: its sequence number and its message
//  ("ROOMID\n..." as it was published)
typedef void (ces_store_visit_fn) (void *arg, uint64_t seq, const byte *message,
                                   size_t size);

//  Create a store. Returns NULL with the reason in *error (caller frees)
//  when the data directory cannot be used.
ces_store_t *ces_store_new (const ces_store_limits_t *limits, char **error);

//  Commit what is pending and close; idempotent, nulls the pointer.
void ces_store_destroy (ces_store_t **self_p);

//  Append an event of room (message: its bytes as published; device and
//  key: its state address from ces_event_address, "" when absent). Returns
//  its sequence number, and the room's epoch in *epoch.
uint64_t ces_store_append (ces_store_t *self, const char *room,
                           const byte *message, size_t size, const char *device,
                           const char *key, uint64_t *epoch);

//  Make what was appended durable (a no-op without a data directory);
//  the hub calls it before it publishes. 0, or -1 when the write failed.
int ces_store_commit (ces_store_t *self);

//  True with a data directory: the hub must commit before it publishes.
bool ces_store_durable (ces_store_t *self);

//  Evict what has grown too old; call it about once a second.
void ces_store_expire (ces_store_t *self);

//  The room's position: its epoch and last sequence (0: nothing yet). A
//  room the store does not know yet gets its stream here.
void ces_store_position (ces_store_t *self, const char *room, char *epoch,
                         uint64_t *seq);

//  Give back the events of room after (epoch, since), oldest first, when
//  the history still holds all of them and they are at most
//  CES_STORE_REPLAY_BYTES; otherwise give none and say why in *reason (a
//  static sentence).
ces_store_recovery_t ces_store_recover (ces_store_t *self, const char *room,
                                        const char *epoch, uint64_t since,
                                        ces_store_visit_fn *visit, void *arg,
                                        const char **reason);

//  Give back the room's state, one event per (device, key), in sequence
//  order: the newest entries within CES_STORE_REPLAY_BYTES. Returns how
//  many.
size_t ces_store_state (ces_store_t *self, const char *room,
                        ces_store_visit_fn *visit, void *arg);

//  HTTP views (GET /rooms, /rooms/ROOM, /rooms/ROOM/state,
//  /rooms/ROOM/history): fill object. The room views return false for a
//  room the store does not know.
void ces_store_rooms_json (ces_store_t *self, cJSON *rooms);
bool ces_store_room_json (ces_store_t *self, const char *room, cJSON *object);
bool ces_store_state_json (ces_store_t *self, const char *room, cJSON *object);
bool ces_store_history_json (ces_store_t *self, const char *room,
                             uint64_t since, size_t limit, cJSON *object);

//  Counters and sizes for /status, and the same for /metrics.
void ces_store_status (ces_store_t *self, cJSON *object);
void ces_store_metrics (ces_store_t *self, FILE *out);

//  Self test of this class.
void ces_store_test (bool verbose);

#endif
