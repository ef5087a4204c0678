/*  =========================================================================
    ces_client - one WebSocket client as the edge actor sees it: its output
    =========================================================================
*/
#include "ces_classes.h"

#define CLOSE_GRACE 3000  //  msecs a closing client has to take its Close
#define FLUSH_AT    16384 //  bytes queued for a client that go out at once

struct _ces_client_t {
    char id[24];
    const char *role; //  one of the CES_ROLE_ constants
    ces_wire_t *wire; //  NULL when civetweb's socket could not be found
    char remote[64];
    ces_client_state_t state;
    const ces_client_limits_t *limits;
    ces_client_lists_t *lists;
    void *pending_handle; //  in lists->pending, or NULL
    void *blocked_handle; //  in lists->blocked, or NULL
    byte *out;            //  bytes waiting to be sent: [sent, used)
    size_t out_sent, out_used, out_capacity;
    int64_t stuck_since; //  first drop since the buffer last emptied
    int64_t last_heard;
    int64_t last_event; //  outside systems idle longer are closed
    int64_t next_ping;
    int64_t close_deadline;
    int64_t expiry; //  its token's, seconds since 1970; 0 = never
    zhashx_t *rooms;
    uint64_t events_in, events_out, dropped, errors;
    ces_cursor_t *cursor; //  a version 2 client's; NULL for version 1
    char *recall;         //  what its next registration also asks (v2)
};

ces_client_t *
ces_client_new (const char *id, const char *role, ces_wire_t *wire,
                const char *remote, int64_t expiry,
                const ces_client_limits_t *limits, ces_client_lists_t *lists)
{
    assert (id && role && remote && limits && lists);
    ces_client_t *self = (ces_client_t *)zmalloc (sizeof (*self));
    assert (self);
    snprintf (self->id, sizeof (self->id), "%s", id);
    self->role = streq (role, CES_ROLE_MESSENGER)  ? CES_ROLE_MESSENGER
                 : streq (role, CES_ROLE_REPEATER) ? CES_ROLE_REPEATER
                 : streq (role, CES_ROLE_HUB)      ? CES_ROLE_HUB
                                                   : CES_ROLE_OUTSIDE;
    self->wire = wire;
    snprintf (self->remote, sizeof (self->remote), "%s", remote);
    self->expiry = expiry;
    self->limits = limits;
    self->lists = lists;
    self->state = wire ? CES_CLIENT_OPEN : CES_CLIENT_SHUT;
    self->rooms = zhashx_new ();
    assert (self->rooms);
    int64_t now = zclock_mono ();
    self->last_heard = now;
    self->last_event = now;
    self->next_ping = now + limits->ping_interval;
    return self;
}

static void
s_leave_list (zlistx_t *list, void **handle_p)
{
    if (*handle_p)
        zlistx_delete (list, *handle_p);
    *handle_p = NULL;
}

void
ces_client_destroy (ces_client_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_client_t *self = *self_p;
        s_leave_list (self->lists->pending, &self->pending_handle);
        s_leave_list (self->lists->blocked, &self->blocked_handle);
        ces_wire_release (&self->wire);
        zhashx_destroy (&self->rooms);
        ces_cursor_destroy (&self->cursor);
        zstr_free (&self->recall);
        freen (self->out);
        freen (self);
        *self_p = NULL;
    }
}

const char *
ces_client_id (ces_client_t *self)
{
    assert (self);
    return self->id;
}

const char *
ces_client_role (ces_client_t *self)
{
    assert (self);
    return self->role;
}

const char *
ces_client_remote (ces_client_t *self)
{
    assert (self);
    return self->remote;
}

ces_client_state_t
ces_client_state (ces_client_t *self)
{
    assert (self);
    return self->state;
}

int
ces_client_fd (ces_client_t *self)
{
    assert (self);
    return self->wire ? ces_wire_fd (self->wire) : -1;
}

zhashx_t *
ces_client_rooms (ces_client_t *self)
{
    assert (self);
    return self->rooms;
}

