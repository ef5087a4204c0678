/*  =========================================================================
    ces_proto - codec for the hub protocol (docs/PROTOCOL.md): the command's
    fields, and their reading from a socket with no allocation but the
    event frame's. ces_proto_encoder writes them; ces_proto_commands is the
    table of commands both directions use.
    =========================================================================
*/
#include "ces_classes.h"

#define FIELD_MAX 255

struct _ces_proto_t {
    ces_proto_id_t id;
    zframe_t *routing_id;
    char version[FIELD_MAX + 1];
    char name[FIELD_MAX + 1];
    char hub_id[FIELD_MAX + 1];
    uint32_t heartbeat;
    char conn[FIELD_MAX + 1];
    char role[FIELD_MAX + 1];
    char token[FIELD_MAX + 1];
    char code[FIELD_MAX + 1];
    char error_reason[FIELD_MAX + 1];
    char address[FIELD_MAX + 1];
    char remote[FIELD_MAX + 1];  //  of ATTACH, optional: the client's address
    char subject[FIELD_MAX + 1]; //  of ATTACH, optional: its token's "sub"
    char flags[FIELD_MAX + 1]; //  of HELLO and WELCOME: words, space-separated
    bool one_frame;            //  send EVENT and DELIVER as one frame
    bool inproc;               //  the last message came with no ZeroMQ metadata
    zlist_t *rooms;
    zlist_t *peers;
    zframe_t *message; //  EVENT, DELIVER; the JSON of SYNC, SYNCED, QUERY,
                       //  ANSWER
    zlist_t *events;   //  SYNCED: zframe_t, seq (8 octets) + message
    char reason[FIELD_MAX + 1]; //  why the last receive was malformed
};

static void
s_events_purge (ces_proto_t *self)
{
    zframe_t *event;
    while ((event = (zframe_t *)zlist_pop (self->events)))
        zframe_destroy (&event);
}

ces_proto_t *
ces_proto_new (void)
{
    ces_proto_t *self = (ces_proto_t *)zmalloc (sizeof (ces_proto_t));
    assert (self);
    self->rooms = zlist_new ();
    self->peers = zlist_new ();
    self->events = zlist_new ();
    assert (self->rooms && self->peers && self->events);
    zlist_autofree (self->rooms);
    zlist_autofree (self->peers);
    strcpy (self->version, CES_PROTO_VERSION);
    return self;
}

void
ces_proto_destroy (ces_proto_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_proto_t *self = *self_p;
        zframe_destroy (&self->routing_id);
        zframe_destroy (&self->message);
        zlist_destroy (&self->rooms);
        zlist_destroy (&self->peers);
        s_events_purge (self);
        zlist_destroy (&self->events);
        freen (self);
        *self_p = NULL;
    }
}

static void
s_copy (char *dest, const char *src)
{
    size_t size = strlen (src);
    if (size > FIELD_MAX)
        size = FIELD_MAX;
    memcpy (dest, src, size);
    dest[size] = 0;
}

//  Copies a string field into dest; false if it is too long or has a NUL
static bool
s_copy_field (ces_proto_t *self, const byte *data, size_t size, char *dest,
              const char *what)
{
    if (size > FIELD_MAX || memchr (data, 0, size)) {
        snprintf (self->reason, sizeof (self->reason),
                  "%s field is longer than %d bytes or holds a NUL", what,
                  FIELD_MAX);
        return false;
    }
    memcpy (dest, data, size);
    dest[size] = 0;
    return true;
}

static bool
s_take_room (ces_proto_t *self, const byte *data, size_t size)
{
    bool star = size == 1 && data[0] == '*';
    if (!star &&
        ces_frame_check_room ((const char *)data, size) != CES_FRAME_OK) {
        s_copy (self->reason, "room ID is empty, longer than 128 bytes, or has "
                              "a space or control character");
        return false;
    }
    char room[CES_ROOM_MAX + 1];
    memcpy (room, data, size);
    room[size] = 0;
    const char *problem =
        ces_patterns_is_pattern (room) ? ces_patterns_check (room) : NULL;
    if (problem) {
        s_copy (self->reason, problem);
        return false;
    }
    zlist_append (self->rooms, room); //  autofree copies
    return true;
}

