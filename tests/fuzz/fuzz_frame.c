/*  Fuzz target: the wire frame codec and the event check, on any bytes.
    Built with libFuzzer (make fuzz) or with fuzz_main.c (ctest). */
#include "ces.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ces_frame_t *frame = ces_frame_new (4096);
    ces_event_t *event = ces_event_new ();
    if (ces_frame_parse (frame, data, size) == CES_FRAME_OK) {
        //  The views must stay inside the input
        const char *payload = ces_frame_payload (frame);
        size_t payload_size = ces_frame_payload_size (frame);
        if (payload < (const char *)data ||
            payload + payload_size > (const char *)data + size ||
            strlen (ces_frame_room (frame)) > CES_ROOM_MAX)
            abort ();
        if (ces_event_parse (event, payload, payload_size) == 0)
            (void)ces_event_affected_room (event);
    }
    //  Differential: what the strict scan accepts, cJSON parses as an
    //  object (cJSON is the more lenient of the two)
    if (ces_event_check (event, (const char *)data, size) == 0 &&
        ces_event_parse (event, (const char *)data, size) != 0)
        abort ();
    ces_event_destroy (&event);
    ces_frame_destroy (&frame);
    return 0;
}
