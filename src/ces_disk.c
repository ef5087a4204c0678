/*  =========================================================================
    ces_disk - the hub's room streams on disk (LMDB), for --data-dir

    The records, in five named databases of one LMDB environment (every
    string with its NUL, numbers as 8 octets, big-endian):

        rooms    room                 -> seq, epoch
        events   room, seq            -> time, message
        state    room, device, key    -> seq, time, message
        devices  room, device         -> heard
        meta     "format", "boot", "clean" -> their text

    A room's records sort together (its ID and a NUL come first), and its
    events in sequence order. The directory also holds ces.lock: the pid of
    the process that holds it, under an flock.
    =========================================================================
*/
#include "ces_classes.h"
#include <lmdb.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <poll.h>

//  The layout of the records; another value refuses the directory
#define DISK_FORMAT "1"
//  Environment flags: commits never wait on the disk (the flusher syncs);
//  transactions are not tied to a thread. Not MDB_WRITEMAP, though
//  ces_disk_test -v measures it faster (an event with its state entry and
//  an eviction 0.5 us instead of 0.9; a commit of 100 events 0.8 us
//  instead of 40): with it data.mdb must hold the whole map on the disk
//  from the start (s_reserve), or a full disk is a SIGBUS in the hub, and
//  a wild pointer anywhere in the process could damage the data. The hub
//  commits once per batch of events, so the commit's cost is shared.
#define DISK_FLAGS      (MDB_NOSYNC | MDB_NOTLS)
#define DISK_FLUSH_MSEC 1000  //  the flusher's period
#define DISK_WARN_MSEC  10000 //  at most one warning this often
#define DISK_KEY_MAX    511   //  LMDB's default largest key

//  ThreadSanitizer stops a child of a threaded process that starts a thread
//  (die_after_fork), so the self test's kill -9 check is not run there
#if defined(__SANITIZE_THREAD__)
#define DISK_TEST_FORK 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DISK_TEST_FORK 0
#endif
#endif
#ifndef DISK_TEST_FORK
#define DISK_TEST_FORK 1
#endif

struct _ces_disk_t {
    char *dir;
    char *data_file; //  dir/data.mdb
    int lock_fd;     //  dir/ces.lock under our flock, or -1
    MDB_env *env;
    MDB_dbi rooms, events, state, devices, meta;
    bool ready;   //  opened, checked, and marked in use: destroy marks clean
    bool lost;    //  not closed cleanly in an earlier boot
    MDB_txn *txn; //  the open write transaction, or NULL
    size_t key_max;
    //  Counters of the owner's thread
    uint64_t commits;
    uint64_t writes;
    uint64_t failed_writes;
    uint64_t refused_writes;
    uint64_t skipped_records;
    int64_t warned_at; //  zclock_mono of the last warning of a failed write
    bool refused_warned;
    //  The flusher, and what it shares with the owner (under mutex)
    pthread_t flusher;
    bool flusher_running;
    bool sync_ready; //  mutex and conditions initialised
    pthread_mutex_t mutex;
    pthread_cond_t wake;    //  stop now
    pthread_cond_t flushed; //  a flush was done (for the self test)
    bool stopping;
    uint64_t committed; //  commits, as the flusher sees them
    uint64_t flushes;
    uint64_t flush_errors;
    uint64_t last_flush_usecs;
};

static uint64_t
s_usecs (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
}

static void
s_put_u64 (byte *target, uint64_t value)
{
    for (int index = 7; index >= 0; index--) {
        target[index] = (byte)value;
        value >>= 8;
    }
}

static uint64_t
s_get_u64 (const byte *source)
{
    uint64_t value = 0;
    for (int index = 0; index < 8; index++)
        value = (value << 8) | source[index];
    return value;
}

//  The size of a room's key prefix (its ID and a NUL); rooms are 1 to
//  CES_ROOM_MAX octets, the store never passes another
static size_t
s_room_prefix (const char *room)
{
    assert (room);
    size_t size = strlen (room);
    assert (size >= 1 && size <= CES_ROOM_MAX);
    return size + 1;
}

//  Each part with its NUL, one after the other into key; the key's size,
//  or 0 when it would be longer than LMDB takes
static size_t
s_key (byte *key, size_t key_max, const char *first, const char *second,
       const char *third)
{
    const char *parts[] = {first, second, third};
    size_t size = 0;
    for (int index = 0; index < 3 && parts[index]; index++) {
        size_t part = strlen (parts[index]) + 1;
        if (size + part > key_max)
            return 0;
        memcpy (key + size, parts[index], part);
        size += part;
    }
    return size;
}

//  An event's key: the room, a NUL, the sequence number
static size_t
s_event_key (byte *key, const char *room, uint64_t seq)
{
    size_t prefix = s_room_prefix (room);
    memcpy (key, room, prefix);
    s_put_u64 (key + prefix, seq);
    return prefix + 8;
}

//  --------------------------------------------------------------------------
//  The flusher: once a second, when something was committed since the last
//  flush, mdb_env_sync. The owner's thread never waits on the disk.

static void
s_deadline (struct timespec *deadline, int msecs)
{
    clock_gettime (CLOCK_MONOTONIC, deadline);
    deadline->tv_sec += msecs / 1000;
    deadline->tv_nsec += (long)(msecs % 1000) * 1000000;
    if (deadline->tv_nsec >= 1000000000) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000;
    }
}

static void *
s_flusher (void *args)
{
    ces_disk_t *self = (ces_disk_t *)args;
    uint64_t flushed = 0; //  commits up to this one are on the disk
    int64_t warned_at = 0;
    struct timespec deadline;
    s_deadline (&deadline, DISK_FLUSH_MSEC);
    pthread_mutex_lock (&self->mutex);
    while (!self->stopping) {
        int rc = pthread_cond_timedwait (&self->wake, &self->mutex, &deadline);
        if (self->stopping || rc != ETIMEDOUT)
            continue;
        s_deadline (&deadline, DISK_FLUSH_MSEC);
        uint64_t committed = self->committed;
        if (committed == flushed)
            continue;
        pthread_mutex_unlock (&self->mutex);
        uint64_t start = s_usecs ();
        rc = mdb_env_sync (self->env, 1);
        uint64_t usecs = s_usecs () - start;
        pthread_mutex_lock (&self->mutex);
        if (rc == 0) {
            flushed = committed;
            self->flushes++;
            self->last_flush_usecs = usecs;
        } else {
            self->flush_errors++;
            int64_t now = zclock_mono ();
            if (!warned_at || now - warned_at >= DISK_WARN_MSEC) {
                zsys_warning ("ces_disk: cannot flush %s to the disk: %s",
                              self->data_file, mdb_strerror (rc));
                warned_at = now;
            }
        }
        pthread_cond_broadcast (&self->flushed);
    }
    pthread_mutex_unlock (&self->mutex);
    return NULL;
}

static void
s_flusher_stop (ces_disk_t *self)
{
    if (self->flusher_running) {
        pthread_mutex_lock (&self->mutex);
        self->stopping = true;
        pthread_cond_signal (&self->wake);
        pthread_mutex_unlock (&self->mutex);
        pthread_join (self->flusher, NULL);
        self->flusher_running = false;
    }
}

