/*  =========================================================================
    ces_disk - the hub's room streams on disk (LMDB), for --data-dir

    ces_store keeps every room's stream in memory and, with a data
    directory, writes each change here too. The writes go into one LMDB
    write transaction that stays open until ces_disk_commit; the hub commits
    once per batch of events, before it publishes them, so that an event a
    subscriber has seen is in the data directory: a kill -9 of the process
    loses nothing committed (the pages are in the kernel's cache), and no
    sequence number is ever given twice in one epoch. The environment is
    opened with MDB_NOSYNC: a thread of this class flushes it to the disk
    once a second, so the event path never waits on a disk.

    A crash of the whole machine can lose what was not yet flushed. The
    data directory therefore remembers the boot it was last written in and
    whether it was closed cleanly; ces_disk_lost says that it was not closed
    cleanly in an earlier boot, and ces_store then gives every room a new
    epoch (its history is not trusted).

    What is kept, per room: its epoch and last sequence; its history events
    (seq, arrival time in ms since the epoch of 1970, the message bytes);
    its state entries (device, key -> seq, time, message); and per device
    the time it was last heard. The store decides what to keep and evicts;
    this class only writes and deletes what it is told, and loads it back.
    =========================================================================
*/
#ifndef CES_DISK_H_INCLUDED
#define CES_DISK_H_INCLUDED

typedef struct _ces_disk_t ces_disk_t;

//  What ces_disk_load calls for each record it reads back; arg is the
//  loader's, and a NULL member skips those records. Every room comes first
//  (in the byte order of the room IDs), then, room by room in that order,
//  its history events in sequence order, its state entries (by device,
//  then key) and its devices. Records of a room with no room record are
//  not read. The strings and message bytes are lent for the call only; a
//  loader must not call this ces_disk.
typedef struct {
    void (*room) (void *arg, const char *room, const char *epoch, uint64_t seq);
    void (*event) (void *arg, const char *room, uint64_t seq, int64_t time,
                   const byte *message, size_t size);
    void (*state) (void *arg, const char *room, const char *device,
                   const char *key, uint64_t seq, int64_t time,
                   const byte *message, size_t size);
    void (*device) (void *arg, const char *room, const char *device,
                    int64_t heard);
} ces_disk_loader_t;

//  Open (create when missing, one level) the data directory dir, mapping at
//  most map_size bytes; data.mdb takes that much of the disk from the
//  start. Returns NULL when it cannot, with the reason in *error (caller
//  frees): not a directory, not writable, in use by another process, not
//  an LMDB environment of ces or of another format, no room on the disk.
//  One thread at a time uses the instance (commit before handing it over);
//  its own thread only flushes to the disk.
ces_disk_t *ces_disk_new (const char *dir, size_t map_size, char **error);

//  Commit, flush to the disk, mark the directory closed cleanly, close.
//  Idempotent, nulls the caller's pointer.
void ces_disk_destroy (ces_disk_t **self_p);

//  True when the directory was not closed cleanly in an earlier boot of
//  the machine (commits not yet flushed may be lost).
bool ces_disk_lost (ces_disk_t *self);

//  Read everything back, calling loader for each record; through the open
//  write transaction when there is one (its changes are seen). A record
//  that does not decode is skipped and counted. 0 or -1.
int ces_disk_load (ces_disk_t *self, const ces_disk_loader_t *loader,
                   void *arg);

//  Changes, into the open write transaction (begun when needed). Room IDs
//  are 1 to CES_ROOM_MAX octets. A failed write (the map is full) aborts
//  the open transaction, losing what it held; it is counted and logged at
//  most once per 10 s, never asserted, and the next change begins a new
//  transaction. A state entry or device whose room, device and key make a
//  key longer than LMDB's 511 octets is refused (counted, logged once).
//  Deleting what is not there does nothing.
void ces_disk_put_room (ces_disk_t *self, const char *room, const char *epoch,
                        uint64_t seq);
void ces_disk_delete_room (ces_disk_t *self, const char *room); //  all of it
void ces_disk_put_event (ces_disk_t *self, const char *room, uint64_t seq,
                         int64_t time, const byte *message, size_t size);
void ces_disk_delete_event (ces_disk_t *self, const char *room, uint64_t seq);
void ces_disk_put_state (ces_disk_t *self, const char *room, const char *device,
                         const char *key, uint64_t seq, int64_t time,
                         const byte *message, size_t size);
void ces_disk_delete_state (ces_disk_t *self, const char *room,
                            const char *device, const char *key);
void ces_disk_put_device (ces_disk_t *self, const char *room,
                          const char *device, int64_t heard);
void ces_disk_delete_device (ces_disk_t *self, const char *room,
                             const char *device);

//  Commit the open write transaction, if any. 0, or -1 when it failed
//  (counted; what it held is lost, the next changes start a new one).
int ces_disk_commit (ces_disk_t *self);

//  Counters and facts for /status, added to object: dir, commits, writes,
//  failed_writes, refused_writes (keys too long), skipped_records (did not
//  decode at load), flushes, flush_errors, last_flush_usecs, file_bytes
//  (data.mdb's size), used_bytes (of it, in use), map_bytes, lost_at_open.
void ces_disk_status (ces_disk_t *self, cJSON *object);

//  Self test of this class.
void ces_disk_test (bool verbose);

#endif
