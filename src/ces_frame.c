/*  =========================================================================
    ces_frame - the wire frame codec: ROOMID LF PAYLOAD
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_frame_t {
    size_t max_payload;
    char room[CES_ROOM_MAX + 1];
    const char *payload;
    size_t payload_size;
};

static const struct {
    const char *name;
    const char *text;
} s_errors[] = {
    {"ok", "frame is well formed"},
    {"empty-frame",
     "frame is empty; send ROOMID, a newline, then the JSON event"},
    {"no-newline",
     "frame has no newline after the room ID; send ROOMID\\nJSON"},
    {"empty-room",
     "frame starts with a newline; the room ID before it is missing"},
    {"room-too-long", "room ID is longer than 128 bytes"},
    {"bad-room",
     "room ID contains a space, a control character or invalid UTF-8"},
    {"no-payload", "frame has a room ID but no event after the newline"},
    {"too-large", "event is larger than this server's message size limit"},
    {"pattern-room",
     "room ID ends in \"*\": that is a pattern of rooms, which clients may "
     "register; an event goes to one room"},
};

ces_frame_t *
ces_frame_new (size_t max_payload)
{
    ces_frame_t *self = (ces_frame_t *)zmalloc (sizeof (ces_frame_t));
    assert (self);
    self->max_payload = max_payload ? max_payload : CES_PAYLOAD_MAX;
    return self;
}

void
ces_frame_destroy (ces_frame_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        freen (*self_p);
        *self_p = NULL;
    }
}

bool
ces_frame_utf8_valid (const void *data, size_t size)
{
    const unsigned char *at = (const unsigned char *)data;
    const unsigned char *end = at + size;
    while (at < end) {
        unsigned char c = *at;
        if (c < 0x80) {
            at++;
            continue;
        }
        //  RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF
        size_t length = c >= 0xC2 && c <= 0xDF   ? 2
                        : c >= 0xE0 && c <= 0xEF ? 3
                        : c >= 0xF0 && c <= 0xF4 ? 4
                                                 : 0;
        if (!length || (size_t)(end - at) < length)
            return false;
        unsigned char low = 0x80, high = 0xBF;
        if (c == 0xE0)
            low = 0xA0;
        else if (c == 0xED)
            high = 0x9F;
        else if (c == 0xF0)
            low = 0x90;
        else if (c == 0xF4)
            high = 0x8F;
        if (at[1] < low || at[1] > high)
            return false;
        for (size_t i = 2; i < length; i++)
            if (at[i] < 0x80 || at[i] > 0xBF)
                return false;
        at += length;
    }
    return true;
}

ces_frame_error_t
ces_frame_check_room (const char *room, size_t size)
{
    if (size == 0)
        return CES_FRAME_ROOM_EMPTY;
    if (size > CES_ROOM_MAX)
        return CES_FRAME_ROOM_TOO_LONG;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)room[i];
        if (c <= ' ' || c == 0x7f)
            return CES_FRAME_ROOM_BAD_CHAR;
    }
    //  Room IDs are echoed in Text frames, which must be UTF-8
    return ces_frame_utf8_valid (room, size) ? CES_FRAME_OK
                                             : CES_FRAME_ROOM_BAD_CHAR;
}

ces_frame_error_t
ces_frame_check_event_room (const char *room, size_t size)
{
    ces_frame_error_t rc = ces_frame_check_room (room, size);
    if (rc == CES_FRAME_OK && size >= 2 && room[size - 1] == '*')
        rc = CES_FRAME_ROOM_PATTERN;
    return rc;
}

ces_frame_error_t
ces_frame_parse (ces_frame_t *self, const void *data, size_t size)
{
    assert (self);
    const char *bytes = (const char *)data;
    if (size == 0)
        return CES_FRAME_EMPTY;
    size_t after = ces_frame_room_copy (bytes, size, self->room);
    if (!after) {
        //  Why not: a long room-like run with no newline is still "no
        //  newline"
        const char *newline = (const char *)memchr (bytes, '\n', size);
        if (!newline)
            return CES_FRAME_NO_NEWLINE;
        return ces_frame_check_room (bytes, (size_t)(newline - bytes));
    }
    ces_frame_error_t rc = ces_frame_check_event_room (bytes, after - 1);
    if (rc != CES_FRAME_OK)
        return rc;

    const char *payload = bytes + after;
    const char *end = bytes + size;
    while (payload < end && (*payload == '\n' || *payload == '\r'))
        payload++;
    if (end > payload && end[-1] == '\n')
        end--;
    if (end > payload && end[-1] == '\r')
        end--;
    if (payload == end)
        return CES_FRAME_NO_PAYLOAD;
    if ((size_t)(end - payload) > self->max_payload)
        return CES_FRAME_TOO_LARGE;

    self->payload = payload;
    self->payload_size = end - payload;
    return CES_FRAME_OK;
}

size_t
ces_frame_room_copy (const void *data, size_t size, char *room)
{
    assert (data || size == 0);
    assert (room);
    size_t limit = size < CES_ROOM_MAX + 1 ? size : CES_ROOM_MAX + 1;
    const char *bytes = (const char *)data;
    const char *newline =
        limit ? (const char *)memchr (bytes, '\n', limit) : NULL;
    if (!newline || newline == bytes) {
        room[0] = 0;
        return 0;
    }
    size_t room_size = (size_t)(newline - bytes);
    memcpy (room, bytes, room_size);
    room[room_size] = 0;
    return room_size + 1;
}

const char *
ces_frame_room (ces_frame_t *self)
{
    assert (self);
    return self->room;
}

const char *
ces_frame_payload (ces_frame_t *self)
{
    assert (self);
    return self->payload;
}

size_t
ces_frame_payload_size (ces_frame_t *self)
{
    assert (self);
    return self->payload_size;
}

const char *
ces_frame_strerror (ces_frame_error_t code)
{
    assert ((size_t)code < sizeof (s_errors) / sizeof (s_errors[0]));
    return s_errors[code].text;
}

const char *
ces_frame_error_name (ces_frame_error_t code)
{
    assert ((size_t)code < sizeof (s_errors) / sizeof (s_errors[0]));
    return s_errors[code].name;
}

zframe_t *
ces_frame_build (const char *room, const void *payload, size_t size)
{
    assert (room);
    size_t room_size = strlen (room);
    zframe_t *frame = zframe_new (NULL, room_size + 1 + size);
    assert (frame);
    byte *data = zframe_data (frame);
    memcpy (data, room, room_size);
    data[room_size] = '\n';
    if (size)
        memcpy (data + room_size + 1, payload, size);
    return frame;
}

//  --------------------------------------------------------------------------
//  Self test

static ces_frame_error_t
s_parse (ces_frame_t *frame, const char *text)
{
    return ces_frame_parse (frame, text, strlen (text));
}

void
ces_frame_test (bool verbose)
{
    printf (" * ces_frame: ");
    //  @selftest
    ces_frame_t *frame = ces_frame_new (16);
    assert (s_parse (frame, "ITB-1101\n{\"a\":1}") == CES_FRAME_OK);
    assert (streq (ces_frame_room (frame), "ITB-1101"));
    assert (ces_frame_payload_size (frame) == 7);
    assert (memcmp (ces_frame_payload (frame), "{\"a\":1}", 7) == 0);

    //  Trailing newline and extra leading newlines are tolerated
    assert (s_parse (frame, "R\n\n\n{}\n") == CES_FRAME_OK);
    assert (ces_frame_payload_size (frame) == 2);
    assert (s_parse (frame, "R\n{}\r\n") == CES_FRAME_OK);
    assert (ces_frame_payload_size (frame) == 2);

    //  Every malformed kind has its own code and message
    assert (ces_frame_parse (frame, "", 0) == CES_FRAME_EMPTY);
    assert (s_parse (frame, "ITB-1101{}") == CES_FRAME_NO_NEWLINE);
    assert (s_parse (frame, "\n{}") == CES_FRAME_ROOM_EMPTY);
    assert (s_parse (frame, "IT B\n{}") == CES_FRAME_ROOM_BAD_CHAR);
    assert (s_parse (frame, "IT\tB\n{}") == CES_FRAME_ROOM_BAD_CHAR);
    assert (s_parse (frame, "IT\xff\xc0\n{}") == CES_FRAME_ROOM_BAD_CHAR);
    assert (s_parse (frame, "RAUM-\xc3\xa4\n{}") == CES_FRAME_OK);
    //  UTF-8: overlong, surrogate, past U+10FFFF, truncated; and good ones
    assert (!ces_frame_utf8_valid ("\xc0\xaf", 2));
    assert (!ces_frame_utf8_valid ("\xed\xa0\x80", 3));
    assert (!ces_frame_utf8_valid ("\xf4\x90\x80\x80", 4));
    assert (!ces_frame_utf8_valid ("\xe2\x82", 2));
    assert (ces_frame_utf8_valid ("\xe2\x82\xac \xf0\x9f\x98\x80", 8));
    assert (s_parse (frame, "R\n\n\n") == CES_FRAME_NO_PAYLOAD);
    assert (s_parse (frame, "R\n{\"aaaaaaaaaaaaaaaa\":1}") ==
            CES_FRAME_TOO_LARGE);
    char room[CES_ROOM_MAX + 2];
    memset (room, 'x', sizeof (room));
    room[CES_ROOM_MAX] = '\n';
    room[CES_ROOM_MAX + 1] = '{';
    assert (ces_frame_parse (frame, room, sizeof (room)) == CES_FRAME_OK);
    room[CES_ROOM_MAX] = 'x';
    room[CES_ROOM_MAX + 1] = '\n';
    assert (ces_frame_parse (frame, room, sizeof (room)) ==
            CES_FRAME_ROOM_TOO_LONG);
    //  A pattern is not a room an event can go to; "*" and "A*B" are
    assert (s_parse (frame, "ITB-*\n{}") == CES_FRAME_ROOM_PATTERN);
    assert (s_parse (frame, "**\n{}") == CES_FRAME_ROOM_PATTERN);
    assert (s_parse (frame, "*\n{}") == CES_FRAME_OK);
    assert (s_parse (frame, "A*B\n{}") == CES_FRAME_OK);
    assert (ces_frame_check_room ("ITB-*", 5) == CES_FRAME_OK);
    assert (ces_frame_check_event_room ("ITB-*", 5) == CES_FRAME_ROOM_PATTERN);
    for (int code = CES_FRAME_EMPTY; code <= CES_FRAME_ROOM_PATTERN; code++) {
        assert (strlen (ces_frame_strerror ((ces_frame_error_t)code)) > 10);
        assert (!streq (ces_frame_error_name ((ces_frame_error_t)code), "ok"));
    }

    //  Room copy: the room line of a checked message, and where it ends
    char copied[CES_ROOM_MAX + 1];
    assert (ces_frame_room_copy ("ITB-1101\n{}", 11, copied) == 9);
    assert (streq (copied, "ITB-1101"));
    assert (ces_frame_room_copy ("R\n", 2, copied) == 2);
    assert (streq (copied, "R"));
    assert (ces_frame_room_copy ("\n{}", 3, copied) == 0);
    assert (ces_frame_room_copy ("R{}", 3, copied) == 0);
    assert (streq (copied, ""));
    assert (ces_frame_room_copy (NULL, 0, copied) == 0);
    memset (room, 'x', sizeof (room));
    room[CES_ROOM_MAX] = '\n';
    assert (ces_frame_room_copy (room, sizeof (room), copied) ==
            CES_ROOM_MAX + 1);
    assert (strlen (copied) == CES_ROOM_MAX);
    room[CES_ROOM_MAX] = 'x';
    room[CES_ROOM_MAX + 1] = '\n';
    assert (ces_frame_room_copy (room, sizeof (room), copied) == 0);

    //  Build adds nothing but the one newline
    zframe_t *built = ces_frame_build ("ITB-1101", "{}", 2);
    assert (zframe_size (built) == 11);
    assert (memcmp (zframe_data (built), "ITB-1101\n{}", 11) == 0);
    zframe_destroy (&built);

    ces_frame_destroy (&frame);
    ces_frame_destroy (&frame);
    assert (frame == NULL);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
