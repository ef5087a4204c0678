/*  =========================================================================
    ces_websocket - RFC 6455 as a client's frames reach the edge
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_websocket_t {
    size_t max_message;
    byte *message; //  reassembly of a fragmented message
    size_t message_size;
    size_t message_capacity;
    int message_opcode;
    bool fragmented; //  a message has started and not finished
    bool discarding; //  the message grew past max-message
    //  The verdict's details
    int opcode;
    const byte *data;
    size_t size;
    int close_code;
    const char *reason;
};

ces_websocket_t *
ces_websocket_new (size_t max_message)
{
    ces_websocket_t *self = (ces_websocket_t *)zmalloc (sizeof (*self));
    assert (self);
    self->max_message = max_message;
    return self;
}

void
ces_websocket_destroy (ces_websocket_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_websocket_t *self = *self_p;
        freen (self->message);
        freen (self);
        *self_p = NULL;
    }
}

static bool
s_close_code_valid (int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

static ces_websocket_verdict_t
s_violation (ces_websocket_t *self, int code, const char *reason)
{
    self->close_code = code;
    self->reason = reason;
    return CES_WS_VIOLATION;
}

//  RFC 6455 §5 and §7.4: what a client may not send in one frame
static const char *
s_frame_violation (ces_websocket_t *self, int bits, const byte *data,
                   size_t size)
{
    int opcode = bits & 0x0F;
    bool fin = (bits & 0x80) != 0;
    bool control = opcode >= CES_WS_CLOSE;
    if (bits & 0x70)
        return "RSV bits set with no extension negotiated";
    if ((opcode > CES_WS_BINARY && opcode < CES_WS_CLOSE) || opcode > 0xA)
        return "reserved opcode";
    if (control && !fin)
        return "fragmented control frame";
    if (control && size > 125)
        return "control frame longer than 125 bytes";
    if (opcode == CES_WS_CONTINUATION && !self->fragmented)
        return "continuation frame with no message started";
    if (!control && opcode != CES_WS_CONTINUATION && self->fragmented)
        return "new message inside a fragmented one";
    if (opcode == CES_WS_CLOSE && size == 1)
        return "Close payload of 1 byte";
    if (opcode == CES_WS_CLOSE && size >= 2 &&
        !s_close_code_valid ((data[0] << 8) | data[1]))
        return "invalid close code";
    return NULL;
}

//  A whole message: Text must be UTF-8 (1007 otherwise)
static ces_websocket_verdict_t
s_message (ces_websocket_t *self, int opcode, const byte *data, size_t size)
{
    if (opcode == CES_WS_TEXT && !ces_frame_utf8_valid (data, size))
        return s_violation (self, 1007, "Text message is not UTF-8");
    self->opcode = opcode;
    self->data = data;
    self->size = size;
    return CES_WS_MESSAGE;
}

static ces_websocket_verdict_t
s_too_large (ces_websocket_t *self)
{
    self->discarding = true;
    self->message_size = 0;
    return CES_WS_TOO_LARGE;
}

ces_websocket_verdict_t
ces_websocket_take (ces_websocket_t *self, int bits, const byte *data,
                    size_t size)
{
    assert (self);
    int opcode = bits & 0x0F;
    bool fin = (bits & 0x80) != 0;
    const char *forbidden = s_frame_violation (self, bits, data, size);
    if (forbidden)
        return s_violation (self, 1002, forbidden);
    if (opcode >= CES_WS_CLOSE) {
        if (opcode == CES_WS_CLOSE && size > 2 &&
            !ces_frame_utf8_valid (data + 2, size - 2))
            return s_violation (self, 1007, "Close reason is not UTF-8");
        self->opcode = opcode;
        self->data = data;
        self->size = size;
        return CES_WS_CONTROL;
    }
    if (opcode != CES_WS_CONTINUATION) {
        self->message_size = 0;
        self->message_opcode = opcode;
        self->discarding = false;
        if (fin)
            return size > self->max_message
                       ? CES_WS_TOO_LARGE
                       : s_message (self, opcode, data, size);
        self->fragmented = true;
    } else if (fin)
        self->fragmented = false;
    if (self->discarding)
        return CES_WS_PART;
    if (self->message_size + size > self->max_message)
        return s_too_large (self);
    if (self->message_size + size > self->message_capacity) {
        size_t capacity = (self->message_size + size) * 2;
        if (capacity > self->max_message)
            capacity = self->max_message;
        byte *grown = (byte *)realloc (self->message, capacity + 1);
        assert (grown);
        self->message = grown;
        self->message_capacity = capacity;
    }
    memcpy (self->message + self->message_size, data, size);
    self->message_size += size;
    if (!fin)
        return CES_WS_PART;
    size_t complete = self->message_size;
    self->message_size = 0;
    return s_message (self, self->message_opcode, self->message, complete);
}

int
ces_websocket_opcode (ces_websocket_t *self)
{
    assert (self);
    return self->opcode;
}

const byte *
ces_websocket_data (ces_websocket_t *self)
{
    assert (self);
    return self->data;
}

size_t
ces_websocket_size (ces_websocket_t *self)
{
    assert (self);
    return self->size;
}

int
ces_websocket_close_code (ces_websocket_t *self)
{
    assert (self);
    return self->close_code;
}

const char *
ces_websocket_reason (ces_websocket_t *self)
{
    assert (self);
    return self->reason;
}

size_t
ces_websocket_header (byte *header, int opcode, size_t size)
{
    header[0] = (byte)(0x80 | opcode);
    if (size < 126) {
        header[1] = (byte)size;
        return 2;
    }
    if (size <= 0xFFFF) {
        header[1] = 126;
        header[2] = (byte)(size >> 8);
        header[3] = (byte)size;
        return 4;
    }
    header[1] = 127;
    for (int i = 0; i < 8; i++)
        header[2 + i] = (byte)((uint64_t)size >> (56 - 8 * i));
    return 10;
}

//  --------------------------------------------------------------------------
//  Self test

#define FIN 0x80

void
ces_websocket_test (bool verbose)
{
    (void)verbose;
    printf (" * ces_websocket: ");
    //  @selftest
    ces_websocket_t *ws = ces_websocket_new (10);
    const byte *hello = (const byte *)"hello";
    assert (ces_websocket_take (ws, FIN | CES_WS_BINARY, hello, 5) ==
            CES_WS_MESSAGE);
    assert (ces_websocket_opcode (ws) == CES_WS_BINARY);
    assert (ces_websocket_size (ws) == 5);

    //  Fragments are put together
    assert (ces_websocket_take (ws, CES_WS_TEXT, hello, 3) == CES_WS_PART);
    assert (ces_websocket_take (ws, CES_WS_PING, hello, 2) == CES_WS_VIOLATION);
    assert (ces_websocket_take (ws, FIN | CES_WS_PING, hello, 2) ==
            CES_WS_CONTROL);
    assert (ces_websocket_take (ws, CES_WS_CONTINUATION, hello + 3, 1) ==
            CES_WS_PART);
    assert (ces_websocket_take (ws, FIN | CES_WS_CONTINUATION, hello + 4, 1) ==
            CES_WS_MESSAGE);
    assert (ces_websocket_opcode (ws) == CES_WS_TEXT);
    assert (ces_websocket_size (ws) == 5);
    assert (memcmp (ces_websocket_data (ws), "hello", 5) == 0);

    //  Too large, whole or in pieces; the connection goes on
    assert (ces_websocket_take (ws, FIN | CES_WS_BINARY,
                                (const byte *)"0123456789A",
                                11) == CES_WS_TOO_LARGE);
    assert (ces_websocket_take (ws, CES_WS_BINARY, hello, 5) == CES_WS_PART);
    assert (ces_websocket_take (ws, CES_WS_CONTINUATION, hello, 5) ==
            CES_WS_PART);
    assert (ces_websocket_take (ws, CES_WS_CONTINUATION, hello, 5) ==
            CES_WS_TOO_LARGE);
    assert (ces_websocket_take (ws, FIN | CES_WS_CONTINUATION, hello, 5) ==
            CES_WS_PART);
    assert (ces_websocket_take (ws, FIN | CES_WS_BINARY, hello, 5) ==
            CES_WS_MESSAGE);

    //  What RFC 6455 forbids
    assert (ces_websocket_take (ws, FIN | 0x40 | CES_WS_BINARY, hello, 5) ==
            CES_WS_VIOLATION);
    assert (ces_websocket_close_code (ws) == 1002);
    assert (ces_websocket_take (ws, FIN | 0x3, hello, 5) == CES_WS_VIOLATION);
    assert (ces_websocket_take (ws, FIN | CES_WS_CONTINUATION, hello, 5) ==
            CES_WS_VIOLATION);
    assert (streq (ces_websocket_reason (ws),
                   "continuation frame with no message started"));
    const byte bad_code[] = {0x03, 0xED}; //  1005 may not be sent
    assert (ces_websocket_take (ws, FIN | CES_WS_CLOSE, bad_code, 2) ==
            CES_WS_VIOLATION);
    const byte not_utf8[] = {0xC3, 0x28};
    assert (ces_websocket_take (ws, FIN | CES_WS_TEXT, not_utf8, 2) ==
            CES_WS_VIOLATION);
    assert (ces_websocket_close_code (ws) == 1007);
    const byte close_ok[] = {0x03, 0xE8, 'o', 'k'};
    assert (ces_websocket_take (ws, FIN | CES_WS_CLOSE, close_ok, 4) ==
            CES_WS_CONTROL);
    assert (ces_websocket_opcode (ws) == CES_WS_CLOSE);
    ces_websocket_destroy (&ws);
    assert (ws == NULL);

    byte header[CES_WS_HEADER_MAX];
    assert (ces_websocket_header (header, CES_WS_BINARY, 5) == 2);
    assert (header[0] == 0x82 && header[1] == 5);
    assert (ces_websocket_header (header, CES_WS_TEXT, 300) == 4);
    assert (header[1] == 126 && header[2] == 1 && header[3] == 44);
    assert (ces_websocket_header (header, CES_WS_BINARY, 70000) == 10);
    //  @end
    printf ("OK\n");
}