//  A field shown to people (a remote address, a token's subject): at most
//  255 bytes of UTF-8 without control characters
static bool
s_take_text (ces_proto_t *self, const byte *data, size_t size, char *dest,
             const char *what)
{
    if (!s_copy_field (self, data, size, dest, what))
        return false;
    bool valid = ces_frame_utf8_valid (data, size);
    for (size_t i = 0; valid && i < size; i++)
        valid = data[i] >= ' ' && data[i] != 0x7f;
    if (!valid)
        snprintf (self->reason, sizeof (self->reason),
                  "%s field is not UTF-8 without control characters", what);
    return valid;
}

static bool
s_take_heartbeat (ces_proto_t *self, const byte *data, size_t size)
{
    char heartbeat[FIELD_MAX + 1];
    if (!s_copy_field (self, data, size, heartbeat, "heartbeat"))
        return false;
    char *end;
    unsigned long value = strtoul (heartbeat, &end, 10);
    if (*end || !*heartbeat || value == 0 || value > 3600000) {
        s_copy (self->reason, "heartbeat is not a number of msecs");
        return false;
    }
    self->heartbeat = (uint32_t)value;
    return true;
}

//  HELLO: version name [flags]; WELCOME: version hub-id heartbeat [flags]
static bool
s_take_greeting (ces_proto_t *self, int index, const byte *data, size_t size)
{
    bool hello = self->id == CES_PROTO_HELLO;
    if (index == 0)
        return s_copy_field (self, data, size, self->version, "version");
    if (index == 1)
        return hello ? s_copy_field (self, data, size, self->name, "name")
                     : s_copy_field (self, data, size, self->hub_id, "hub-id");
    if (index == 2 && !hello)
        return s_take_heartbeat (self, data, size);
    if (index == (hello ? 2 : 3))
        return s_copy_field (self, data, size, self->flags, "flags");
    return true;
}

//  ATTACH conn role [remote [subject]]
static bool
s_take_attach (ces_proto_t *self, int index, const byte *data, size_t size)
{
    if (index == 0)
        return s_copy_field (self, data, size, self->conn, "conn");
    if (index == 2 || index == 3)
        return s_take_text (self, data, size,
                            index == 2 ? self->remote : self->subject,
                            index == 2 ? "remote" : "subject");
    if (index != 1)
        return true;
    if (!s_copy_field (self, data, size, self->role, "role"))
        return false;
    if (!ces_proto_role_valid (self->role)) {
        s_copy (self->reason,
                "role must be messenger, repeater, hub or outside");
        return false;
    }
    return true;
}

//  MESH hub-id address
static bool
s_take_mesh (ces_proto_t *self, int index, const byte *data, size_t size)
{
    if (index == 1)
        return s_copy_field (self, data, size, self->address, "address");
    if (index != 0)
        return true;
    if (!s_copy_field (self, data, size, self->hub_id, "hub-id"))
        return false;
    if (!ces_proto_name_valid (self->hub_id)) {
        s_copy (self->reason, "hub-id must be printable, without spaces or "
                              "'/'");
        return false;
    }
    return true;
}

//  Takes field number index of the current command from one frame; false
//  if it is malformed. Frames past a command's fields are left for the
//  count check.
static bool
s_take_field (ces_proto_t *self, int index, const byte *data, size_t size)
{
    switch (self->id) {
        case CES_PROTO_HELLO:
        case CES_PROTO_WELCOME:
            return s_take_greeting (self, index, data, size);
        case CES_PROTO_ATTACH:
            return s_take_attach (self, index, data, size);
        case CES_PROTO_ANSWER:
            if (index == 1)
                return s_copy_field (self, data, size, self->code, "status");
            __attribute__ ((fallthrough)); //  conn first, as the others
        case CES_PROTO_DETACH:
        case CES_PROTO_EVENT:
        case CES_PROTO_DELIVER:
        case CES_PROTO_SYNC:
        case CES_PROTO_SYNCED:
        case CES_PROTO_QUERY:
            return index == 0
                       ? s_copy_field (self, data, size, self->conn, "conn")
                       : true;
        case CES_PROTO_REGISTERED:
            return index == 0
                       ? s_copy_field (self, data, size, self->conn, "conn")
                   : index == 1
                       ? s_copy_field (self, data, size, self->token, "token")
                       : true;
        case CES_PROTO_REGISTER:
            return index == 0
                       ? s_copy_field (self, data, size, self->conn, "conn")
                   : index == 1
                       ? s_copy_field (self, data, size, self->token, "token")
                       : s_take_room (self, data, size);
        case CES_PROTO_UNREGISTER:
        case CES_PROTO_PRESENT:
        case CES_PROTO_ABSENT:
            return index == 0
                       ? s_copy_field (self, data, size, self->conn, "conn")
                       : s_take_room (self, data, size);
        case CES_PROTO_ERROR:
            return index == 0
                       ? s_copy_field (self, data, size, self->code, "code")
                   : index == 1 ? s_copy_field (self, data, size,
                                                self->error_reason, "reason")
                                : true;
        case CES_PROTO_MESH:
            return s_take_mesh (self, index, data, size);
        case CES_PROTO_PEERS: {
            char peer[FIELD_MAX + 1];
            if (!s_copy_field (self, data, size, peer, "peer"))
                return false;
            zlist_append (self->peers, peer); //  autofree copies
            return true;
        }
        default:
            return true;
    }
}

