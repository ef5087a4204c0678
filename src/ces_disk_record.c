/*  =========================================================================
    ces_disk_record - the keys and values of ces_disk's records
    =========================================================================
*/
#include "ces_classes.h"

//  Rooms are 1 to CES_ROOM_MAX octets, the store never passes another
size_t
ces_disk_record_room_prefix (const char *room)
{
    assert (room);
    size_t size = strlen (room);
    assert (size >= 1 && size <= CES_ROOM_MAX);
    return size + 1;
}

size_t
ces_disk_record_key (byte *key, size_t key_max, const char *first,
                     const char *second, const char *third)
{
    assert (key_max <= CES_DISK_RECORD_KEY_MAX);
    const char *parts[] = {first, second, third};
    size_t size = 0;
    for (int index = 0; index < 3 && parts[index]; index++) {
        size_t part = strlen (parts[index]) + 1;
        if (size + part > key_max)
            return 0;
        memcpy (key + size, parts[index], part);
        size += part;
    }
    return size;
}

size_t
ces_disk_record_event_key (byte *key, const char *room, uint64_t seq)
{
    size_t prefix = ces_disk_record_room_prefix (room);
    memcpy (key, room, prefix);
    ces_position_number_put (key + prefix, seq);
    return prefix + 8;
}

//  Is this text of size octets one string and its NUL, and nothing else?
static bool
s_is_string (const byte *text, size_t size)
{
    return size > 0 && text[size - 1] == 0 &&
           strlen ((const char *)text) == size - 1;
}

bool
ces_disk_record_is_room (const byte *key, size_t key_size, const byte *value,
                         size_t value_size)
{
    return key_size >= 2 && key_size <= CES_ROOM_MAX + 1 &&
           s_is_string (key, key_size) && value_size > 8 &&
           s_is_string (value + 8, value_size - 8);
}

//  seq -> time, message
int
ces_disk_record_event (const byte *rest, size_t rest_size, const byte *value,
                       size_t value_size, ces_disk_record_t *record)
{
    if (rest_size != 8 || value_size < 8)
        return -2;
    *record = (ces_disk_record_t){NULL,
                                  NULL,
                                  ces_position_number_get (rest),
                                  (int64_t)ces_position_number_get (value),
                                  value + 8,
                                  value_size - 8};
    return 0;
}

//  device NUL key NUL -> seq, time, message
int
ces_disk_record_state (const byte *rest, size_t rest_size, const byte *value,
                       size_t value_size, ces_disk_record_t *record)
{
    const byte *nul = (const byte *)memchr (rest, 0, rest_size);
    size_t device_size = nul ? (size_t)(nul - rest) + 1 : 0;
    if (!nul || !s_is_string (nul + 1, rest_size - device_size) ||
        value_size < 16)
        return -2;
    *record = (ces_disk_record_t){(const char *)rest,
                                  (const char *)nul + 1,
                                  ces_position_number_get (value),
                                  (int64_t)ces_position_number_get (value + 8),
                                  value + 16,
                                  value_size - 16};
    return 0;
}

//  device NUL -> heard
int
ces_disk_record_device (const byte *rest, size_t rest_size, const byte *value,
                        size_t value_size, ces_disk_record_t *record)
{
    if (!s_is_string (rest, rest_size) || value_size != 8)
        return -2;
    *record = (ces_disk_record_t){(const char *)rest,
                                  NULL,
                                  0,
                                  (int64_t)ces_position_number_get (value),
                                  NULL,
                                  0};
    return 0;
}

//  --------------------------------------------------------------------------
//  Self test