//  Waiting for POLLOUT, or not
static void
s_block (ces_client_t *self, bool blocked)
{
    if (blocked && !self->blocked_handle)
        self->blocked_handle = zlistx_add_end (self->lists->blocked, self);
    else if (!blocked)
        s_leave_list (self->lists->blocked, &self->blocked_handle);
}

//  shutdown() ends civetweb's read loop, on a socket civetweb has not
//  closed yet
static void
s_shut (ces_client_t *self)
{
    if (self->state != CES_CLIENT_SHUT && self->wire)
        ces_wire_shutdown (self->wire);
    self->state = CES_CLIENT_SHUT;
    self->out_sent = self->out_used = 0;
    s_block (self, false);
}

void
ces_client_flush (ces_client_t *self)
{
    assert (self);
    while (self->out_sent < self->out_used && self->state != CES_CLIENT_SHUT) {
        ssize_t sent = ces_wire_send (self->wire, self->out + self->out_sent,
                                      self->out_used - self->out_sent);
        if (sent > 0)
            self->out_sent += (size_t)sent;
        else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            s_block (self, true);
            return;
        } else {
            s_shut (self); //  peer gone
            return;
        }
    }
    self->out_sent = self->out_used = 0;
    self->stuck_since = 0;
    s_block (self, false);
    if (self->state == CES_CLIENT_CLOSING)
        s_shut (self);
}

void
ces_client_flush_pending (ces_client_lists_t *lists)
{
    ces_client_t *client;
    while ((client = (ces_client_t *)zlistx_detach (lists->pending, NULL))) {
        client->pending_handle = NULL;
        if (!client->blocked_handle)
            ces_client_flush (client);
    }
}

//  Room for size more bytes (and a frame header) at the buffer's end
static void
s_make_room (ces_client_t *self, size_t size)
{
    size_t needed = size + CES_WS_HEADER_MAX;
    if (self->out_sent && self->out_used + needed > self->out_capacity) {
        size_t pending = self->out_used - self->out_sent;
        memmove (self->out, self->out + self->out_sent, pending);
        self->out_used = pending;
        self->out_sent = 0;
    }
    if (self->out_used + needed > self->out_capacity) {
        size_t capacity = (self->out_used + needed) * 2;
        self->out = (byte *)realloc (self->out, capacity);
        assert (self->out);
        self->out_capacity = capacity;
    }
}

//  Queues one frame of count parts if the buffer has room; force is for
//  notices, control frames and a version 2 client's replies
static bool
s_write_parts (ces_client_t *self, int opcode, const void *const *parts,
               const size_t *sizes, int count, bool force)
{
    if (self->state == CES_CLIENT_SHUT ||
        (self->state == CES_CLIENT_CLOSING && opcode != CES_WS_CLOSE))
        return false;
    size_t size = 0;
    for (int part = 0; part < count; part++)
        size += sizes[part];
    size_t pending = self->out_used - self->out_sent;
    //  An empty queue takes any one event, so that an event as large as
    //  max-message reaches a client even with a smaller client-queue
    if (!force && pending &&
        pending + size + CES_WS_HEADER_MAX > self->limits->queue) {
        self->dropped++;
        if (!self->stuck_since)
            self->stuck_since = zclock_mono ();
        return false;
    }
    s_make_room (self, size);
    self->out_used +=
        ces_websocket_header (self->out + self->out_used, opcode, size);
    for (int part = 0; part < count; part++)
        if (sizes[part]) {
            memcpy (self->out + self->out_used, parts[part], sizes[part]);
            self->out_used += sizes[part];
        }
    //  Sent at the end of the batch, one send() for all its frames, or
    //  now when that is already a socket buffer's worth
    if (self->blocked_handle)
        return true;
    if (self->out_used - self->out_sent >= FLUSH_AT)
        ces_client_flush (self);
    else if (!self->pending_handle)
        self->pending_handle = zlistx_add_end (self->lists->pending, self);
    return true;
}

static bool
s_write (ces_client_t *self, int opcode, const void *data, size_t size,
         bool force)
{
    return s_write_parts (self, opcode, &data, &size, 1, force);
}