//  --------------------------------------------------------------------------
//  Opening

//  The directory exists (made when missing, one level) and is writable
static int
s_prepare_dir (const char *dir, char **error)
{
    struct stat info;
    if (stat (dir, &info) == -1) {
        if (errno != ENOENT) {
            *error =
                zsys_sprintf ("data directory %s: %s", dir, strerror (errno));
            return -1;
        }
        if (mkdir (dir, 0750) == -1) {
            *error = zsys_sprintf ("data directory %s cannot be made: %s", dir,
                                   strerror (errno));
            return -1;
        }
    } else if (!S_ISDIR (info.st_mode)) {
        *error = zsys_sprintf ("data directory %s is not a directory", dir);
        return -1;
    }
    if (access (dir, R_OK | W_OK | X_OK) == -1) {
        *error = zsys_sprintf ("data directory %s is not writable: %s", dir,
                               strerror (errno));
        return -1;
    }
    return 0;
}

//  Take dir/ces.lock, or say which process holds it
static int
s_lock (ces_disk_t *self, char **error)
{
    char *path = zsys_sprintf ("%s/ces.lock", self->dir);
    assert (path);
    self->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (self->lock_fd == -1) {
        *error = zsys_sprintf ("data directory %s: cannot open %s: %s",
                               self->dir, path, strerror (errno));
        freen (path);
        return -1;
    }
    freen (path);
    if (flock (self->lock_fd, LOCK_EX | LOCK_NB) == -1) {
        if (errno != EWOULDBLOCK) {
            *error = zsys_sprintf ("data directory %s cannot be locked: %s",
                                   self->dir, strerror (errno));
            return -1;
        }
        char text[32] = "";
        ssize_t size = pread (self->lock_fd, text, sizeof (text) - 1, 0);
        long pid = size > 0 ? strtol (text, NULL, 10) : 0;
        if (pid > 0)
            *error = zsys_sprintf ("data directory %s is in use by another "
                                   "process (pid %ld)",
                                   self->dir, pid);
        else
            *error = zsys_sprintf (
                "data directory %s is in use by another process", self->dir);
        return -1;
    }
    char text[32];
    int size = snprintf (text, sizeof (text), "%ld\n", (long)getpid ());
    if (ftruncate (self->lock_fd, 0) == -1 ||
        pwrite (self->lock_fd, text, (size_t)size, 0) != size) {
        *error = zsys_sprintf ("data directory %s: cannot write ces.lock: %s",
                               self->dir, strerror (errno));
        return -1;
    }
    return 0;
}

//  This machine's boot, or "" when it cannot be read
static void
s_boot_id (char *boot, size_t size)
{
    boot[0] = 0;
    FILE *file = fopen ("/proc/sys/kernel/random/boot_id", "re");
    if (file) {
        if (!fgets (boot, (int)size, file))
            boot[0] = 0;
        fclose (file);
    }
    boot[strcspn (boot, "\n")] = 0;
}

//  Does a meta value equal text?
static bool
s_meta_is (MDB_txn *txn, MDB_dbi meta, const char *name, const char *text)
{
    MDB_val key = {strlen (name), (void *)name}, value;
    return mdb_get (txn, meta, &key, &value) == 0 &&
           value.mv_size == strlen (text) &&
           memcmp (value.mv_data, text, value.mv_size) == 0;
}

static int
s_meta_put (MDB_txn *txn, MDB_dbi meta, const char *name, const char *text)
{
    MDB_val key = {strlen (name), (void *)name};
    MDB_val value = {strlen (text), (void *)text};
    return mdb_put (txn, meta, &key, &value, 0);
}

//  With MDB_WRITEMAP, give every page of the map its blocks on the disk: a
//  full disk then refuses the open, instead of a SIGBUS later when the
//  hub's thread writes a page the file system cannot place
static int
s_reserve (ces_disk_t *self, char **error)
{
    mdb_filehandle_t fd;
    MDB_envinfo info;
    unsigned int flags;
    mdb_env_get_flags (self->env, &flags);
    if (!(flags & MDB_WRITEMAP))
        return 0;
    mdb_env_get_fd (self->env, &fd);
    mdb_env_info (self->env, &info);
    int rc = posix_fallocate (fd, 0, (off_t)info.me_mapsize);
    if (rc) {
        *error = zsys_sprintf ("data directory %s: cannot reserve %zu MiB "
                               "for its map: %s",
                               self->dir, info.me_mapsize >> 20, strerror (rc));
        return -1;
    }
    return 0;
}

//  Is what LMDB found there ces's, and in our format? When it is not
//  (*error set), nothing was written to it
static int
s_check (ces_disk_t *self, MDB_txn *txn, bool *fresh, char **error)
{
    //  An environment with no database at all is new
    MDB_dbi main;
    MDB_stat stat;
    int rc = mdb_dbi_open (txn, NULL, 0, &main);
    if (rc == 0)
        rc = mdb_stat (txn, main, &stat);
    if (rc == 0 && stat.ms_entries == 0) {
        *fresh = true;
        return 0;
    }
    if (rc == 0)
        rc = mdb_dbi_open (txn, "meta", 0, &self->meta);
    MDB_val key = {6, "format"}, value;
    if (rc == 0)
        rc = mdb_get (txn, self->meta, &key, &value);
    if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
        *error = zsys_sprintf ("data directory %s holds an LMDB environment "
                               "that is not ces's",
                               self->dir);
    else if (rc)
        *error = zsys_sprintf ("data directory %s cannot be read: %s",
                               self->dir, mdb_strerror (rc));
    else if (value.mv_size != strlen (DISK_FORMAT) ||
             memcmp (value.mv_data, DISK_FORMAT, value.mv_size) != 0)
        *error = zsys_sprintf ("data directory %s holds format %.*s; this "
                               "ces reads format " DISK_FORMAT,
                               self->dir,
                               value.mv_size > 32 ? 32 : (int)value.mv_size,
                               (char *)value.mv_data);
    return *error ? -1 : 0;
}