void
ces_disk_record_test (bool verbose)
{
    printf (" * ces_disk_record: ");
    //  @selftest
    //  Numbers: 8 octets, big-endian, so that keys sort as numbers do
    byte number[8];
    ces_position_number_put (number, 0x0102030405060708ULL);
    assert (memcmp (number, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
    assert (ces_position_number_get (number) == 0x0102030405060708ULL);
    ces_position_number_put (number, (uint64_t)-5);
    assert ((int64_t)ces_position_number_get (number) == -5);

    //  Keys: each part with its NUL; an event's, the room and its seq
    byte key[CES_DISK_RECORD_KEY_MAX];
    assert (ces_disk_record_room_prefix ("room") == 5);
    assert (ces_disk_record_key (key, sizeof key, "room", "dev", "pos") == 13);
    assert (memcmp (key, "room\0dev\0pos\0", 13) == 0);
    assert (ces_disk_record_key (key, sizeof key, "room", "dev", NULL) == 9);
    assert (ces_disk_record_key (key, 8, "room", "dev", NULL) == 0);
    char longer[300];
    memset (longer, 'k', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    assert (ces_disk_record_key (key, sizeof key, "r", longer, longer) == 0);
    assert (ces_disk_record_key (key, sizeof key, "r", longer, "short") ==
            2 + 300 + 6);
    byte first[CES_ROOM_MAX + 9], second[CES_ROOM_MAX + 9];
    assert (ces_disk_record_event_key (first, "room", 255) == 13);
    assert (ces_disk_record_event_key (second, "room", 256) == 13);
    assert (memcmp (first, "room\0", 5) == 0);
    assert (memcmp (first, second, 13) < 0); //  in sequence order
    //  ... and a room's records before those of a room its ID begins
    assert (ces_disk_record_event_key (second, "room2", 1) == 14);
    assert (memcmp (first, second, 13) < 0);

    //  Rooms: ID with its NUL -> seq, epoch with its NUL
    byte value[40];
    ces_position_number_put (value, 7);
    memcpy (value + 8, "e1", 3);
    assert (ces_disk_record_is_room ((const byte *)"room", 5, value, 11));
    assert (!ces_disk_record_is_room ((const byte *)"room", 4, value, 11));
    assert (!ces_disk_record_is_room ((const byte *)"ro\0m", 5, value, 11));
    assert (!ces_disk_record_is_room ((const byte *)"", 1, value, 11));
    assert (!ces_disk_record_is_room ((const byte *)"room", 5, value, 10));
    assert (!ces_disk_record_is_room ((const byte *)"room", 5, value, 8));

    //  Events: seq -> time, message
    ces_disk_record_t record;
    byte rest[16];
    ces_position_number_put (rest, 65536);
    ces_position_number_put (value, (uint64_t)-5);
    memcpy (value + 8, "a\0b", 3);
    assert (ces_disk_record_event (rest, 8, value, 11, &record) == 0);
    assert (record.seq == 65536 && record.time == -5 && record.size == 3);
    assert (memcmp (record.message, "a\0b", 3) == 0);
    assert (ces_disk_record_event (rest, 8, value, 8, &record) == 0);
    assert (record.size == 0);
    assert (ces_disk_record_event (rest, 7, value, 11, &record) == -2);
    assert (ces_disk_record_event (rest, 8, value, 7, &record) == -2);

    //  State: device NUL key NUL -> seq, time, message
    ces_position_number_put (value, 3);
    ces_position_number_put (value + 8, 11);
    memcpy (value + 16, "red", 3);
    const byte *address = (const byte *)"dev1\0color";
    assert (ces_disk_record_state (address, 11, value, 19, &record) == 0);
    assert (streq (record.device, "dev1") && streq (record.key, "color"));
    assert (record.seq == 3 && record.time == 11 && record.size == 3);
    assert (memcmp (record.message, "red", 3) == 0);
    assert (ces_disk_record_state (address, 10, value, 19, &record) == -2);
    assert (ces_disk_record_state (address, 4, value, 19, &record) == -2);
    assert (ces_disk_record_state (address, 11, value, 15, &record) == -2);
    assert (ces_disk_record_state ((const byte *)"a\0b\0c", 6, value, 19,
                                   &record) == -2);

    //  Devices: device NUL -> heard
    ces_position_number_put (value, 1234567890123);
    assert (ces_disk_record_device ((const byte *)"dev2", 5, value, 8,
                                    &record) == 0);
    assert (streq (record.device, "dev2") && record.time == 1234567890123);
    assert (ces_disk_record_device ((const byte *)"dev2", 5, value, 9,
                                    &record) == -2);
    assert (ces_disk_record_device ((const byte *)"dev2", 4, value, 8,
                                    &record) == -2);
    assert (ces_disk_record_device ((const byte *)"d\0v", 4, value, 8,
                                    &record) == -2);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
