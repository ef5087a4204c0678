/*  =========================================================================
    ces_disk_reader - reads ces_disk's records back, for ces_disk_load

    One walk over the databases of a data directory, in the order
    ces_disk_loader_t promises: every room record first (in the byte order
    of the room IDs), then room by room its events, its state entries and
    its devices, each found by the room's key prefix. A record that does
    not decode (ces_disk_record) is skipped and counted, never asserted:
    the data directory is input. Pure functions over a transaction.
    =========================================================================
*/
#ifndef CES_DISK_READER_H_INCLUDED
#define CES_DISK_READER_H_INCLUDED

//  Read every record of dbs through txn (borrowed; a write transaction
//  sees its own changes), calling loader with arg for each; adds the
//  records skipped to *skipped. 0, or LMDB's error.
int ces_disk_reader_load (MDB_txn *txn, const ces_disk_dbs_t *dbs,
                          const ces_disk_loader_t *loader, void *arg,
                          uint64_t *skipped);

//  Self test of this class.
void ces_disk_reader_test (bool verbose);

#endif