//  Open the environment and its databases, check that it is ces's, read
//  how it was left, and mark it in use by this boot
static int
s_open (ces_disk_t *self, size_t map_size, unsigned int flags, char **error)
{
    int rc = mdb_env_create (&self->env);
    if (rc) {
        self->env = NULL;
        *error = zsys_sprintf ("data directory %s: %s", self->dir,
                               mdb_strerror (rc));
        return -1;
    }
    mdb_env_set_maxdbs (self->env, 8);
    if (map_size)
        mdb_env_set_mapsize (self->env, map_size);
    rc = mdb_env_open (self->env, self->dir, flags, 0640);
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
        *error = zsys_sprintf ("data directory %s: %s is not an LMDB file "
                               "this ces can read (%s)",
                               self->dir, self->data_file, mdb_strerror (rc));
        return -1;
    }
    if (rc) {
        *error = zsys_sprintf ("data directory %s cannot be opened: %s",
                               self->dir, mdb_strerror (rc));
        return -1;
    }
    self->key_max = (size_t)mdb_env_get_maxkeysize (self->env);
    if (self->key_max > DISK_KEY_MAX)
        self->key_max = DISK_KEY_MAX;

    MDB_txn *txn;
    rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc) {
        *error = zsys_sprintf ("data directory %s cannot be written: %s",
                               self->dir, mdb_strerror (rc));
        return -1;
    }
    bool fresh = false;
    if (s_check (self, txn, &fresh, error) || s_reserve (self, error)) {
        mdb_txn_abort (txn);
        return -1;
    }
    if (fresh)
        rc = mdb_dbi_open (txn, "meta", MDB_CREATE, &self->meta);
    struct {
        const char *name;
        MDB_dbi *dbi;
    } const dbs[] = {{"rooms", &self->rooms},
                     {"events", &self->events},
                     {"state", &self->state},
                     {"devices", &self->devices}};
    for (size_t index = 0; rc == 0 && index < 4; index++)
        rc = mdb_dbi_open (txn, dbs[index].name, MDB_CREATE, dbs[index].dbi);

    //  Left in use in another boot: the machine stopped before its last
    //  commits were surely on the disk
    char boot[64];
    s_boot_id (boot, sizeof (boot));
    if (rc == 0 && !fresh && !s_meta_is (txn, self->meta, "clean", "1"))
        self->lost = !*boot || !s_meta_is (txn, self->meta, "boot", boot);
    if (rc == 0)
        rc = s_meta_put (txn, self->meta, "format", DISK_FORMAT);
    if (rc == 0)
        rc = s_meta_put (txn, self->meta, "boot", boot);
    if (rc == 0)
        rc = s_meta_put (txn, self->meta, "clean", "0");
    if (rc == 0)
        rc = mdb_txn_commit (txn);
    else
        mdb_txn_abort (txn);
    if (rc) {
        *error = zsys_sprintf ("data directory %s cannot be written: %s",
                               self->dir, mdb_strerror (rc));
        return -1;
    }
    self->ready = true;
    self->committed = 1; //  the flusher's first flush writes that
    return 0;
}

//  Test hook: open with other environment flags
static ces_disk_t *
s_disk_new (const char *dir, size_t map_size, unsigned int flags, char **error)
{
    assert (dir);
    assert (error);
    *error = NULL;
    if (s_prepare_dir (dir, error))
        return NULL;
    ces_disk_t *self = (ces_disk_t *)zmalloc (sizeof (*self));
    assert (self);
    self->dir = strdup (dir);
    self->data_file = zsys_sprintf ("%s/data.mdb", dir);
    assert (self->dir && self->data_file);
    self->lock_fd = -1;

    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->wake, &attr);
    pthread_cond_init (&self->flushed, &attr);
    pthread_condattr_destroy (&attr);
    self->sync_ready = true;

    if (s_lock (self, error) || s_open (self, map_size, flags, error)) {
        ces_disk_destroy (&self);
        return NULL;
    }
    int rc = pthread_create (&self->flusher, NULL, s_flusher, self);
    if (rc) {
        *error = zsys_sprintf ("data directory %s: cannot start the flusher: "
                               "%s",
                               dir, strerror (rc));
        ces_disk_destroy (&self);
        return NULL;
    }
    self->flusher_running = true;
    return self;
}

ces_disk_t *
ces_disk_new (const char *dir, size_t map_size, char **error)
{
    return s_disk_new (dir, map_size, DISK_FLAGS, error);
}

//  Mark the directory closed cleanly, once all is on the disk
static void
s_close_cleanly (ces_disk_t *self)
{
    ces_disk_commit (self);
    int rc = mdb_env_sync (self->env, 1);
    MDB_txn *txn;
    if (rc == 0)
        rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc == 0) {
        rc = s_meta_put (txn, self->meta, "clean", "1");
        if (rc == 0)
            rc = mdb_txn_commit (txn);
        else
            mdb_txn_abort (txn);
    }
    if (rc == 0)
        rc = mdb_env_sync (self->env, 1);
    if (rc)
        zsys_warning ("ces_disk: %s is not marked closed cleanly: %s",
                      self->dir, mdb_strerror (rc));
}

void
ces_disk_destroy (ces_disk_t **self_p)
{
    assert (self_p);
    ces_disk_t *self = *self_p;
    if (self) {
        s_flusher_stop (self);
        if (self->ready)
            s_close_cleanly (self);
        else if (self->txn)
            mdb_txn_abort (self->txn);
        if (self->env)
            mdb_env_close (self->env);
        if (self->lock_fd != -1)
            close (self->lock_fd); //  and the flock goes with it
        if (self->sync_ready) {
            pthread_cond_destroy (&self->flushed);
            pthread_cond_destroy (&self->wake);
            pthread_mutex_destroy (&self->mutex);
        }
        freen (self->data_file);
        freen (self->dir);
        freen (self);
        *self_p = NULL;
    }
}

bool
ces_disk_lost (ces_disk_t *self)
{
    assert (self);
    return self->lost;
}

//  --------------------------------------------------------------------------
//  Changes

//  A write failed: the open transaction cannot go on (LMDB requires its
//  abort), what it held is lost; counted, and logged once per 10 s
static void
s_failed (ces_disk_t *self, const char *what, int rc)
{
    self->failed_writes++;
    if (self->txn) {
        mdb_txn_abort (self->txn);
        self->txn = NULL;
    }
    int64_t now = zclock_mono ();
    if (!self->warned_at || now - self->warned_at >= DISK_WARN_MSEC) {
        zsys_warning ("ces_disk: %s in %s failed: %s; its transaction is "
                      "lost (%" PRIu64 " failed writes so far)",
                      what, self->dir, mdb_strerror (rc), self->failed_writes);
        self->warned_at = now;
    }
}

//  A key too long for LMDB: that write is refused
static void
s_refused (ces_disk_t *self, const char *room)
{
    self->refused_writes++;
    if (!self->refused_warned) {
        zsys_warning ("ces_disk: a device and key of room %s are too long to "
                      "be kept in %s (more than %zu octets); such writes are "
                      "refused",
                      room, self->dir, self->key_max);
        self->refused_warned = true;
    }
}

//  The open write transaction, begun when needed; NULL when it cannot be
static MDB_txn *
s_txn (ces_disk_t *self)
{
    assert (self->ready);
    if (!self->txn) {
        int rc = mdb_txn_begin (self->env, NULL, 0, &self->txn);
        if (rc) {
            self->txn = NULL;
            s_failed (self, "a transaction's start", rc);
        }
    }
    return self->txn;
}

//  Put key -> head + tail, the value written in place (no copy first)
static void
s_put (ces_disk_t *self, MDB_dbi dbi, const byte *key, size_t key_size,
       const byte *head, size_t head_size, const byte *tail, size_t tail_size)
{
    MDB_txn *txn = s_txn (self);
    if (!txn)
        return;
    MDB_val mkey = {key_size, (void *)key};
    MDB_val value = {head_size + tail_size, NULL};
    int rc = mdb_put (txn, dbi, &mkey, &value, MDB_RESERVE);
    if (rc) {
        s_failed (self, "a write", rc);
        return;
    }
    memcpy (value.mv_data, head, head_size);
    if (tail_size)
        memcpy ((byte *)value.mv_data + head_size, tail, tail_size);
    self->writes++;
}

