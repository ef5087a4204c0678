/*  =========================================================================
    ces_disk_dir - a data directory, ready for ces_disk: locked, its LMDB
    environment opened and checked, marked in use by this boot
    =========================================================================
*/
#include "ces_classes.h"
#include <sys/file.h>
#include <sys/stat.h>

//  The layout of the records (ces_disk_record); another value refuses the
//  directory
#define DISK_FORMAT "1"

struct _ces_disk_dir_t {
    char *dir;
    char *data_file; //  dir/data.mdb
    int lock_fd;     //  dir/ces.lock under our flock, or -1
    MDB_env *env;
    ces_disk_dbs_t dbs;
    MDB_dbi meta;
    bool ready; //  opened, checked, and marked in use: destroy marks clean
    bool lost;  //  not closed cleanly in an earlier boot
    size_t key_max;
};

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
s_lock (ces_disk_dir_t *self, char **error)
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
s_reserve (ces_disk_dir_t *self, char **error)
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
s_check (ces_disk_dir_t *self, MDB_txn *txn, bool *fresh, char **error)
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

//  Create and open the environment: at most map_size bytes mapped (0:
//  LMDB's default), LMDB's flags
static int
s_open_env (ces_disk_dir_t *self, size_t map_size, unsigned int flags,
            char **error)
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
    if (self->key_max > CES_DISK_RECORD_KEY_MAX)
        self->key_max = CES_DISK_RECORD_KEY_MAX;
    return 0;
}

//  Read how the directory was left, and mark it in use by this boot; 0 or
//  LMDB's error
static int
s_mark_in_use (ces_disk_dir_t *self, MDB_txn *txn, bool fresh)
{
    //  Left in use in another boot: the machine stopped before its last
    //  commits were surely on the disk
    char boot[64];
    s_boot_id (boot, sizeof (boot));
    if (!fresh && !s_meta_is (txn, self->meta, "clean", "1"))
        self->lost = !*boot || !s_meta_is (txn, self->meta, "boot", boot);
    int rc = s_meta_put (txn, self->meta, "format", DISK_FORMAT);
    if (rc == 0)
        rc = s_meta_put (txn, self->meta, "boot", boot);
    if (rc == 0)
        rc = s_meta_put (txn, self->meta, "clean", "0");
    return rc;
}

//  Open the environment and its databases, check that it is ces's, read
//  how it was left, and mark it in use by this boot
static int
s_open (ces_disk_dir_t *self, size_t map_size, unsigned int flags, char **error)
{
    if (s_open_env (self, map_size, flags, error))
        return -1;
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
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
    } const dbs[] = {{"rooms", &self->dbs.rooms},
                     {"events", &self->dbs.events},
                     {"state", &self->dbs.state},
                     {"devices", &self->dbs.devices}};
    for (size_t index = 0; rc == 0 && index < 4; index++)
        rc = mdb_dbi_open (txn, dbs[index].name, MDB_CREATE, dbs[index].dbi);
    if (rc == 0)
        rc = s_mark_in_use (self, txn, fresh);
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
    return 0;
}

ces_disk_dir_t *
ces_disk_dir_new (const char *dir, size_t map_size, unsigned int flags,
                  char **error)
{
    assert (dir);
    assert (error);
    *error = NULL;
    if (s_prepare_dir (dir, error))
        return NULL;
    ces_disk_dir_t *self = (ces_disk_dir_t *)zmalloc (sizeof (*self));
    assert (self);
    self->dir = strdup (dir);
    self->data_file = zsys_sprintf ("%s/data.mdb", dir);
    assert (self->dir && self->data_file);
    self->lock_fd = -1;
    if (s_lock (self, error) || s_open (self, map_size, flags, error)) {
        ces_disk_dir_destroy (&self);
        return NULL;
    }
    return self;
}