static void
s_set_routing_id (ces_proto_t *self, const void *data, size_t size)
{
    //  Routing IDs fit in a ZeroMQ message's own space: no allocation
    if (self->routing_id)
        zframe_reset (self->routing_id, data, size);
    else
        self->routing_id = zframe_new (data, size);
}

//  A message is read frame by frame into the codec's fields, with no
//  allocation but the event frame's: this is every event's path
//  EVENT and DELIVER in one frame: "EVENT " conn LF message. True if the
//  frame is one (then self->message is set, or NULL and a reason if it is
//  malformed)
static bool
s_take_compact (ces_proto_t *self, zmq_msg_t *part, bool more)
{
    const byte *data = (const byte *)zmq_msg_data (part);
    size_t size = zmq_msg_size (part);
    ces_proto_id_t id =
        size > 6 && memcmp (data, "EVENT ", 6) == 0     ? CES_PROTO_EVENT
        : size > 8 && memcmp (data, "DELIVER ", 8) == 0 ? CES_PROTO_DELIVER
                                                        : 0;
    if (!id)
        return false;
    self->id = id;
    size_t at = id == CES_PROTO_EVENT ? 6 : 8;
    size_t limit = size - at < FIELD_MAX + 1 ? size - at : FIELD_MAX + 1;
    const byte *newline = (const byte *)memchr (data + at, '\n', limit);
    if (more || !newline || newline == data + at ||
        !s_copy_field (self, data + at, (size_t)(newline - data - at),
                       self->conn, "conn")) {
        if (!self->reason[0])
            s_copy (self->reason, "one-frame EVENT or DELIVER is not command, "
                                  "space, conn, newline, message");
        return true;
    }
    //  One copy: the message is a slice of the frame
    size_t offset = (size_t)(newline + 1 - data);
    self->message = zframe_new (data + offset, size - offset);
    return true;
}

//  Forgets the last message's fields
static void
s_reset (ces_proto_t *self)
{
    zframe_destroy (&self->message);
    if (zlist_size (self->rooms))
        zlist_purge (self->rooms);
    if (zlist_size (self->peers))
        zlist_purge (self->peers);
    if (zlist_size (self->events))
        s_events_purge (self);
    self->reason[0] = 0;
    self->id = 0;
    self->flags[0] = 0;
    self->remote[0] = 0;
    self->subject[0] = 0;
}

//  A SYNCED event frame, kept; false if it is too short to be one
static bool
s_take_event (ces_proto_t *self, zframe_t *event)
{
    if (event && zframe_size (event) >= 8 + 2) {
        zlist_append (self->events, event);
        return true;
    }
    zframe_destroy (&event);
    s_copy (self->reason,
            "SYNCED event is shorter than a sequence number and a message");
    return false;
}

