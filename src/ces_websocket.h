/*  =========================================================================
    ces_websocket - RFC 6455 as a client's frames reach the edge

    civetweb 1.15 hands the data handler one frame at a time, unmasked,
    with its FIN bit and opcode (PLATFORM.md): fragmented messages arrive
    as a first frame without FIN and CONTINUATION frames. This class checks
    each frame against what RFC 6455 forbids a client, reassembles
    fragmented messages up to max-message bytes, and says what the frame
    means for the edge. One per WebSocket, owned by its civetweb worker.

    It also writes the header of a server frame (never masked).
    =========================================================================
*/
#ifndef CES_WEBSOCKET_H_INCLUDED
#define CES_WEBSOCKET_H_INCLUDED

#define CES_WS_CONTINUATION 0x0
#define CES_WS_TEXT         0x1
#define CES_WS_BINARY       0x2
#define CES_WS_CLOSE        0x8
#define CES_WS_PING         0x9
#define CES_WS_PONG         0xA
#define CES_WS_HEADER_MAX   10 //  bytes of a server frame's header, at most

typedef struct _ces_websocket_t ces_websocket_t;

//  What one frame means
typedef enum {
    CES_WS_PART,      //  a piece of a message still coming: nothing to do
    CES_WS_MESSAGE,   //  a whole Text or Binary message: see _message
    CES_WS_TOO_LARGE, //  a message over max-message, discarded (it goes on)
    CES_WS_VIOLATION, //  forbidden: close with _close_code and _reason
    CES_WS_CONTROL    //  Ping, Pong or Close: see _opcode and _message
} ces_websocket_verdict_t;

ces_websocket_t *ces_websocket_new (size_t max_message);
void ces_websocket_destroy (ces_websocket_t **self_p);

//  Takes one frame as civetweb gives it (bits: FIN, RSV and opcode)
ces_websocket_verdict_t ces_websocket_take (ces_websocket_t *self, int bits,
                                            const byte *data, size_t size);

//  After MESSAGE or CONTROL: the opcode and the payload (valid until the
//  next frame is taken)
int ces_websocket_opcode (ces_websocket_t *self);
const byte *ces_websocket_data (ces_websocket_t *self);
size_t ces_websocket_size (ces_websocket_t *self);

//  After VIOLATION: the close code (1002 or 1007) and why
int ces_websocket_close_code (ces_websocket_t *self);
const char *ces_websocket_reason (ces_websocket_t *self);

//  Writes the header of a server frame (FIN set, unmasked) into header
//  (CES_WS_HEADER_MAX bytes); returns its size
size_t ces_websocket_header (byte *header, int opcode, size_t size);

void ces_websocket_test (bool verbose);

#endif
