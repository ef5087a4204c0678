/*  =========================================================================
    ces_proto_commands - the hub protocol's commands (docs/PROTOCOL.md):
    each one's name on the wire, how many field frames it carries and which
    of them is its message. One table for both directions: ces_proto reads
    with it, ces_proto_encoder writes with it.

        int id = ces_proto_commands_lookup (data, size);    //  0: unknown
        if (id && ces_proto_commands_fields (id) >= 0)
            ...   //  exactly that many fields
    =========================================================================
*/
#ifndef CES_PROTO_COMMANDS_H_INCLUDED
#define CES_PROTO_COMMANDS_H_INCLUDED

//  Is id a command (CES_PROTO_HELLO .. CES_PROTO_ABSENT)?
bool ces_proto_commands_valid (int id);

//  Its name on the wire; id must be valid.
const char *ces_proto_commands_name (int id);

//  How many field frames follow the name: n exactly, or for -n at least n
//  (HELLO, WELCOME: then flags, frames after the flags ignored; ATTACH: then
//  remote and subject, frames after those ignored; REGISTER and the others
//  of rooms: then any number of rooms). PEERS carries any number of peer
//  frames (its 0 is not checked). id must be valid.
int ces_proto_commands_fields (int id);

//  Where a command's message frame is among its fields (0: it has none).
int ces_proto_commands_message_at (int id);

//  The command named by the frame data, size bytes; 0 if none is. No
//  command name is empty or longer than 10 bytes (a one-frame EVENT or
//  DELIVER is longer).
int ces_proto_commands_lookup (const byte *data, size_t size);

//  Self test of this class
void ces_proto_commands_test (bool verbose);

#endif
