/*  =========================================================================
    ces_rooms - the hub's room interest: registrations, SUB topics, register
    syncs, and publishing an event to a room
    =========================================================================
*/
#include "ces_classes.h"

//  A room some connection registered, or some SUB subscribed to, or both
typedef struct {
    size_t subscribers; //  connections that registered it
    size_t topics;      //  SUB subscriptions to "ROOM\n" at the XPUB
} room_t;

//  A register that waits for its sync subscription to reach the XPUB, so
//  that REGISTERED means "events for these rooms will reach you"
typedef struct {
    bool registered;
    bool subscribed;
    zframe_t *routing_id;
    char *conn;
    int64_t created;
} sync_t;

struct _ces_rooms_t {
    zsock_t *router; //  borrowed: REGISTERED goes back on it
    zsock_t *pub;    //  borrowed: an XPUB, so sync subscriptions are seen
    void *pub_handle;
    ces_mesh_t *mesh;        //  borrowed, may be NULL
    ces_proto_t *proto;      //  for REGISTERED
    zhashx_t *rooms;         //  room -> room_t
    size_t registered_rooms; //  rooms with subscribers > 0
    size_t star_subscribers;
    size_t star_topics; //  SUB subscriptions to everything ("")
    zhashx_t *syncs;    //  token -> sync_t
    ces_store_t *store; //  borrowed: numbers and keeps every event
    //  Published frames held until the store committed them
    zmq_msg_t *held;
    size_t held_count;
    size_t held_size;
    //  Patterns ("ITB-*"), each a room_t: its registrations, and the SUB
    //  subscriptions to its prefix topic ("ITB-")
    ces_patterns_t *patterns;
};

//  --------------------------------------------------------------------------
//  Registrations by connection, subscriptions by SUB

static void
s_room_free (void **item_p)
{
    freen (*item_p);
    *item_p = NULL;
}

static room_t *
s_room_require (ces_rooms_t *self, const char *name)
{
    room_t *room = (room_t *)zhashx_lookup (self->rooms, name);
    if (!room) {
        room = (room_t *)zmalloc (sizeof (room_t));
        assert (room);
        zhashx_insert (self->rooms, name, room);
    }
    return room;
}

//  Forgets a room neither registered nor subscribed; name may be its key
static void
s_room_release (ces_rooms_t *self, room_t *room, const char *name)
{
    if (room->subscribers == 0 && room->topics == 0) {
        char *gone = strdup (name);
        if (ces_patterns_is_pattern (gone))
            ces_patterns_delete (self->patterns, gone);
        else
            zhashx_delete (self->rooms, gone);
        freen (gone);
    }
}

static room_t *
s_pattern_require (ces_rooms_t *self, const char *pattern)
{
    room_t *room = (room_t *)ces_patterns_lookup (self->patterns, pattern);
    if (!room) {
        room = (room_t *)zmalloc (sizeof (room_t));
        assert (room);
        ces_patterns_insert (self->patterns, pattern, room);
    }
    return room;
}

//  Is room wanted by a pattern some connection registered, and does some
//  SUB hold the topic of one that matches?
static void
s_pattern_interest (ces_rooms_t *self, const char *name, bool *wanted,
                    bool *connected)
{
    room_t *pattern = (room_t *)ces_patterns_first_match (self->patterns, name);
    while (pattern && !(*wanted && *connected)) {
        *wanted |= pattern->subscribers > 0;
        *connected |= pattern->topics > 0;
        pattern = (room_t *)ces_patterns_next_match (self->patterns);
    }
}

void
ces_rooms_add (ces_rooms_t *self, zhashx_t *held, const char *name)
{
    assert (self && held && name);
    if (zhashx_lookup (held, name))
        return; //  registering twice is idempotent
    zhashx_insert (held, name, (void *)"");
    if (streq (name, "*")) {
        if (self->star_subscribers++ == 0 && self->mesh)
            ces_mesh_want (self->mesh, name, true);
        return;
    }
    bool pattern = ces_patterns_is_pattern (name);
    room_t *room =
        pattern ? s_pattern_require (self, name) : s_room_require (self, name);
    if (room->subscribers++ == 0) {
        if (!pattern)
            self->registered_rooms++;
        if (self->mesh)
            ces_mesh_want (self->mesh, name, true);
    }
}

