/*  =========================================================================
    ces_frame - the wire frame codec: ROOMID LF PAYLOAD

    A frame is a room ID, a newline, and a payload. Extra newlines before the
    payload and one trailing newline (CRLF too) are tolerated; the codec never
    adds any. The room ID is 1-128 bytes with no control characters or spaces,
    and does not end in '*' after another byte (that is a pattern of rooms,
    for registrations only).
    Parsing gives a view into the caller's bytes: nothing is copied but the
    room ID.
    =========================================================================
*/
#ifndef CES_FRAME_H_INCLUDED
#define CES_FRAME_H_INCLUDED

//  Result codes of ces_frame_parse; each has its own message
typedef enum {
    CES_FRAME_OK = 0,
    CES_FRAME_EMPTY,         //  zero bytes
    CES_FRAME_NO_NEWLINE,    //  no LF after the room ID
    CES_FRAME_ROOM_EMPTY,    //  frame starts with LF
    CES_FRAME_ROOM_TOO_LONG, //  room ID over 128 bytes
    CES_FRAME_ROOM_BAD_CHAR, //  space or control character in the room ID
    CES_FRAME_NO_PAYLOAD,    //  nothing after the newline(s)
    CES_FRAME_TOO_LARGE,     //  payload over the configured limit
    CES_FRAME_ROOM_PATTERN   //  room ID ends in '*': a pattern, not a room
} ces_frame_error_t;

//  Create a parser that accepts payloads up to max_payload bytes
//  (0 means CES_PAYLOAD_MAX).
ces_frame_t *ces_frame_new (size_t max_payload);

//  Destroy the parser; idempotent, nulls the caller's pointer.
void ces_frame_destroy (ces_frame_t **self_p);

//  Parse data; on CES_FRAME_OK the accessors describe it. The payload view
//  borrows data, which must outlive its use.
ces_frame_error_t ces_frame_parse (ces_frame_t *self, const void *data,
                                   size_t size);

//  Find the newline that ends the room ID at the front of data ("ROOMID\n
//  ...", as a hub publishes it and a subscription topic is) and copy the
//  room ID, NUL-terminated, into room, which holds CES_ROOM_MAX + 1 bytes.
//  Looks at no more than CES_ROOM_MAX + 1 bytes and checks only the length
//  (1 to CES_ROOM_MAX): for messages that were checked where they came in.
//  Returns the offset of the byte after the newline, or 0 if data does not
//  start with a room ID and a newline (room is then "").
size_t ces_frame_room_copy (const void *data, size_t size, char *room);

//  Room ID, NUL-terminated, after a parse that returned CES_FRAME_OK.
const char *ces_frame_room (ces_frame_t *self);

//  Payload of the last good parse: no leading newlines, no trailing one.
const char *ces_frame_payload (ces_frame_t *self);
size_t ces_frame_payload_size (ces_frame_t *self);

//  A sentence a person can act on, for an error code.
const char *ces_frame_strerror (ces_frame_error_t code);

//  A short stable name for an error code, for counters and error frames.
const char *ces_frame_error_name (ces_frame_error_t code);

//  Check a room ID on its own; returns CES_FRAME_OK or a room error.
ces_frame_error_t ces_frame_check_room (const char *room, size_t size);

//  Check the room ID of an event: a room ID that is not a pattern of rooms
//  ("ITB-*", see ces_patterns). "*" alone is still a room an event may
//  name (it reaches the clients of "*"), as it always was.
ces_frame_error_t ces_frame_check_event_room (const char *room, size_t size);

//  Is data well-formed UTF-8 (RFC 3629)? Room IDs must be, and so must a
//  WebSocket Text message.
bool ces_frame_utf8_valid (const void *data, size_t size);

//  Build ROOMID LF PAYLOAD into a new frame, adding nothing else.
//  Caller owns return value and must destroy it when done.
zframe_t *ces_frame_build (const char *room, const void *payload, size_t size);

#endif