//  Mark the directory closed cleanly, once all is on the disk
static void
s_close_cleanly (ces_disk_dir_t *self)
{
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
ces_disk_dir_destroy (ces_disk_dir_t **self_p)
{
    assert (self_p);
    ces_disk_dir_t *self = *self_p;
    if (self) {
        if (self->ready)
            s_close_cleanly (self);
        if (self->env)
            mdb_env_close (self->env);
        if (self->lock_fd != -1)
            close (self->lock_fd); //  and the flock goes with it
        freen (self->data_file);
        freen (self->dir);
        freen (self);
        *self_p = NULL;
    }
}

MDB_env *
ces_disk_dir_env (ces_disk_dir_t *self)
{
    assert (self);
    return self->env;
}

ces_disk_dbs_t
ces_disk_dir_dbs (ces_disk_dir_t *self)
{
    assert (self);
    return self->dbs;
}

const char *
ces_disk_dir_path (ces_disk_dir_t *self)
{
    assert (self);
    return self->dir;
}

const char *
ces_disk_dir_data_file (ces_disk_dir_t *self)
{
    assert (self);
    return self->data_file;
}

size_t
ces_disk_dir_key_max (ces_disk_dir_t *self)
{
    assert (self);
    return self->key_max;
}

bool
ces_disk_dir_lost (ces_disk_dir_t *self)
{
    assert (self);
    return self->lost;
}

void
ces_disk_dir_status (ces_disk_dir_t *self, cJSON *object)
{
    assert (self);
    assert (cJSON_IsObject (object));
    struct stat info;
    double file_bytes =
        stat (self->data_file, &info) == 0 ? (double)info.st_size : 0;
    MDB_envinfo envinfo;
    mdb_env_info (self->env, &envinfo);
    MDB_stat envstat;
    mdb_env_stat (self->env, &envstat);
    cJSON_AddNumberToObject (object, "file_bytes", file_bytes);
    cJSON_AddNumberToObject (object, "used_bytes",
                             (double)(envinfo.me_last_pgno + 1) *
                                 (double)envstat.ms_psize);
    cJSON_AddNumberToObject (object, "map_bytes", (double)envinfo.me_mapsize);
    cJSON_AddBoolToObject (object, "lost_at_open", self->lost);
}

//  --------------------------------------------------------------------------
//  Self test

//  ces_disk's flags
#define TEST_FLAGS (MDB_NOSYNC | MDB_NOTLS)

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

static void
s_test_write_file (const char *path, const void *data, size_t size)
{
    FILE *file = fopen (path, "w");
    assert (file);
    assert (fwrite (data, 1, size, file) == size);
    fclose (file);
}

//  How many records the rooms database holds, in what is committed
static size_t
s_test_rooms (ces_disk_dir_t *self)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    assert (rc == 0);
    MDB_stat stat;
    rc = mdb_stat (txn, self->dbs.rooms, &stat);
    assert (rc == 0);
    mdb_txn_abort (txn);
    return stat.ms_entries;
}

//  A data directory that cannot be used: NULL, and this reason
static void
s_test_refused (const char *dir, const char *reason, bool verbose)
{
    char *error = NULL;
    ces_disk_dir_t *refused =
        ces_disk_dir_new (dir, 64 << 20, TEST_FLAGS, &error);
    assert (!refused && error);
    if (verbose)
        printf ("   %s\n", error);
    assert (strstr (error, reason));
    freen (error);
}

//  Not a directory, no parent, not writable, not an LMDB file
static void
s_test_not_usable (const char *base, bool verbose)
{
    char *path = zsys_sprintf ("%s/file", base);
    s_test_write_file (path, "x", 1);
    s_test_refused (path, "is not a directory", verbose);
    freen (path);

    path = zsys_sprintf ("%s/no/such", base);
    s_test_refused (path, "cannot be made: No such file or directory", verbose);
    freen (path);

    if (geteuid () != 0) { //  root writes anywhere
        path = zsys_sprintf ("%s/readonly", base);
        assert (mkdir (path, 0500) == 0);
        s_test_refused (path, "is not writable", verbose);
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
        s_test_refused (path, "is not an LMDB file", verbose);
        freen (path);
    }
}

