/*  =========================================================================
    ces_event - v2 event check
    =========================================================================
*/
#include "ces_classes.h"

struct _ces_event_t {
    cJSON *root;
    const char *error;
};

ces_event_t *
ces_event_new (void)
{
    ces_event_t *self = (ces_event_t *)zmalloc (sizeof (ces_event_t));
    assert (self);
    return self;
}

void
ces_event_destroy (ces_event_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        ces_event_t *self = *self_p;
        cJSON_Delete (self->root);
        freen (self);
        *self_p = NULL;
    }
}

int
ces_event_parse (ces_event_t *self, const char *json, size_t size)
{
    assert (self);
    cJSON_Delete (self->root);
    self->root = NULL;
    self->error = NULL;
    if (size == 0) {
        self->error = "event is empty; send one JSON object";
        return -2;
    }
    self->root = cJSON_ParseWithLength (json, size);
    if (!self->root) {
        self->error = "event is not valid JSON";
        return -2;
    }
    if (!cJSON_IsObject (self->root)) {
        cJSON_Delete (self->root);
        self->root = NULL;
        self->error = "event is JSON but not an object; send {...}";
        return -2;
    }
    return 0;
}

const char *
ces_event_affected_room (ces_event_t *self)
{
    assert (self);
    if (!self->root)
        return NULL;
    cJSON *affected =
        cJSON_GetObjectItemCaseSensitive (self->root, "affected-room");
    cJSON *room = cJSON_GetObjectItemCaseSensitive (affected, "roomID");
    return cJSON_IsString (room) ? room->valuestring : NULL;
}

const char *
ces_event_error (ces_event_t *self)
{
    assert (self);
    return self->error ? self->error : "event is well formed";
}

//  --------------------------------------------------------------------------
//  Self test

void
ces_event_test (bool verbose)
{
    printf (" * ces_event: ");
    //  @selftest
    ces_event_t *event = ces_event_new ();
    const char *good =
        "{\"generating-system\":\"ITB-1101-CP1\","
        "\"affected-room\":{\"buildingID\":\"ITB\",\"roomID\":\"ITB-1101\"},"
        "\"key\":\"power\",\"value\":\"on\",\"event-tags\":null}\n";
    assert (ces_event_parse (event, good, strlen (good)) == 0);
    assert (streq (ces_event_affected_room (event), "ITB-1101"));

    assert (ces_event_parse (event, "{}", 2) == 0);
    assert (ces_event_affected_room (event) == NULL);
    const char *numeric = "{\"affected-room\":{\"roomID\":7}}";
    assert (ces_event_parse (event, numeric, strlen (numeric)) == 0);
    assert (ces_event_affected_room (event) == NULL);

    assert (ces_event_parse (event, "{\"a\":", 5) == -2);
    assert (strstr (ces_event_error (event), "not valid JSON"));
    assert (ces_event_affected_room (event) == NULL);
    assert (ces_event_parse (event, "[1,2]", 5) == -2);
    assert (strstr (ces_event_error (event), "not an object"));
    assert (ces_event_parse (event, "", 0) == -2);
    //  Length is respected: the bytes after size are not read
    assert (ces_event_parse (event, "{}garbage", 2) == 0);

    ces_event_destroy (&event);
    ces_event_destroy (&event);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