void
ces_rooms_remove (ces_rooms_t *self, zhashx_t *held, const char *name)
{
    assert (self && held && name);
    if (!zhashx_lookup (held, name))
        return;
    //  Copy: name may be the key about to be deleted
    char *copy = strdup (name);
    zhashx_delete (held, copy);
    if (streq (copy, "*")) {
        if (--self->star_subscribers == 0 && self->mesh)
            ces_mesh_want (self->mesh, copy, false);
    } else {
        bool pattern = ces_patterns_is_pattern (copy);
        room_t *room =
            pattern ? (room_t *)ces_patterns_lookup (self->patterns, copy)
                    : (room_t *)zhashx_lookup (self->rooms, copy);
        assert (room && room->subscribers > 0);
        if (--room->subscribers == 0) {
            if (!pattern)
                self->registered_rooms--;
            s_room_release (self, room, copy);
            if (self->mesh)
                ces_mesh_want (self->mesh, copy, false);
        }
    }
    freen (copy);
}

void
ces_rooms_remove_all (ces_rooms_t *self, zhashx_t *held)
{
    assert (self && held);
    zlistx_t *rooms = zhashx_keys (held);
    const char *room = (const char *)zlistx_first (rooms);
    while (room) {
        ces_rooms_remove (self, held, room);
        room = (const char *)zlistx_next (rooms);
    }
    zlistx_destroy (&rooms);
}

//  Room topics are "ROOM\n", every room's is "", a pattern's its prefix
//  with no newline ("ITB-" for "ITB-*")
static void
s_count_topic (ces_rooms_t *self, const char *topic, size_t size, bool on)
{
    if (size == 0) {
        self->star_topics = on                  ? self->star_topics + 1
                            : self->star_topics ? self->star_topics - 1
                                                : 0;
        return;
    }
    char name[CES_ROOM_MAX + 2];
    room_t *room = NULL;
    if (size < CES_ROOM_MAX && !memchr (topic, '\n', size)) {
        memcpy (name, topic, size);
        name[size] = '*';
        name[size + 1] = 0;
        if (ces_patterns_check (name))
            return; //  not one of ours
        room = on ? s_pattern_require (self, name)
                  : (room_t *)ces_patterns_lookup (self->patterns, name);
    } else if (ces_frame_room_copy (topic, size, name) != size)
        return; //  not one of ours
    else
        room = on ? s_room_require (self, name)
                  : (room_t *)zhashx_lookup (self->rooms, name);
    if (!room)
        return;
    room->topics = on ? room->topics + 1 : room->topics ? room->topics - 1 : 0;
    s_room_release (self, room, name);
}

//  --------------------------------------------------------------------------
//  Register sync: REGISTERED goes back once both the REGISTER and the sync
//  subscription have arrived, in either order

static void
s_sync_free (void **item_p)
{
    sync_t *sync = (sync_t *)*item_p;
    zframe_destroy (&sync->routing_id);
    zstr_free (&sync->conn);
    freen (sync);
    *item_p = NULL;
}

static sync_t *
s_sync_require (ces_rooms_t *self, const char *token)
{
    sync_t *sync = (sync_t *)zhashx_lookup (self->syncs, token);
    if (!sync) {
        sync = (sync_t *)zmalloc (sizeof (sync_t));
        assert (sync);
        sync->created = zclock_mono ();
        zhashx_insert (self->syncs, token, sync);
    }
    return sync;
}

static void
s_sync_complete (ces_rooms_t *self, const char *token)
{
    sync_t *sync = (sync_t *)zhashx_lookup (self->syncs, token);
    if (!sync || !sync->registered || !sync->subscribed)
        return;
    ces_proto_set_id (self->proto, CES_PROTO_REGISTERED);
    ces_proto_set_conn (self->proto, sync->conn);
    ces_proto_set_token (self->proto, token);
    ces_proto_set_routing_id (self->proto, sync->routing_id);
    ces_proto_send (self->proto, self->router); //  a peer gone: no matter
    zhashx_delete (self->syncs, token);
}

