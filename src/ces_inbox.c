/*  =========================================================================
    ces_inbox - civetweb's workers tell the edge actor what they read
    =========================================================================
*/
#include "ces_classes.h"
#include <pthread.h>
#include <stdatomic.h>

#define ASK_TIMEOUT 5000 //  msecs a worker waits for an answer

static const char *const s_names[] = {
    "",        "",       "OPEN", "EVENT",   "REGISTER", "UNREGISTER", "RECALL",
    "DENIED",  "ERROR",  "PING", "PONG",    "CLOSE",    "GONE",       "STATUS",
    "METRICS", "HEALTH", "POST", "BADPOST", "QUERY"};
#define COMMANDS (sizeof (s_names) / sizeof (s_names[0]))

struct _ces_inbox_t {
    char *endpoint;
    zsock_t *router; //  the actor's
    pthread_mutex_t sender_lock;
    zsock_t *sender; //  every worker's way in
    atomic_bool stopping;
    //  The message last read by the actor
    byte routing_id[256]; //  of the message last read, for an answer
    size_t routing_id_size;
    bool asked;
    char id[24];
    zmsg_t *rest; //  frames after the id, owned
    zframe_t *frame;
    zlist_t *rooms;
    char *role, *remote, *uri, *reason, *protocol, *subject;
    void *wire;
    int64_t expiry;
    int code;
};

ces_inbox_t *
ces_inbox_new (void)
{
    ces_inbox_t *self = (ces_inbox_t *)zmalloc (sizeof (*self));
    assert (self);
    zuuid_t *uuid = zuuid_new ();
    self->endpoint = zsys_sprintf ("inproc://ces-inbox-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    self->router = zsock_new (ZMQ_ROUTER);
    self->sender = zsock_new (ZMQ_DEALER);
    assert (self->router && self->sender);
    zsock_set_rcvhwm (self->router, 100000);
    zsock_set_sndtimeo (self->sender, 200);
    zsock_set_sndhwm (self->sender, 100000);
    int rc = zsock_bind (self->router, "%s", self->endpoint);
    assert (rc == 0);
    rc = zsock_connect (self->sender, "%s", self->endpoint);
    assert (rc == 0);
    pthread_mutex_init (&self->sender_lock, NULL);
    atomic_init (&self->stopping, false);
    self->rooms = zlist_new ();
    zlist_autofree (self->rooms);
    return self;
}

static void
s_forget (ces_inbox_t *self)
{
    self->routing_id_size = 0;
    zmsg_destroy (&self->rest);
    zframe_destroy (&self->frame);
    zlist_purge (self->rooms);
    zstr_free (&self->role);
    zstr_free (&self->remote);
    zstr_free (&self->uri);
    zstr_free (&self->protocol);
    zstr_free (&self->subject);
    zstr_free (&self->reason);
    self->id[0] = 0;
    self->wire = NULL;
    self->expiry = 0;
    self->code = 0;
    self->asked = false;
}

void
ces_inbox_destroy (ces_inbox_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_inbox_t *self = *self_p;
        s_forget (self);
        zlist_destroy (&self->rooms);
        zsock_destroy (&self->sender);
        zsock_destroy (&self->router);
        pthread_mutex_destroy (&self->sender_lock);
        zstr_free (&self->endpoint);
        freen (self);
        *self_p = NULL;
    }
}

zsock_t *
ces_inbox_socket (ces_inbox_t *self)
{
    assert (self);
    return self->router;
}

void
ces_inbox_stopping (ces_inbox_t *self)
{
    assert (self);
    atomic_store (&self->stopping, true);
}

//  --------------------------------------------------------------------------
//  Worker side

static zmsg_t *
s_msg (ces_inbox_command_t command, uint64_t id)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, s_names[command]);
    if (id)
        zmsg_addstrf (msg, "%" PRIu64, id);
    return msg;
}

static void
s_tell (ces_inbox_t *self, zmsg_t **msg_p)
{
    pthread_mutex_lock (&self->sender_lock);
    while (zmsg_send (msg_p, self->sender) != 0)
        if (atomic_load (&self->stopping)) {
            zmsg_destroy (msg_p);
            break;
        }
    pthread_mutex_unlock (&self->sender_lock);
}