//  Reads the fields of command id after its name (part, which more says
//  is followed by more), then checks how many there were. 0 or -2
static int
s_recv_fields (ces_proto_t *self, zsock_t *input, zmq_msg_t *part, bool more,
               bool ok)
{
    void *handle = zsock_resolve (input);
    int id = self->id;
    int message_at = ces_proto_commands_message_at (id);
    int index = 0;
    while (more) {
        if (ok && message_at && index == message_at) {
            //  The event stays in its ZeroMQ message: no copy
            self->message = zframe_recv (input);
            more = self->message && zframe_more (self->message);
        } else if (ok && id == CES_PROTO_SYNCED && index > message_at) {
            zframe_t *event = zframe_recv (input);
            more = event && zframe_more (event);
            ok = s_take_event (self, event);
        } else {
            if (zmq_msg_recv (part, handle, 0) < 0)
                break;
            more = zmq_msg_more (part);
            if (ok)
                ok = s_take_field (self, index,
                                   (const byte *)zmq_msg_data (part),
                                   zmq_msg_size (part));
        }
        index++;
    }
    if (!ok)
        return -2;
    int fields = ces_proto_commands_fields (id);
    bool count_ok = id == CES_PROTO_PEERS ||
                    (fields >= 0 ? index == fields : index >= -fields);
    if (!count_ok) {
        snprintf (self->reason, sizeof (self->reason),
                  "%s has %d fields, expected %s%d",
                  ces_proto_commands_name (id), index,
                  fields < 0 ? "at least " : "", fields < 0 ? -fields : fields);
        return -2;
    }
    return 0;
}

static int
s_recv (ces_proto_t *self, zsock_t *input, int flags)
{
    assert (self);
    assert (input);
    void *handle = zsock_resolve (input);
    zmq_msg_t part;
    zmq_msg_init (&part);
    if (zmq_msg_recv (&part, handle, flags) < 0) {
        zmq_msg_close (&part);
        return -1;
    }
    s_reset (self);
    bool more = zmq_msg_more (&part);
    bool ok = true;
    if (zsock_type (input) == ZMQ_ROUTER) {
        s_set_routing_id (self, zmq_msg_data (&part), zmq_msg_size (&part));
        if (more && zmq_msg_recv (&part, handle, 0) >= 0)
            more = zmq_msg_more (&part);
        else
            ok = false;
    }
    int id = ok ? ces_proto_commands_lookup ((const byte *)zmq_msg_data (&part),
                                             zmq_msg_size (&part))
                : 0;
    if (id == CES_PROTO_HELLO)
        //  Over inproc:// a message carries no metadata, not even its type
        self->inproc = zmq_msg_gets (&part, "Socket-Type") == NULL;
    if (ok && !id && s_take_compact (self, &part, more)) {
        while (more && zmq_msg_recv (&part, handle, 0) >= 0)
            more = zmq_msg_more (&part);
        zmq_msg_close (&part);
        return self->message ? 0 : -2;
    }
    if (!ok)
        s_copy (self->reason, "message has no command frame");
    else if (!id) {
        snprintf (self->reason, sizeof (self->reason), "unknown command '%.*s'",
                  (int)(zmq_msg_size (&part) < 32 ? zmq_msg_size (&part) : 32),
                  (const char *)zmq_msg_data (&part));
        ok = false;
    }
    self->id = (ces_proto_id_t)id;
    int rc = s_recv_fields (self, input, &part, more, ok);
    zmq_msg_close (&part);
    return rc;
}

int
ces_proto_recv (ces_proto_t *self, zsock_t *input)
{
    return s_recv (self, input, 0);
}

int
ces_proto_recv_nowait (ces_proto_t *self, zsock_t *input)
{
    return s_recv (self, input, ZMQ_DONTWAIT);
}

int
ces_proto_send (ces_proto_t *self, zsock_t *output)
{
    assert (self);
    return ces_proto_encoder_send (self, output, self->one_frame);
}

const char *
ces_proto_reason (ces_proto_t *self)
{
    assert (self);
    return self->reason;
}

const char *
ces_proto_command (ces_proto_t *self)
{
    assert (self);
    return ces_proto_commands_valid (self->id)
               ? ces_proto_commands_name (self->id)
               : "?";
}

bool
ces_proto_name_valid (const char *name)
{
    if (!name || !*name || strlen (name) > FIELD_MAX)
        return false;
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '/')
            return false;
    return true;
}

bool
ces_proto_role_valid (const char *role)
{
    return role &&
           (streq (role, CES_ROLE_MESSENGER) ||
            streq (role, CES_ROLE_REPEATER) || streq (role, CES_ROLE_HUB) ||
            streq (role, CES_ROLE_OUTSIDE));
}

ces_proto_id_t
ces_proto_id (ces_proto_t *self)
{
    assert (self);
    return self->id;
}

