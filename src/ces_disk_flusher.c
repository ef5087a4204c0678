/*  =========================================================================
    ces_disk_flusher - ces_disk's thread that puts its commits on the disk
    =========================================================================
*/
#include "ces_classes.h"
#include <pthread.h>

#define FLUSHER_WARN_MSEC 10000 //  at most one warning this often

struct _ces_disk_flusher_t {
    MDB_env *env;
    char *file;
    int msecs;
    pthread_t thread;
    //  Shared by the owner and the thread (under mutex)
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

//  Once a period, when something was committed since the last flush,
//  mdb_env_sync. The owner's thread never waits on the disk.
static void *
s_flusher (void *args)
{
    ces_disk_flusher_t *self = (ces_disk_flusher_t *)args;
    uint64_t flushed = 0; //  commits up to this one are on the disk
    int64_t warned_at = 0;
    struct timespec deadline;
    s_deadline (&deadline, self->msecs);
    pthread_mutex_lock (&self->mutex);
    while (!self->stopping) {
        int rc = pthread_cond_timedwait (&self->wake, &self->mutex, &deadline);
        if (self->stopping || rc != ETIMEDOUT)
            continue;
        s_deadline (&deadline, self->msecs);
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
            if (!warned_at || now - warned_at >= FLUSHER_WARN_MSEC) {
                zsys_warning ("ces_disk: cannot flush %s to the disk: %s",
                              self->file, mdb_strerror (rc));
                warned_at = now;
            }
        }
        pthread_cond_broadcast (&self->flushed);
    }
    pthread_mutex_unlock (&self->mutex);
    return NULL;
}

ces_disk_flusher_t *
ces_disk_flusher_new (MDB_env *env, const char *file, int msecs, char **error)
{
    assert (env && file && error);
    assert (msecs > 0);
    ces_disk_flusher_t *self =
        (ces_disk_flusher_t *)zmalloc (sizeof (ces_disk_flusher_t));
    assert (self);
    self->env = env;
    self->file = strdup (file);
    assert (self->file);
    self->msecs = msecs;
    self->committed = 1; //  the first flush writes the open's commit

    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->wake, &attr);
    pthread_cond_init (&self->flushed, &attr);
    pthread_condattr_destroy (&attr);

    int rc = pthread_create (&self->thread, NULL, s_flusher, self);
    if (rc) {
        *error = strdup (strerror (rc));
        pthread_cond_destroy (&self->flushed);
        pthread_cond_destroy (&self->wake);
        pthread_mutex_destroy (&self->mutex);
        freen (self->file);
        freen (self);
        return NULL;
    }
    return self;
}

void
ces_disk_flusher_destroy (ces_disk_flusher_t **self_p)
{
    assert (self_p);
    ces_disk_flusher_t *self = *self_p;
    if (self) {
        pthread_mutex_lock (&self->mutex);
        self->stopping = true;
        pthread_cond_signal (&self->wake);
        pthread_mutex_unlock (&self->mutex);
        pthread_join (self->thread, NULL);
        pthread_cond_destroy (&self->flushed);
        pthread_cond_destroy (&self->wake);
        pthread_mutex_destroy (&self->mutex);
        freen (self->file);
        freen (self);
        *self_p = NULL;
    }
}

void
ces_disk_flusher_committed (ces_disk_flusher_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    self->committed++;
    pthread_mutex_unlock (&self->mutex);
}

void
ces_disk_flusher_status (ces_disk_flusher_t *self, cJSON *object)
{
    assert (self);
    assert (cJSON_IsObject (object));
    pthread_mutex_lock (&self->mutex);
    uint64_t flushes = self->flushes;
    uint64_t flush_errors = self->flush_errors;
    uint64_t last_flush_usecs = self->last_flush_usecs;
    pthread_mutex_unlock (&self->mutex);
    cJSON_AddNumberToObject (object, "flushes", (double)flushes);
    cJSON_AddNumberToObject (object, "flush_errors", (double)flush_errors);
    cJSON_AddNumberToObject (object, "last_flush_usecs",
                             (double)last_flush_usecs);
}

