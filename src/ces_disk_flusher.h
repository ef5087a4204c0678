/*  =========================================================================
    ces_disk_flusher - ces_disk's thread that puts its commits on the disk

    The environment is opened with MDB_NOSYNC, so a commit never waits on
    the disk: this thread, once a second, when something was committed
    since its last flush, calls mdb_env_sync. The owner tells it of each
    commit; a failed flush is counted and logged at most once per 10 s (the
    next second tries again). It shares only counters with the owner, under
    its mutex.
    =========================================================================
*/
#ifndef CES_DISK_FLUSHER_H_INCLUDED
#define CES_DISK_FLUSHER_H_INCLUDED

#include <lmdb.h>

typedef struct _ces_disk_flusher_t ces_disk_flusher_t;

//  Start flushing env (borrowed: it must outlive the flusher) every
//  msecs; file names its data file in the warnings. The open's own commit
//  counts as the first one to flush. Returns NULL with the reason in
//  *error (caller frees) when the thread cannot start.
ces_disk_flusher_t *ces_disk_flusher_new (MDB_env *env, const char *file,
                                          int msecs, char **error);

//  Stop the thread (promptly: it does not wait for its period) and free.
//  Idempotent, nulls the caller's pointer.
void ces_disk_flusher_destroy (ces_disk_flusher_t **self_p);

//  Tell the flusher that the owner committed.
void ces_disk_flusher_committed (ces_disk_flusher_t *self);

//  Add flushes, flush_errors and last_flush_usecs (how long the last
//  flush took) to object.
void ces_disk_flusher_status (ces_disk_flusher_t *self, cJSON *object);

//  Wait until at least flushes flushes were done, at most msecs; returns
//  how many were done. For the self tests.
uint64_t ces_disk_flusher_wait (ces_disk_flusher_t *self, uint64_t flushes,
                                int msecs);

//  Self test of this class.
void ces_disk_flusher_test (bool verbose);

#endif
