/*  Fuzz target: the body of POST /event and POST /send, as the edge takes
    it: parsed as a JSON event, routed by affected-room.roomID, framed.
    Built with libFuzzer (make fuzz) or with fuzz_main.c (ctest). */
#include "ces.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ces_event_t *event = ces_event_new ();
    if (ces_event_parse (event, (const char *)data, size) == 0) {
        const char *room = ces_event_affected_room (event);
        if (room &&
            ces_frame_check_room (room, strlen (room)) == CES_FRAME_OK) {
            //  The frame the edge forwards: the room, then the body as it
            //  came, and it parses back to the same room and body
            zframe_t *frame = ces_frame_build (room, (const char *)data, size);
            ces_frame_t *parsed = ces_frame_new (size + CES_ROOM_MAX + 2);
            if (ces_frame_parse (parsed, zframe_data (frame),
                                 zframe_size (frame)) == CES_FRAME_OK &&
                strcmp (ces_frame_room (parsed), room) != 0)
                abort ();
            ces_frame_destroy (&parsed);
            zframe_destroy (&frame);
        }
    } else if (!ces_event_error (event))
        abort (); //  a refusal always says why
    ces_event_destroy (&event);
    return 0;
}