bool
ces_client_send_sequenced (ces_client_t *self, const void *data, size_t size,
                           uint64_t seq, bool force)
{
    assert (self && data);
    //  ROOMID LF SEQ LF payload: the sequence goes after the room's line
    const byte *newline = (const byte *)memchr (data, '\n', size);
    size_t head = newline ? (size_t)(newline - (const byte *)data) + 1 : size;
    char number[24];
    int digits = snprintf (number, sizeof number, "%" PRIu64 "\n", seq);
    const void *parts[] = {data, number, (const byte *)data + head};
    size_t sizes[] = {head, (size_t)digits, size - head};
    if (!s_write_parts (self, CES_WS_BINARY, parts, sizes, 3, force))
        return false;
    self->events_out++;
    self->last_event = zclock_mono ();
    return true;
}

//  --------------------------------------------------------------------------
//  Version 2: each event with its sequence number, no gap, no duplicate

ces_client_delivery_t
ces_client_deliver_sequenced (ces_client_t *self, const char *room,
                              uint64_t epoch, uint64_t seq, const byte *data,
                              size_t size, bool own)
{
    assert (self && self->cursor && room);
    const char *notice = NULL;
    ces_cursor_verdict_t verdict =
        own ? CES_CURSOR_SKIP
            : ces_cursor_live (self->cursor, room, epoch, seq, &notice);
    if (verdict == CES_CURSOR_HOLD ||
        (own && ces_cursor_holding (self->cursor))) {
        ces_cursor_hold (self->cursor, room, epoch, seq, data, size, own);
        return CES_CLIENT_HELD;
    }
    if (own)
        ces_cursor_own (self->cursor, room, epoch, seq);
    if (verdict == CES_CURSOR_SKIP)
        return CES_CLIENT_SKIPPED;
    if (notice)
        ces_client_send_text (self, notice);
    if (!ces_client_send_sequenced (self, data, size, seq, false)) {
        ces_cursor_missed (self->cursor, room, seq);
        return CES_CLIENT_DROPPED;
    }
    //  Its queue has room again: the gaps it had are told now
    char *gap;
    while ((gap = ces_cursor_next_gap (self->cursor))) {
        ces_client_send_text (self, gap);
        freen (gap);
    }
    return CES_CLIENT_DELIVERED;
}

//  Live events held while its registrations were synced, now in order
static void
s_release_held (ces_client_t *self)
{
    char room[CES_ROOM_MAX + 1];
    uint64_t epoch, seq;
    const byte *data;
    size_t size;
    bool own;
    while (ces_cursor_next_held (self->cursor, room, &epoch, &seq, &data, &size,
                                 &own))
        ces_client_deliver_sequenced (self, room, epoch, seq, data, size, own);
}

static void
s_send_owned_text (ces_client_t *self, char **text_p)
{
    if (*text_p)
        ces_client_send_text (self, *text_p);
    zstr_free (text_p);
}

void
ces_client_synced (ces_client_t *self, const char *header, zlist_t *events)
{
    assert (self && header && events);
    if (!self->cursor)
        return;
    char *before, *after, *registered;
    if (ces_cursor_synced (self->cursor, header, &before, &after, &registered))
        return;
    s_send_owned_text (self, &before);
    //  Each: its sequence number (8 octets, big-endian), its message
    for (zframe_t *event = (zframe_t *)zlist_first (events); event;
         event = (zframe_t *)zlist_next (events)) {
        const byte *data = zframe_data (event);
        ces_client_send_sequenced (self, data + 8, zframe_size (event) - 8,
                                   ces_position_number_get (data), true);
    }
    s_send_owned_text (self, &after);
    s_send_owned_text (self, &registered);
    s_release_held (self);
}

void
ces_client_tell_gaps (ces_client_t *self)
{
    assert (self);
    //  Once its queue has room again (half of it, so that the notice does
    //  not come between two drops)
    if (!self->cursor || self->state != CES_CLIENT_OPEN ||
        self->out_used - self->out_sent > self->limits->queue / 2)
        return;
    char *gap;
    while ((gap = ces_cursor_next_gap (self->cursor))) {
        ces_client_send_text (self, gap);
        freen (gap);
    }
}