void
ces_proto_set_id (ces_proto_t *self, ces_proto_id_t id)
{
    assert (self);
    assert (ces_proto_commands_valid (id));
    self->id = id;
}

bool
ces_proto_has_flag (ces_proto_t *self, const char *flag)
{
    assert (self && flag);
    size_t size = strlen (flag);
    for (const char *at = self->flags; *at;) {
        const char *space = strchr (at, ' ');
        size_t word = space ? (size_t)(space - at) : strlen (at);
        if (word == size && memcmp (at, flag, size) == 0)
            return true;
        at += word;
        while (*at == ' ')
            at++;
    }
    return false;
}

void
ces_proto_set_one_frame (ces_proto_t *self, bool one_frame)
{
    assert (self);
    self->one_frame = one_frame;
}

bool
ces_proto_inproc (ces_proto_t *self)
{
    assert (self);
    return self->inproc;
}

zframe_t *
ces_proto_routing_id (ces_proto_t *self)
{
    assert (self);
    return self->routing_id;
}

void
ces_proto_set_routing_id (ces_proto_t *self, zframe_t *routing_id)
{
    assert (self);
    if (routing_id == self->routing_id)
        return; //  replying to the peer we just heard from
    s_set_routing_id (self, zframe_data (routing_id), zframe_size (routing_id));
}

#define STRING_FIELD(field)                                                    \
    const char *ces_proto_##field (ces_proto_t *self)                          \
    {                                                                          \
        assert (self);                                                         \
        return self->field;                                                    \
    }                                                                          \
    void ces_proto_set_##field (ces_proto_t *self, const char *value)          \
    {                                                                          \
        assert (self);                                                         \
        assert (value);                                                        \
        s_copy (self->field, value);                                           \
    }

STRING_FIELD (name)
STRING_FIELD (flags)
STRING_FIELD (hub_id)
STRING_FIELD (conn)
STRING_FIELD (role)
STRING_FIELD (token)
STRING_FIELD (code)
STRING_FIELD (error_reason)
STRING_FIELD (address)
STRING_FIELD (remote)
STRING_FIELD (subject)

const char *
ces_proto_version (ces_proto_t *self)
{
    assert (self);
    return self->version;
}

uint32_t
ces_proto_heartbeat (ces_proto_t *self)
{
    assert (self);
    return self->heartbeat;
}

void
ces_proto_set_heartbeat (ces_proto_t *self, uint32_t msecs)
{
    assert (self);
    self->heartbeat = msecs;
}

zlist_t *
ces_proto_rooms (ces_proto_t *self)
{
    assert (self);
    return self->rooms;
}

//  dest (autofree) becomes a copy of the strings of list, or empty
static void
s_copy_list (zlist_t *dest, zlist_t *list)
{
    zlist_purge (dest);
    const char *item = list ? (const char *)zlist_first (list) : NULL;
    while (item) {
        zlist_append (dest, (void *)item); //  autofree copies
        item = (const char *)zlist_next (list);
    }
}

void
ces_proto_set_rooms (ces_proto_t *self, zlist_t *rooms)
{
    assert (self);
    s_copy_list (self->rooms, rooms);
}

zlist_t *
ces_proto_peers (ces_proto_t *self)
{
    assert (self);
    return self->peers;
}

void
ces_proto_set_peers (ces_proto_t *self, zlist_t *peers)
{
    assert (self);
    s_copy_list (self->peers, peers);
}

zframe_t *
ces_proto_message (ces_proto_t *self)
{
    assert (self);
    return self->message;
}

zlist_t *
ces_proto_events (ces_proto_t *self)
{
    assert (self);
    return self->events;
}

void
ces_proto_add_event (ces_proto_t *self, uint64_t seq, const byte *message,
                     size_t size)
{
    assert (self && message);
    zframe_t *event = zframe_new (NULL, 8 + size);
    byte *data = zframe_data (event);
    ces_position_number_put (data, seq);
    memcpy (data + 8, message, size);
    zlist_append (self->events, event);
}

void
ces_proto_purge_events (ces_proto_t *self)
{
    assert (self);
    s_events_purge (self);
}

zframe_t *
ces_proto_take_message (ces_proto_t *self)
{
    assert (self);
    zframe_t *message = self->message;
    self->message = NULL;
    return message;
}

void
ces_proto_set_message (ces_proto_t *self, zframe_t **message_p)
{
    assert (self);
    assert (message_p);
    zframe_destroy (&self->message);
    self->message = *message_p;
    *message_p = NULL;
}

