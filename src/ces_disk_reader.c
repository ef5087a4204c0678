/*  =========================================================================
    ces_disk_reader - reads ces_disk's records back, for ces_disk_load
    =========================================================================
*/
#include "ces_classes.h"

//  One walk: where, what to call, what is counted
typedef struct {
    MDB_txn *txn;
    const ces_disk_dbs_t *dbs;
    const ces_disk_loader_t *loader;
    void *arg;
    uint64_t *skipped;
} walk_t;

//  Gives one record of the room, found in dbi, to the loader; a record
//  that does not decode is skipped and counted
static void
s_load_record (walk_t *walk, MDB_dbi dbi, const char *room, const MDB_val *rest,
               const MDB_val *value)
{
    const ces_disk_dbs_t *dbs = walk->dbs;
    const ces_disk_loader_t *loader = walk->loader;
    ces_disk_record_t record;
    const byte *data = (const byte *)value->mv_data;
    int rc = dbi == dbs->events
                 ? ces_disk_record_event (rest->mv_data, rest->mv_size, data,
                                          value->mv_size, &record)
             : dbi == dbs->state
                 ? ces_disk_record_state (rest->mv_data, rest->mv_size, data,
                                          value->mv_size, &record)
                 : ces_disk_record_device (rest->mv_data, rest->mv_size, data,
                                           value->mv_size, &record);
    if (rc) {
        (*walk->skipped)++;
        return;
    }
    if (dbi == dbs->events && loader->event)
        loader->event (walk->arg, room, record.seq, record.time, record.message,
                       record.size);
    else if (dbi == dbs->state && loader->state)
        loader->state (walk->arg, room, record.device, record.key, record.seq,
                       record.time, record.message, record.size);
    else if (dbi == dbs->devices && loader->device)
        loader->device (walk->arg, room, record.device, record.time);
}