void
ces_client_expire_syncs (ces_client_t *self, int64_t now)
{
    assert (self);
    if (!self->cursor)
        return;
    zlist_t *notices = ces_cursor_expire (self->cursor, now);
    if (!notices)
        return;
    for (const char *text = (const char *)zlist_first (notices); text;
         text = (const char *)zlist_next (notices))
        ces_client_send_text (self, text);
    zlist_destroy (&notices);
    s_release_held (self);
}

void
ces_client_set_v2 (ces_client_t *self)
{
    assert (self);
    if (!self->cursor)
        self->cursor = ces_cursor_new ();
}

ces_cursor_t *
ces_client_cursor (ces_client_t *self)
{
    assert (self);
    return self->cursor;
}

void
ces_client_set_recall (ces_client_t *self, const char *options)
{
    assert (self);
    zstr_free (&self->recall);
    self->recall = options ? strdup (options) : NULL;
}

char *
ces_client_take_recall (ces_client_t *self)
{
    assert (self);
    char *recall = self->recall;
    self->recall = NULL;
    return recall;
}

bool
ces_client_send_event (ces_client_t *self, const void *data, size_t size)
{
    assert (self);
    if (!s_write (self, CES_WS_BINARY, data, size, false))
        return false;
    self->events_out++;
    self->last_event = zclock_mono (); //  a link in use is not idle
    return true;
}

void
ces_client_send_text (ces_client_t *self, const char *text)
{
    assert (self);
    s_write (self, CES_WS_TEXT, text, strlen (text), true);
}

void
ces_client_send_control (ces_client_t *self, int opcode, const void *data,
                         size_t size)
{
    assert (self);
    s_write (self, opcode, data, size, true);
}

void
ces_client_close (ces_client_t *self, int code, const char *reason)
{
    assert (self);
    if (self->state != CES_CLIENT_OPEN)
        return;
    ces_info (self->limits->log_level,
              "edge: closing client %s (%s, %s): %d %s", self->id, self->role,
              self->remote, code, reason);
    byte payload[125];
    payload[0] = (byte)(code >> 8);
    payload[1] = (byte)code;
    size_t size = strlen (reason) > 123 ? 123 : strlen (reason);
    memcpy (payload + 2, reason, size);
    self->state = CES_CLIENT_CLOSING;
    self->close_deadline = zclock_mono () + CLOSE_GRACE;
    s_write (self, CES_WS_CLOSE, payload, size + 2, true);
}

void
ces_client_heard (ces_client_t *self, bool event)
{
    assert (self);
    self->last_heard = zclock_mono ();
    if (event) {
        self->events_in++;
        self->last_event = self->last_heard;
    }
}

void
ces_client_count_error (ces_client_t *self)
{
    assert (self);
    self->errors++;
}

void
ces_client_count_drop (ces_client_t *self)
{
    assert (self);
    self->dropped++;
}

ces_client_verdict_t
ces_client_check (ces_client_t *self, int64_t now, int64_t wall)
{
    assert (self);
    const ces_client_limits_t *limits = self->limits;
    if (self->state == CES_CLIENT_SHUT)
        return CES_CLIENT_FINE;
    if (self->state == CES_CLIENT_CLOSING) {
        if (now >= self->close_deadline)
            s_shut (self); //  it never took the Close
        return CES_CLIENT_FINE;
    }
    if (self->expiry && wall >= self->expiry) {
        ces_client_close (self, 1008,
                          "token expired; reconnect with a new one");
        return CES_CLIENT_EXPIRED;
    }
    if (self->stuck_since && now - self->stuck_since > limits->stuck_timeout) {
        char reason[100];
        snprintf (reason, sizeof (reason),
                  "client is not reading; %" PRIu64 " events dropped",
                  self->dropped);
        self->stuck_since = 0;
        ces_client_close (self, 1008, reason);
        return CES_CLIENT_STUCK;
    }
    if (streq (self->role, CES_ROLE_OUTSIDE) &&
        now - self->last_event > limits->idle_timeout) {
        ces_client_close (self, 1001, "idle; reconnect to send");
        return CES_CLIENT_IDLE;
    }
    if (now - self->last_heard > limits->pong_timeout) {
        ces_client_close (self, 1001, "no answer to pings");
        return CES_CLIENT_SILENT;
    }
    if (now >= self->next_ping) {
        s_write (self, CES_WS_PING, "ces", 3, true);
        self->next_ping = now + limits->ping_interval;
    }
    return CES_CLIENT_FINE;
}

