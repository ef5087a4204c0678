/*  =========================================================================
    ces_position - a place in a room's stream, as it is written down
    =========================================================================
*/
#include "ces_classes.h"

void
ces_position_epoch_text (uint64_t epoch, char *text)
{
    assert (text);
    snprintf (text, CES_POSITION_EPOCH_SIZE, "%016" PRIx64, epoch);
}

bool
ces_position_epoch_parse (const char *text, uint64_t *epoch)
{
    assert (epoch);
    if (!text || strlen (text) != 16)
        return false;
    *epoch = 0;
    for (const char *at = text; *at; at++) {
        int digit = isdigit ((unsigned char)*at) ? *at - '0'
                    : (*at >= 'a' && *at <= 'f') ? *at - 'a' + 10
                                                 : -1;
        if (digit < 0)
            return false;
        *epoch = (*epoch << 4) | (uint64_t)digit;
    }
    return true;
}

uint64_t
ces_position_epoch_of (const char *text)
{
    uint64_t epoch;
    return ces_position_epoch_parse (text, &epoch) ? epoch : 0;
}

void
ces_position_number_put (byte *data, uint64_t number)
{
    assert (data);
    for (int i = 0; i < 8; i++)
        data[i] = (byte)(number >> (56 - 8 * i));
}

uint64_t
ces_position_number_get (const byte *data)
{
    assert (data);
    uint64_t number = 0;
    for (int i = 0; i < 8; i++)
        number = (number << 8) | data[i];
    return number;
}

//  --------------------------------------------------------------------------
//  Self test

void
ces_position_test (bool verbose)
{
    printf (" * ces_position: ");
    //  @selftest
    char text[CES_POSITION_EPOCH_SIZE];
    uint64_t epoch = 0;
    ces_position_epoch_text (0x0123456789abcdefULL, text);
    assert (streq (text, "0123456789abcdef"));
    assert (ces_position_epoch_parse (text, &epoch));
    assert (epoch == 0x0123456789abcdefULL);
    ces_position_epoch_text (1, text);
    assert (streq (text, "0000000000000001"));
    assert (ces_position_epoch_of (text) == 1);
    //  Only what the writer writes: 16 lowercase hex digits
    assert (!ces_position_epoch_parse ("0123456789ABCDEF", &epoch));
    assert (!ces_position_epoch_parse ("123456789abcdef", &epoch));
    assert (!ces_position_epoch_parse ("0123456789abcdef0", &epoch));
    assert (!ces_position_epoch_parse ("0x23456789abcdef", &epoch));
    assert (!ces_position_epoch_parse (NULL, &epoch));
    assert (ces_position_epoch_of (NULL) == 0);
    assert (ces_position_epoch_of ("0") == 0);
    assert (ces_position_epoch_of ("ffffffffffffffff") == UINT64_MAX);

    byte data[9] = {0};
    ces_position_number_put (data, 0x0102030405060708ULL);
    assert (data[0] == 1 && data[7] == 8 && data[8] == 0);
    assert (ces_position_number_get (data) == 0x0102030405060708ULL);
    ces_position_number_put (data, UINT64_MAX);
    assert (ces_position_number_get (data) == UINT64_MAX);
    ces_position_number_put (data, 0);
    assert (ces_position_number_get (data) == 0);
    //  @end
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