//  On a socket made for it, so that no worker keeps a file descriptor
static char *
s_ask (ces_inbox_t *self, zmsg_t **msg_p)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_rcvtimeo (dealer, ASK_TIMEOUT);
    zsock_set_linger (dealer, 0);
    int rc = zsock_connect (dealer, "%s", self->endpoint);
    assert (rc == 0);
    char *answer = NULL;
    if (zmsg_send (msg_p, dealer) == 0)
        answer = zstr_recv (dealer);
    zmsg_destroy (msg_p);
    zsock_destroy (&dealer);
    return answer;
}

//  Every event's path: no zmsg. Once ZeroMQ takes a message's first
//  frame it takes the rest.
void
ces_inbox_tell_event (ces_inbox_t *self, uint64_t id, const void *data,
                      size_t size)
{
    assert (self);
    char id_text[24];
    int id_size = snprintf (id_text, sizeof (id_text), "%" PRIu64, id);
    void *sender = zsock_resolve (self->sender);
    pthread_mutex_lock (&self->sender_lock);
    while (zmq_send (sender, "EVENT", 5, ZMQ_SNDMORE) < 0)
        if (atomic_load (&self->stopping)) {
            pthread_mutex_unlock (&self->sender_lock);
            return;
        }
    zmq_send (sender, id_text, (size_t)id_size, ZMQ_SNDMORE);
    zmq_send (sender, data, size, 0);
    pthread_mutex_unlock (&self->sender_lock);
}

void
ces_inbox_tell_rooms (ces_inbox_t *self, uint64_t id, bool create,
                      zlist_t *rooms)
{
    assert (self);
    zmsg_t *msg =
        s_msg (create ? CES_INBOX_REGISTER : CES_INBOX_UNREGISTER, id);
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms))
        zmsg_addstr (msg, room);
    s_tell (self, &msg);
}

void
ces_inbox_tell_recall (ces_inbox_t *self, uint64_t id, const char *options)
{
    assert (self && options);
    zmsg_t *msg = s_msg (CES_INBOX_RECALL, id);
    zmsg_addstr (msg, options);
    s_tell (self, &msg);
}

void
ces_inbox_tell_notice (ces_inbox_t *self, uint64_t id, bool denied,
                       const char *text)
{
    assert (self);
    zmsg_t *msg = s_msg (denied ? CES_INBOX_DENIED : CES_INBOX_ERROR, id);
    zmsg_addstr (msg, text);
    s_tell (self, &msg);
}

void
ces_inbox_tell_control (ces_inbox_t *self, uint64_t id, bool ping,
                        const void *data, size_t size)
{
    assert (self);
    zmsg_t *msg = s_msg (ping ? CES_INBOX_PING : CES_INBOX_PONG, id);
    zmsg_addmem (msg, data, size);
    s_tell (self, &msg);
}

void
ces_inbox_tell_gone (ces_inbox_t *self, uint64_t id)
{
    assert (self);
    zmsg_t *msg = s_msg (CES_INBOX_GONE, id);
    s_tell (self, &msg);
}

void
ces_inbox_tell_badpost (ces_inbox_t *self)
{
    assert (self);
    zmsg_t *msg = s_msg (CES_INBOX_BADPOST, 0);
    s_tell (self, &msg);
}

void
ces_inbox_ask_open (ces_inbox_t *self, uint64_t id, const char *role,
                    void *wire, int64_t expiry, const char *remote,
                    const char *uri, const char *protocol, const char *subject)
{
    assert (self);
    zmsg_t *msg = s_msg (CES_INBOX_OPEN, id);
    zmsg_addstr (msg, role);
    //  The actor takes its reference to the wire with this pointer
    zmsg_addmem (msg, &wire, sizeof (wire));
    zmsg_addstrf (msg, "%" PRId64, expiry);
    zmsg_addstr (msg, remote);
    zmsg_addstr (msg, uri);
    //  Both optional: protocol "" when only a subject follows
    if ((protocol && *protocol) || subject)
        zmsg_addstr (msg, protocol ? protocol : "");
    if (subject)
        zmsg_addstr (msg, subject);
    char *answer = s_ask (self, &msg);
    zstr_free (&answer);
}

void
ces_inbox_ask_close (ces_inbox_t *self, uint64_t id, int code,
                     const char *reason)
{
    assert (self);
    zmsg_t *msg = s_msg (CES_INBOX_CLOSE, id);
    zmsg_addstrf (msg, "%d", code);
    if (reason)
        zmsg_addstr (msg, reason);
    char *answer = s_ask (self, &msg);
    zstr_free (&answer);
}

