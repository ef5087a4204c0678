/*  =========================================================================
    ces_proto_commands - the hub protocol's commands: name, fields, message
    =========================================================================
*/
#include "ces_classes.h"

//  Command names on the wire, and how many field frames each carries;
//  -n means "at least n fields, then any number of rooms" (HELLO and
//  WELCOME: then flags; frames after the flags are ignored; ATTACH: then
//  remote and subject, frames after those ignored); PEERS carries any
//  number of peer frames (its 0 is not checked)
static const struct {
    const char *name;
    int fields;
} s_commands[] = {
    {NULL, 0},       {"HELLO", -2},    {"WELCOME", -3},    {"ATTACH", -2},
    {"DETACH", 1},   {"REGISTER", -2}, {"UNREGISTER", -1}, {"REGISTERED", 2},
    {"EVENT", 2},    {"DELIVER", 2},   {"HEARTBEAT", 0},   {"BYE", 0},
    {"ERROR", 2},    {"MESH", 2},      {"PEERS", 0},       {"UNLINK", 0},
    {"SYNC", 2},     {"SYNCED", -2},   {"QUERY", 2},       {"ANSWER", 3},
    {"PRESENT", -2}, {"ABSENT", -1},
};
#define COMMAND_COUNT ((int)(sizeof (s_commands) / sizeof (s_commands[0])))

bool
ces_proto_commands_valid (int id)
{
    return id > 0 && id < COMMAND_COUNT;
}

const char *
ces_proto_commands_name (int id)
{
    assert (ces_proto_commands_valid (id));
    return s_commands[id].name;
}

int
ces_proto_commands_fields (int id)
{
    assert (ces_proto_commands_valid (id));
    return s_commands[id].fields;
}

int
ces_proto_commands_message_at (int id)
{
    return id == CES_PROTO_EVENT || id == CES_PROTO_DELIVER ||
                   id == CES_PROTO_SYNC || id == CES_PROTO_SYNCED ||
                   id == CES_PROTO_QUERY
               ? 1
           : id == CES_PROTO_ANSWER ? 2
                                    : 0;
}

int
ces_proto_commands_lookup (const byte *data, size_t size)
{
    if (size == 0 || size > 10)
        return 0;
    for (int id = 1; id < COMMAND_COUNT; id++)
        if (s_commands[id].name[0] == data[0] &&
            strlen (s_commands[id].name) == size &&
            memcmp (s_commands[id].name, data, size) == 0)
            return id;
    return 0;
}

//  --------------------------------------------------------------------------
//  Self test

void
ces_proto_commands_test (bool verbose)
{
    printf (" * ces_proto_commands: ");
    //  @selftest
    //  The table follows ces_proto_id_t, first to last
    assert (!ces_proto_commands_valid (0));
    assert (ces_proto_commands_valid (CES_PROTO_HELLO));
    assert (ces_proto_commands_valid (CES_PROTO_ABSENT));
    assert (!ces_proto_commands_valid (CES_PROTO_ABSENT + 1));
    assert (streq (ces_proto_commands_name (CES_PROTO_HELLO), "HELLO"));
    assert (streq (ces_proto_commands_name (CES_PROTO_SYNCED), "SYNCED"));
    assert (streq (ces_proto_commands_name (CES_PROTO_ABSENT), "ABSENT"));
    for (int id = CES_PROTO_HELLO; id <= CES_PROTO_ABSENT; id++) {
        const char *name = ces_proto_commands_name (id);
        assert (ces_proto_commands_lookup ((const byte *)name, strlen (name)) ==
                id);
    }
    //  Exactly n, or at least n
    assert (ces_proto_commands_fields (CES_PROTO_EVENT) == 2);
    assert (ces_proto_commands_fields (CES_PROTO_ANSWER) == 3);
    assert (ces_proto_commands_fields (CES_PROTO_REGISTER) == -2);
    assert (ces_proto_commands_fields (CES_PROTO_HEARTBEAT) == 0);
    //  The message frame: after conn, or after conn and status
    assert (ces_proto_commands_message_at (CES_PROTO_EVENT) == 1);
    assert (ces_proto_commands_message_at (CES_PROTO_SYNCED) == 1);
    assert (ces_proto_commands_message_at (CES_PROTO_ANSWER) == 2);
    assert (ces_proto_commands_message_at (CES_PROTO_REGISTER) == 0);
    assert (ces_proto_commands_message_at (0) == 0);
    //  Not a command: empty, too long, a prefix, another case
    assert (ces_proto_commands_lookup ((const byte *)"", 0) == 0);
    assert (ces_proto_commands_lookup ((const byte *)"EVENT c7\nR\n{}", 14) ==
            0);
    assert (ces_proto_commands_lookup ((const byte *)"EVEN", 4) == 0);
    assert (ces_proto_commands_lookup ((const byte *)"event", 5) == 0);
    assert (ces_proto_commands_lookup ((const byte *)"REGISTEREDX", 11) == 0);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
