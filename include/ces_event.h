/*  =========================================================================
    ces_event - checks that a payload is a v2 event (a JSON object) and
    reads its affected-room.roomID, the routing room of HTTP submissions.

    The hub routes payload bytes unchanged; this class only reads them.
    =========================================================================
*/
#ifndef CES_EVENT_H_INCLUDED
#define CES_EVENT_H_INCLUDED

ces_event_t *ces_event_new (void);

//  Destroy the checker; idempotent, nulls the caller's pointer.
void ces_event_destroy (ces_event_t **self_p);

//  How deep objects and arrays may nest (CES_DEPTH_MAX by default, at most
//  CES_DEPTH_LIMIT); deeper events are refused with their own reason.
void ces_event_set_max_depth (ces_event_t *self, int max_depth);

//  Parse a payload. Returns 0 if it is a JSON object, -2 if it is malformed
//  (see ces_event_error for why).
int ces_event_parse (ces_event_t *self, const char *json, size_t size);

//  Check that a payload is one JSON object, strictly (RFC 8259, nesting up
//  to the max depth), without building a tree: much cheaper than parse.
//  Returns 0, or -2 (see ces_event_error). Leaves the last parse's tree
//  alone.
int ces_event_check (ces_event_t *self, const char *json, size_t size);

//  After a good parse: affected-room.roomID, or NULL if it is absent or not
//  a string.
const char *ces_event_affected_room (ces_event_t *self);

//  The longest device ID or key a room's state keeps, in bytes.
#define CES_EVENT_ADDRESS_MAX 255

//  Check a payload as ces_event_check does, and find its state address:
//  the top-level "key" and "target-device"."deviceID", both strings of
//  1-CES_EVENT_ADDRESS_MAX bytes without NUL, copied (unescaped) into key
//  and device (each CES_EVENT_ADDRESS_MAX + 1 bytes; "" when absent).
//  Returns 0, or -2 (see ces_event_error).
int ces_event_address (ces_event_t *self, const char *json, size_t size,
                       char *device, char *key);

//  After a failed parse: a sentence saying what was wrong.
const char *ces_event_error (ces_event_t *self);

#endif