char *
ces_inbox_ask_question (ces_inbox_t *self, ces_inbox_command_t question)
{
    assert (self);
    assert (question == CES_INBOX_STATUS || question == CES_INBOX_METRICS ||
            question == CES_INBOX_HEALTH);
    zmsg_t *msg = s_msg (question, 0);
    return s_ask (self, &msg);
}

char *
ces_inbox_ask_query (ces_inbox_t *self, const char *request)
{
    assert (self && request);
    zmsg_t *msg = s_msg (CES_INBOX_QUERY, 0);
    zmsg_addstr (msg, request);
    return s_ask (self, &msg);
}

char *
ces_inbox_ask_post (ces_inbox_t *self, zframe_t **message_p)
{
    assert (self);
    zmsg_t *msg = s_msg (CES_INBOX_POST, 0);
    zmsg_append (msg, message_p);
    return s_ask (self, &msg);
}

//  --------------------------------------------------------------------------
//  Actor side

static ces_inbox_command_t
s_command (const void *data, size_t size)
{
    for (size_t i = CES_INBOX_OPEN; i < COMMANDS; i++)
        if (strlen (s_names[i]) == size && memcmp (s_names[i], data, size) == 0)
            return (ces_inbox_command_t)i;
    return CES_INBOX_INVALID;
}

//  The event path: read frame by frame, no allocation but the message's
static ces_inbox_command_t
s_recv_event (ces_inbox_t *self, zmq_msg_t *part)
{
    void *router = zsock_resolve (self->router);
    if (zmq_msg_recv (part, router, 0) >= 0) {
        size_t size = zmq_msg_size (part);
        if (size < sizeof (self->id)) {
            memcpy (self->id, zmq_msg_data (part), size);
            self->id[size] = 0;
        }
        if (zmq_msg_more (part))
            self->frame = zframe_recv (self->router);
    }
    while (zsock_rcvmore (self->router) && zmq_msg_recv (part, router, 0) >= 0)
        ; //  nothing more is expected
    return self->frame && *self->id ? CES_INBOX_EVENT : CES_INBOX_INVALID;
}

static bool
s_takes_id (ces_inbox_command_t command)
{
    return command >= CES_INBOX_OPEN && command <= CES_INBOX_GONE;
}

//  Pops the frames a command has, after its id
static ces_inbox_command_t
s_decode (ces_inbox_t *self, ces_inbox_command_t command)
{
    zmsg_t *rest = self->rest;
    if (s_takes_id (command)) {
        char *id = zmsg_popstr (rest);
        if (!id || !*id || strlen (id) >= sizeof (self->id)) {
            zstr_free (&id);
            return CES_INBOX_INVALID;
        }
        snprintf (self->id, sizeof (self->id), "%s", id);
        zstr_free (&id);
    }
    switch (command) {
        case CES_INBOX_OPEN: {
            self->role = zmsg_popstr (rest);
            zframe_t *wire = zmsg_pop (rest);
            char *expiry = zmsg_popstr (rest);
            self->remote = zmsg_popstr (rest);
            self->uri = zmsg_popstr (rest);
            self->protocol = zmsg_popstr (rest); //  NULL: none
            self->subject = zmsg_popstr (rest);  //  NULL: none
            bool valid = self->role && wire &&
                         zframe_size (wire) == sizeof (void *) && expiry &&
                         self->remote && self->uri;
            if (valid) {
                memcpy (&self->wire, zframe_data (wire), sizeof (void *));
                self->expiry = strtoll (expiry, NULL, 10);
            }
            zframe_destroy (&wire);
            zstr_free (&expiry);
            return valid ? command : CES_INBOX_INVALID;
        }
        case CES_INBOX_REGISTER:
        case CES_INBOX_UNREGISTER: {
            char *room;
            while ((room = zmsg_popstr (rest))) {
                zlist_append (self->rooms, room); //  copied: autofree
                zstr_free (&room);
            }
            return command;
        }
        case CES_INBOX_CLOSE: {
            char *code = zmsg_popstr (rest);
            self->code = code ? atoi (code) : 0;
            zstr_free (&code);
            self->reason = zmsg_popstr (rest);
            return command;
        }
        case CES_INBOX_RECALL:
        case CES_INBOX_DENIED:
        case CES_INBOX_ERROR:
        case CES_INBOX_PING:
        case CES_INBOX_PONG:
        case CES_INBOX_POST:
        case CES_INBOX_QUERY:
            self->frame = zmsg_pop (rest);
            return self->frame ? command : CES_INBOX_INVALID;
        default:
            return command;
    }
}

