/*  =========================================================================
    ces_disk - the hub's room streams on disk (LMDB), for --data-dir

    The records and their layout are ces_disk_record's; the directory, its
    lock and its LMDB environment ces_disk_dir's; the thread that flushes
    the commits to the disk ces_disk_flusher's. This class writes the
    changes it is told into one open write transaction, commits it, and
    loads the records back.
    =========================================================================
*/
#include "ces_classes.h"
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <poll.h>

//  Environment flags: commits never wait on the disk (the flusher syncs);
//  transactions are not tied to a thread. Not MDB_WRITEMAP, though
//  ces_disk_test -v measures it faster (an event with its state entry and
//  an eviction 0.5 us instead of 0.9; a commit of 100 events 0.8 us
//  instead of 40): with it data.mdb must hold the whole map on the disk
//  from the start (ces_disk_dir), or a full disk is a SIGBUS in the hub, and
//  a wild pointer anywhere in the process could damage the data. The hub
//  commits once per batch of events, so the commit's cost is shared.
#define DISK_FLAGS      (MDB_NOSYNC | MDB_NOTLS)
#define DISK_FLUSH_MSEC 1000  //  the flusher's period
#define DISK_WARN_MSEC  10000 //  at most one warning this often

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
    ces_disk_dir_t *dir;
    ces_disk_flusher_t *flusher;
    MDB_env *env;      //  the directory's
    ces_disk_dbs_t db; //  the directory's
    const char *path;  //  the directory's, for the warnings
    size_t key_max;
    MDB_txn *txn; //  the open write transaction, or NULL
    //  Counters of the owner's thread
    uint64_t commits;
    uint64_t writes;
    uint64_t failed_writes;
    uint64_t refused_writes;
    uint64_t skipped_records;
    int64_t warned_at; //  zclock_mono of the last warning of a failed write
    bool refused_warned;
};

//  --------------------------------------------------------------------------
//  Opening

//  Test hook: open with other environment flags
static ces_disk_t *
s_disk_new (const char *dir, size_t map_size, unsigned int flags, char **error)
{
    assert (dir);
    assert (error);
    ces_disk_dir_t *opened = ces_disk_dir_new (dir, map_size, flags, error);
    if (!opened)
        return NULL;
    ces_disk_t *self = (ces_disk_t *)zmalloc (sizeof (*self));
    assert (self);
    self->dir = opened;
    self->env = ces_disk_dir_env (opened);
    self->db = ces_disk_dir_dbs (opened);
    self->path = ces_disk_dir_path (opened);
    self->key_max = ces_disk_dir_key_max (opened);
    char *reason = NULL;
    self->flusher = ces_disk_flusher_new (
        self->env, ces_disk_dir_data_file (opened), DISK_FLUSH_MSEC, &reason);
    if (!self->flusher) {
        *error = zsys_sprintf ("data directory %s: cannot start the flusher: "
                               "%s",
                               dir, reason);
        freen (reason);
        ces_disk_destroy (&self);
        return NULL;
    }
    return self;
}

ces_disk_t *
ces_disk_new (const char *dir, size_t map_size, char **error)
{
    return s_disk_new (dir, map_size, DISK_FLAGS, error);
}

void
ces_disk_destroy (ces_disk_t **self_p)
{
    assert (self_p);
    ces_disk_t *self = *self_p;
    if (self) {
        ces_disk_flusher_destroy (&self->flusher);
        ces_disk_commit (self);
        ces_disk_dir_destroy (&self->dir); //  marks it closed cleanly
        freen (self);
        *self_p = NULL;
    }
}

bool
ces_disk_lost (ces_disk_t *self)
{
    assert (self);
    return ces_disk_dir_lost (self->dir);
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
                      what, self->path, mdb_strerror (rc), self->failed_writes);
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
                      room, self->path, self->key_max);
        self->refused_warned = true;
    }
}

//  The open write transaction, begun when needed; NULL when it cannot be
static MDB_txn *
s_txn (ces_disk_t *self)
{
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
    ces_position_number_put (head, seq);
    s_put (self, self->db.rooms, (const byte *)room,
           ces_disk_record_room_prefix (room), head, 8, (const byte *)epoch,
           strlen (epoch) + 1);
}

void
ces_disk_delete_room (ces_disk_t *self, const char *room)
{
    assert (self);
    size_t prefix = ces_disk_record_room_prefix (room);
    s_delete (self, self->db.rooms, (const byte *)room, prefix);
    s_delete_prefix (self, self->db.events, (const byte *)room, prefix);
    s_delete_prefix (self, self->db.state, (const byte *)room, prefix);
    s_delete_prefix (self, self->db.devices, (const byte *)room, prefix);
}

void
ces_disk_put_event (ces_disk_t *self, const char *room, uint64_t seq,
                    int64_t time, const byte *message, size_t size)
{
    assert (self);
    assert (message || size == 0);
    byte key[CES_ROOM_MAX + 9];
    byte head[8];
    ces_position_number_put (head, (uint64_t)time);
    s_put (self, self->db.events, key,
           ces_disk_record_event_key (key, room, seq), head, 8, message, size);
}

