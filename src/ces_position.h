/*  =========================================================================
    ces_position - a place in a room's stream, as it is written down: the
    room's epoch as 16 hex digits (JSON, notices, the disk), and an event's
    sequence number (or an epoch) as 8 octets, big-endian (SYNCED events,
    the published footer, the messenger's msgpipe)

    One writer and one reader of each form, so that the hub, the edge, the
    cursor and the embedded messenger agree on them.
    =========================================================================
*/
#ifndef CES_POSITION_H_INCLUDED
#define CES_POSITION_H_INCLUDED

//  The size of an epoch's text, with its NUL (16 hex digits)
#define CES_POSITION_EPOCH_SIZE 17

//  Writes epoch as 16 lowercase hex digits and a NUL into text, which has
//  CES_POSITION_EPOCH_SIZE bytes
void ces_position_epoch_text (uint64_t epoch, char *text);

//  Reads an epoch written by ces_position_epoch_text: true, or false (and
//  *epoch unspecified) when text is not exactly 16 lowercase hex digits
bool ces_position_epoch_parse (const char *text, uint64_t *epoch);

//  The same, for a hub's answer that must carry one: 0 when it is not
//  there or not one (no stream has epoch 0)
uint64_t ces_position_epoch_of (const char *text);

//  Writes number into data[0..7], big-endian
void ces_position_number_put (byte *data, uint64_t number);

//  Reads the 8-octet big-endian number at data
uint64_t ces_position_number_get (const byte *data);

//  Self test of this class
void ces_position_test (bool verbose);

#endif