cJSON *
ces_client_status (ces_client_t *self)
{
    assert (self);
    cJSON *item = cJSON_CreateObject ();
    cJSON_AddStringToObject (item, "id", self->id);
    cJSON_AddStringToObject (item, "role", self->role);
    cJSON_AddStringToObject (item, "remote", self->remote);
    cJSON_AddNumberToObject (item, "rooms", (double)zhashx_size (self->rooms));
    cJSON_AddNumberToObject (item, "queued_bytes",
                             (double)(self->out_used - self->out_sent));
    cJSON_AddNumberToObject (item, "events_in", (double)self->events_in);
    cJSON_AddNumberToObject (item, "events_out", (double)self->events_out);
    cJSON_AddNumberToObject (item, "dropped", (double)self->dropped);
    cJSON_AddNumberToObject (item, "errors", (double)self->errors);
    cJSON_AddBoolToObject (item, "closing", self->state != CES_CLIENT_OPEN);
    return item;
}

//  --------------------------------------------------------------------------
//  Self test: a client over a socket pair that stops reading

void
ces_client_test (bool verbose)
{
    (void)verbose;
    printf (" * ces_client: ");
    //  @selftest
    int pair[2];
    int rc = socketpair (AF_UNIX, SOCK_STREAM, 0, pair);
    assert (rc == 0);
    ces_client_limits_t limits = {.queue = 4096,
                                  .stuck_timeout = 0,
                                  .ping_interval = 30000,
                                  .pong_timeout = 60000,
                                  .idle_timeout = 30000,
                                  .log_level = CES_LOG_WARN};
    ces_client_lists_t lists = {zlistx_new (), zlistx_new ()};
    ces_wire_t *wire = ces_wire_new (pair[0]);
    ces_wire_t *worker_ref = wire;
    ces_client_t *client = ces_client_new ("1", CES_ROLE_MESSENGER, wire,
                                           "127.0.0.1:1", 0, &limits, &lists);
    assert (ces_client_state (client) == CES_CLIENT_OPEN);
    assert (ces_client_send_event (client, "R\n{}", 4));
    assert (zlistx_size (lists.pending) == 1);
    ces_client_flush_pending (&lists);
    assert (zlistx_size (lists.pending) == 0);
    byte frame[16];
    assert (recv (pair[1], frame, sizeof (frame), 0) == 6);
    assert (frame[0] == 0x82 && frame[1] == 4);

    //  The peer stops reading: the socket fills, then the buffer, then
    //  events are dropped for this client and it is found stuck
    char event[1000];
    memset (event, 'x', sizeof (event));
    size_t dropped = 0;
    for (int i = 0; i < 10000; i++) {
        if (!ces_client_send_event (client, event, sizeof (event)))
            dropped++;
        ces_client_flush_pending (&lists);
    }
    assert (dropped > 0);
    assert (zlistx_size (lists.blocked) == 1);
    zclock_sleep (2);
    assert (ces_client_check (client, zclock_mono (), time (NULL)) ==
            CES_CLIENT_STUCK);
    assert (ces_client_state (client) == CES_CLIENT_CLOSING);
    //  Closing: nothing but the Close goes out
    assert (!ces_client_send_event (client, "R\n{}", 4));

    //  The worker saw the socket close: the client is gone from the lists
    ces_wire_close (worker_ref);
    ces_wire_release (&worker_ref);
    ces_client_flush (client);
    cJSON *status = ces_client_status (client);
    assert (cJSON_GetObjectItem (status, "dropped")->valuedouble ==
            (double)dropped);
    cJSON_Delete (status);
    ces_client_destroy (&client);
    assert (client == NULL);
    assert (zlistx_size (lists.blocked) == 0);
    zlistx_destroy (&lists.pending);
    zlistx_destroy (&lists.blocked);
    close (pair[0]);
    close (pair[1]);
    //  @end
    printf ("OK\n");
}