static void
s_delete (ces_disk_t *self, MDB_dbi dbi, const byte *key, size_t key_size)
{
    MDB_txn *txn = s_txn (self);
    if (!txn)
        return;
    MDB_val mkey = {key_size, (void *)key};
    int rc = mdb_del (txn, dbi, &mkey, NULL);
    if (rc == 0)
        self->writes++;
    else if (rc != MDB_NOTFOUND)
        s_failed (self, "a delete", rc);
}

//  Delete every record whose key starts with prefix
static void
s_delete_prefix (ces_disk_t *self, MDB_dbi dbi, const byte *prefix, size_t size)
{
    MDB_txn *txn = s_txn (self);
    if (!txn)
        return;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc) {
        s_failed (self, "a delete", rc);
        return;
    }
    MDB_val key = {size, (void *)prefix}, value;
    while ((rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE)) == 0 &&
           key.mv_size >= size && memcmp (key.mv_data, prefix, size) == 0) {
        rc = mdb_cursor_del (cursor, 0);
        if (rc)
            break;
        self->writes++;
        key.mv_size = size;
        key.mv_data = (void *)prefix;
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND)
        s_failed (self, "a delete", rc);
}

void
ces_disk_put_room (ces_disk_t *self, const char *room, const char *epoch,
                   uint64_t seq)
{
    assert (self);
    assert (epoch);
    byte head[8];
    s_put_u64 (head, seq);
    s_put (self, self->rooms, (const byte *)room, s_room_prefix (room), head, 8,
           (const byte *)epoch, strlen (epoch) + 1);
}

void
ces_disk_delete_room (ces_disk_t *self, const char *room)
{
    assert (self);
    size_t prefix = s_room_prefix (room);
    s_delete (self, self->rooms, (const byte *)room, prefix);
    s_delete_prefix (self, self->events, (const byte *)room, prefix);
    s_delete_prefix (self, self->state, (const byte *)room, prefix);
    s_delete_prefix (self, self->devices, (const byte *)room, prefix);
}

void
ces_disk_put_event (ces_disk_t *self, const char *room, uint64_t seq,
                    int64_t time, const byte *message, size_t size)
{
    assert (self);
    assert (message || size == 0);
    byte key[CES_ROOM_MAX + 9];
    byte head[8];
    s_put_u64 (head, (uint64_t)time);
    s_put (self, self->events, key, s_event_key (key, room, seq), head, 8,
           message, size);
}

void
ces_disk_delete_event (ces_disk_t *self, const char *room, uint64_t seq)
{
    assert (self);
    byte key[CES_ROOM_MAX + 9];
    s_delete (self, self->events, key, s_event_key (key, room, seq));
}

void
ces_disk_put_state (ces_disk_t *self, const char *room, const char *device,
                    const char *key, uint64_t seq, int64_t time,
                    const byte *message, size_t size)
{
    assert (self);
    assert (device && key);
    assert (message || size == 0);
    byte record_key[DISK_KEY_MAX];
    s_room_prefix (room);
    size_t key_size = s_key (record_key, self->key_max, room, device, key);
    if (key_size == 0) {
        s_refused (self, room);
        return;
    }
    byte head[16];
    s_put_u64 (head, seq);
    s_put_u64 (head + 8, (uint64_t)time);
    s_put (self, self->state, record_key, key_size, head, 16, message, size);
}

void
ces_disk_delete_state (ces_disk_t *self, const char *room, const char *device,
                       const char *key)
{
    assert (self);
    assert (device && key);
    byte record_key[DISK_KEY_MAX];
    s_room_prefix (room);
    size_t key_size = s_key (record_key, self->key_max, room, device, key);
    if (key_size) //  a key too long was never written
        s_delete (self, self->state, record_key, key_size);
}

void
ces_disk_put_device (ces_disk_t *self, const char *room, const char *device,
                     int64_t heard)
{
    assert (self);
    assert (device);
    byte record_key[DISK_KEY_MAX];
    s_room_prefix (room);
    size_t key_size = s_key (record_key, self->key_max, room, device, NULL);
    if (key_size == 0) {
        s_refused (self, room);
        return;
    }
    byte head[8];
    s_put_u64 (head, (uint64_t)heard);
    s_put (self, self->devices, record_key, key_size, head, 8, NULL, 0);
}

void
ces_disk_delete_device (ces_disk_t *self, const char *room, const char *device)
{
    assert (self);
    assert (device);
    byte record_key[DISK_KEY_MAX];
    s_room_prefix (room);
    size_t key_size = s_key (record_key, self->key_max, room, device, NULL);
    if (key_size)
        s_delete (self, self->devices, record_key, key_size);
}

int
ces_disk_commit (ces_disk_t *self)
{
    assert (self);
    if (!self->txn)
        return 0;
    int rc = mdb_txn_commit (self->txn);
    self->txn = NULL; //  freed, committed or not
    if (rc) {
        s_failed (self, "a commit", rc);
        return -1;
    }
    self->commits++;
    pthread_mutex_lock (&self->mutex);
    self->committed++;
    pthread_mutex_unlock (&self->mutex);
    return 0;
}

//  --------------------------------------------------------------------------
//  Loading

//  Is this text of size octets one string and its NUL, and nothing else?
static bool
s_is_string (const byte *text, size_t size)
{
    return size > 0 && text[size - 1] == 0 &&
           strlen ((const char *)text) == size - 1;
}

//  Calls loader for each record of the room whose key prefix is prefix,
//  in dbi; -1 when LMDB fails
static int
s_load_room (ces_disk_t *self, MDB_txn *txn, MDB_dbi dbi,
             const ces_disk_loader_t *loader, void *arg, const char *room,
             size_t prefix)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (txn, dbi, &cursor);
    if (rc)
        return rc;
    MDB_val key = {prefix, (void *)room}, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        if (key.mv_size < prefix || memcmp (key.mv_data, room, prefix) != 0)
            break;
        const byte *rest = (const byte *)key.mv_data + prefix;
        size_t rest_size = key.mv_size - prefix;
        const byte *data = (const byte *)value.mv_data;
        if (dbi == self->events) {
            if (rest_size != 8 || value.mv_size < 8) {
                self->skipped_records++;
                continue;
            }
            if (loader->event)
                loader->event (arg, room, s_get_u64 (rest),
                               (int64_t)s_get_u64 (data), data + 8,
                               value.mv_size - 8);
        } else if (dbi == self->state) {
            //  device NUL key NUL
            const byte *nul = (const byte *)memchr (rest, 0, rest_size);
            size_t device_size = nul ? (size_t)(nul - rest) + 1 : 0;
            if (!nul || !s_is_string (nul + 1, rest_size - device_size) ||
                value.mv_size < 16) {
                self->skipped_records++;
                continue;
            }
            if (loader->state)
                loader->state (arg, room, (const char *)rest,
                               (const char *)nul + 1, s_get_u64 (data),
                               (int64_t)s_get_u64 (data + 8), data + 16,
                               value.mv_size - 16);
        } else {
            if (!s_is_string (rest, rest_size) || value.mv_size != 8) {
                self->skipped_records++;
                continue;
            }
            if (loader->device)
                loader->device (arg, room, (const char *)rest,
                                (int64_t)s_get_u64 (data));
        }
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  Is this a room record: a room ID of 1 to CES_ROOM_MAX octets with its
//  NUL -> seq, epoch with its NUL?
static bool
s_is_room (const MDB_val *key, const MDB_val *value)
{
    return key->mv_size >= 2 && key->mv_size <= CES_ROOM_MAX + 1 &&
           s_is_string ((const byte *)key->mv_data, key->mv_size) &&
           value->mv_size > 8 &&
           s_is_string ((const byte *)value->mv_data + 8, value->mv_size - 8);
}

