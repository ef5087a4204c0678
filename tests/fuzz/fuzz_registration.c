/*  Fuzz target: a messenger's registration Text message, parsed as the
    edge parses it, for a version 1 and a version 2 (ces.v2) client. A
    registration that is taken names only valid rooms (or "*"), registers
    at least one, and survives being written out and parsed again
    unchanged; one that is refused says why. A version 2 registration's
    state and since, when taken, are valid JSON naming only its rooms.
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

//  What a version 2 registration asked beside its rooms: JSON with state a
//  bool and since naming only rooms it registers, each {epoch, seq}
static void
s_check_recall (ces_registration_t *registration)
{
    const char *recall = ces_registration_recall (registration);
    if (!recall)
        return;
    cJSON *root = cJSON_Parse (recall);
    if (!cJSON_IsBool (cJSON_GetObjectItem (root, "state")))
        abort ();
    cJSON *position;
    cJSON_ArrayForEach (position, cJSON_GetObjectItem (root, "since"))
    {
        bool named = false;
        zlist_t *rooms = ces_registration_rooms (registration);
        for (const char *room = (const char *)zlist_first (rooms); room;
             room = (const char *)zlist_next (rooms))
            named |= strcmp (room, position->string) == 0;
        if (!named || !ces_registration_create (registration) ||
            !cJSON_IsString (cJSON_GetObjectItem (position, "epoch")) ||
            !cJSON_IsNumber (cJSON_GetObjectItem (position, "seq")))
            abort ();
    }
    cJSON_Delete (root);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ces_registration_t *registration = ces_registration_new ();
    for (int version = 1; version <= 2; version++) {
        ces_registration_set_v2 (registration, version == 2);
        if (ces_registration_parse (registration, (const char *)data, size) ==
            0) {
            s_check_taken (registration);
            s_check_recall (registration);
        } else if (!ces_registration_error (registration))
            abort ();
    }
    ces_registration_destroy (&registration);
    return 0;
}
