/*  =========================================================================
    ces_registration - a messenger's registration Text message (SPEC §4)
    =========================================================================
*/
#include "ces_classes.h"

//  {"rooms":[...]} nests two levels; cJSON recurses once per level on a
//  civetweb worker's small stack, so nothing deeper reaches it
#define DEPTH_MAX 4

struct _ces_registration_t {
    bool create;
    bool v2;           //  read state and since
    char *recall;      //  what a v2 registration asked beside its rooms
    zlist_t *rooms;    //  strings, owned
    ces_event_t *scan; //  strict JSON scan before the parse
    const char *error;
};

ces_registration_t *
ces_registration_new (void)
{
    ces_registration_t *self =
        (ces_registration_t *)zmalloc (sizeof (ces_registration_t));
    assert (self);
    self->rooms = zlist_new ();
    assert (self->rooms);
    zlist_autofree (self->rooms);
    self->scan = ces_event_new ();
    ces_event_set_max_depth (self->scan, DEPTH_MAX);
    return self;
}

void
ces_registration_destroy (ces_registration_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_registration_t *self = *self_p;
        zlist_destroy (&self->rooms);
        zstr_free (&self->recall);
        ces_event_destroy (&self->scan);
        freen (self);
        *self_p = NULL;
    }
}

static const char *
s_check (cJSON *root, cJSON *rooms, cJSON *create)
{
    if (!cJSON_IsObject (root))
        return "registration is not a JSON object; send "
               "{\"rooms\":[\"ROOM\"],\"create\":true}";
    if (rooms && !cJSON_IsArray (rooms) && !cJSON_IsNull (rooms))
        return "\"rooms\" must be an array of room IDs";
    if (create && !cJSON_IsBool (create))
        return "\"create\" must be true or false";
    cJSON *list = cJSON_IsArray (rooms) ? rooms : NULL;
    cJSON *room;
    cJSON_ArrayForEach (room, list)
    {
        const char *name = cJSON_GetStringValue (room);
        //  "ITB-*" is a pattern: every room whose ID starts with "ITB-"
        if (name && ces_patterns_is_pattern (name)) {
            const char *problem = ces_patterns_check (name);
            if (problem)
                return problem;
        } else if (!name ||
                   (!streq (name, "*") &&
                    ces_frame_check_room (name, strlen (name)) != CES_FRAME_OK))
            return "a room ID is not a string of 1-128 bytes without "
                   "spaces or control characters";
    }
    if (cJSON_IsTrue (create) && cJSON_GetArraySize (rooms) == 0)
        return "registration with \"create\":true names no rooms";
    return NULL;
}

//  A since position: {"epoch":"E","seq":N}, N a whole number >= 0
static bool
s_position_valid (cJSON *position)
{
    cJSON *epoch = cJSON_GetObjectItemCaseSensitive (position, "epoch");
    cJSON *seq = cJSON_GetObjectItemCaseSensitive (position, "seq");
    return cJSON_IsObject (position) && cJSON_IsString (epoch) &&
           strlen (epoch->valuestring) >= 1 &&
           strlen (epoch->valuestring) <= 64 && cJSON_IsNumber (seq) &&
           seq->valuedouble >= 0 && seq->valuedouble <= 9007199254740991.0 &&
           seq->valuedouble == (double)(uint64_t)seq->valuedouble &&
           cJSON_GetArraySize (position) == 2;
}

static bool
s_names_room (cJSON *rooms, const char *name)
{
    cJSON *room;
    cJSON_ArrayForEach (room, rooms)
    {
        if (streq (cJSON_GetStringValue (room), name))
            return true;
    }
    return false;
}

//  Version 2's fields; NULL when they are fine
static const char *
s_check_v2 (cJSON *root, cJSON *rooms, bool create)
{
    cJSON *state = cJSON_GetObjectItemCaseSensitive (root, "state");
    cJSON *since = cJSON_GetObjectItemCaseSensitive (root, "since");
    if (state && !cJSON_IsBool (state))
        return "\"state\" must be true or false";
    if (since && !cJSON_IsObject (since))
        return "\"since\" must be an object of room -> "
               "{\"epoch\":\"E\",\"seq\":N}";
    if ((cJSON_IsTrue (state) || cJSON_GetArraySize (since)) && !create)
        return "\"state\" and \"since\" need \"create\":true";
    cJSON *position;
    cJSON_ArrayForEach (position, since)
    {
        if (!s_names_room (rooms, position->string))
            return "\"since\" names a room that \"rooms\" does not";
        if (strchr (position->string, '*'))
            return "\"since\" applies to rooms, not to \"*\" or patterns";
        if (!s_position_valid (position))
            return "a \"since\" position is not {\"epoch\":\"E\",\"seq\":N} "
                   "(N a whole number >= 0)";
    }
    return NULL;
}