int
ces_disk_load (ces_disk_t *self, const ces_disk_loader_t *loader, void *arg)
{
    assert (self);
    assert (loader);
    assert (self->ready);
    //  Through the open write transaction if any: it sees its own changes
    MDB_txn *txn = self->txn;
    int rc = 0;
    if (!txn)
        rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        zsys_warning ("ces_disk: cannot read %s: %s", self->dir,
                      mdb_strerror (rc));
        return -1;
    }
    MDB_cursor *cursor = NULL;
    rc = mdb_cursor_open (txn, self->rooms, &cursor);
    //  Every room first, then each room's records
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        MDB_val key, value;
        for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
            if (!s_is_room (&key, &value)) {
                if (pass == 0)
                    self->skipped_records++;
                continue;
            }
            const char *room = (const char *)key.mv_data;
            const byte *data = (const byte *)value.mv_data;
            if (pass == 0) {
                if (loader->room)
                    loader->room (arg, room, (const char *)data + 8,
                                  s_get_u64 (data));
                continue;
            }
            MDB_dbi dbis[] = {self->events, self->state, self->devices};
            for (int index = 0; rc == 0 && index < 3; index++)
                rc = s_load_room (self, txn, dbis[index], loader, arg, room,
                                  key.mv_size);
            if (rc)
                break;
        }
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (cursor)
        mdb_cursor_close (cursor);
    if (txn != self->txn)
        mdb_txn_abort (txn);
    if (rc) {
        zsys_warning ("ces_disk: cannot read %s: %s", self->dir,
                      mdb_strerror (rc));
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Status

void
ces_disk_status (ces_disk_t *self, cJSON *object)
{
    assert (self);
    assert (cJSON_IsObject (object));
    pthread_mutex_lock (&self->mutex);
    uint64_t flushes = self->flushes;
    uint64_t flush_errors = self->flush_errors;
    uint64_t last_flush_usecs = self->last_flush_usecs;
    pthread_mutex_unlock (&self->mutex);
    struct stat info;
    double file_bytes =
        stat (self->data_file, &info) == 0 ? (double)info.st_size : 0;
    MDB_envinfo envinfo;
    mdb_env_info (self->env, &envinfo);
    MDB_stat envstat;
    mdb_env_stat (self->env, &envstat);

    cJSON_AddStringToObject (object, "dir", self->dir);
    cJSON_AddNumberToObject (object, "commits", (double)self->commits);
    cJSON_AddNumberToObject (object, "writes", (double)self->writes);
    cJSON_AddNumberToObject (object, "failed_writes",
                             (double)self->failed_writes);
    cJSON_AddNumberToObject (object, "refused_writes",
                             (double)self->refused_writes);
    cJSON_AddNumberToObject (object, "skipped_records",
                             (double)self->skipped_records);
    cJSON_AddNumberToObject (object, "flushes", (double)flushes);
    cJSON_AddNumberToObject (object, "flush_errors", (double)flush_errors);
    cJSON_AddNumberToObject (object, "last_flush_usecs",
                             (double)last_flush_usecs);
    cJSON_AddNumberToObject (object, "file_bytes", file_bytes);
    cJSON_AddNumberToObject (object, "used_bytes",
                             (double)(envinfo.me_last_pgno + 1) *
                                 (double)envstat.ms_psize);
    cJSON_AddNumberToObject (object, "map_bytes", (double)envinfo.me_mapsize);
    cJSON_AddBoolToObject (object, "lost_at_open", self->lost);
}

//  --------------------------------------------------------------------------
//  Self test

//  Each record loaded, as a line of text
static void
s_test_room (void *arg, const char *room, const char *epoch, uint64_t seq)
{
    fprintf ((FILE *)arg, "room %s %s %" PRIu64 "\n", room, epoch, seq);
}

static void
s_test_message (FILE *out, const byte *message, size_t size)
{
    fprintf (out, " %zu:", size);
    for (size_t index = 0; index < size; index++)
        if (message[index] >= ' ' && message[index] < 127)
            fputc (message[index], out);
        else
            fprintf (out, "\\x%02x", message[index]);
    fputc ('\n', out);
}

static void
s_test_event (void *arg, const char *room, uint64_t seq, int64_t time,
              const byte *message, size_t size)
{
    fprintf ((FILE *)arg, "event %s %" PRIu64 " %" PRId64, room, seq, time);
    s_test_message ((FILE *)arg, message, size);
}

static void
s_test_state (void *arg, const char *room, const char *device, const char *key,
              uint64_t seq, int64_t time, const byte *message, size_t size)
{
    fprintf ((FILE *)arg, "state %s %s %s %" PRIu64 " %" PRId64, room, device,
             key, seq, time);
    s_test_message ((FILE *)arg, message, size);
}

static void
s_test_device (void *arg, const char *room, const char *device, int64_t heard)
{
    fprintf ((FILE *)arg, "device %s %s %" PRId64 "\n", room, device, heard);
}

//  Everything the disk holds, as lines (caller frees)
static char *
s_test_load (ces_disk_t *disk)
{
    const ces_disk_loader_t loader = {s_test_room, s_test_event, s_test_state,
                                      s_test_device};
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    int rc = ces_disk_load (disk, &loader, out);
    assert (rc == 0);
    fclose (out);
    return text;
}

//  How many records dbi holds, in what is committed
static size_t
s_test_count (ces_disk_t *self, MDB_dbi dbi)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    assert (rc == 0);
    MDB_stat stat;
    rc = mdb_stat (txn, dbi, &stat);
    assert (rc == 0);
    mdb_txn_abort (txn);
    return stat.ms_entries;
}

//  Write meta name = text into a closed data directory, as another writer
//  would have left it
static void
s_test_meta (const char *dir, const char *name, const char *text)
{
    MDB_env *env;
    int rc = mdb_env_create (&env);
    assert (rc == 0);
    mdb_env_set_maxdbs (env, 8);
    rc = mdb_env_open (env, dir, 0, 0640);
    assert (rc == 0);
    MDB_txn *txn;
    rc = mdb_txn_begin (env, NULL, 0, &txn);
    assert (rc == 0);
    MDB_dbi meta;
    rc = mdb_dbi_open (txn, "meta", 0, &meta);
    assert (rc == 0);
    rc = s_meta_put (txn, meta, name, text);
    assert (rc == 0);
    rc = mdb_txn_commit (txn);
    assert (rc == 0);
    mdb_env_close (env);
}

