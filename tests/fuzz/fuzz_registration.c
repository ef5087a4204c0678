/*  Fuzz target: a messenger's registration Text message, parsed as the
    edge parses it. A registration that is taken names only valid rooms
    (or "*"), registers at least one, and survives being written out and
    parsed again unchanged; one that is refused says why.
    Built with libFuzzer (make fuzz) or with fuzz_main.c (ctest). */
#include "ces.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_check_taken (ces_registration_t *registration)
{
    zlist_t *rooms = ces_registration_rooms (registration);
    if (ces_registration_create (registration) && zlist_size (rooms) == 0)
        abort ();
    cJSON *again = cJSON_CreateObject ();
    cJSON *list = cJSON_AddArrayToObject (again, "rooms");
    for (const char *room = (const char *)zlist_first (rooms); room;
         room = (const char *)zlist_next (rooms)) {
        if (strcmp (room, "*") != 0 &&
            ces_frame_check_room (room, strlen (room)) != CES_FRAME_OK)
            abort ();
        cJSON_AddItemToArray (list, cJSON_CreateString (room));
    }
    cJSON_AddBoolToObject (again, "create",
                           ces_registration_create (registration));
    char *text = cJSON_PrintUnformatted (again);
    cJSON_Delete (again);
    size_t count = zlist_size (rooms);
    bool create = ces_registration_create (registration);
    ces_registration_t *reparsed = ces_registration_new ();
    if (ces_registration_parse (reparsed, text, strlen (text)) != 0 ||
        ces_registration_create (reparsed) != create ||
        zlist_size (ces_registration_rooms (reparsed)) != count)
        abort ();
    ces_registration_destroy (&reparsed);
    free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ces_registration_t *registration = ces_registration_new ();
    if (ces_registration_parse (registration, (const char *)data, size) == 0)
        s_check_taken (registration);
    else if (!ces_registration_error (registration))
        abort ();
    ces_registration_destroy (&registration);
    return 0;
}