void
ces_rooms_recv_subscription (ces_rooms_t *self)
{
    assert (self);
    zframe_t *frame = zframe_recv (self->pub);
    if (!frame)
        return;
    size_t prefix = strlen (CES_SYNC_PREFIX);
    const char *data = (const char *)zframe_data (frame);
    size_t size = zframe_size (frame);
    if (size > 1 + prefix && data[0] == 1 &&
        memcmp (data + 1, CES_SYNC_PREFIX, prefix) == 0) {
        char *token = strndup (data + 1 + prefix, size - 1 - prefix);
        s_sync_require (self, token)->subscribed = true;
        s_sync_complete (self, token);
        freen (token);
    } else if (size >= 1 && (data[0] == 0 || data[0] == 1))
        s_count_topic (self, data + 1, size - 1, data[0] == 1);
    zframe_destroy (&frame);
}

void
ces_rooms_sync_registered (ces_rooms_t *self, const char *token,
                           zframe_t *routing_id, const char *conn_id)
{
    assert (self && token && routing_id && conn_id);
    sync_t *sync = s_sync_require (self, token);
    sync->registered = true;
    zframe_destroy (&sync->routing_id);
    sync->routing_id = zframe_dup (routing_id);
    zstr_free (&sync->conn);
    sync->conn = strdup (conn_id);
    s_sync_complete (self, token);
}

void
ces_rooms_expire_syncs (ces_rooms_t *self)
{
    assert (self);
    int64_t now = zclock_mono ();
    zlistx_t *stale = zlistx_new ();
    zlistx_set_destructor (stale, (zlistx_destructor_fn *)zstr_free);
    sync_t *sync = (sync_t *)zhashx_first (self->syncs);
    while (sync) {
        if (now - sync->created > 10000)
            zlistx_add_end (stale,
                            strdup ((char *)zhashx_cursor (self->syncs)));
        sync = (sync_t *)zhashx_next (self->syncs);
    }
    char *token = (char *)zlistx_first (stale);
    while (token) {
        zhashx_delete (self->syncs, token);
        token = (char *)zlistx_next (stale);
    }
    zlistx_destroy (&stale);
}

//  --------------------------------------------------------------------------
//  Publishing

//  The published frame: message, origin, the origin's length (2 octets),
//  the hub's receive time (8 octets), the room's epoch (8 octets) and the
//  event's sequence number (8 octets, last)
static void
s_frame_build (zmq_msg_t *out, zframe_t *message, const char *origin,
               int64_t stamp, uint64_t epoch, uint64_t seq)
{
    size_t size = zframe_size (message);
    size_t origin_size = strlen (origin);
    if (origin_size > 0xFFFF)
        origin_size = 0xFFFF;
    int rc = zmq_msg_init_size (out, size + origin_size + CES_ROOMS_FOOTER);
    assert (rc == 0);
    byte *data = (byte *)zmq_msg_data (out);
    memcpy (data, zframe_data (message), size);
    memcpy (data + size, origin, origin_size);
    byte *footer = data + size + origin_size;
    footer[0] = (byte)(origin_size >> 8);
    footer[1] = (byte)origin_size;
    ces_position_number_put (footer + 2, stamp > 0 ? (uint64_t)stamp : 0);
    ces_position_number_put (footer + 10, epoch);
    ces_position_number_put (footer + 18, seq);
}

static void
s_hold (ces_rooms_t *self, zmq_msg_t *frame)
{
    if (self->held_count == self->held_size) {
        self->held_size = self->held_size ? self->held_size * 2 : 64;
        self->held = (zmq_msg_t *)realloc (self->held, self->held_size *
                                                           sizeof (zmq_msg_t));
        assert (self->held);
    }
    zmq_msg_init (&self->held[self->held_count]);
    zmq_msg_move (&self->held[self->held_count++], frame);
    zmq_msg_close (frame);
}