//  Calls the loader for each record of the room whose key prefix is
//  prefix, in dbi; 0 or LMDB's error
static int
s_load_room (walk_t *walk, MDB_dbi dbi, const char *room, size_t prefix)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open (walk->txn, dbi, &cursor);
    if (rc)
        return rc;
    MDB_val key = {prefix, (void *)room}, value;
    for (rc = mdb_cursor_get (cursor, &key, &value, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
        if (key.mv_size < prefix || memcmp (key.mv_data, room, prefix) != 0)
            break;
        MDB_val rest = {key.mv_size - prefix, (byte *)key.mv_data + prefix};
        s_load_record (walk, dbi, room, &rest, &value);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  Every room first, then each room's records
int
ces_disk_reader_load (MDB_txn *txn, const ces_disk_dbs_t *dbs,
                      const ces_disk_loader_t *loader, void *arg,
                      uint64_t *skipped)
{
    assert (txn && dbs && loader && skipped);
    walk_t walk = {txn, dbs, loader, arg, skipped};
    MDB_cursor *cursor = NULL;
    int rc = mdb_cursor_open (txn, dbs->rooms, &cursor);
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        MDB_val key, value;
        for (rc = mdb_cursor_get (cursor, &key, &value, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get (cursor, &key, &value, MDB_NEXT)) {
            const byte *data = (const byte *)value.mv_data;
            if (!ces_disk_record_is_room ((const byte *)key.mv_data,
                                          key.mv_size, data, value.mv_size)) {
                if (pass == 0)
                    (*skipped)++;
                continue;
            }
            const char *room = (const char *)key.mv_data;
            if (pass == 0) {
                if (loader->room)
                    loader->room (arg, room, (const char *)data + 8,
                                  ces_position_number_get (data));
                continue;
            }
            MDB_dbi dbis[] = {dbs->events, dbs->state, dbs->devices};
            for (int index = 0; rc == 0 && index < 3; index++)
                rc = s_load_room (&walk, dbis[index], room, key.mv_size);
            if (rc)
                break;
        }
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (cursor)
        mdb_cursor_close (cursor);
    return rc;
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
s_test_event (void *arg, const char *room, uint64_t seq, int64_t time,
              const byte *message, size_t size)
{
    fprintf ((FILE *)arg, "event %s %" PRIu64 " %" PRId64 " %.*s\n", room, seq,
             time, (int)size, (const char *)message);
}

static void
s_test_state (void *arg, const char *room, const char *device, const char *key,
              uint64_t seq, int64_t time, const byte *message, size_t size)
{
    fprintf ((FILE *)arg, "state %s %s %s %" PRIu64 " %" PRId64 " %.*s\n", room,
             device, key, seq, time, (int)size, (const char *)message);
}

static void
s_test_device (void *arg, const char *room, const char *device, int64_t heard)
{
    fprintf ((FILE *)arg, "device %s %s %" PRId64 "\n", room, device, heard);
}

//  Everything txn sees, as lines (caller frees)
static char *
s_test_load (MDB_txn *txn, const ces_disk_dbs_t *dbs,
             const ces_disk_loader_t *loader, uint64_t *skipped)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    assert (ces_disk_reader_load (txn, dbs, loader, out, skipped) == 0);
    fclose (out);
    return text;
}

//  key -> head (8 octets: first, 16: first and second) + tail, into dbi;
//  an epoch (into rooms) with its NUL
static void
s_test_put (MDB_txn *txn, MDB_dbi rooms, MDB_dbi dbi, const void *key,
            size_t key_size, uint64_t first, uint64_t second, size_t head,
            const char *tail)
{
    byte value[64];
    ces_position_number_put (value, first);
    ces_position_number_put (value + 8, second);
    size_t tail_size = strlen (tail) + (dbi == rooms ? 1 : 0); //  epoch NUL
    memcpy (value + head, tail, tail_size);
    MDB_val mkey = {key_size, (void *)key};
    MDB_val mvalue = {head + tail_size, value};
    assert (mdb_put (txn, dbi, &mkey, &mvalue, 0) == 0);
}

void
ces_disk_reader_test (bool verbose)
{
    printf (" * ces_disk_reader: ");
    char dir[] = "/tmp/ces_disk_reader_test.XXXXXX";
    assert (mkdtemp (dir));
    char *error = NULL;
    ces_disk_dir_t *disk =
        ces_disk_dir_new (dir, 64 << 20, MDB_NOSYNC | MDB_NOTLS, &error);
    assert (disk);
    ces_disk_dbs_t dbs = ces_disk_dir_dbs (disk);

    //  @selftest
    MDB_txn *txn;
    assert (mdb_txn_begin (ces_disk_dir_env (disk), NULL, 0, &txn) == 0);
    //  Rooms -> seq, epoch
    s_test_put (txn, dbs.rooms, dbs.rooms, "room2", 6, 7, 0, 8, "e2");
    s_test_put (txn, dbs.rooms, dbs.rooms, "room", 5, 65537, 0, 8, "e1");
    s_test_put (txn, dbs.rooms, dbs.rooms, "bad", 3, 1, 0, 8,
                "e"); //  no NUL: skipped
    byte key[CES_DISK_RECORD_KEY_MAX];
    size_t size = ces_disk_record_event_key (key, "room", 65536);
    s_test_put (txn, dbs.rooms, dbs.events, key, size, 1000, 0, 8, "big");
    size = ces_disk_record_event_key (key, "room", 256);
    s_test_put (txn, dbs.rooms, dbs.events, key, size, (uint64_t)-5, 0, 8,
                "small");
    size = ces_disk_record_event_key (key, "room2", 3);
    s_test_put (txn, dbs.rooms, dbs.events, key, size, 30, 0, 8, "other");
    size = ces_disk_record_event_key (key, "none", 1); //  no room record
    s_test_put (txn, dbs.rooms, dbs.events, key, size, 1, 0, 8, "not read");
    s_test_put (txn, dbs.rooms, dbs.events, "room2\0x", 7, 1, 0, 0,
                ""); //  skipped
    size = ces_disk_record_key (key, sizeof key, "room", "dev2", "pos");
    s_test_put (txn, dbs.rooms, dbs.state, key, size, 2, 20, 16, "p2");
    size = ces_disk_record_key (key, sizeof key, "room", "dev1", "pos");
    s_test_put (txn, dbs.rooms, dbs.state, key, size, 1, 10, 16, "p1");
    size = ces_disk_record_key (key, sizeof key, "room", "dev1", "color");
    s_test_put (txn, dbs.rooms, dbs.state, key, size, 3, 11, 16, "red");
    size = ces_disk_record_key (key, sizeof key, "room", "dev1", NULL);
    s_test_put (txn, dbs.rooms, dbs.devices, key, size, 43, 0, 8, "");
    s_test_put (txn, dbs.rooms, dbs.devices, "room\0dev", 8, 9, 0, 8,
                ""); //  skipped

    //  Every room first, then room by room its events in sequence order,
    //  its state by device and key, its devices; "room2" after "room"
    const ces_disk_loader_t loader = {s_test_room, s_test_event, s_test_state,
                                      s_test_device};
    uint64_t skipped = 0;
    char *text = s_test_load (txn, &dbs, &loader, &skipped);
    assert (streq (text, "room room e1 65537\n"
                         "room room2 e2 7\n"
                         "event room 256 -5 small\n"
                         "event room 65536 1000 big\n"
                         "state room dev1 color 3 11 red\n"
                         "state room dev1 pos 1 10 p1\n"
                         "state room dev2 pos 2 20 p2\n"
                         "device room dev1 43\n"
                         "event room2 3 30 other\n"));
    freen (text);
    assert (skipped == 3);

    //  A NULL member skips those records
    const ces_disk_loader_t rooms_only = {s_test_room, NULL, NULL, NULL};
    text = s_test_load (txn, &dbs, &rooms_only, &skipped);
    assert (streq (text, "room room e1 65537\nroom room2 e2 7\n"));
    freen (text);
    assert (skipped == 6);
    mdb_txn_abort (txn);
    //  @end

    ces_disk_dir_destroy (&disk);
    zdir_t *scratch = zdir_new (dir, NULL);
    zdir_remove (scratch, true);
    zdir_destroy (&scratch);
    assert (!zsys_file_exists (dir));
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