ces_inbox_command_t
ces_inbox_recv (ces_inbox_t *self)
{
    assert (self);
    s_forget (self);
    void *router = zsock_resolve (self->router);
    zmq_msg_t part;
    zmq_msg_init (&part);
    //  Not zsock_events first: that asks libzmq for its commands (a poll
    //  and a getpid) on every message
    if (zmq_msg_recv (&part, router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&part);
        return CES_INBOX_EMPTY;
    }
    //  Kept in place, not in a new frame: only asks are answered, and
    //  EVENT, every event's message, never is (ZeroMQ makes 5-byte IDs)
    size_t routing_id_size = zmq_msg_size (&part);
    if (routing_id_size <= sizeof (self->routing_id)) {
        memcpy (self->routing_id, zmq_msg_data (&part), routing_id_size);
        self->routing_id_size = routing_id_size;
    }
    ces_inbox_command_t command = CES_INBOX_INVALID;
    if (zmq_msg_more (&part) && zmq_msg_recv (&part, router, 0) >= 0)
        command = s_command (zmq_msg_data (&part), zmq_msg_size (&part));
    bool more = zmq_msg_more (&part);
    if (command == CES_INBOX_EVENT && more) {
        command = s_recv_event (self, &part);
        zmq_msg_close (&part);
        return command;
    }
    zmq_msg_close (&part);
    self->rest = more ? zmsg_recv (self->router) : zmsg_new ();
    self->asked = command == CES_INBOX_OPEN || command == CES_INBOX_CLOSE ||
                  (command >= CES_INBOX_STATUS && command <= CES_INBOX_POST) ||
                  command == CES_INBOX_QUERY;
    if (!self->rest)
        return CES_INBOX_INVALID;
    return command == CES_INBOX_INVALID ? command : s_decode (self, command);
}

const char *
ces_inbox_id (ces_inbox_t *self)
{
    assert (self);
    return self->id;
}

zframe_t *
ces_inbox_frame (ces_inbox_t *self)
{
    assert (self);
    return self->frame;
}

zlist_t *
ces_inbox_rooms (ces_inbox_t *self)
{
    assert (self);
    return self->rooms;
}

const char *
ces_inbox_role (ces_inbox_t *self)
{
    assert (self);
    return self->role;
}

void *
ces_inbox_wire (ces_inbox_t *self)
{
    assert (self);
    return self->wire;
}

int64_t
ces_inbox_expiry (ces_inbox_t *self)
{
    assert (self);
    return self->expiry;
}

const char *
ces_inbox_remote (ces_inbox_t *self)
{
    assert (self);
    return self->remote;
}

const char *
ces_inbox_uri (ces_inbox_t *self)
{
    assert (self);
    return self->uri;
}

const char *
ces_inbox_subject (ces_inbox_t *self)
{
    assert (self);
    return self->subject;
}

int
ces_inbox_code (ces_inbox_t *self)
{
    assert (self);
    return self->code;
}

const char *
ces_inbox_reason (ces_inbox_t *self)
{
    assert (self);
    return self->reason;
}

zframe_t *
ces_inbox_defer (ces_inbox_t *self)
{
    assert (self);
    if (!self->asked || !self->routing_id_size)
        return NULL;
    self->asked = false;
    return zframe_new (self->routing_id, self->routing_id_size);
}

void
ces_inbox_answer_deferred (ces_inbox_t *self, zframe_t **asker_p,
                           const char *answer)
{
    assert (self && asker_p && *asker_p && answer);
    zframe_send (asker_p, self->router, ZFRAME_MORE);
    zstr_send (self->router, answer);
}

const char *
ces_inbox_protocol (ces_inbox_t *self)
{
    assert (self);
    return self->protocol ? self->protocol : "";
}

void
ces_inbox_answer (ces_inbox_t *self, const char *answer)
{
    assert (self);
    if (!self->asked || !self->routing_id_size)
        return;
    zmq_send (zsock_resolve (self->router), self->routing_id,
              self->routing_id_size, ZMQ_SNDMORE);
    zstr_send (self->router, answer);
    self->asked = false;
}

//  --------------------------------------------------------------------------
//  Self test: a worker thread asks and tells, the actor reads

//  What a worker hands over as its wire (only the pointer travels)
static const int s_test_wire = 42;