//  {"state":...,"since":...} of a v2 registration that asked for either
static char *
s_recall (cJSON *root)
{
    cJSON *state = cJSON_GetObjectItemCaseSensitive (root, "state");
    cJSON *since = cJSON_GetObjectItemCaseSensitive (root, "since");
    if (!cJSON_IsTrue (state) && cJSON_GetArraySize (since) == 0)
        return NULL;
    cJSON *recall = cJSON_CreateObject ();
    cJSON_AddBoolToObject (recall, "state", cJSON_IsTrue (state));
    if (cJSON_GetArraySize (since))
        cJSON_AddItemToObject (recall, "since", cJSON_Duplicate (since, true));
    char *text = cJSON_PrintUnformatted (recall);
    cJSON_Delete (recall);
    return text;
}

void
ces_registration_set_v2 (ces_registration_t *self, bool v2)
{
    assert (self);
    self->v2 = v2;
}

const char *
ces_registration_recall (ces_registration_t *self)
{
    assert (self);
    return self->recall;
}

int
ces_registration_parse (ces_registration_t *self, const char *text, size_t size)
{
    assert (self && (text || !size));
    zlist_purge (self->rooms);
    zstr_free (&self->recall);
    self->create = false;
    //  Strict, bounded, and no NUL escapes: cJSON would end a room ID there
    if (ces_event_check (self->scan, text, size) ||
        (size >= 6 && memmem (text, size, "\\u0000", 6))) {
        self->error = "registration is not a JSON object of room IDs; send "
                      "{\"rooms\":[\"ROOM\"],\"create\":true}";
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength (text, size);
    cJSON *rooms = cJSON_GetObjectItemCaseSensitive (root, "rooms");
    cJSON *create = cJSON_GetObjectItemCaseSensitive (root, "create");
    self->error = s_check (root, rooms, create);
    if (!self->error && self->v2)
        self->error = s_check_v2 (root, rooms, cJSON_IsTrue (create));
    if (!self->error && self->v2)
        self->recall = s_recall (root);
    if (!self->error) {
        self->create = cJSON_IsTrue (create);
        cJSON *list = cJSON_IsArray (rooms) ? rooms : NULL;
        cJSON *room;
        cJSON_ArrayForEach (room, list)
            zlist_append (self->rooms, cJSON_GetStringValue (room));
    }
    cJSON_Delete (root);
    return self->error ? -1 : 0;
}

bool
ces_registration_create (ces_registration_t *self)
{
    assert (self);
    return self->create;
}

zlist_t *
ces_registration_rooms (ces_registration_t *self)
{
    assert (self);
    return self->rooms;
}

const char *
ces_registration_error (ces_registration_t *self)
{
    assert (self);
    return self->error;
}

//  --------------------------------------------------------------------------
//  Self-test

static int
s_parse (ces_registration_t *self, const char *text)
{
    return ces_registration_parse (self, text, strlen (text));
}

void
ces_registration_test (bool verbose)
{
    (void)verbose;
    printf (" * ces_registration: ");
    ces_registration_t *self = ces_registration_new ();
    assert (s_parse (self,
                     "{\"rooms\":[\"ITB-1101\",\"*\"],\"create\":true}") == 0);
    assert (ces_registration_create (self));
    assert (zlist_size (ces_registration_rooms (self)) == 2);
    assert (streq ((char *)zlist_first (ces_registration_rooms (self)),
                   "ITB-1101"));
    //  create missing or false: unregister; no rooms: all of them
    assert (s_parse (self, "{\"rooms\":[\"A\"]}") == 0);
    assert (!ces_registration_create (self));
    assert (s_parse (self, "{\"create\":false}") == 0);
    assert (zlist_size (ces_registration_rooms (self)) == 0);
    assert (s_parse (self, "{\"rooms\":null,\"create\":false}") == 0);
    assert (s_parse (self, "{\"rooms\":[],\"create\":false}") == 0);
    //  Refusals, each with its reason
    assert (s_parse (self, "[\"A\"]") == -1);
    assert (strstr (ces_registration_error (self), "not a JSON object"));
    assert (ces_registration_parse (self, NULL, 0) == -1);
    assert (s_parse (self, "{\"rooms\":\"A\",\"create\":true}") == -1);
    assert (strstr (ces_registration_error (self), "must be an array"));
    assert (s_parse (self, "{\"rooms\":[\"A\"],\"create\":1}") == -1);
    assert (strstr (ces_registration_error (self), "true or false"));
    assert (s_parse (self, "{\"rooms\":[\"A B\"],\"create\":true}") == -1);
    assert (strstr (ces_registration_error (self), "room ID"));
    assert (s_parse (self, "{\"rooms\":[\"\"],\"create\":true}") == -1);
    assert (s_parse (self, "{\"rooms\":[7],\"create\":true}") == -1);
    assert (s_parse (self, "{\"rooms\":[],\"create\":true}") == -1);
    assert (strstr (ces_registration_error (self), "names no rooms"));
    //  Patterns: a prefix and one "*" at its end; each fault its own error,
    //  and the whole registration is refused
    assert (s_parse (self, "{\"rooms\":[\"ITB-*\",\"A*B\"],\"create\":true}") ==
            0);
    assert (zlist_size (ces_registration_rooms (self)) == 2);
    assert (s_parse (self, "{\"rooms\":[\"ITB-*\"]}") == 0);
    const char *errors[4];
    const char *bad_patterns[] = {"**", "A*B*", "A *", "*A*"};
    for (int i = 0; i < 4; i++) {
        char text[64];
        snprintf (text, sizeof text,
                  "{\"rooms\":[\"R\",\"%s\"],\"create\":true}",
                  bad_patterns[i]);
        assert (s_parse (self, text) == -1);
        errors[i] = ces_registration_error (self);
        assert (strstr (errors[i], "room pattern"));
        assert (zlist_size (ces_registration_rooms (self)) == 0);
    }
    assert (errors[0] == errors[1] && errors[1] == errors[3]);
    assert (errors[2] != errors[0]);
    char long_pattern[CES_ROOM_MAX + 40];
    snprintf (long_pattern, sizeof long_pattern,
              "{\"rooms\":[\"%0*d*\"],\"create\":true}", CES_ROOM_MAX, 0);
    assert (s_parse (self, long_pattern) == -1);
    assert (strstr (ces_registration_error (self), "longer than 128"));
    //  Nothing after the object, no NUL in a room, nothing deep
    assert (s_parse (self, "{\"rooms\":[\"A\"],\"create\":true} more") == -1);
    assert (s_parse (self, "{\"rooms\":[\"a\\u0000b\"],\"create\":true}") ==
            -1);
    char deep[2100];
    memset (deep, '[', 2000);
    deep[2000] = 0;
    assert (s_parse (self, deep) == -1);
    assert (strstr (ces_registration_error (self), "not a JSON object"));
    assert (zlist_size (ces_registration_rooms (self)) == 0);
    char long_room[CES_ROOM_MAX + 40];
    snprintf (long_room, sizeof long_room,
              "{\"rooms\":[\"%0*d\"],\"create\":true}", CES_ROOM_MAX + 1, 0);
    assert (s_parse (self, long_room) == -1);
    //  Version 2: state and since, each malformed its own way
    const char *recalling =
        "{\"rooms\":[\"A\",\"B\"],\"create\":true,\"state\":true,"
        "\"since\":{\"A\":{\"epoch\":\"e1\",\"seq\":41}}}";
    assert (s_parse (self, recalling) == 0);
    assert (ces_registration_recall (self) == NULL); //  v1: ignored
    ces_registration_set_v2 (self, true);
    assert (s_parse (self, recalling) == 0);
    assert (streq (ces_registration_recall (self),
                   "{\"state\":true,\"since\":{\"A\":{\"epoch\":\"e1\","
                   "\"seq\":41}}}"));
    assert (s_parse (self, "{\"rooms\":[\"A\"],\"create\":true}") == 0);
    assert (ces_registration_recall (self) == NULL);
    const char *bad[] = {
        "{\"rooms\":[\"A\"],\"create\":true,\"state\":1}",
        "{\"rooms\":[\"A\"],\"create\":true,\"since\":[]}",
        "{\"rooms\":[\"A\"],\"state\":true}",
        "{\"rooms\":[\"A\"],\"create\":true,\"since\":{\"B\":{\"epoch\":"
        "\"e\",\"seq\":1}}}",
        "{\"rooms\":[\"*\"],\"create\":true,\"since\":{\"*\":{\"epoch\":"
        "\"e\",\"seq\":1}}}",
        "{\"rooms\":[\"A\"],\"create\":true,\"since\":{\"A\":{\"epoch\":"
        "\"e\",\"seq\":-1}}}",
        "{\"rooms\":[\"A\"],\"create\":true,\"since\":{\"A\":{\"epoch\":"
        "\"e\",\"seq\":1.5}}}",
        "{\"rooms\":[\"A\"],\"create\":true,\"since\":{\"A\":{\"epoch\":"
        "7,\"seq\":1}}}",
        "{\"rooms\":[\"A\"],\"create\":true,\"since\":{\"A\":{\"seq\":1}}}",
        "{\"rooms\":[\"A\"],\"create\":true,\"since\":{\"A\":{\"epoch\":"
        "\"e\",\"seq\":1,\"x\":1}}}",
        "{\"rooms\":[\"A\"],\"create\":true,\"since\":{\"A\":7}}"};
    const char *reasons[] = {
        "\"state\" must", "\"since\" must", "need \"create\"", "names a room",
        "not to \"*\"",   "whole number",   "whole number",    "whole number",
        "whole number",   "whole number",   "whole number"};
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        assert (s_parse (self, bad[index]) == -1);
        assert (strstr (ces_registration_error (self), reasons[index]));
    }
    ces_registration_destroy (&self);
    ces_registration_destroy (&self);
    assert (!self);
    printf ("OK\n");
}