static uint64_t
s_test_status (ces_disk_t *disk, const char *name)
{
    cJSON *status = cJSON_CreateObject ();
    ces_disk_status (disk, status);
    cJSON *item = cJSON_GetObjectItemCaseSensitive (status, name);
    assert (cJSON_IsNumber (item));
    uint64_t value = (uint64_t)item->valuedouble;
    cJSON_Delete (status);
    return value;
}

static void
s_test_write_file (const char *path, const void *data, size_t size)
{
    FILE *file = fopen (path, "w");
    assert (file);
    assert (fwrite (data, 1, size, file) == size);
    fclose (file);
}

//  Remove dir, its files, and the files of its subdirectories
static void
s_test_remove (const char *dir)
{
    DIR *handle = opendir (dir);
    assert (handle);
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
            continue;
        char *path = zsys_sprintf ("%s/%s", dir, entry->d_name);
        struct stat info;
        assert (lstat (path, &info) == 0);
        if (S_ISDIR (info.st_mode))
            s_test_remove (path);
        else
            assert (unlink (path) == 0);
        freen (path);
    }
    closedir (handle);
    assert (rmdir (dir) == 0);
}

//  The event path's cost: events with a state entry each, a room update
//  every 100, the event 1000 back evicted, a commit every 100 events
static void
s_test_measure (const char *base, unsigned int flags, const char *name)
{
    char *dir = zsys_sprintf ("%s/measure-%s-%" PRIu64, base, name, s_usecs ());
    char *error = NULL;
    ces_disk_t *disk = s_disk_new (dir, 256 << 20, flags, &error);
    assert (disk);
    byte message[300];
    memset (message, 'x', sizeof (message));
    const int count = 100000;
    uint64_t commit_max = 0;
    uint64_t commit_usecs = 0;
    uint64_t start = s_usecs ();
    uint64_t batch_start = start, batch_max = 0;
    for (int seq = 1; seq <= count; seq++) {
        char device[16];
        snprintf (device, sizeof (device), "device-%d", seq % 50);
        ces_disk_put_event (disk, "measure", (uint64_t)seq, seq, message,
                            sizeof (message));
        ces_disk_put_state (disk, "measure", device, "position", (uint64_t)seq,
                            seq, message, sizeof (message));
        if (seq > 1000)
            ces_disk_delete_event (disk, "measure", (uint64_t)(seq - 1000));
        if (seq % 100 == 0) {
            ces_disk_put_room (disk, "measure", "epoch", (uint64_t)seq);
            uint64_t before = s_usecs ();
            assert (ces_disk_commit (disk) == 0);
            uint64_t took = s_usecs () - before;
            commit_usecs += took;
            if (took > commit_max)
                commit_max = took;
            if (s_usecs () - batch_start > batch_max)
                batch_max = s_usecs () - batch_start;
            batch_start = s_usecs ();
        }
    }
    uint64_t usecs = s_usecs () - start;
    //  One commit of one event alone
    const int single = 1000;
    uint64_t single_usecs = 0;
    for (int seq = count + 1; seq <= count + single; seq++) {
        ces_disk_put_event (disk, "measure", (uint64_t)seq, seq, message,
                            sizeof (message));
        uint64_t before = s_usecs ();
        assert (ces_disk_commit (disk) == 0);
        single_usecs += s_usecs () - before;
    }
    //  One flush after all that
    uint64_t before = s_usecs ();
    assert (mdb_env_sync (disk->env, 1) == 0);
    uint64_t sync_usecs = s_usecs () - before;
    assert (s_test_status (disk, "failed_writes") == 0);
    printf ("   %s: %.2f us per event (commits of 100: %.1f us each, "
            "%.0f%% of the time); a commit of one event: %.1f us; "
            "a flush: %" PRIu64 " us; %" PRIu64
            " KiB used; the slowest commit %" PRIu64
            " us, the slowest batch of 100 %" PRIu64 " us\n",
            name, (double)usecs / count, (double)commit_usecs / (count / 100),
            100.0 * (double)commit_usecs / (double)usecs,
            (double)single_usecs / single, sync_usecs,
            s_test_status (disk, "used_bytes") / 1024, commit_max, batch_max);
    ces_disk_destroy (&disk);
    freen (dir);
}

