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

//  Why the last parse failed.
const char *ces_registration_error (ces_registration_t *self);

#endif
