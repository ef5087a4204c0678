/*  =========================================================================
    ces_disk_record - the keys and values of ces_disk's records

    The records, in five named databases of one LMDB environment (every
    string with its NUL, numbers as 8 octets, big-endian):

        rooms    room                 -> seq, epoch
        events   room, seq            -> time, message
        state    room, device, key    -> seq, time, message
        devices  room, device         -> heard
        meta     "format", "boot", "clean" -> their text

    A room's records sort together (its ID and a NUL come first), and its
    events in sequence order. This class is the encoding alone, pure
    functions over octets: ces_disk_dir holds the databases, ces_disk
    writes and reads them. A decoder answers a record that does not decode
    with -2 (malformed), never an assert: the data directory is input.
    =========================================================================
*/
#ifndef CES_DISK_RECORD_H_INCLUDED
#define CES_DISK_RECORD_H_INCLUDED

//  LMDB's default largest key
#define CES_DISK_RECORD_KEY_MAX 511

//  One record read back: its key after the room's prefix and its value,
//  lent from the record (valid while the record's transaction is)
typedef struct {
    const char *device; //  state, devices
    const char *key;    //  state
    uint64_t seq;       //  events, state
    int64_t time;       //  events, state; devices: when heard
    const byte *message;
    size_t size;
} ces_disk_record_t;

//  The size of a room's key prefix (its ID and a NUL). Rooms are 1 to
//  CES_ROOM_MAX octets; another is a programmer's error (asserted).
size_t ces_disk_record_room_prefix (const char *room);

//  Each part (second and third may be NULL) with its NUL, one after the
//  other into key; the key's size, or 0 when it would be longer than
//  key_max (at most CES_DISK_RECORD_KEY_MAX)
size_t ces_disk_record_key (byte *key, size_t key_max, const char *first,
                            const char *second, const char *third);

//  An event's key into key (CES_ROOM_MAX + 9 octets): the room, a NUL, the
//  sequence number; returns its size
size_t ces_disk_record_event_key (byte *key, const char *room, uint64_t seq);

//  Is this a room record: a room ID of 1 to CES_ROOM_MAX octets with its
//  NUL -> seq, epoch with its NUL?
bool ces_disk_record_is_room (const byte *key, size_t key_size,
                              const byte *value, size_t value_size);

//  Decode a record of events, state or devices: rest is its key after the
//  room's prefix. 0, or -2 when it is malformed (record is then undefined).
int ces_disk_record_event (const byte *rest, size_t rest_size,
                           const byte *value, size_t value_size,
                           ces_disk_record_t *record);
int ces_disk_record_state (const byte *rest, size_t rest_size,
                           const byte *value, size_t value_size,
                           ces_disk_record_t *record);
int ces_disk_record_device (const byte *rest, size_t rest_size,
                            const byte *value, size_t value_size,
                            ces_disk_record_t *record);

//  Self test of this class.
void ces_disk_record_test (bool verbose);

#endif