void
ces_disk_dir_test (bool verbose)
{
    printf (" * ces_disk_dir: %s", verbose ? "\n" : "");
    char base[] = "/tmp/ces_disk_dir_test.XXXXXX";
    assert (mkdtemp (base));
    char *dir = zsys_sprintf ("%s/data", base);
    char *error = NULL;

    //  @selftest
    //  A new directory: made, nothing lost, the record databases there
    ces_disk_dir_t *disk = ces_disk_dir_new (dir, 64 << 20, TEST_FLAGS, &error);
    assert (disk && !error);
    assert (!ces_disk_dir_lost (disk));
    assert (streq (ces_disk_dir_path (disk), dir));
    assert (ces_disk_dir_key_max (disk) == CES_DISK_RECORD_KEY_MAX);
    MDB_txn *txn;
    assert (mdb_txn_begin (ces_disk_dir_env (disk), NULL, 0, &txn) == 0);
    MDB_val key = {4, "room"}, value = {11, "\0\0\0\0\0\0\0\1e1"};
    assert (mdb_put (txn, ces_disk_dir_dbs (disk).rooms, &key, &value, 0) == 0);
    assert (mdb_txn_commit (txn) == 0);

    //  Only one process at a time
    ces_disk_dir_t *second =
        ces_disk_dir_new (dir, 64 << 20, TEST_FLAGS, &error);
    assert (!second && error);
    char *expected = zsys_sprintf ("data directory %s is in use by another "
                                   "process (pid %ld)",
                                   dir, (long)getpid ());
    if (verbose)
        printf ("   %s\n", error);
    assert (streq (error, expected));
    freen (expected);
    freen (error);
    ces_disk_dir_destroy (&disk);
    assert (disk == NULL);
    ces_disk_dir_destroy (&disk); //  idempotent

    //  Not closed cleanly, in an earlier boot: lost
    s_test_meta (dir, "clean", "0");
    s_test_meta (dir, "boot", "an-earlier-boot");
    disk = ces_disk_dir_new (dir, 64 << 20, TEST_FLAGS, &error);
    assert (disk && ces_disk_dir_lost (disk));
    cJSON *status = cJSON_CreateObject ();
    ces_disk_dir_status (disk, status);
    assert (cJSON_IsTrue (cJSON_GetObjectItem (status, "lost_at_open")));
    cJSON_Delete (status);
    assert (s_test_rooms (disk) == 1); //  what it holds is still there
    ces_disk_dir_destroy (&disk);
    //  ... but closed cleanly in an earlier boot, or not in this boot: not
    s_test_meta (dir, "clean", "1");
    disk = ces_disk_dir_new (dir, 64 << 20, TEST_FLAGS, &error);
    assert (disk && !ces_disk_dir_lost (disk));
    status = cJSON_CreateObject ();
    ces_disk_dir_status (disk, status);
    assert (cJSON_IsFalse (cJSON_GetObjectItem (status, "lost_at_open")));
    assert (cJSON_GetObjectItem (status, "file_bytes")->valuedouble > 0);
    assert (cJSON_GetObjectItem (status, "map_bytes")->valuedouble == 64 << 20);
    assert (cJSON_GetObjectItem (status, "used_bytes")->valuedouble > 0);
    assert (cJSON_GetObjectItem (status, "used_bytes")->valuedouble <=
            cJSON_GetObjectItem (status, "file_bytes")->valuedouble);
    cJSON_Delete (status);
    ces_disk_dir_destroy (&disk);
    s_test_meta (dir, "clean", "0");
    disk = ces_disk_dir_new (dir, 64 << 20, TEST_FLAGS, &error);
    assert (disk && !ces_disk_dir_lost (disk));
    ces_disk_dir_destroy (&disk);

    //  Another format
    s_test_meta (dir, "format", "99");
    s_test_refused (dir, "holds format 99; this ces reads format 1", verbose);
    s_test_meta (dir, "format", DISK_FORMAT);
    disk = ces_disk_dir_new (dir, 64 << 20, TEST_FLAGS, &error);
    assert (disk && !error);
    ces_disk_dir_destroy (&disk);

    //  Not a directory, no parent, not writable, not an LMDB file
    s_test_not_usable (base, verbose);

    //  Another LMDB
    char *path = zsys_sprintf ("%s/other", base);
    assert (mkdir (path, 0750) == 0);
    MDB_env *env;
    assert (mdb_env_create (&env) == 0);
    assert (mdb_env_open (env, path, 0, 0640) == 0);
    assert (mdb_txn_begin (env, NULL, 0, &txn) == 0);
    MDB_dbi main;
    assert (mdb_dbi_open (txn, NULL, 0, &main) == 0);
    key = (MDB_val){4, "meta"};
    value = (MDB_val){2, "ab"};
    assert (mdb_put (txn, main, &key, &value, 0) == 0);
    assert (mdb_txn_commit (txn) == 0);
    mdb_env_close (env);
    s_test_refused (path, "that is not ces's", verbose);
    freen (path);
    //  @end

    freen (dir);
    zdir_t *scratch = zdir_new (base, NULL);
    zdir_remove (scratch, true);
    zdir_destroy (&scratch);
    assert (!zsys_file_exists (base));
    printf ("OK\n");
}