//  --------------------------------------------------------------------------
//  Self test

void
ces_proto_test (bool verbose)
{
    printf (" * ces_proto: ");
    //  @selftest
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (router);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    assert (zsock_connect (dealer, "tcp://127.0.0.1:%d", port) == 0);
    zsock_set_rcvtimeo (router, 2000);
    zsock_set_rcvtimeo (dealer, 2000);
    ces_proto_t *proto = ces_proto_new ();

    //  HELLO from the peer, WELCOME back over the ROUTER
    ces_proto_set_id (proto, CES_PROTO_HELLO);
    ces_proto_set_name (proto, "selftest");
    assert (ces_proto_send (proto, dealer) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_HELLO);
    assert (streq (ces_proto_version (proto), CES_PROTO_VERSION));
    assert (streq (ces_proto_name (proto), "selftest"));
    assert (ces_proto_routing_id (proto));
    ces_proto_set_id (proto, CES_PROTO_WELCOME);
    ces_proto_set_hub_id (proto, "hub-1");
    ces_proto_set_heartbeat (proto, 250);
    assert (ces_proto_send (proto, router) == 0);
    assert (ces_proto_recv (proto, dealer) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_WELCOME);
    assert (streq (ces_proto_hub_id (proto), "hub-1"));
    assert (ces_proto_heartbeat (proto) == 250);

    //  REGISTER with rooms, including *
    zlist_t *rooms = zlist_new ();
    zlist_append (rooms, "ITB-1101");
    zlist_append (rooms, "*");
    ces_proto_set_id (proto, CES_PROTO_REGISTER);
    ces_proto_set_conn (proto, "7");
    ces_proto_set_token (proto, "t1");
    ces_proto_set_rooms (proto, rooms);
    zlist_destroy (&rooms);
    assert (ces_proto_send (proto, dealer) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_REGISTER);
    assert (streq (ces_proto_conn (proto), "7"));
    assert (streq (ces_proto_token (proto), "t1"));
    assert (zlist_size (ces_proto_rooms (proto)) == 2);
    assert (streq ((char *)zlist_first (ces_proto_rooms (proto)), "ITB-1101"));

    //  UNREGISTER with no rooms means all
    ces_proto_set_id (proto, CES_PROTO_UNREGISTER);
    ces_proto_set_rooms (proto, NULL);
    assert (ces_proto_send (proto, dealer) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_UNREGISTER);
    assert (zlist_size (ces_proto_rooms (proto)) == 0);

    //  EVENT carries the frame unchanged
    zframe_t *message = ces_frame_build ("ITB-1101", "\n{}\n", 4);
    ces_proto_set_id (proto, CES_PROTO_EVENT);
    ces_proto_set_message (proto, &message);
    assert (message == NULL);
    assert (ces_proto_send (proto, dealer) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_EVENT);
    assert (zframe_streq (ces_proto_message (proto), "ITB-1101\n\n{}\n"));

    //  ATTACH with the client's remote address and token subject (two
    //  fields as ever without them: ces_proto_encoder); PRESENT and ABSENT
    //  with rooms and patterns
    ces_proto_set_id (proto, CES_PROTO_ATTACH);
    ces_proto_set_conn (proto, "8");
    ces_proto_set_role (proto, CES_ROLE_MESSENGER);
    ces_proto_set_remote (proto, "192.0.2.7:4242");
    ces_proto_set_subject (proto, "alice");
    assert (ces_proto_send (proto, dealer) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_ATTACH);
    assert (streq (ces_proto_remote (proto), "192.0.2.7:4242"));
    assert (streq (ces_proto_subject (proto), "alice"));
    zstr_sendx (dealer, "ATTACH", "9", "messenger", "192.0.2.7:1", NULL);
    assert (ces_proto_recv (proto, router) == 0);
    assert (streq (ces_proto_remote (proto), "192.0.2.7:1"));
    assert (streq (ces_proto_subject (proto), ""));
    zstr_sendx (dealer, "ATTACH", "9", "messenger", "x", "a\nb", NULL);
    assert (ces_proto_recv (proto, router) == -2);
    assert (strstr (ces_proto_reason (proto), "subject"));
    ces_proto_set_remote (proto, "");
    ces_proto_set_subject (proto, "");
    rooms = zlist_new ();
    zlist_append (rooms, "ITB-1101");
    zlist_append (rooms, "ITB-*");
    ces_proto_set_id (proto, CES_PROTO_PRESENT);
    ces_proto_set_conn (proto, "8");
    ces_proto_set_rooms (proto, rooms);
    zlist_destroy (&rooms);
    assert (ces_proto_send (proto, dealer) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_PRESENT);
    assert (zlist_size (ces_proto_rooms (proto)) == 2);
    ces_proto_set_id (proto, CES_PROTO_ABSENT);
    ces_proto_set_rooms (proto, NULL);
    assert (ces_proto_send (proto, dealer) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_ABSENT);
    assert (zlist_size (ces_proto_rooms (proto)) == 0);
    zstr_sendx (dealer, "PRESENT", "8", NULL);
    assert (ces_proto_recv (proto, router) == -2);
    zstr_sendx (dealer, "REGISTER", "1", "", "ITB-**", NULL);
    assert (ces_proto_recv (proto, router) == -2);
    assert (strstr (ces_proto_reason (proto), "pattern"));

    //  Malformed input: -2 with a reason, never an abort
    zstr_send (dealer, "NONSENSE");
    assert (ces_proto_recv (proto, router) == -2);
    assert (strstr (ces_proto_reason (proto), "unknown command"));
    zstr_sendx (dealer, "EVENT", NULL);
    assert (ces_proto_recv (proto, router) == -2);
    assert (strstr (ces_proto_reason (proto), "expected 2"));
    zstr_sendx (dealer, "ATTACH", "1", "emperor", NULL);
    assert (ces_proto_recv (proto, router) == -2);
    assert (strstr (ces_proto_reason (proto), "role"));
    zstr_sendx (dealer, "REGISTER", "1", "t", "bad room", NULL);
    assert (ces_proto_recv (proto, router) == -2);
    assert (strstr (ces_proto_reason (proto), "room ID"));
    zstr_sendx (dealer, "HEARTBEAT", "extra", NULL);
    assert (ces_proto_recv (proto, router) == -2);

    //  ERROR back to the peer
    ces_proto_set_id (proto, CES_PROTO_ERROR);
    ces_proto_set_code (proto, CES_PROTO_ERR_MALFORMED);
    ces_proto_set_error_reason (proto, "testing");
    assert (ces_proto_send (proto, router) == 0);
    assert (ces_proto_recv (proto, dealer) == 0);
    assert (streq (ces_proto_code (proto), "malformed"));
    assert (streq (ces_proto_error_reason (proto), "testing"));
    assert (streq (ces_proto_command (proto), "ERROR"));

    //  The mesh commands: MESH, PEERS (empty and not), UNLINK
    ces_proto_set_id (proto, CES_PROTO_MESH);
    ces_proto_set_hub_id (proto, "hub-2");
    ces_proto_set_address (proto, "tcp://127.0.0.1:7300");
    assert (ces_proto_send (proto, dealer) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_MESH);
    assert (streq (ces_proto_hub_id (proto), "hub-2"));
    assert (streq (ces_proto_address (proto), "tcp://127.0.0.1:7300"));
    zstr_sendx (dealer, "MESH", "bad id", "tcp://x:1", NULL);
    assert (ces_proto_recv (proto, router) == -2);
    assert (strstr (ces_proto_reason (proto), "hub-id"));
    zlist_t *peers = zlist_new ();
    zlist_append (peers, "hub-3 tcp://127.0.0.1:7400");
    ces_proto_set_id (proto, CES_PROTO_PEERS);
    ces_proto_set_peers (proto, peers);
    zlist_destroy (&peers);
    assert (ces_proto_send (proto, router) == 0);
    assert (ces_proto_recv (proto, dealer) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_PEERS);
    assert (zlist_size (ces_proto_peers (proto)) == 1);
    ces_proto_set_peers (proto, NULL);
    assert (ces_proto_send (proto, dealer) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_PEERS);
    assert (zlist_size (ces_proto_peers (proto)) == 0);
    ces_proto_set_id (proto, CES_PROTO_UNLINK);
    assert (ces_proto_send (proto, router) == 0);
    assert (ces_proto_recv (proto, dealer) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_UNLINK);

    ces_proto_destroy (&proto);
    ces_proto_destroy (&proto);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