static void *
s_test_worker (void *arg)
{
    ces_inbox_t *inbox = (ces_inbox_t *)arg;
    ces_inbox_ask_open (inbox, 7, "messenger", (void *)&s_test_wire, 0,
                        "127.0.0.1:5", "/connect/messenger", "ces.v2", "alice");
    ces_inbox_tell_event (inbox, 7, "R\n{}", 4);
    zlist_t *rooms = zlist_new ();
    zlist_append (rooms, (void *)"R");
    zlist_append (rooms, (void *)"*");
    ces_inbox_tell_rooms (inbox, 7, true, rooms);
    zlist_destroy (&rooms);
    ces_inbox_ask_close (inbox, 7, 1002, "reserved opcode");
    char *status = ces_inbox_ask_question (inbox, CES_INBOX_STATUS);
    assert (status && streq (status, "{}"));
    zstr_free (&status);
    ces_inbox_tell_gone (inbox, 7);
    return NULL;
}

//  The next message, waiting up to 5 s for one
static ces_inbox_command_t
s_test_next (ces_inbox_t *inbox)
{
    zpoller_t *poller = zpoller_new (ces_inbox_socket (inbox), NULL);
    ces_inbox_command_t command;
    while ((command = ces_inbox_recv (inbox)) == CES_INBOX_EMPTY)
        assert (zpoller_wait (poller, 5000));
    zpoller_destroy (&poller);
    return command;
}

void
ces_inbox_test (bool verbose)
{
    (void)verbose;
    printf (" * ces_inbox: ");
    //  @selftest
    ces_inbox_t *inbox = ces_inbox_new ();
    pthread_t worker;
    int rc = pthread_create (&worker, NULL, s_test_worker, inbox);
    assert (rc == 0);
    assert (s_test_next (inbox) == CES_INBOX_OPEN);
    assert (streq (ces_inbox_id (inbox), "7"));
    assert (streq (ces_inbox_role (inbox), "messenger"));
    assert (ces_inbox_wire (inbox) == &s_test_wire); //  the pointer itself
    assert (streq (ces_inbox_uri (inbox), "/connect/messenger"));
    assert (streq (ces_inbox_subject (inbox), "alice"));
    ces_inbox_answer (inbox, "opened");
    //  Tells share one socket and keep their order; an ask, on its own
    //  socket, may overtake them
    int seen = 0;
    ces_inbox_command_t command;
    while ((command = s_test_next (inbox)) != CES_INBOX_GONE) {
        if (command == CES_INBOX_EVENT) {
            assert (streq (ces_inbox_id (inbox), "7"));
            assert (zframe_streq (ces_inbox_frame (inbox), "R\n{}"));
        } else if (command == CES_INBOX_REGISTER)
            assert (zlist_size (ces_inbox_rooms (inbox)) == 2);
        else if (command == CES_INBOX_CLOSE) {
            assert (ces_inbox_code (inbox) == 1002);
            assert (streq (ces_inbox_reason (inbox), "reserved opcode"));
            ces_inbox_answer (inbox, "closed");
        } else if (command == CES_INBOX_STATUS)
            ces_inbox_answer (inbox, "{}");
        else
            assert (false);
        seen |= 1 << command;
    }
    assert (seen == (1 << CES_INBOX_EVENT | 1 << CES_INBOX_REGISTER |
                     1 << CES_INBOX_CLOSE | 1 << CES_INBOX_STATUS));
    pthread_join (worker, NULL);

    //  Not in the grammar: invalid, nothing else lost
    zsock_t *stranger = zsock_new_dealer (NULL);
    zsock_connect (stranger, "%s", inbox->endpoint);
    zstr_sendx (stranger, "BOGUS", "1", NULL);
    zstr_sendx (stranger, "OPEN", "1", NULL);
    zstr_sendx (stranger, "GONE", "3", NULL);
    assert (s_test_next (inbox) == CES_INBOX_INVALID);
    assert (s_test_next (inbox) == CES_INBOX_INVALID);
    assert (s_test_next (inbox) == CES_INBOX_GONE);
    assert (streq (ces_inbox_id (inbox), "3"));
    assert (ces_inbox_recv (inbox) == CES_INBOX_EMPTY);
    zsock_destroy (&stranger);
    ces_inbox_destroy (&inbox);
    assert (inbox == NULL);
    //  @end
    printf ("OK\n");
}
