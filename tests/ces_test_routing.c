/*  =========================================================================
    ces_test_routing - integration tests of the hub's routing over tcp

    Every case starts its own hub actor on tcp://127.0.0.1, connects embedded
    messengers (in the messenger, repeater and hub roles) and raw DEALER peers
    that speak the protocol with ces_proto, and checks what arrives where
    against the routing table of SPEC §2.

    Synchronisation is by replies only: register's confirmation, a HEARTBEAT
    round trip on a raw peer (the hub handles one peer's messages in order),
    or polling STATUS until a condition holds, with a deadline. A "does not
    receive" is proved with a marker: a later event on the same path (PUB/SUB
    for messengers, DELIVER for repeaters and hub peers) must be the first
    thing that arrives.

        ces_test_routing [-v]

    Prints "ok - case" per case, then "N passed, 0 failed". A failed check
    prints "not ok - case", the check and the counts, then aborts.
    =========================================================================
*/
#undef NDEBUG
#include <assert.h>

#include "ces.h"
#include <cjson/cJSON.h>

#define ANY_TCP    "tcp://127.0.0.1:*"
#define RANDOM_TCP "tcp://127.0.0.1:!"
#define TIMEOUT    2000 //  msecs to wait for something that must arrive
#define DEADLINE   5000 //  msecs to poll STATUS for a condition
#define ABSENT     -1   //  what s_status_number gives for a missing value

//  Test-program state: the case that runs, the counts, -v
static const char *s_case = "";
static int s_passed = 0;
static bool s_verbose = false;

//  --------------------------------------------------------------------------
//  Checks

static void __attribute__ ((noreturn, format (printf, 3, 4)))
s_fail (const char *file, int line, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    printf ("not ok - %s\n", s_case);
    printf ("    %s:%d: ", file, line);
    vprintf (format, args);
    printf ("\n%d passed, 1 failed\n", s_passed);
    va_end (args);
    fflush (stdout);
    abort ();
}