void
ces_disk_test (bool verbose)
{
    printf (" * ces_disk: %s", verbose ? "\n" : "");
    char base[] = "/tmp/ces_disk_test.XXXXXX";
    assert (mkdtemp (base));
    char *dir = zsys_sprintf ("%s/data", base);
    char *error = NULL;

    //  @selftest
    //  A new directory: made, nothing lost
    ces_disk_t *disk = ces_disk_new (dir, 64 << 20, &error);
    assert (disk && !error);
    assert (!ces_disk_lost (disk));
    char *text = s_test_load (disk);
    assert (streq (text, ""));
    freen (text);

    //  Written, committed, closed, opened again: loaded back in order
    ces_disk_put_room (disk, "room", "e1", 65536);
    ces_disk_put_room (disk, "room2", "e2", 7);
    ces_disk_put_event (disk, "room", 65536, 1000, (const byte *)"big", 3);
    ces_disk_put_event (disk, "room", 2, -5, (const byte *)"a\0b", 3);
    ces_disk_put_event (disk, "room", 256, 2000, (const byte *)"", 0);
    ces_disk_put_event (disk, "room", 1, 999, (const byte *)"first", 5);
    ces_disk_put_event (disk, "room2", 3, 30, (const byte *)"other", 5);
    ces_disk_put_state (disk, "room", "dev2", "pos", 2, 20, (const byte *)"p2",
                        2);
    ces_disk_put_state (disk, "room", "dev1", "pos", 1, 10, (const byte *)"p1",
                        2);
    ces_disk_put_state (disk, "room", "dev1", "color", 3, 11,
                        (const byte *)"red", 3);
    ces_disk_put_state (disk, "room2", "dev1", "pos", 3, 30, (const byte *)"q",
                        1);
    ces_disk_put_device (disk, "room", "dev2", 1234567890123);
    ces_disk_put_device (disk, "room", "dev1", 42);
    ces_disk_put_device (disk, "room2", "dev9", 9);
    //  Replaced
    ces_disk_put_device (disk, "room", "dev1", 43);
    ces_disk_put_room (disk, "room", "e1", 65537);
    assert (ces_disk_commit (disk) == 0);
    assert (ces_disk_commit (disk) == 0); //  nothing open: nothing to do
    assert (s_test_status (disk, "commits") == 1);
    assert (s_test_status (disk, "writes") == 16);
    const char *all = "room room e1 65537\n"
                      "room room2 e2 7\n"
                      "event room 1 999 5:first\n"
                      "event room 2 -5 3:a\\x00b\n"
                      "event room 256 2000 0:\n"
                      "event room 65536 1000 3:big\n"
                      "state room dev1 color 3 11 3:red\n"
                      "state room dev1 pos 1 10 2:p1\n"
                      "state room dev2 pos 2 20 2:p2\n"
                      "device room dev1 43\n"
                      "device room dev2 1234567890123\n"
                      "event room2 3 30 5:other\n"
                      "state room2 dev1 pos 3 30 1:q\n"
                      "device room2 dev9 9\n";
    text = s_test_load (disk);
    assert (streq (text, all));
    freen (text);

    //  The flusher writes it to the disk within a second or so
    pthread_mutex_lock (&disk->mutex);
    struct timespec deadline;
    s_deadline (&deadline, 5000);
    while (disk->flushes == 0 &&
           pthread_cond_timedwait (&disk->flushed, &disk->mutex, &deadline) !=
               ETIMEDOUT)
        ;
    pthread_mutex_unlock (&disk->mutex);
    assert (s_test_status (disk, "flushes") >= 1);

    //  Only one process at a time
    ces_disk_t *second = ces_disk_new (dir, 64 << 20, &error);
    assert (!second && error);
    char *expected = zsys_sprintf ("data directory %s is in use by another "
                                   "process (pid %ld)",
                                   dir, (long)getpid ());
    if (verbose)
        printf ("   %s\n", error);
    assert (streq (error, expected));
    freen (expected);
    freen (error);

    //  A change not committed is committed by destroy
    ces_disk_put_device (disk, "room2", "dev8", 8);
    ces_disk_destroy (&disk);
    assert (disk == NULL);
    ces_disk_destroy (&disk); //  idempotent

    disk = ces_disk_new (dir, 64 << 20, &error);
    assert (disk && !error);
    assert (!ces_disk_lost (disk)); //  closed cleanly
    text = s_test_load (disk);
    char *all_and_dev8 = strdup (all);
    assert (all_and_dev8);
    *strstr (all_and_dev8, "device room2 dev9 9\n") = 0;
    char *expected_text = zsys_sprintf (
        "%sdevice room2 dev8 8\ndevice room2 dev9 9\n", all_and_dev8);
    assert (streq (text, expected_text));
    freen (expected_text);
    freen (all_and_dev8);
    freen (text);
    cJSON *status = cJSON_CreateObject ();
    ces_disk_status (disk, status);
    assert (streq (cJSON_GetObjectItem (status, "dir")->valuestring, dir));
    assert (cJSON_IsFalse (cJSON_GetObjectItem (status, "lost_at_open")));
    assert (cJSON_GetObjectItem (status, "file_bytes")->valuedouble > 0);
    assert (cJSON_GetObjectItem (status, "map_bytes")->valuedouble == 64 << 20);
    assert (cJSON_GetObjectItem (status, "last_flush_usecs"));
    assert (cJSON_GetObjectItem (status, "used_bytes")->valuedouble > 0);
    assert (cJSON_GetObjectItem (status, "used_bytes")->valuedouble <=
            cJSON_GetObjectItem (status, "file_bytes")->valuedouble);
    cJSON_Delete (status);

    //  Deletes, seen by a load in the same transaction
    ces_disk_delete_event (disk, "room", 256);
    ces_disk_delete_event (disk, "room", 257); //  not there: nothing
    ces_disk_delete_state (disk, "room", "dev1", "pos");
    ces_disk_delete_device (disk, "room", "dev2");
    ces_disk_delete_device (disk, "room2", "dev8");
    text = s_test_load (disk);
    assert (streq (text, "room room e1 65537\n"
                         "room room2 e2 7\n"
                         "event room 1 999 5:first\n"
                         "event room 2 -5 3:a\\x00b\n"
                         "event room 65536 1000 3:big\n"
                         "state room dev1 color 3 11 3:red\n"
                         "state room dev2 pos 2 20 2:p2\n"
                         "device room dev1 43\n"
                         "event room2 3 30 5:other\n"
                         "state room2 dev1 pos 3 30 1:q\n"
                         "device room2 dev9 9\n"));
    freen (text);
    assert (ces_disk_commit (disk) == 0);
    assert (s_test_status (disk, "writes") == 4);

    //  A room deleted: every record of it, in every database, and none of
    //  room2's (whose ID it begins)
    ces_disk_delete_room (disk, "room");
    const char *room2 = "room room2 e2 7\n"
                        "event room2 3 30 5:other\n"
                        "state room2 dev1 pos 3 30 1:q\n"
                        "device room2 dev9 9\n";
    text = s_test_load (disk);
    assert (streq (text, room2));
    freen (text);
    assert (ces_disk_commit (disk) == 0);
    assert (s_test_count (disk, disk->rooms) == 1);
    assert (s_test_count (disk, disk->events) == 1);
    assert (s_test_count (disk, disk->state) == 1);
    assert (s_test_count (disk, disk->devices) == 1);
    ces_disk_delete_room (disk, "no such room");
    assert (ces_disk_commit (disk) == 0);

    //  A device and key too long for an LMDB key: refused, counted
    char longer[300];
    memset (longer, 'k', sizeof (longer) - 1);
    longer[sizeof (longer) - 1] = 0;
    ces_disk_put_state (disk, "room2", longer, longer, 1, 1, (const byte *)"x",
                        1);
    ces_disk_put_state (disk, "room2", longer, "short", 1, 1, (const byte *)"x",
                        1);
    ces_disk_delete_state (disk, "room2", longer, longer);
    assert (s_test_status (disk, "refused_writes") == 1);
    assert (ces_disk_commit (disk) == 0);
    assert (s_test_count (disk, disk->state) == 2);
    ces_disk_delete_state (disk, "room2", longer, "short");
    assert (ces_disk_commit (disk) == 0);

    //  A record that does not decode is skipped and counted
    MDB_val key = {7, "room2\0x"}, value = {2, "ab"};
    assert (mdb_put (s_txn (disk), disk->events, &key, &value, 0) == 0);
    text = s_test_load (disk);
    assert (streq (text, room2));
    freen (text);
    assert (s_test_status (disk, "skipped_records") == 1);
    ces_disk_delete_room (disk, "room2");
    assert (ces_disk_commit (disk) == 0);
    assert (s_test_count (disk, disk->events) == 0);
    ces_disk_put_room (disk, "room2", "e2", 7);
    ces_disk_destroy (&disk);

    //  Not closed cleanly, in an earlier boot: lost
    s_test_meta (dir, "clean", "0");
    s_test_meta (dir, "boot", "an-earlier-boot");
    disk = ces_disk_new (dir, 64 << 20, &error);
    assert (disk && ces_disk_lost (disk));
    status = cJSON_CreateObject ();
    ces_disk_status (disk, status);
    assert (cJSON_IsTrue (cJSON_GetObjectItem (status, "lost_at_open")));
    cJSON_Delete (status);
    text = s_test_load (disk); //  what it holds is still read
    assert (streq (text, "room room2 e2 7\n"));
    freen (text);
    ces_disk_destroy (&disk);
    //  ... but closed cleanly in an earlier boot, or not in this boot: not
    s_test_meta (dir, "clean", "1");
    disk = ces_disk_new (dir, 64 << 20, &error);
    assert (disk && !ces_disk_lost (disk));
    ces_disk_destroy (&disk);
    s_test_meta (dir, "clean", "0");
    disk = ces_disk_new (dir, 64 << 20, &error);
    assert (disk && !ces_disk_lost (disk));
    ces_disk_destroy (&disk);

    //  Another format
    s_test_meta (dir, "format", "99");
    disk = ces_disk_new (dir, 64 << 20, &error);
    assert (!disk && error);
    if (verbose)
        printf ("   %s\n", error);
    assert (strstr (error, "holds format 99; this ces reads format 1"));
    freen (error);
    s_test_meta (dir, "format", DISK_FORMAT);
    disk = ces_disk_new (dir, 64 << 20, &error);
    assert (disk && !error);
    ces_disk_destroy (&disk);

    //  Not a directory, no parent, not an LMDB file, another LMDB
    char *path = zsys_sprintf ("%s/file", base);
    s_test_write_file (path, "x", 1);
    disk = ces_disk_new (path, 64 << 20, &error);
    assert (!disk && error);
    if (verbose)
        printf ("   %s\n", error);
    assert (strstr (error, "is not a directory"));
    freen (error);
    freen (path);

    path = zsys_sprintf ("%s/no/such", base);
    disk = ces_disk_new (path, 64 << 20, &error);
    assert (!disk && error);
    if (verbose)
        printf ("   %s\n", error);
    assert (strstr (error, "cannot be made: No such file or directory"));
    freen (error);
    freen (path);

    if (geteuid () != 0) { //  root writes anywhere
        path = zsys_sprintf ("%s/readonly", base);
        assert (mkdir (path, 0500) == 0);
        disk = ces_disk_new (path, 64 << 20, &error);
        assert (!disk && error);
        if (verbose)
            printf ("   %s\n", error);
        assert (strstr (error, "is not writable"));
        freen (error);
        freen (path);
    }

    byte garbage[20000];
    for (size_t index = 0; index < sizeof (garbage); index++)
        garbage[index] = (byte)(index * 7 + 3);
    const size_t garbage_sizes[] = {100, sizeof (garbage)};
    for (int index = 0; index < 2; index++) {
        path = zsys_sprintf ("%s/garbage%d", base, index);
        assert (mkdir (path, 0750) == 0);
        char *file = zsys_sprintf ("%s/data.mdb", path);
        s_test_write_file (file, garbage, garbage_sizes[index]);
        freen (file);
        disk = ces_disk_new (path, 64 << 20, &error);
        assert (!disk && error);
        if (verbose)
            printf ("   %s\n", error);
        assert (strstr (error, "is not an LMDB file"));
        freen (error);
        freen (path);
    }

    path = zsys_sprintf ("%s/other", base);
    assert (mkdir (path, 0750) == 0);
    MDB_env *env;
    assert (mdb_env_create (&env) == 0);
    assert (mdb_env_open (env, path, 0, 0640) == 0);
    MDB_txn *txn;
    assert (mdb_txn_begin (env, NULL, 0, &txn) == 0);
    MDB_dbi main;
    assert (mdb_dbi_open (txn, NULL, 0, &main) == 0);
    key = (MDB_val){4, "meta"};
    assert (mdb_put (txn, main, &key, &value, 0) == 0);
    assert (mdb_txn_commit (txn) == 0);
    mdb_env_close (env);
    disk = ces_disk_new (path, 64 << 20, &error);
    assert (!disk && error);
    if (verbose)
        printf ("   %s\n", error);
    assert (strstr (error, "that is not ces's"));
    freen (error);
    freen (path);

    //  The map full: that transaction is lost, counted; the next one works
    path = zsys_sprintf ("%s/full", base);
    disk = ces_disk_new (path, 1 << 20, &error);
    assert (disk);
    ces_disk_put_room (disk, "full", "e", 1);
    assert (ces_disk_commit (disk) == 0);
    byte *large = (byte *)zmalloc (100000);
    assert (large);
    uint64_t seq = 1;
    while (s_test_status (disk, "failed_writes") == 0 && seq < 100)
        ces_disk_put_event (disk, "full", seq++, 0, large, 100000);
    freen (large);
    assert (s_test_status (disk, "failed_writes") == 1);
    assert (ces_disk_commit (disk) == 0); //  nothing is open any more
    assert (s_test_status (disk, "commits") == 1);
    ces_disk_put_room (disk, "full", "e", 2);
    ces_disk_put_event (disk, "full", 1, 1, (const byte *)"fits", 4);
    assert (ces_disk_commit (disk) == 0);
    text = s_test_load (disk);
    assert (streq (text, "room full e 2\nevent full 1 1 4:fits\n"));
    freen (text);
    ces_disk_destroy (&disk);
    freen (path);

#if DISK_TEST_FORK
    //  A process killed (kill -9) after a commit, with a change not
    //  committed: what it committed is there, and nothing is lost in the
    //  same boot. The child says it committed on one pipe, and goes when
    //  the other one closes (should this process fail first)
    path = zsys_sprintf ("%s/killed", base);
    int committed[2], hold[2];
    assert (pipe (committed) == 0 && pipe (hold) == 0);
    fflush (stdout);
    pid_t child = fork ();
    assert (child >= 0);
    if (child == 0) {
        close (committed[0]);
        close (hold[1]);
        char *child_error = NULL;
        ces_disk_t *killed = ces_disk_new (path, 64 << 20, &child_error);
        if (!killed)
            _exit (2);
        ces_disk_put_room (killed, "kept", "e", 2);
        ces_disk_put_event (killed, "kept", 1, 1, (const byte *)"one", 3);
        ces_disk_put_event (killed, "kept", 2, 2, (const byte *)"two", 3);
        if (ces_disk_commit (killed))
            _exit (3);
        ces_disk_put_event (killed, "kept", 3, 3, (const byte *)"three", 5);
        char byte = 'c';
        if (write (committed[1], &byte, 1) != 1)
            _exit (4);
        while (read (hold[0], &byte, 1) == -1 && errno == EINTR)
            ;
        _exit (5);
    }
    close (committed[1]);
    close (hold[0]);
    struct pollfd item = {committed[0], POLLIN, 0};
    assert (poll (&item, 1, 30000) == 1);
    char byte;
    assert (read (committed[0], &byte, 1) == 1);
    assert (kill (child, SIGKILL) == 0);
    int child_status;
    assert (waitpid (child, &child_status, 0) == child);
    assert (WIFSIGNALED (child_status) && WTERMSIG (child_status) == SIGKILL);
    close (committed[0]);
    close (hold[1]);
    disk = ces_disk_new (path, 64 << 20, &error);
    assert (disk && !error);
    assert (!ces_disk_lost (disk));
    text = s_test_load (disk);
    assert (streq (text, "room kept e 2\n"
                         "event kept 1 1 3:one\n"
                         "event kept 2 2 3:two\n"));
    freen (text);
    ces_disk_destroy (&disk);
    freen (path);
#endif
    //  @end

    if (verbose) {
        for (int round = 0; round < 2; round++) {
            s_test_measure (base, MDB_NOSYNC | MDB_NOTLS, "pwrite");
            s_test_measure (base, MDB_NOSYNC | MDB_NOTLS | MDB_WRITEMAP,
                            "writemap");
        }
    }
    freen (dir);
    s_test_remove (base);
    printf ("OK\n");
}
