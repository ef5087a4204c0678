/*  =========================================================================
    ces_disk_dir - a data directory, ready for ces_disk: locked, its LMDB
    environment opened and checked, marked in use by this boot

    The directory (made when missing, one level) holds data.mdb, LMDB's
    lock.mdb, and ces.lock: the pid of the process that holds it, under an
    flock, so that one process at a time uses it. The meta database says
    the format of the records (another refuses the directory), the boot of
    the machine it was last opened in, and whether it was closed cleanly:
    left in use in another boot, the machine stopped before its last
    commits were surely on the disk, and the directory is "lost"
    (ces_disk_lost). The records themselves are ces_disk_record's; this
    class opens their databases and does not read them.
    =========================================================================
*/
#ifndef CES_DISK_DIR_H_INCLUDED
#define CES_DISK_DIR_H_INCLUDED

#include <lmdb.h>

typedef struct _ces_disk_dir_t ces_disk_dir_t;

//  The databases of the records (ces_disk_record.h)
typedef struct {
    MDB_dbi rooms, events, state, devices;
} ces_disk_dbs_t;

//  Prepare, lock, open (at most map_size bytes mapped, LMDB's flags) and
//  check the data directory dir, and mark it in use. Returns NULL when it
//  cannot, with the reason in *error (caller frees): not a directory, not
//  writable, in use by another process, not an LMDB environment of ces or
//  of another format, no room on the disk.
ces_disk_dir_t *ces_disk_dir_new (const char *dir, size_t map_size,
                                  unsigned int flags, char **error);

//  Flush to the disk, mark the directory closed cleanly, close, unlock.
//  Commit the owner's transaction first. Idempotent, nulls the pointer.
void ces_disk_dir_destroy (ces_disk_dir_t **self_p);

//  The environment and its record databases (owned by the directory)
MDB_env *ces_disk_dir_env (ces_disk_dir_t *self);
ces_disk_dbs_t ces_disk_dir_dbs (ces_disk_dir_t *self);

//  The directory's path, and its data file (dir/data.mdb)
const char *ces_disk_dir_path (ces_disk_dir_t *self);
const char *ces_disk_dir_data_file (ces_disk_dir_t *self);

//  The largest key the environment takes, at most CES_DISK_RECORD_KEY_MAX
size_t ces_disk_dir_key_max (ces_disk_dir_t *self);

//  True when the directory was not closed cleanly in an earlier boot of
//  the machine (commits not yet flushed may be lost).
bool ces_disk_dir_lost (ces_disk_dir_t *self);

//  Add file_bytes (data.mdb's size), used_bytes (of it, in use),
//  map_bytes and lost_at_open to object.
void ces_disk_dir_status (ces_disk_dir_t *self, cJSON *object);

//  Self test of this class.
void ces_disk_dir_test (bool verbose);

#endif
