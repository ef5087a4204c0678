/*  =========================================================================
    ces_proto_encoder - writes a ces_proto's command to a socket
    =========================================================================
*/
#include "ces_classes.h"

//  Largest message sent in a one-frame EVENT or DELIVER
#define ONE_FRAME_MAX (64 * 1024)

static int
s_send_string (zsock_t *output, const char *string, bool more)
{
    int flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0);
    return zmq_send (zsock_resolve (output), string, strlen (string), flags) < 0
               ? -1
               : 0;
}

//  EVENT or DELIVER as one frame: "EVENT " conn LF message. One copy of
//  the message, and one frame where there were three, in every thread
static int
s_send_one_frame (ces_proto_t *proto, zsock_t *output)
{
    zframe_t *message = ces_proto_message (proto);
    assert (message);
    const char *name = ces_proto_commands_name (ces_proto_id (proto));
    const char *conn = ces_proto_conn (proto);
    size_t name_size = strlen (name);
    size_t conn_size = strlen (conn);
    size_t size = zframe_size (message);
    zmq_msg_t msg;
    int rc = zmq_msg_init_size (&msg, name_size + 1 + conn_size + 1 + size);
    assert (rc == 0);
    byte *data = (byte *)zmq_msg_data (&msg);
    memcpy (data, name, name_size);
    data[name_size] = ' ';
    memcpy (data + name_size + 1, conn, conn_size);
    data[name_size + 1 + conn_size] = '\n';
    memcpy (data + name_size + conn_size + 2, zframe_data (message), size);
    if (zmq_msg_send (&msg, zsock_resolve (output), ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return -1;
    }
    return 0;
}

//  HELLO: version name [flags]; WELCOME: version hub-id heartbeat [flags]
static int
s_send_greeting (ces_proto_t *proto, zsock_t *output)
{
    const char *flags = ces_proto_flags (proto);
    s_send_string (output, ces_proto_version (proto), true);
    if (ces_proto_id (proto) == CES_PROTO_HELLO)
        s_send_string (output, ces_proto_name (proto), *flags);
    else {
        char heartbeat[16];
        snprintf (heartbeat, sizeof (heartbeat), "%u",
                  ces_proto_heartbeat (proto));
        s_send_string (output, ces_proto_hub_id (proto), true);
        s_send_string (output, heartbeat, *flags);
    }
    return *flags ? s_send_string (output, flags, false) : 0;
}

//  ATTACH conn role [remote [subject]]: the optional ones only when set,
//  as hubs from before them take two fields and no more
static int
s_send_attach (ces_proto_t *proto, zsock_t *output)
{
    bool subject = *ces_proto_subject (proto) != 0;
    bool remote = *ces_proto_remote (proto) || subject;
    s_send_string (output, ces_proto_conn (proto), true);
    s_send_string (output, ces_proto_role (proto), remote);
    if (remote)
        s_send_string (output, ces_proto_remote (proto), subject);
    return subject ? s_send_string (output, ces_proto_subject (proto), false)
                   : 0;
}

//  A list of strings, the last without "more"
static int
s_send_list (zlist_t *list, zsock_t *output)
{
    const char *item = (const char *)zlist_first (list);
    while (item) {
        const char *next = (const char *)zlist_next (list);
        s_send_string (output, item, next != NULL);
        item = next;
    }
    return 0;
}

//  REGISTER conn token *room, UNREGISTER / PRESENT / ABSENT conn *room
static int
s_send_rooms (ces_proto_t *proto, zsock_t *output)
{
    zlist_t *rooms = ces_proto_rooms (proto);
    bool more = zlist_size (rooms) > 0;
    bool is_register = ces_proto_id (proto) == CES_PROTO_REGISTER;
    s_send_string (output, ces_proto_conn (proto), more || is_register);
    if (is_register)
        s_send_string (output, ces_proto_token (proto), more);
    return s_send_list (rooms, output);
}

//  EVENT, DELIVER, SYNC, QUERY: conn message; ANSWER: conn status message
static int
s_send_message (ces_proto_t *proto, zsock_t *output)
{
    zframe_t *message = ces_proto_message (proto);
    assert (message);
    s_send_string (output, ces_proto_conn (proto), true);
    if (ces_proto_id (proto) == CES_PROTO_ANSWER)
        s_send_string (output, ces_proto_code (proto), true);
    return zframe_send (&message, output, ZFRAME_REUSE | ZFRAME_DONTWAIT);
}

//  SYNCED conn header *event: one message, however many events
static int
s_send_synced (ces_proto_t *proto, zsock_t *output)
{
    zframe_t *message = ces_proto_message (proto);
    assert (message);
    zlist_t *events = ces_proto_events (proto);
    s_send_string (output, ces_proto_conn (proto), true);
    bool more = zlist_size (events) > 0;
    int rc =
        zframe_send (&message, output,
                     ZFRAME_REUSE | ZFRAME_DONTWAIT | (more ? ZFRAME_MORE : 0));
    zframe_t *event = (zframe_t *)zlist_first (events);
    while (event && rc == 0) {
        zframe_t *next = (zframe_t *)zlist_next (events);
        rc = zframe_send (&event, output,
                          ZFRAME_REUSE | ZFRAME_DONTWAIT |
                              (next ? ZFRAME_MORE : 0));
        event = next;
    }
    return rc;
}

//  Two string fields, as ERROR, MESH and REGISTERED carry
static int
s_send_pair (zsock_t *output, const char *first, const char *second)
{
    s_send_string (output, first, true);
    return s_send_string (output, second, false);
}

//  The fields after the command name
static int
s_send_fields (ces_proto_t *proto, zsock_t *output)
{
    switch (ces_proto_id (proto)) {
        case CES_PROTO_HELLO:
        case CES_PROTO_WELCOME:
            return s_send_greeting (proto, output);
        case CES_PROTO_ATTACH:
            return s_send_attach (proto, output);
        case CES_PROTO_DETACH:
            return s_send_string (output, ces_proto_conn (proto), false);
        case CES_PROTO_REGISTERED:
            return s_send_pair (output, ces_proto_conn (proto),
                                ces_proto_token (proto));
        case CES_PROTO_REGISTER:
        case CES_PROTO_UNREGISTER:
        case CES_PROTO_PRESENT:
        case CES_PROTO_ABSENT:
            return s_send_rooms (proto, output);
        case CES_PROTO_EVENT:
        case CES_PROTO_DELIVER:
        case CES_PROTO_SYNC:
        case CES_PROTO_QUERY:
        case CES_PROTO_ANSWER:
            return s_send_message (proto, output);
        case CES_PROTO_SYNCED:
            return s_send_synced (proto, output);
        case CES_PROTO_ERROR:
            return s_send_pair (output, ces_proto_code (proto),
                                ces_proto_error_reason (proto));
        case CES_PROTO_MESH:
            return s_send_pair (output, ces_proto_hub_id (proto),
                                ces_proto_address (proto));
        case CES_PROTO_PEERS:
            return s_send_list (ces_proto_peers (proto), output);
        default:
            return 0;
    }
}

int
ces_proto_encoder_send (ces_proto_t *proto, zsock_t *output, bool one_frame)
{
    assert (proto);
    assert (output);
    int id = ces_proto_id (proto);
    assert (ces_proto_commands_valid (id));
    if (zsock_type (output) == ZMQ_ROUTER) {
        zframe_t *routing_id = ces_proto_routing_id (proto);
        assert (routing_id);
        if (zframe_send (&routing_id, output,
                         ZFRAME_MORE | ZFRAME_REUSE | ZFRAME_DONTWAIT) < 0)
            return -1;
    }
    //  A large message goes as it is, by reference: its copy would cost
    //  more than the frames it saves
    if (one_frame && (id == CES_PROTO_EVENT || id == CES_PROTO_DELIVER) &&
        zframe_size (ces_proto_message (proto)) <= ONE_FRAME_MAX)
        return s_send_one_frame (proto, output);
    bool has_fields = id == CES_PROTO_PEERS
                          ? zlist_size (ces_proto_peers (proto)) > 0
                          : ces_proto_commands_fields (id) != 0;
    if (s_send_string (output, ces_proto_commands_name (id), has_fields))
        return -1;
    return s_send_fields (proto, output);
}

//  --------------------------------------------------------------------------
//  Self test

//  EVENT and DELIVER in one frame, and the flags of HELLO and WELCOME
static void
s_test_one_frame (ces_proto_t *proto, zsock_t *dealer, zsock_t *router)
{
    ces_proto_set_id (proto, CES_PROTO_EVENT);
    zframe_t *message;
    //  ... and in one frame, both ways, for peers that said they read it
    message = ces_frame_build ("ITB-1101", "{}", 2);
    ces_proto_set_message (proto, &message);
    ces_proto_set_conn (proto, "c7");
    ces_proto_set_one_frame (proto, true);
    assert (ces_proto_send (proto, dealer) == 0);
    zframe_t *raw = zframe_recv (router);
    zframe_destroy (&raw);
    raw = zframe_recv (router);
    assert (zframe_streq (raw, "EVENT c7\nITB-1101\n{}"));
    zframe_destroy (&raw);
    message = ces_frame_build ("ITB-1101", "{}", 2);
    ces_proto_set_id (proto, CES_PROTO_DELIVER);
    ces_proto_set_message (proto, &message);
    assert (ces_proto_send (proto, router) == 0);
    ces_proto_set_one_frame (proto, false);
    assert (ces_proto_recv (proto, dealer) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_DELIVER);
    assert (streq (ces_proto_conn (proto), "c7"));
    assert (zframe_streq (ces_proto_message (proto), "ITB-1101\n{}"));
    //  A large message still goes in three frames, by reference
    char *large = (char *)zmalloc (70000);
    memset (large, 'x', 70000);
    message = ces_frame_build ("R", large, 70000);
    freen (large);
    ces_proto_set_id (proto, CES_PROTO_EVENT);
    ces_proto_set_message (proto, &message);
    ces_proto_set_one_frame (proto, true);
    assert (ces_proto_send (proto, dealer) == 0);
    ces_proto_set_one_frame (proto, false);
    zmsg_t *three = zmsg_recv (router);
    assert (three && zmsg_size (three) == 4); //  routing ID first
    zmsg_destroy (&three);
    zstr_send (dealer, "EVENT 9\nR\n{}");
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_EVENT);
    assert (streq (ces_proto_conn (proto), "9"));
    assert (zframe_streq (ces_proto_message (proto), "R\n{}"));
    zstr_send (dealer, "EVENT 9");
    assert (ces_proto_recv (proto, router) == -2);
    assert (strstr (ces_proto_reason (proto), "one-frame"));
    zstr_sendx (dealer, "EVENT \nR\n{}", "more", NULL);
    assert (ces_proto_recv (proto, router) == -2);

    //  Flags of HELLO and WELCOME: sent only when there are some
    ces_proto_set_id (proto, CES_PROTO_HELLO);
    ces_proto_set_flags (proto, "one-frame validated");
    assert (ces_proto_send (proto, dealer) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_has_flag (proto, "validated"));
    assert (ces_proto_has_flag (proto, "one-frame"));
    assert (!ces_proto_has_flag (proto, "one"));
    ces_proto_set_id (proto, CES_PROTO_WELCOME);
    ces_proto_set_heartbeat (proto, 100);
    ces_proto_set_flags (proto, "");
    assert (ces_proto_send (proto, router) == 0);
    assert (ces_proto_recv (proto, dealer) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_WELCOME);
    assert (streq (ces_proto_flags (proto), ""));
    zstr_sendx (dealer, "HELLO", "1", "peer", "future-flag", NULL);
    assert (ces_proto_recv (proto, router) == 0);
    assert (!ces_proto_has_flag (proto, "validated"));
}

