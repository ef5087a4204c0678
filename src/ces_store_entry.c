/*  =========================================================================
    ces_store_entry - one event as ces_store keeps it
    =========================================================================
*/
#include "ces_classes.h"

ces_store_entry_t *
ces_store_entry_new (void *stream, uint64_t seq, int64_t time,
                     const byte *message, size_t size)
{
    ces_store_entry_t *entry =
        (ces_store_entry_t *)malloc (sizeof (ces_store_entry_t) + size);
    assert (entry);
    entry->older = entry->newer = NULL;
    entry->stream = stream;
    entry->seq = seq;
    entry->time = time;
    entry->refs = 0;
    entry->in_history = false;
    entry->size = size;
    memcpy (entry->message, message, size);
    return entry;
}

void
ces_store_entry_link (ces_store_entry_t *entry)
{
    assert (entry);
    entry->refs++;
}

void
ces_store_entry_release (ces_store_entry_t *entry)
{
    assert (entry->refs > 0);
    if (--entry->refs == 0)
        free (entry);
}

cJSON *
ces_store_entry_json (const ces_store_entry_t *entry)
{
    cJSON *item = cJSON_CreateObject ();
    cJSON_AddNumberToObject (item, "seq", (double)entry->seq);
    cJSON_AddNumberToObject (item, "time", (double)entry->time);
    const byte *newline =
        (const byte *)memchr (entry->message, '\n', entry->size);
    size_t offset = newline ? (size_t)(newline - entry->message) + 1 : 0;
    cJSON *event = cJSON_ParseWithLength ((const char *)entry->message + offset,
                                          entry->size - offset);
    if (event)
        cJSON_AddItemToObject (item, "event", event);
    else
        cJSON_AddItemToObject (
            item, "payload",
            cJSON_CreateString ((const char *)entry->message + offset));
    return item;
}

//  --------------------------------------------------------------------------
//  Self test

void
ces_store_entry_test (bool verbose)
{
    printf (" * ces_store_entry: ");
    //  @selftest
    //  Kept twice, freed at the last release (valgrind sees a leak or a
    //  double free otherwise)
    const char *text = "R-1\n{\"key\":\"power\",\"value\":1}";
    ces_store_entry_t *entry =
        ces_store_entry_new (NULL, 7, 1000, (const byte *)text, strlen (text));
    assert (entry->seq == 7 && entry->time == 1000 && entry->refs == 0);
    assert (entry->size == strlen (text));
    assert (memcmp (entry->message, text, entry->size) == 0);
    ces_store_entry_link (entry);
    ces_store_entry_link (entry);
    ces_store_entry_release (entry);
    assert (entry->refs == 1);

    //  As JSON: the event after the room, or its text when not JSON
    cJSON *item = ces_store_entry_json (entry);
    assert (cJSON_GetNumberValue (cJSON_GetObjectItem (item, "seq")) == 7);
    assert (cJSON_GetNumberValue (cJSON_GetObjectItem (item, "time")) == 1000);
    cJSON *event = cJSON_GetObjectItem (item, "event");
    assert (streq (cJSON_GetStringValue (cJSON_GetObjectItem (event, "key")),
                   "power"));
    cJSON_Delete (item);
    ces_store_entry_release (entry);

    //  Not JSON: the payload (the message's bytes hold no NUL, so the
    //  string ends with a NUL copied in with it)
    const char bare[] = "R-1\nnot json";
    entry = ces_store_entry_new (NULL, 8, 0, (const byte *)bare, sizeof bare);
    ces_store_entry_link (entry);
    item = ces_store_entry_json (entry);
    assert (streq (cJSON_GetStringValue (cJSON_GetObjectItem (item, "payload")),
                   "not json"));
    cJSON_Delete (item);
    ces_store_entry_release (entry);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