#define CHECK(expr)                                                            \
    do {                                                                       \
        if (!(expr))                                                           \
            s_fail (__FILE__, __LINE__, "check failed: %s", #expr);            \
    } while (0)

#define CHECKF(expr, ...)                                                      \
    do {                                                                       \
        if (!(expr))                                                           \
            s_fail (__FILE__, __LINE__, __VA_ARGS__);                          \
    } while (0)

//  --------------------------------------------------------------------------
//  A hub actor on tcp, with the endpoints it bound

typedef struct {
    zactor_t *actor;
    char *router;
    char *pub;
} hub_t;

static void
s_hub_set (hub_t *self, const char *name, const char *value)
{
    zstr_sendx (self->actor, "SET", name, value, NULL);
    CHECKF (zsock_wait (self->actor) == 0, "hub refused SET %s %s", name,
            value);
}

//  Starts a hub with heartbeat 100 ms (expiry 300 ms) and binds it; the
//  varargs are more option name/value pairs, then NULL. An explicit port
//  may still be held by a hub that just ended, so BIND is retried until
//  the deadline.
static hub_t *
s_hub_new (const char *router, const char *pub, ...)
{
    hub_t *self = (hub_t *)zmalloc (sizeof (hub_t));
    assert (self);
    self->actor = zactor_new (ces_hub_actor, NULL);
    CHECK (self->actor);
    s_hub_set (self, "heartbeat", "100");
    s_hub_set (self, "log-level", s_verbose ? "debug" : "error");
    va_list args;
    va_start (args, pub);
    const char *name;
    while ((name = va_arg (args, const char *))) {
        const char *value = va_arg (args, const char *);
        s_hub_set (self, name, value);
    }
    va_end (args);

    int64_t deadline = zclock_mono () + DEADLINE;
    while (!self->router) {
        zstr_sendx (self->actor, "BIND", router, pub, NULL);
        char *status, *router_bound, *pub_bound;
        CHECK (zstr_recvx (self->actor, &status, &router_bound, &pub_bound,
                           NULL) == 3);
        if (streq (status, "0")) {
            self->router = router_bound;
            self->pub = pub_bound;
        } else {
            CHECKF (zclock_mono () < deadline, "BIND %s %s failed: %s", router,
                    pub, router_bound);
            zstr_free (&router_bound);
            zstr_free (&pub_bound);
            zclock_sleep (10); //  poll interval of a loop with a deadline
        }
        zstr_free (&status);
    }
    return self;
}

static void
s_hub_destroy (hub_t **self_p)
{
    hub_t *self = *self_p;
    if (self) {
        zactor_destroy (&self->actor);
        zstr_free (&self->router);
        zstr_free (&self->pub);
        freen (self);
        *self_p = NULL;
    }
}

//  Returns the hub's STATUS as a string; caller frees it
static char *
s_status_text (hub_t *hub)
{
    zstr_send (hub->actor, "STATUS");
    char *json = zstr_recv (hub->actor);
    CHECK (json);
    return json;
}

//  Returns the number at a dotted path of STATUS ("drops.no_route",
//  "rooms.ITB-1101"), or ABSENT if there is none
static double
s_status_number (hub_t *hub, const char *path)
{
    char *json = s_status_text (hub);
    cJSON *root = cJSON_Parse (json);
    CHECKF (root, "STATUS is not JSON: %s", json);
    zstr_free (&json);
    char *copy = strdup (path);
    cJSON *item = root;
    char *saveptr = NULL;
    for (char *name = strtok_r (copy, ".", &saveptr); name && item;
         name = strtok_r (NULL, ".", &saveptr))
        item = cJSON_GetObjectItemCaseSensitive (item, name);
    double value = cJSON_IsNumber (item) ? item->valuedouble : ABSENT;
    freen (copy);
    cJSON_Delete (root);
    return value;
}

//  Polls STATUS until the number at path equals expected, or the deadline
//  passes; fails the case with the whole STATUS if it never does
#define AWAIT(hub, path, expected, timeout)                                    \
    s_await (hub, path, expected, timeout, __FILE__, __LINE__)

static void
s_await (hub_t *hub, const char *path, double expected, int timeout,
         const char *file, int line)
{
    int64_t deadline = zclock_mono () + timeout;
    double value = s_status_number (hub, path);
    while (value != expected && zclock_mono () < deadline) {
        zclock_sleep (10); //  poll interval of a loop with a deadline
        value = s_status_number (hub, path);
    }
    if (value != expected) {
        char *json = s_status_text (hub);
        s_fail (file, line, "STATUS %s is %g, expected %g within %d ms\n    %s",
                path, value, expected, timeout, json);
    }
}

//  Checks the number at path now, without waiting
#define CHECK_STATUS(hub, path, expected) AWAIT (hub, path, expected, 0)

//  --------------------------------------------------------------------------
//  Embedded messengers, in any role

static ces_messenger_t *
s_messenger_new (hub_t *hub, const char *role)
{
    ces_messenger_t *self =
        ces_messenger_new_role (hub->router, hub->pub, role);
    CHECK (self);
    zactor_t *actor = ces_messenger_actor (self);
    zstr_sendx (actor, "SET", "log-level", s_verbose ? "debug" : "warn", NULL);
    CHECK (zsock_wait (actor) == 0);
    CHECKF (ces_messenger_wait_connected (self, DEADLINE) == 0,
            "%s did not connect to %s", role, hub->router);
    return self;
}

//  The next event who gets must be room and payload
#define EXPECT(m, who, room, payload)                                          \
    s_expect (m, who, room, payload, __FILE__, __LINE__)

static void
s_expect (ces_messenger_t *m, const char *who, const char *room,
          const char *payload, const char *file, int line)
{
    if (ces_messenger_recv (m, TIMEOUT))
        s_fail (file, line, "%s: expected %s %s, got nothing in %d ms", who,
                room, payload, TIMEOUT);
    if (!streq (ces_messenger_room (m), room) ||
        !streq (ces_messenger_payload (m), payload))
        s_fail (file, line, "%s: expected %s %s, got %s %s", who, room, payload,
                ces_messenger_room (m), ces_messenger_payload (m));
}

//  Returns the payload of the next event; caller frees it
static char *
s_next_payload (ces_messenger_t *m, const char *who)
{
    CHECKF (ces_messenger_recv (m, TIMEOUT) == 0, "%s: nothing in %d ms", who,
            TIMEOUT);
    return strdup (ces_messenger_payload (m));
}

//  Two connections that take turns (repeaters in a rotation) must get one
//  each of two events, in either order
static void
s_expect_one_each (ces_messenger_t *a, ces_messenger_t *b, const char *first,
                   const char *second)
{
    char *got_a = s_next_payload (a, "repeater a");
    char *got_b = s_next_payload (b, "repeater b");
    bool ok = (streq (got_a, first) && streq (got_b, second)) ||
              (streq (got_a, second) && streq (got_b, first));
    CHECKF (ok, "repeaters got %s and %s, expected %s and %s one each", got_a,
            got_b, first, second);
    freen (got_a);
    freen (got_b);
}

static void
s_send (ces_messenger_t *m, const char *room, const char *payload)
{
    CHECKF (ces_messenger_send (m, room, payload) == 0, "send %s %s: %s", room,
            payload, ces_messenger_reason (m));
}

//  --------------------------------------------------------------------------
//  A raw peer: a DEALER speaking the protocol through ces_proto

typedef struct {
    zsock_t *dealer;
    ces_proto_t *proto;
} peer_t;

static peer_t *
s_peer_new (hub_t *hub, const char *identity)
{
    peer_t *self = (peer_t *)zmalloc (sizeof (peer_t));
    assert (self);
    self->dealer = zsock_new (ZMQ_DEALER);
    CHECK (self->dealer);
    zsock_set_identity (self->dealer, identity);
    zsock_set_rcvtimeo (self->dealer, TIMEOUT);
    zsock_set_linger (self->dealer, 0);
    CHECK (zsock_connect (self->dealer, "%s", hub->router) == 0);
    self->proto = ces_proto_new ();
    return self;
}

//  Closes the DEALER at once and says nothing: the hub sees a peer vanish
static void
s_peer_destroy (peer_t **self_p)
{
    peer_t *self = *self_p;
    if (self) {
        zsock_destroy (&self->dealer);
        ces_proto_destroy (&self->proto);
        freen (self);
        *self_p = NULL;
    }
}

static void
s_peer_send (peer_t *self, ces_proto_id_t id)
{
    ces_proto_set_id (self->proto, id);
    CHECK (ces_proto_send (self->proto, self->dealer) == 0);
}

//  Command names by ces_proto_id_t, for failure messages
static const char *const s_commands[] = {
    "?",         "HELLO",      "WELCOME",    "ATTACH", "DETACH",
    "REGISTER",  "UNREGISTER", "REGISTERED", "EVENT",  "DELIVER",
    "HEARTBEAT", "BYE",        "ERROR"};

//  The next message from the hub must be id
#define PEER_EXPECT(peer, id) s_peer_expect (peer, id, __FILE__, __LINE__)

static void
s_peer_expect (peer_t *self, ces_proto_id_t id, const char *file, int line)
{
    int rc = ces_proto_recv (self->proto, self->dealer);
    if (rc != 0)
        s_fail (file, line, "raw peer: expected %s, got %s", s_commands[id],
                rc == -1 ? "nothing in time" : ces_proto_reason (self->proto));
    if (ces_proto_id (self->proto) != id)
        s_fail (file, line, "raw peer: expected %s, got %s %s %s",
                s_commands[id], ces_proto_command (self->proto),
                ces_proto_code (self->proto),
                ces_proto_error_reason (self->proto));
}

//  The next message must be ERROR code, with a reason that is a sentence
//  holding the text in part
#define PEER_EXPECT_ERROR(peer, code, part)                                    \
    s_peer_expect_error (peer, code, part, __FILE__, __LINE__)

static void
s_peer_expect_error (peer_t *self, const char *code, const char *part,
                     const char *file, int line)
{
    s_peer_expect (self, CES_PROTO_ERROR, file, line);
    const char *reason = ces_proto_error_reason (self->proto);
    if (!streq (ces_proto_code (self->proto), code))
        s_fail (file, line, "raw peer: expected ERROR %s, got ERROR %s (%s)",
                code, ces_proto_code (self->proto), reason);
    if (strlen (reason) < 10 || !strchr (reason, ' ') || !strstr (reason, part))
        s_fail (file, line,
                "raw peer: ERROR %s reason '%s' is not a sentence "
                "about '%s'",
                code, reason, part);
}

//  A HEARTBEAT round trip: once it is back, the hub has handled everything
//  this peer sent before it, and heard from the peer just now
static void
s_peer_sync (peer_t *self)
{
    s_peer_send (self, CES_PROTO_HEARTBEAT);
    PEER_EXPECT (self, CES_PROTO_HEARTBEAT);
}

static void
s_peer_hello (peer_t *self)
{
    ces_proto_set_name (self->proto, "raw-test-peer");
    s_peer_send (self, CES_PROTO_HELLO);
    PEER_EXPECT (self, CES_PROTO_WELCOME);
    CHECK (ces_proto_heartbeat (self->proto) == 100);
}

static void
s_peer_attach (peer_t *self, const char *conn, const char *role)
{
    ces_proto_set_conn (self->proto, conn);
    ces_proto_set_role (self->proto, role);
    s_peer_send (self, CES_PROTO_ATTACH);
    s_peer_sync (self);
}

//  Sends (UN)REGISTER with one room and no sync token: no REGISTERED comes
//  back, so the heartbeat round trip says when the hub has it
static void
s_peer_register (peer_t *self, ces_proto_id_t id, const char *conn,
                 const char *room)
{
    zlist_t *rooms = zlist_new ();
    zlist_append (rooms, (void *)room);
    ces_proto_set_conn (self->proto, conn);
    ces_proto_set_token (self->proto, "");
    ces_proto_set_rooms (self->proto, rooms);
    zlist_destroy (&rooms);
    s_peer_send (self, id);
    s_peer_sync (self);
}

static void
s_peer_event (peer_t *self, const char *conn, const char *frame)
{
    zframe_t *message = zframe_new (frame, strlen (frame));
    ces_proto_set_conn (self->proto, conn);
    ces_proto_set_message (self->proto, &message);
    s_peer_send (self, CES_PROTO_EVENT);
}

//  --------------------------------------------------------------------------
//  1. Every cell of the routing table, and events_in by source role

static void
s_test_routing_table (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, NULL);
    const char *room = "ITB-1101";
    ces_messenger_t *a = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *b = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *sender = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *hub1 = s_messenger_new (hub, CES_ROLE_HUB);
    ces_messenger_t *hub2 = s_messenger_new (hub, CES_ROLE_HUB);
    ces_messenger_t *rep1 = s_messenger_new (hub, CES_ROLE_REPEATER);
    ces_messenger_t *rep2 = s_messenger_new (hub, CES_ROLE_REPEATER);
    CHECK (ces_messenger_register (a, room, NULL) == 0);
    CHECK (ces_messenger_register (b, room, NULL) == 0);
    CHECK (ces_messenger_register (sender, room, NULL) == 0);
    AWAIT (hub, "connections.hub", 2, DEADLINE);
    AWAIT (hub, "connections.repeater", 2, DEADLINE);
    CHECK_STATUS (hub, "repeaters", 2);
    CHECK_STATUS (hub, "connections.messenger", 3);
    CHECK_STATUS (hub, "rooms.ITB-1101", 3);

    //  Messenger-sourced: room messengers, every hub peer, one repeater
    s_send (sender, room, "{\"n\":\"m1\"}");
    s_send (sender, room, "{\"n\":\"m2\"}");
    EXPECT (a, "messenger a", room, "{\"n\":\"m1\"}");
    EXPECT (a, "messenger a", room, "{\"n\":\"m2\"}");
    EXPECT (b, "messenger b", room, "{\"n\":\"m1\"}");
    EXPECT (b, "messenger b", room, "{\"n\":\"m2\"}");
    EXPECT (hub1, "hub peer 1", room, "{\"n\":\"m1\"}");
    EXPECT (hub1, "hub peer 1", room, "{\"n\":\"m2\"}");
    EXPECT (hub2, "hub peer 2", room, "{\"n\":\"m1\"}");
    EXPECT (hub2, "hub peer 2", room, "{\"n\":\"m2\"}");
    s_expect_one_each (rep1, rep2, "{\"n\":\"m1\"}", "{\"n\":\"m2\"}");
    CHECK_STATUS (hub, "events_in.messenger", 2);
    CHECK_STATUS (hub, "deliveries.published", 2);
    CHECK_STATUS (hub, "deliveries.hub", 4);
    CHECK_STATUS (hub, "deliveries.repeater", 2);

    //  Repeater-sourced: room messengers (the messenger sender too: its
    //  first event is this one, so m1 and m2 never came back to it), every
    //  hub peer once, never a repeater
    s_send (rep1, room, "{\"n\":\"r1\"}");
    EXPECT (a, "messenger a", room, "{\"n\":\"r1\"}");
    EXPECT (b, "messenger b", room, "{\"n\":\"r1\"}");
    EXPECT (sender, "messenger sender", room, "{\"n\":\"r1\"}");
    EXPECT (hub1, "hub peer 1", room, "{\"n\":\"r1\"}");
    EXPECT (hub2, "hub peer 2", room, "{\"n\":\"r1\"}");
    //  Markers: the next two messenger events, one to each repeater
    s_send (sender, room, "{\"n\":\"m3\"}");
    s_send (sender, room, "{\"n\":\"m4\"}");
    EXPECT (a, "messenger a", room, "{\"n\":\"m3\"}");
    EXPECT (a, "messenger a", room, "{\"n\":\"m4\"}");
    EXPECT (b, "messenger b", room, "{\"n\":\"m3\"}");
    EXPECT (b, "messenger b", room, "{\"n\":\"m4\"}");
    EXPECT (hub1, "hub peer 1", room, "{\"n\":\"m3\"}");
    EXPECT (hub1, "hub peer 1", room, "{\"n\":\"m4\"}");
    EXPECT (hub2, "hub peer 2", room, "{\"n\":\"m3\"}");
    EXPECT (hub2, "hub peer 2", room, "{\"n\":\"m4\"}");
    s_expect_one_each (rep1, rep2, "{\"n\":\"m3\"}", "{\"n\":\"m4\"}");
    CHECK_STATUS (hub, "events_in.repeater", 1);
    CHECK_STATUS (hub, "events_in.messenger", 4);
    CHECK_STATUS (hub, "deliveries.hub", 10);
    CHECK_STATUS (hub, "deliveries.repeater", 4);

    //  Hub-sourced: room messengers only, neither hub peers (the sender
    //  included) nor repeaters
    s_send (hub1, room, "{\"n\":\"h1\"}");
    EXPECT (a, "messenger a", room, "{\"n\":\"h1\"}");
    EXPECT (b, "messenger b", room, "{\"n\":\"h1\"}");
    EXPECT (sender, "messenger sender", room, "{\"n\":\"h1\"}");
    s_send (sender, room, "{\"n\":\"m5\"}");
    s_send (sender, room, "{\"n\":\"m6\"}");
    EXPECT (a, "messenger a", room, "{\"n\":\"m5\"}");
    EXPECT (a, "messenger a", room, "{\"n\":\"m6\"}");
    EXPECT (b, "messenger b", room, "{\"n\":\"m5\"}");
    EXPECT (b, "messenger b", room, "{\"n\":\"m6\"}");
    EXPECT (hub1, "hub peer 1", room, "{\"n\":\"m5\"}");
    EXPECT (hub1, "hub peer 1", room, "{\"n\":\"m6\"}");
    EXPECT (hub2, "hub peer 2", room, "{\"n\":\"m5\"}");
    EXPECT (hub2, "hub peer 2", room, "{\"n\":\"m6\"}");
    s_expect_one_each (rep1, rep2, "{\"n\":\"m5\"}", "{\"n\":\"m6\"}");
    CHECK_STATUS (hub, "events_in.hub", 1);
    CHECK_STATUS (hub, "events_in.repeater", 1);
    CHECK_STATUS (hub, "events_in.messenger", 6);
    CHECK_STATUS (hub, "deliveries.published", 8);
    CHECK_STATUS (hub, "deliveries.hub", 14);
    CHECK_STATUS (hub, "deliveries.repeater", 6);
    CHECK_STATUS (hub, "drops.no_route", 0);

    //  The sender never got its own m3..m6 either
    s_send (a, room, "{\"n\":\"a1\"}");
    EXPECT (sender, "messenger sender", room, "{\"n\":\"a1\"}");

    ces_messenger_destroy (&a);
    ces_messenger_destroy (&b);
    ces_messenger_destroy (&sender);
    ces_messenger_destroy (&hub1);
    ces_messenger_destroy (&hub2);
    ces_messenger_destroy (&rep1);
    ces_messenger_destroy (&rep2);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  2. A messenger does not get its own event

static void
s_test_sender_exclusion (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, NULL);
    ces_messenger_t *self = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *other = s_messenger_new (hub, CES_ROLE_MESSENGER);
    CHECK (ces_messenger_register (self, "ITB-1101", NULL) == 0);
    CHECK (ces_messenger_register (other, "ITB-1101", NULL) == 0);

    s_send (self, "ITB-1101", "{\"n\":\"own\"}");
    EXPECT (other, "other", "ITB-1101", "{\"n\":\"own\"}");
    s_send (other, "ITB-1101", "{\"n\":\"marker\"}");
    EXPECT (self, "sender", "ITB-1101", "{\"n\":\"marker\"}");
    CHECK_STATUS (hub, "deliveries.published", 2);

    ces_messenger_destroy (&self);
    ces_messenger_destroy (&other);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  3. A "*" subscriber gets events of any room

static void
s_test_star (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, NULL);
    ces_messenger_t *star = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *sender = s_messenger_new (hub, CES_ROLE_MESSENGER);
    CHECK (ces_messenger_register (star, "*", NULL) == 0);
    CHECK_STATUS (hub, "star_subscribers", 1);
    CHECK_STATUS (hub, "rooms.*", ABSENT);

    s_send (sender, "ITB-1101", "{\"n\":1}");
    s_send (sender, "JFSB-B120", "{\"n\":2}");
    s_send (sender, "X", "{\"n\":3}");
    EXPECT (star, "star", "ITB-1101", "{\"n\":1}");
    EXPECT (star, "star", "JFSB-B120", "{\"n\":2}");
    EXPECT (star, "star", "X", "{\"n\":3}");
    CHECK_STATUS (hub, "deliveries.published", 3);
    CHECK_STATUS (hub, "drops.no_route", 0);

    ces_messenger_destroy (&star);
    ces_messenger_destroy (&sender);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  4. Registered for R and "*": an R event arrives once

static void
s_test_room_and_star_once (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, NULL);
    ces_messenger_t *both = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *sender = s_messenger_new (hub, CES_ROLE_MESSENGER);
    CHECK (ces_messenger_register (both, "ITB-1101", "*", NULL) == 0);
    CHECK_STATUS (hub, "star_subscribers", 1);
    CHECK_STATUS (hub, "rooms.ITB-1101", 1);

    s_send (sender, "ITB-1101", "{\"n\":\"once\"}");
    //  The marker reaches it through "*", on the same PUB/SUB path
    s_send (sender, "ITB-9999", "{\"n\":\"marker\"}");
    EXPECT (both, "room+star", "ITB-1101", "{\"n\":\"once\"}");
    EXPECT (both, "room+star", "ITB-9999", "{\"n\":\"marker\"}");
    CHECK_STATUS (hub, "deliveries.published", 2);
    uint64_t received;
    ces_messenger_stats (both, &received, NULL, NULL, NULL);
    CHECK (received == 2);

    ces_messenger_destroy (&both);
    ces_messenger_destroy (&sender);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  5. ITB-1101 is not a prefix match for ITB-11010 (nor ITB-110)

static void
s_test_room_prefix (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, NULL);
    ces_messenger_t *m = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *other = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *sender = s_messenger_new (hub, CES_ROLE_MESSENGER);
    CHECK (ces_messenger_register (m, "ITB-1101", NULL) == 0);
    //  Someone wants the other two rooms, so the hub publishes them and
    //  only the subscription's topic can keep them from m
    CHECK (ces_messenger_register (other, "ITB-11010", "ITB-110", NULL) == 0);

    s_send (sender, "ITB-11010", "{\"n\":\"longer\"}");
    s_send (sender, "ITB-110", "{\"n\":\"shorter\"}");
    s_send (sender, "ITB-1101", "{\"n\":\"marker\"}");
    EXPECT (other, "other", "ITB-11010", "{\"n\":\"longer\"}");
    EXPECT (other, "other", "ITB-110", "{\"n\":\"shorter\"}");
    EXPECT (m, "ITB-1101 subscriber", "ITB-1101", "{\"n\":\"marker\"}");
    CHECK_STATUS (hub, "deliveries.published", 3);
    CHECK_STATUS (hub, "drops.no_route", 0);

    ces_messenger_destroy (&m);
    ces_messenger_destroy (&other);
    ces_messenger_destroy (&sender);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  6. Registering twice is idempotent, in the messenger and in the hub

static void
s_test_register_idempotent (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, NULL);
    ces_messenger_t *m = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *sender = s_messenger_new (hub, CES_ROLE_MESSENGER);
    CHECK (ces_messenger_register (m, "ITB-1101", NULL) == 0);
    CHECK (ces_messenger_register (m, "ITB-1101", NULL) == 0);
    CHECK (ces_messenger_register (m, "ITB-1101", "ITB-1102", NULL) == 0);
    CHECK_STATUS (hub, "rooms.ITB-1101", 1);
    CHECK_STATUS (hub, "rooms.ITB-1102", 1);

    s_send (sender, "ITB-1101", "{\"n\":1}");
    s_send (sender, "ITB-1101", "{\"n\":2}");
    EXPECT (m, "registered twice", "ITB-1101", "{\"n\":1}");
    EXPECT (m, "registered twice", "ITB-1101", "{\"n\":2}");

    //  The hub counts a connection once however often it registers: after
    //  two REGISTERs and one UNREGISTER the raw connection holds nothing
    peer_t *peer = s_peer_new (hub, "raw-twice");
    s_peer_hello (peer);
    s_peer_attach (peer, "1", CES_ROLE_MESSENGER);
    s_peer_register (peer, CES_PROTO_REGISTER, "1", "ITB-1101");
    s_peer_register (peer, CES_PROTO_REGISTER, "1", "ITB-1101");
    CHECK_STATUS (hub, "rooms.ITB-1101", 2);
    s_peer_register (peer, CES_PROTO_UNREGISTER, "1", "ITB-1101");
    CHECK_STATUS (hub, "rooms.ITB-1101", 1);
    s_peer_register (peer, CES_PROTO_REGISTER, "1", "ITB-1103");
    s_peer_register (peer, CES_PROTO_REGISTER, "1", "ITB-1103");
    s_peer_register (peer, CES_PROTO_UNREGISTER, "1", "ITB-1103");
    CHECK_STATUS (hub, "rooms.ITB-1103", ABSENT);

    s_peer_destroy (&peer);
    ces_messenger_destroy (&m);
    ces_messenger_destroy (&sender);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  7. Unregister all: no more events for the old rooms, and the hub forgets
//  them

static void
s_test_unregister_all (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, NULL);
    ces_messenger_t *m = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *sender = s_messenger_new (hub, CES_ROLE_MESSENGER);
    CHECK (ces_messenger_register (m, "ITB-1101", "ITB-1102", NULL) == 0);
    CHECK_STATUS (hub, "rooms.ITB-1101", 1);
    CHECK_STATUS (hub, "rooms.ITB-1102", 1);
    s_send (sender, "ITB-1102", "{\"n\":\"before\"}");
    EXPECT (m, "subscriber", "ITB-1102", "{\"n\":\"before\"}");

    CHECK (ces_messenger_unregister (m, NULL) == 0);
    AWAIT (hub, "rooms.ITB-1101", ABSENT, DEADLINE);
    AWAIT (hub, "rooms.ITB-1102", ABSENT, DEADLINE);

    //  The hub no longer routes them to it; a new room is the marker
    CHECK (ces_messenger_register (m, "ITB-2000", NULL) == 0);
    s_send (sender, "ITB-1101", "{\"n\":\"after-1\"}");
    s_send (sender, "ITB-1102", "{\"n\":\"after-2\"}");
    s_send (sender, "ITB-2000", "{\"n\":\"marker-1\"}");
    EXPECT (m, "unregistered", "ITB-2000", "{\"n\":\"marker-1\"}");
    CHECK_STATUS (hub, "drops.no_route", 2);
    CHECK_STATUS (hub, "rooms.ITB-2000", 1);

    //  Nor does its own subscription let them in once another messenger
    //  makes the hub publish the old rooms again
    ces_messenger_t *other = s_messenger_new (hub, CES_ROLE_MESSENGER);
    CHECK (ces_messenger_register (other, "ITB-1101", "ITB-1102", NULL) == 0);
    CHECK_STATUS (hub, "rooms.ITB-1101", 1);
    s_send (sender, "ITB-1101", "{\"n\":\"after-3\"}");
    s_send (sender, "ITB-1102", "{\"n\":\"after-4\"}");
    s_send (sender, "ITB-2000", "{\"n\":\"marker-2\"}");
    EXPECT (other, "other", "ITB-1101", "{\"n\":\"after-3\"}");
    EXPECT (other, "other", "ITB-1102", "{\"n\":\"after-4\"}");
    EXPECT (m, "unregistered", "ITB-2000", "{\"n\":\"marker-2\"}");

    ces_messenger_destroy (&m);
    ces_messenger_destroy (&other);
    ces_messenger_destroy (&sender);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  8. A messenger that vanishes without BYE loses its registrations

static void
s_test_vanished_messenger (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, NULL);
    ces_messenger_t *sender = s_messenger_new (hub, CES_ROLE_MESSENGER);
    peer_t *peer = s_peer_new (hub, "raw-vanishing");
    s_peer_hello (peer);
    s_peer_attach (peer, "1", CES_ROLE_MESSENGER);
    s_peer_register (peer, CES_PROTO_REGISTER, "1", "ITB-1101");
    CHECK_STATUS (hub, "rooms.ITB-1101", 1);
    CHECK_STATUS (hub, "connections.messenger", 2);

    //  Gone: no BYE, linger 0; three heartbeats (300 ms) later it expires
    s_peer_destroy (&peer);
    AWAIT (hub, "rooms.ITB-1101", ABSENT, 3000);
    CHECK_STATUS (hub, "connections.messenger", 1);

    s_send (sender, "ITB-1101", "{\"n\":\"nobody\"}");
    AWAIT (hub, "events_in.messenger", 1, DEADLINE);
    CHECK_STATUS (hub, "drops.no_route", 1);
    CHECK_STATUS (hub, "deliveries.published", 0);

    ces_messenger_destroy (&sender);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  9. Messenger events go round-robin across three repeaters

static void
s_test_round_robin (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, NULL);
    ces_messenger_t *sender = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *reps[3];
    for (int i = 0; i < 3; i++)
        reps[i] = s_messenger_new (hub, CES_ROLE_REPEATER);
    AWAIT (hub, "repeaters", 3, DEADLINE);

    for (int n = 0; n < 6; n++) {
        char payload[32];
        snprintf (payload, sizeof (payload), "{\"n\":%d}", n);
        s_send (sender, "ITB-1101", payload);
    }
    //  Each gets two, three apart: a strict rotation
    int first[3];
    bool seen[6] = {false};
    for (int i = 0; i < 3; i++) {
        int got[2];
        for (int k = 0; k < 2; k++) {
            char *payload = s_next_payload (reps[i], "repeater");
            CHECKF (sscanf (payload, "{\"n\":%d}", &got[k]) == 1 &&
                        got[k] >= 0 && got[k] < 6 && !seen[got[k]],
                    "repeater %d got %s", i, payload);
            seen[got[k]] = true;
            freen (payload);
        }
        CHECKF (got[1] == got[0] + 3, "repeater %d got %d and %d", i, got[0],
                got[1]);
        first[i] = got[0];
    }
    CHECK_STATUS (hub, "events_in.messenger", 6);
    CHECK_STATUS (hub, "deliveries.repeater", 6);
    CHECK_STATUS (hub, "drops.no_route", 0);

    //  Markers: three more, one each; the first thing each repeater gets
    //  after its two, so none got a third
    for (int n = 6; n < 9; n++) {
        char payload[32];
        snprintf (payload, sizeof (payload), "{\"n\":%d}", n);
        s_send (sender, "ITB-1101", payload);
    }
    for (int i = 0; i < 3; i++) {
        char expected[32];
        snprintf (expected, sizeof (expected), "{\"n\":%d}", first[i] + 6);
        EXPECT (reps[i], "repeater", "ITB-1101", expected);
    }
    CHECK_STATUS (hub, "deliveries.repeater", 9);

    for (int i = 0; i < 3; i++)
        ces_messenger_destroy (&reps[i]);
    ces_messenger_destroy (&sender);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  10. A repeater that stopped heartbeating leaves the rotation, and comes
//  back when it says HELLO again

static void
s_test_dead_repeater (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, NULL);
    ces_messenger_t *sender = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *rep1 = s_messenger_new (hub, CES_ROLE_REPEATER);
    ces_messenger_t *rep2 = s_messenger_new (hub, CES_ROLE_REPEATER);
    AWAIT (hub, "repeaters", 2, DEADLINE);
    peer_t *raw = s_peer_new (hub, "raw-repeater");
    s_peer_hello (raw);
    s_peer_attach (raw, "1", CES_ROLE_REPEATER);
    CHECK_STATUS (hub, "repeaters", 3);

    //  The raw repeater now says nothing; it expires after 300 ms
    AWAIT (hub, "repeaters", 2, 3000);
    CHECK_STATUS (hub, "connections.repeater", 2);
    double before = s_status_number (hub, "deliveries.repeater");
    s_send (sender, "ITB-1101", "{\"n\":1}");
    s_send (sender, "ITB-1101", "{\"n\":2}");
    s_send (sender, "ITB-1101", "{\"n\":3}");
    s_send (sender, "ITB-1101", "{\"n\":4}");
    char *got[4];
    got[0] = s_next_payload (rep1, "live repeater 1");
    got[1] = s_next_payload (rep1, "live repeater 1");
    got[2] = s_next_payload (rep2, "live repeater 2");
    got[3] = s_next_payload (rep2, "live repeater 2");
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            CHECKF (!streq (got[i], got[j]), "%s delivered twice", got[i]);
    for (int i = 0; i < 4; i++)
        freen (got[i]);
    CHECK_STATUS (hub, "deliveries.repeater", before + 4);
    CHECK_STATUS (hub, "drops.peer_gone", 0);
    CHECK_STATUS (hub, "drops.queue_full", 0);

    //  It speaks again: the hub no longer knows it (and sent it nothing
    //  meanwhile: the ERROR is the first thing it gets)
    s_peer_send (raw, CES_PROTO_HEARTBEAT);
    PEER_EXPECT_ERROR (raw, CES_PROTO_ERR_UNKNOWN_LINK, "HELLO");
    s_peer_hello (raw);
    s_peer_attach (raw, "1", CES_ROLE_REPEATER);
    CHECK_STATUS (hub, "repeaters", 3);
    CHECK_STATUS (hub, "connections.repeater", 3);

    //  Back in the rotation: three events, one each
    s_send (sender, "ITB-1101", "{\"n\":5}");
    s_send (sender, "ITB-1101", "{\"n\":6}");
    s_send (sender, "ITB-1101", "{\"n\":7}");
    PEER_EXPECT (raw, CES_PROTO_DELIVER);
    CHECK (streq (ces_proto_conn (raw->proto), "1"));
    char *raw_got = zframe_strdup (ces_proto_message (raw->proto));
    char *got1 = s_next_payload (rep1, "live repeater 1");
    char *got2 = s_next_payload (rep2, "live repeater 2");
    CHECKF (strstr (raw_got, "ITB-1101\n") == raw_got &&
                !streq (raw_got + 9, got1) && !streq (raw_got + 9, got2) &&
                !streq (got1, got2),
            "after the return: raw %s, live %s and %s", raw_got, got1, got2);
    freen (raw_got);
    freen (got1);
    freen (got2);
    CHECK_STATUS (hub, "deliveries.repeater", before + 7);

    s_peer_destroy (&raw);
    ces_messenger_destroy (&rep1);
    ces_messenger_destroy (&rep2);
    ces_messenger_destroy (&sender);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  11. Each malformed input gets its own error; everyone else is served

static void
s_exchange (ces_messenger_t *a, ces_messenger_t *b, int n)
{
    char payload[32];
    snprintf (payload, sizeof (payload), "{\"n\":%d}", n);
    s_send (a, "ITB-1101", payload);
    EXPECT (b, "messenger b", "ITB-1101", payload);
    snprintf (payload, sizeof (payload), "{\"n\":%d}", -n);
    s_send (b, "ITB-1101", payload);
    EXPECT (a, "messenger a", "ITB-1101", payload);
}

static void
s_test_malformed (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, "max-message", "1024", NULL);
    ces_messenger_t *a = s_messenger_new (hub, CES_ROLE_MESSENGER);
    ces_messenger_t *b = s_messenger_new (hub, CES_ROLE_MESSENGER);
    CHECK (ces_messenger_register (a, "ITB-1101", NULL) == 0);
    CHECK (ces_messenger_register (b, "ITB-1101", NULL) == 0);
    s_exchange (a, b, 1);
    peer_t *raw = s_peer_new (hub, "raw-malformed");
    s_peer_hello (raw);
    s_peer_attach (raw, "1", CES_ROLE_MESSENGER);

    char *large = (char *)zmalloc (2048);
    assert (large);
    strcpy (large, "ITB-1101\n{\"data\":\"");
    memset (large + strlen (large), 'x', 1500);
    strcat (large, "\"}");

    //  Each: what the raw peer sends, the code and words of the reply, and
    //  which drop counter it moves
    const struct {
        const char *frames[5];
        const char *code;
        const char *part;
        const char *counter;
    } inputs[] = {
        {{"NONSENSE", NULL}, "malformed", "unknown command", "drops.malformed"},
        {{"EVENT", "1", NULL}, "malformed", "expected 2", "drops.malformed"},
        {{"HEARTBEAT", "extra", NULL},
         "malformed",
         "expected 0",
         "drops.malformed"},
        {{"ATTACH", "2", "emperor", NULL},
         "malformed",
         "role",
         "drops.malformed"},
        {{"EVENT", "1", "ITB-1101{\"n\":0}", NULL},
         "malformed",
         "newline",
         "drops.malformed"},
        {{"EVENT", "1", "ITB 1101\n{\"n\":0}", NULL},
         "malformed",
         "space",
         "drops.malformed"},
        {{"EVENT", "1", "ITB-1101\nnot json", NULL},
         "not-json",
         "JSON",
         "drops.malformed"},
        {{"EVENT", "1", "ITB-1101\n[1,2]", NULL},
         "not-json",
         "object",
         "drops.malformed"},
        {{"EVENT", "9", "ITB-1101\n{\"n\":0}", NULL},
         "unknown-conn",
         "ATTACH",
         "drops.unknown_peer"},
        {{"REGISTER", "1", "", "bad room", NULL},
         "malformed",
         "room ID",
         "drops.malformed"},
        {{"EVENT", "1", large, NULL}, "malformed", "larger", "drops.malformed"},
        {{"HELLO", "99", "raw-test-peer", NULL}, "version", "version", NULL},
    };
    double malformed = 0, unknown = 0;
    for (size_t i = 0; i < sizeof (inputs) / sizeof (inputs[0]); i++) {
        s_peer_sync (raw); //  keeps the raw peer alive, too
        zmsg_t *msg = zmsg_new ();
        for (int f = 0; inputs[i].frames[f]; f++)
            zmsg_addstr (msg, inputs[i].frames[f]);
        CHECK (zmsg_send (&msg, raw->dealer) == 0);
        PEER_EXPECT_ERROR (raw, inputs[i].code, inputs[i].part);
        if (inputs[i].counter && streq (inputs[i].counter, "drops.malformed"))
            malformed++;
        else if (inputs[i].counter)
            unknown++;
        CHECK_STATUS (hub, "drops.malformed", malformed);
        CHECK_STATUS (hub, "drops.unknown_peer", unknown);
        s_exchange (a, b, (int)i + 2);
    }
    freen (large);
    CHECK_STATUS (hub, "drops.malformed", 10);
    CHECK_STATUS (hub, "drops.unknown_peer", 1);
    CHECK_STATUS (hub, "events_in.messenger", 2 * 13);
    CHECK_STATUS (hub, "rooms.ITB-1101", 2);

    //  The raw peer itself is still served
    s_peer_sync (raw);
    s_peer_event (raw, "1", "ITB-1101\n{\"n\":\"raw\"}");
    EXPECT (a, "messenger a", "ITB-1101", "{\"n\":\"raw\"}");
    EXPECT (b, "messenger b", "ITB-1101", "{\"n\":\"raw\"}");
    s_peer_sync (raw);

    s_peer_destroy (&raw);
    ces_messenger_destroy (&a);
    ces_messenger_destroy (&b);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  12. With validation off, a payload that is not JSON is routed

static void
s_test_validation_off (void)
{
    hub_t *hub = s_hub_new (ANY_TCP, ANY_TCP, "validate", "false", NULL);
    ces_messenger_t *m = s_messenger_new (hub, CES_ROLE_MESSENGER);
    CHECK (ces_messenger_register (m, "ITB-1101", NULL) == 0);
    peer_t *raw = s_peer_new (hub, "raw-unvalidated");
    s_peer_hello (raw);
    s_peer_attach (raw, "1", CES_ROLE_MESSENGER);

    s_peer_event (raw, "1", "ITB-1101\nnot json at all");
    EXPECT (m, "subscriber", "ITB-1101", "not json at all");
    //  No ERROR came back: the next reply is the heartbeat's
    s_peer_sync (raw);
    CHECK_STATUS (hub, "drops.malformed", 0);
    CHECK_STATUS (hub, "events_in.messenger", 1);

    s_peer_destroy (&raw);
    ces_messenger_destroy (&m);
    s_hub_destroy (&hub);
}

//  --------------------------------------------------------------------------
//  13. A messenger registers its rooms again on a restarted hub

static void
s_test_hub_restart (void)
{
    //  Learn two free ports, then use them explicitly. ":!" is ":*" with a
    //  random port instead of the lowest free one, which every other hub
    //  that binds ":*" (in this or a parallel test) would try first.
    hub_t *probe = s_hub_new (RANDOM_TCP, RANDOM_TCP, NULL);
    char *router = strdup (probe->router);
    char *pub = strdup (probe->pub);
    s_hub_destroy (&probe);

    hub_t *hub = s_hub_new (router, pub, NULL);
    CHECK (streq (hub->router, router) && streq (hub->pub, pub));
    ces_messenger_t *m = s_messenger_new (hub, CES_ROLE_MESSENGER);
    CHECK (ces_messenger_register (m, "ITB-1101", NULL) == 0);
    CHECK_STATUS (hub, "rooms.ITB-1101", 1);
    s_hub_destroy (&hub);

    hub = s_hub_new (router, pub, NULL);
    AWAIT (hub, "rooms.ITB-1101", 1, 10000);
    CHECK_STATUS (hub, "connections.messenger", 1);

    ces_messenger_t *sender = s_messenger_new (hub, CES_ROLE_MESSENGER);
    s_send (sender, "ITB-1101", "{\"n\":\"after restart\"}");
    EXPECT (m, "re-registered", "ITB-1101", "{\"n\":\"after restart\"}");
    CHECK (streq (ces_messenger_state (m), "connected"));

    ces_messenger_destroy (&sender);
    ces_messenger_destroy (&m);
    s_hub_destroy (&hub);
    zstr_free (&router);
    zstr_free (&pub);
}

//  --------------------------------------------------------------------------

int
main (int argc, char *argv[])
{
    for (int arg = 1; arg < argc; arg++)
        if (streq (argv[arg], "-v"))
            s_verbose = true;
    const struct {
        const char *name;
        void (*test) (void);
    } cases[] = {
        {"routing table: every source role to every destination",
         s_test_routing_table},
        {"sender does not get its own event", s_test_sender_exclusion},
        {"* subscriber gets every room", s_test_star},
        {"room + * gets an event once", s_test_room_and_star_once},
        {"ITB-1101 does not match ITB-11010", s_test_room_prefix},
        {"registering twice is idempotent", s_test_register_idempotent},
        {"unregister all", s_test_unregister_all},
        {"vanished messenger's rooms are released", s_test_vanished_messenger},
        {"round-robin across three repeaters", s_test_round_robin},
        {"dead repeater is skipped and comes back", s_test_dead_repeater},
        {"malformed input: own error each, others served", s_test_malformed},
        {"validation off routes non-JSON", s_test_validation_off},
        {"messenger re-registers on a restarted hub", s_test_hub_restart},
    };
    int64_t start = zclock_mono ();
    for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++) {
        s_case = cases[i].name;
        int64_t case_start = zclock_mono ();
        cases[i].test ();
        s_passed++;
        if (s_verbose)
            printf ("ok - %s (%" PRId64 " ms)\n", s_case,
                    zclock_mono () - case_start);
        else
            printf ("ok - %s\n", s_case);
        fflush (stdout);
    }
    if (s_verbose)
        printf ("# %" PRId64 " ms\n", zclock_mono () - start);
    printf ("%d passed, 0 failed\n", s_passed);
    return 0;
}
