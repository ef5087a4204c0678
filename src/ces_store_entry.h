/*  =========================================================================
    ces_store_entry - one event as ces_store keeps it

    An entry is in its room's history, in its room's state, or both: each
    holds a reference (ces_store_entry_link), and the last release frees
    it, so that an event kept twice is stored once. A shared struct with
    functions over it: the history (ces_store) links entries of all rooms
    in arrival order through older and newer; the state (ces_store_state)
    reads seq, time and the message.
    =========================================================================
*/
#ifndef CES_STORE_ENTRY_H_INCLUDED
#define CES_STORE_ENTRY_H_INCLUDED

typedef struct _ces_store_entry_t {
    struct _ces_store_entry_t *older, *newer; //  all rooms' history
    void *stream;                             //  its room's, ces_store's
    uint64_t seq;
    int64_t time; //  ms since 1970, when it arrived
    uint32_t refs;
    bool in_history;
    size_t size;
    byte message[]; //  "ROOMID\n..." as it was published
} ces_store_entry_t;

//  A copy of message, with no reference yet: link it where it is kept.
ces_store_entry_t *ces_store_entry_new (void *stream, uint64_t seq,
                                        int64_t time, const byte *message,
                                        size_t size);

//  Take a reference; release one (the last frees the entry).
void ces_store_entry_link (ces_store_entry_t *entry);
void ces_store_entry_release (ces_store_entry_t *entry);

//  {"seq":N,"time":ms,"event":{...}} of the entry, or "payload" with the
//  text after the room when that is not JSON. Caller owns the item.
cJSON *ces_store_entry_json (const ces_store_entry_t *entry);

//  Self test of this class.
void ces_store_entry_test (bool verbose);

#endif