uint64_t
ces_disk_flusher_wait (ces_disk_flusher_t *self, uint64_t flushes, int msecs)
{
    assert (self);
    pthread_mutex_lock (&self->mutex);
    struct timespec deadline;
    s_deadline (&deadline, msecs);
    while (self->flushes < flushes &&
           pthread_cond_timedwait (&self->flushed, &self->mutex, &deadline) !=
               ETIMEDOUT)
        ;
    uint64_t done = self->flushes;
    pthread_mutex_unlock (&self->mutex);
    return done;
}

//  --------------------------------------------------------------------------
//  Self test

static uint64_t
s_test_status (ces_disk_flusher_t *flusher, const char *name)
{
    cJSON *status = cJSON_CreateObject ();
    ces_disk_flusher_status (flusher, status);
    cJSON *item = cJSON_GetObjectItemCaseSensitive (status, name);
    assert (cJSON_IsNumber (item));
    uint64_t value = (uint64_t)item->valuedouble;
    cJSON_Delete (status);
    return value;
}

//  One commit into env's main database
static void
s_test_commit (MDB_env *env, const char *text)
{
    MDB_txn *txn;
    assert (mdb_txn_begin (env, NULL, 0, &txn) == 0);
    MDB_dbi main;
    assert (mdb_dbi_open (txn, NULL, 0, &main) == 0);
    MDB_val key = {strlen (text), (void *)text}, value = {1, "x"};
    assert (mdb_put (txn, main, &key, &value, 0) == 0);
    assert (mdb_txn_commit (txn) == 0);
}

void
ces_disk_flusher_test (bool verbose)
{
    printf (" * ces_disk_flusher: ");
    char dir[] = "/tmp/ces_disk_flusher_test.XXXXXX";
    assert (mkdtemp (dir));
    MDB_env *env;
    assert (mdb_env_create (&env) == 0);
    assert (mdb_env_open (env, dir, MDB_NOSYNC, 0640) == 0);
    char *file = zsys_sprintf ("%s/data.mdb", dir);
    char *error = NULL;

    //  @selftest
    //  The open's commit is flushed first, then one flush per period in
    //  which something was committed, and none in a period without
    ces_disk_flusher_t *flusher = ces_disk_flusher_new (env, file, 50, &error);
    assert (flusher && !error);
    assert (ces_disk_flusher_wait (flusher, 1, 5000) >= 1);
    s_test_commit (env, "one");
    ces_disk_flusher_committed (flusher);
    assert (ces_disk_flusher_wait (flusher, 2, 5000) == 2);
    assert (ces_disk_flusher_wait (flusher, 3, 200) == 2); //  nothing new
    assert (s_test_status (flusher, "flushes") == 2);
    assert (s_test_status (flusher, "flush_errors") == 0);
    cJSON *status = cJSON_CreateObject ();
    ces_disk_flusher_status (flusher, status);
    assert (cJSON_IsNumber (cJSON_GetObjectItem (status, "last_flush_usecs")));
    cJSON_Delete (status);
    ces_disk_flusher_destroy (&flusher);
    assert (flusher == NULL);
    ces_disk_flusher_destroy (&flusher); //  idempotent

    //  A stop is prompt: it does not wait for the period
    flusher = ces_disk_flusher_new (env, file, 60000, &error);
    assert (flusher);
    int64_t start = zclock_mono ();
    ces_disk_flusher_destroy (&flusher);
    assert (zclock_mono () - start < 10000);
    //  @end

    mdb_env_close (env);
    assert (unlink (file) == 0);
    freen (file);
    char *lock = zsys_sprintf ("%s/lock.mdb", dir);
    assert (unlink (lock) == 0);
    freen (lock);
    assert (rmdir (dir) == 0);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