//  One frame, so that a subscriber gets the room topic first and each
//  event costs one ZeroMQ message end to end. Every event is numbered and
//  kept, also when nobody is subscribed: a client that registers later
//  gets the room's state.
ces_rooms_publish_t
ces_rooms_publish (ces_rooms_t *self, const char *name, zframe_t *message,
                   const char *origin, const char *device, const char *key,
                   int64_t stamp)
{
    assert (self && name && message && origin && device && key);
    uint64_t epoch = 0, seq = 0;
    if (self->store)
        seq = ces_store_append (self->store, name, zframe_data (message),
                                zframe_size (message), device, key, &epoch);
    room_t *room = (room_t *)zhashx_lookup (self->rooms, name);
    bool registered = room && room->subscribers;
    bool wanted = registered || self->star_subscribers;
    bool connected = (room && room->topics) || self->star_topics;
    if (!(wanted && connected) && ces_patterns_size (self->patterns))
        s_pattern_interest (self, name, &wanted, &connected);
    if (!wanted)
        return CES_ROOMS_NO_SUBSCRIBER;
    //  Registered over the DEALER, but no SUB has subscribed yet (a peer
    //  whose SUB reconnects after its DEALER): the PUB would drop it unseen
    if (!connected)
        return CES_ROOMS_UNCONNECTED;
    zmq_msg_t out;
    s_frame_build (&out, message, origin, stamp, epoch, seq);
    if (self->store && ces_store_durable (self->store))
        s_hold (self, &out);
    else if (zmq_msg_send (&out, self->pub_handle, ZMQ_DONTWAIT) < 0)
        zmq_msg_close (&out);
    return CES_ROOMS_PUBLISHED;
}

void
ces_rooms_flush (ces_rooms_t *self)
{
    assert (self);
    if (!self->store)
        return;
    //  Committed before it is published: what a subscriber saw survives a
    //  kill -9, and no sequence number is given twice
    ces_store_commit (self->store);
    for (size_t index = 0; index < self->held_count; index++)
        if (zmq_msg_send (&self->held[index], self->pub_handle, ZMQ_DONTWAIT) <
            0)
            zmq_msg_close (&self->held[index]);
    self->held_count = 0;
}

//  --------------------------------------------------------------------------
//  Construction and status

ces_rooms_t *
ces_rooms_new (zsock_t *router, zsock_t *pub, ces_mesh_t *mesh,
               ces_store_t *store)
{
    assert (router && pub);
    ces_rooms_t *self = (ces_rooms_t *)zmalloc (sizeof (ces_rooms_t));
    assert (self);
    self->router = router;
    self->pub = pub;
    self->pub_handle = zsock_resolve (pub);
    self->mesh = mesh;
    self->store = store;
    self->proto = ces_proto_new ();
    self->rooms = zhashx_new ();
    self->syncs = zhashx_new ();
    self->patterns = ces_patterns_new (s_room_free);
    assert (self->rooms && self->syncs);
    zhashx_set_destructor (self->rooms, s_room_free);
    zhashx_set_destructor (self->syncs, s_sync_free);
    return self;
}

void
ces_rooms_destroy (ces_rooms_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_rooms_t *self = *self_p;
        for (size_t index = 0; index < self->held_count; index++)
            zmq_msg_close (&self->held[index]);
        free (self->held);
        zhashx_destroy (&self->syncs);
        zhashx_destroy (&self->rooms);
        ces_patterns_destroy (&self->patterns);
        ces_proto_destroy (&self->proto);
        freen (self);
        *self_p = NULL;
    }
}

size_t
ces_rooms_registered (ces_rooms_t *self)
{
    assert (self);
    return self->registered_rooms;
}

size_t
ces_rooms_subscribers (ces_rooms_t *self, const char *name)
{
    assert (self && name);
    room_t *room = (room_t *)zhashx_lookup (self->rooms, name);
    return room ? room->subscribers : 0;
}

size_t
ces_rooms_star_subscribers (ces_rooms_t *self)
{
    assert (self);
    return self->star_subscribers;
}

void
ces_rooms_status (ces_rooms_t *self, cJSON *rooms)
{
    assert (self && rooms);
    room_t *room = (room_t *)zhashx_first (self->rooms);
    while (room) {
        if (room->subscribers)
            cJSON_AddNumberToObject (rooms,
                                     (const char *)zhashx_cursor (self->rooms),
                                     (double)room->subscribers);
        room = (room_t *)zhashx_next (self->rooms);
    }
    room = (room_t *)ces_patterns_first (self->patterns);
    while (room) {
        if (room->subscribers)
            cJSON_AddNumberToObject (rooms, ces_patterns_key (self->patterns),
                                     (double)room->subscribers);
        room = (room_t *)ces_patterns_next (self->patterns);
    }
}

