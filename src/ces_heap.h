/*  =========================================================================
    ces_heap - an edge's freed memory handed back to the system

    A thousand civetweb threads spread their buffers over glibc's arenas,
    which keep what is freed: the edge hands it back (malloc_trim) soon
    after clients leave, when what they used is free, and at least once a
    minute. Its report is glibc's own accounting over all arenas: when RSS
    grows, "in use" growing means memory still held (a leak), and "free"
    growing means freed memory the allocator keeps (fragmentation).
    =========================================================================
*/
#ifndef CES_HEAP_H_INCLUDED
#define CES_HEAP_H_INCLUDED

typedef struct _ces_heap_t ces_heap_t;

typedef struct {
    uint64_t in_use;          //  bytes allocated
    uint64_t free;            //  bytes freed and kept by the allocator
    uint64_t trims;           //  malloc_trim calls so far
    uint64_t last_trim_usecs; //  how long the last one took
} ces_heap_report_t;

ces_heap_t *ces_heap_new (void);
void ces_heap_destroy (ces_heap_t **self_p);

//  A client left: its memory is free, trim soon
void ces_heap_client_gone (ces_heap_t *self);

//  Trims if due at now (zclock_mono): 5 s after a client left, or a
//  minute after the last trim. True if it trimmed.
bool ces_heap_trim_if_due (ces_heap_t *self, int64_t now);

void ces_heap_report (ces_heap_t *self, ces_heap_report_t *report);

void ces_heap_test (bool verbose);

#endif
