/*  =========================================================================
    ces_registration - a messenger's registration Text message (SPEC §4)

        {"rooms": ["ITB-1101", "*"], "create": true}

    "create": true registers the rooms; false or missing unregisters them,
    and with no rooms (missing, null or []) it unregisters every room. A
    room is a room ID (1-128 bytes, no spaces or control characters), "*",
    every room, or a pattern, a prefix and one '*' at its end ("ITB-*":
    every room starting with "ITB-", see ces_patterns). Anything else is
    refused with a reason the client can act on (each fault of a pattern
    its own), and nothing of that registration is applied. The edge's
    workers each own one parser.

    A client of protocol version 2 ("ces.v2", docs/PROTOCOL.md) may also
    ask for the rooms' state and for what it missed since a position:

        {"rooms":["ITB-1101"],"create":true,"state":true,
         "since":{"ITB-1101":{"epoch":"e3b0c44298fc1c14","seq":41}}}

    Those fields are read only when the parser is told the client speaks
    version 2; for others they are ignored, as they always were.
    =========================================================================
*/
#ifndef CES_REGISTRATION_H_INCLUDED
#define CES_REGISTRATION_H_INCLUDED

typedef struct _ces_registration_t ces_registration_t;

ces_registration_t *ces_registration_new (void);
void ces_registration_destroy (ces_registration_t **self_p);

//  Parse a registration. Returns 0, or -1 (see _error).
int ces_registration_parse (ces_registration_t *self, const char *text,
                            size_t size);

//  After a successful parse: register (true) or unregister (false)
bool ces_registration_create (ces_registration_t *self);

//  After a successful parse: the rooms, in order (borrowed, valid until the
//  next parse); empty with create false means every room.
zlist_t *ces_registration_rooms (ces_registration_t *self);

//  Read "state" and "since" too (a version 2 client); default false.
void ces_registration_set_v2 (ces_registration_t *self, bool v2);

//  After a successful parse of a version 2 registration that asked for
//  state or since: {"state":true,"since":{...}} as JSON text (borrowed,
//  valid until the next parse); NULL when it asked for neither.
const char *ces_registration_recall (ces_registration_t *self);

//  Why the last parse failed.
const char *ces_registration_error (ces_registration_t *self);

#endif