//  What goes on the wire, frame by frame: ATTACH without its optional
//  fields, SYNCED with its events, PEERS with none, and a send with
//  nowhere to go
static void
s_test_frames (ces_proto_t *proto, zsock_t *dealer, zsock_t *router)
{
    ces_proto_set_id (proto, CES_PROTO_ATTACH);
    ces_proto_set_conn (proto, "8");
    ces_proto_set_role (proto, CES_ROLE_MESSENGER);
    assert (ces_proto_send (proto, dealer) == 0);
    zmsg_t *raw = zmsg_recv (router);
    assert (raw && zmsg_size (raw) == 4); //  routing ID, ATTACH, conn, role
    zmsg_destroy (&raw);

    ces_proto_set_id (proto, CES_PROTO_SYNCED);
    ces_proto_set_conn (proto, "4");
    zframe_t *header = zframe_new ("{}", 2);
    ces_proto_set_message (proto, &header);
    ces_proto_add_event (proto, 7, (const byte *)"R\n{}", 4);
    ces_proto_add_event (proto, 8, (const byte *)"R\n[]", 4);
    assert (ces_proto_encoder_send (proto, dealer, true) == 0);
    raw = zmsg_recv (router);
    assert (raw && zmsg_size (raw) == 6); //  routing ID, SYNCED, conn, 3
    zmsg_destroy (&raw);
    assert (ces_proto_encoder_send (proto, dealer, false) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_id (proto) == CES_PROTO_SYNCED);
    assert (zlist_size (ces_proto_events (proto)) == 2);
    zframe_t *event = (zframe_t *)zlist_first (ces_proto_events (proto));
    assert (ces_position_number_get (zframe_data (event)) == 7);
    assert (zframe_size (event) == 8 + 4);

    //  PEERS with no peers is the name alone; the routing ID goes first
    ces_proto_set_id (proto, CES_PROTO_PEERS);
    ces_proto_set_peers (proto, NULL);
    assert (ces_proto_encoder_send (proto, router, false) == 0);
    raw = zmsg_recv (dealer);
    assert (raw && zmsg_size (raw) == 1);
    char *name = zmsg_popstr (raw);
    assert (streq (name, "PEERS"));
    zstr_free (&name);
    zmsg_destroy (&raw);

    //  A DEALER with no peer takes nothing: -1, never a block
    zsock_t *alone = zsock_new (ZMQ_DEALER);
    assert (alone);
    zsock_set_immediate (alone, 1);
    assert (zsock_connect (alone, "tcp://127.0.0.1:1") == 0);
    ces_proto_set_id (proto, CES_PROTO_HEARTBEAT);
    assert (ces_proto_encoder_send (proto, alone, false) == -1);
    zsock_destroy (&alone);
}

void
ces_proto_encoder_test (bool verbose)
{
    printf (" * ces_proto_encoder: ");
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

    //  A HELLO first, so that the ROUTER knows the DEALER's routing ID
    ces_proto_set_id (proto, CES_PROTO_HELLO);
    ces_proto_set_name (proto, "selftest");
    assert (ces_proto_encoder_send (proto, dealer, false) == 0);
    assert (ces_proto_recv (proto, router) == 0);
    assert (ces_proto_routing_id (proto));

    s_test_one_frame (proto, dealer, router);
    s_test_frames (proto, dealer, router);

    ces_proto_destroy (&proto);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