void
ces_disk_delete_event (ces_disk_t *self, const char *room, uint64_t seq)
{
    assert (self);
    byte key[CES_ROOM_MAX + 9];
    s_delete (self, self->db.events, key,
              ces_disk_record_event_key (key, room, seq));
}

void
ces_disk_put_state (ces_disk_t *self, const char *room, const char *device,
                    const char *key, uint64_t seq, int64_t time,
                    const byte *message, size_t size)
{
    assert (self);
    assert (device && key);
    assert (message || size == 0);
    byte record_key[CES_DISK_RECORD_KEY_MAX];
    ces_disk_record_room_prefix (room);
    size_t key_size =
        ces_disk_record_key (record_key, self->key_max, room, device, key);
    if (key_size == 0) {
        s_refused (self, room);
        return;
    }
    byte head[16];
    ces_position_number_put (head, seq);
    ces_position_number_put (head + 8, (uint64_t)time);
    s_put (self, self->db.state, record_key, key_size, head, 16, message, size);
}

void
ces_disk_delete_state (ces_disk_t *self, const char *room, const char *device,
                       const char *key)
{
    assert (self);
    assert (device && key);
    byte record_key[CES_DISK_RECORD_KEY_MAX];
    ces_disk_record_room_prefix (room);
    size_t key_size =
        ces_disk_record_key (record_key, self->key_max, room, device, key);
    if (key_size) //  a key too long was never written
        s_delete (self, self->db.state, record_key, key_size);
}

void
ces_disk_put_device (ces_disk_t *self, const char *room, const char *device,
                     int64_t heard)
{
    assert (self);
    assert (device);
    byte record_key[CES_DISK_RECORD_KEY_MAX];
    ces_disk_record_room_prefix (room);
    size_t key_size =
        ces_disk_record_key (record_key, self->key_max, room, device, NULL);
    if (key_size == 0) {
        s_refused (self, room);
        return;
    }
    byte head[8];
    ces_position_number_put (head, (uint64_t)heard);
    s_put (self, self->db.devices, record_key, key_size, head, 8, NULL, 0);
}

void
ces_disk_delete_device (ces_disk_t *self, const char *room, const char *device)
{
    assert (self);
    assert (device);
    byte record_key[CES_DISK_RECORD_KEY_MAX];
    ces_disk_record_room_prefix (room);
    size_t key_size =
        ces_disk_record_key (record_key, self->key_max, room, device, NULL);
    if (key_size)
        s_delete (self, self->db.devices, record_key, key_size);
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
    if (self->flusher) //  not when destroy commits, the flusher stopped
        ces_disk_flusher_committed (self->flusher);
    return 0;
}

//  --------------------------------------------------------------------------
//  Loading

int
ces_disk_load (ces_disk_t *self, const ces_disk_loader_t *loader, void *arg)
{
    assert (self);
    assert (loader);
    //  Through the open write transaction if any: it sees its own changes
    MDB_txn *txn = self->txn;
    int rc = 0;
    if (!txn)
        rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        zsys_warning ("ces_disk: cannot read %s: %s", self->path,
                      mdb_strerror (rc));
        return -1;
    }
    rc = ces_disk_reader_load (txn, &self->db, loader, arg,
                               &self->skipped_records);
    if (txn != self->txn)
        mdb_txn_abort (txn);
    if (rc) {
        zsys_warning ("ces_disk: cannot read %s: %s", self->path,
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
    cJSON_AddStringToObject (object, "dir", self->path);
    cJSON_AddNumberToObject (object, "commits", (double)self->commits);
    cJSON_AddNumberToObject (object, "writes", (double)self->writes);
    cJSON_AddNumberToObject (object, "failed_writes",
                             (double)self->failed_writes);
    cJSON_AddNumberToObject (object, "refused_writes",
                             (double)self->refused_writes);
    cJSON_AddNumberToObject (object, "skipped_records",
                             (double)self->skipped_records);
    ces_disk_flusher_status (self->flusher, object);
    ces_disk_dir_status (self->dir, object);
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

static uint64_t
s_usecs (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
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
    ces_disk_flusher_wait (disk->flusher, 1, 5000);
    assert (s_test_status (disk, "flushes") >= 1);

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
    assert (s_test_count (disk, disk->db.rooms) == 1);
    assert (s_test_count (disk, disk->db.events) == 1);
    assert (s_test_count (disk, disk->db.state) == 1);
    assert (s_test_count (disk, disk->db.devices) == 1);
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
    assert (s_test_count (disk, disk->db.state) == 2);
    ces_disk_delete_state (disk, "room2", longer, "short");
    assert (ces_disk_commit (disk) == 0);

    //  A record that does not decode is skipped and counted
    MDB_val key = {7, "room2\0x"}, value = {2, "ab"};
    assert (mdb_put (s_txn (disk), disk->db.events, &key, &value, 0) == 0);
    text = s_test_load (disk);
    assert (streq (text, room2));
    freen (text);
    assert (s_test_status (disk, "skipped_records") == 1);
    ces_disk_delete_room (disk, "room2");
    assert (ces_disk_commit (disk) == 0);
    assert (s_test_count (disk, disk->db.events) == 0);
    ces_disk_destroy (&disk);

    //  The map full: that transaction is lost, counted; the next one works
    char *path = zsys_sprintf ("%s/full", base);
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