//  --------------------------------------------------------------------------
//  Self test

//  /status shows R-1 with its registrations, or not at all
static void
s_test_status (ces_rooms_t *rooms, int registrations)
{
    cJSON *status = cJSON_CreateObject ();
    ces_rooms_status (rooms, status);
    cJSON *room = cJSON_GetObjectItem (status, "R-1");
    assert (registrations ? cJSON_GetNumberValue (room) == registrations
                          : room == NULL);
    cJSON_Delete (status);
}

void
ces_rooms_test (bool verbose)
{
    printf (" * ces_rooms: ");
    //  @selftest
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_t *pub = zsock_new (ZMQ_XPUB);
    zsock_set_xpub_verbose (pub, 1);
    zsock_set_xpub_verboser (pub, 1);
    assert (zsock_bind (router, "inproc://rooms-test-router") == 0);
    assert (zsock_bind (pub, "inproc://rooms-test-pub") == 0);
    ces_store_limits_t limits = {CES_STORE_HISTORY,
                                 CES_STORE_HISTORY_AGE,
                                 CES_STORE_HISTORY_BYTES,
                                 CES_STORE_STATE_KEYS,
                                 NULL,
                                 0};
    char *error = NULL;
    ces_store_t *store = ces_store_new (&limits, &error);
    ces_rooms_t *rooms = ces_rooms_new (router, pub, NULL, store);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_identity (dealer, "peer");
    zsock_set_rcvtimeo (dealer, 2000);
    assert (zsock_connect (dealer, "inproc://rooms-test-router") == 0);
    zsock_t *sub = zsock_new_sub ("inproc://rooms-test-pub", NULL);
    zsock_set_rcvtimeo (sub, 2000);
    zhashx_t *held = zhashx_new ();
    zframe_t *message = ces_frame_build ("R-1", "{}", 2);

    //  Nobody registered: no subscriber; registered but no SUB: unconnected
    assert (ces_rooms_publish (rooms, "R-1", message, "peer/1", "", "", 0) ==
            CES_ROOMS_NO_SUBSCRIBER);
    ces_rooms_add (rooms, held, "R-1");
    ces_rooms_add (rooms, held, "R-1");
    assert (ces_rooms_registered (rooms) == 1);
    assert (ces_rooms_publish (rooms, "R-1", message, "peer/1", "", "", 0) ==
            CES_ROOMS_UNCONNECTED);

    //  The SUB subscribes, then the sync topic; REGISTERED follows both
    zsock_set_subscribe (sub, "R-1\n");
    zsock_set_subscribe (sub, CES_SYNC_PREFIX "t1");
    zstr_send (dealer, "hello"); //  so that the ROUTER knows the peer
    zframe_t *routing_id = zframe_recv (router);
    char *hello = zstr_recv (router);
    zstr_free (&hello);
    ces_rooms_sync_registered (rooms, "t1", routing_id, "1");
    zpoller_t *poller = zpoller_new (pub, dealer, NULL);
    while (zpoller_wait (poller, 2000) == pub)
        ces_rooms_recv_subscription (rooms);
    zpoller_destroy (&poller);
    zframe_destroy (&routing_id);
    char *command, *conn, *token;
    assert (zstr_recvx (dealer, &command, &conn, &token, NULL) == 3);
    assert (streq (command, "REGISTERED") && streq (token, "t1"));
    zstr_free (&command);
    zstr_free (&conn);
    zstr_free (&token);

    //  Published as one frame, with the room's epoch and sequence number:
    //  the store numbered the two events before, which nobody could get
    //  (and the hub's receive time, a stamp of 42 here)
    assert (ces_rooms_publish (rooms, "R-1", message, "peer/1", "", "", 42) ==
            CES_ROOMS_PUBLISHED);
    zframe_t *published = zframe_recv (sub);
    assert (published && zframe_size (published) == 6 + 6 + 26);
    assert (memcmp (zframe_data (published), "R-1\n{}peer/1", 12) == 0);
    assert (zframe_data (published)[21] == 42);
    assert (zframe_data (published)[37] == 3);
    char epoch[CES_STORE_EPOCH_SIZE], seen[CES_STORE_EPOCH_SIZE];
    uint64_t seq;
    ces_store_position (store, "R-1", epoch, &seq);
    ces_position_epoch_text (
        ces_position_number_get (zframe_data (published) + 22), seen);
    assert (seq == 3 && streq (epoch, seen));
    zframe_destroy (&published);

    //  A pattern: registered, then its prefix topic; an event of a room
    //  it matches is published (once to a SUB that holds two topics)
    zframe_t *building = ces_frame_build ("ITB-2202", "{}", 2);
    zframe_t *elsewhere = ces_frame_build ("ITC-1", "{}", 2);
    ces_rooms_add (rooms, held, "ITB-*");
    assert (ces_rooms_publish (rooms, "ITB-2202", building, "peer/1", "", "",
                               0) == CES_ROOMS_UNCONNECTED);
    assert (ces_rooms_publish (rooms, "ITC-1", elsewhere, "peer/1", "", "",
                               0) == CES_ROOMS_NO_SUBSCRIBER);
    zsock_set_subscribe (sub, "ITB-");
    zsock_set_subscribe (sub, "ITB-2202\n");
    zsock_set_subscribe (sub, CES_SYNC_PREFIX "t2");
    zstr_send (dealer, "again");
    routing_id = zframe_recv (router);
    hello = zstr_recv (router);
    zstr_free (&hello);
    ces_rooms_sync_registered (rooms, "t2", routing_id, "1");
    zframe_destroy (&routing_id);
    poller = zpoller_new (pub, dealer, NULL);
    while (zpoller_wait (poller, 2000) == pub)
        ces_rooms_recv_subscription (rooms);
    zpoller_destroy (&poller);
    assert (zstr_recvx (dealer, &command, &conn, &token, NULL) == 3);
    assert (streq (command, "REGISTERED") && streq (token, "t2"));
    zstr_free (&command);
    zstr_free (&conn);
    zstr_free (&token);
    assert (ces_rooms_publish (rooms, "ITB-2202", building, "peer/1", "", "",
                               0) == CES_ROOMS_PUBLISHED);
    assert (ces_rooms_publish (rooms, "R-1", message, "peer/1", "", "", 0) ==
            CES_ROOMS_PUBLISHED);
    published = zframe_recv (sub);
    assert (published &&
            memcmp (zframe_data (published), "ITB-2202\n", 9) == 0);
    zframe_destroy (&published);
    published = zframe_recv (sub); //  not ITB-2202 again
    assert (published && memcmp (zframe_data (published), "R-1\n", 4) == 0);
    zframe_destroy (&published);
    cJSON *status = cJSON_CreateObject ();
    ces_rooms_status (rooms, status);
    assert (cJSON_GetNumberValue (cJSON_GetObjectItem (status, "ITB-*")) == 1);
    cJSON_Delete (status);
    assert (ces_rooms_registered (rooms) == 1); //  rooms, not patterns
    ces_rooms_remove (rooms, held, "ITB-*");
    zsock_set_unsubscribe (sub, "ITB-");
    poller = zpoller_new (pub, NULL);
    while (zpoller_wait (poller, 200) == pub)
        ces_rooms_recv_subscription (rooms);
    zpoller_destroy (&poller);
    assert (ces_rooms_publish (rooms, "ITB-2202", building, "peer/1", "", "",
                               0) == CES_ROOMS_NO_SUBSCRIBER);
    zframe_destroy (&building);
    zframe_destroy (&elsewhere);

    s_test_status (rooms, 1);
    ces_rooms_add (rooms, held, "*");
    assert (ces_rooms_star_subscribers (rooms) == 1);
    ces_rooms_remove (rooms, held, "R-1");
    assert (ces_rooms_registered (rooms) == 0);
    s_test_status (rooms, 0);
    ces_rooms_remove_all (rooms, held);
    assert (ces_rooms_star_subscribers (rooms) == 0);
    assert (zhashx_size (held) == 0);
    ces_rooms_expire_syncs (rooms);

    zframe_destroy (&message);
    zhashx_destroy (&held);
    zsock_destroy (&sub);
    zsock_destroy (&dealer);
    ces_rooms_destroy (&rooms);
    ces_rooms_destroy (&rooms);
    assert (!rooms);
    ces_store_destroy (&store);
    zsock_destroy (&pub);
    zsock_destroy (&router);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
