/*  =========================================================================
    ces_heap - an edge's freed memory handed back to the system
    =========================================================================
*/
#include "ces_classes.h"
#include <malloc.h>
#if defined __has_include
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
//  Allocators that replace glibc's keep none of its accounting (mallinfo2
//  reads 0): the sanitizers' and valgrind's
#if defined __SANITIZE_ADDRESS__ || defined __SANITIZE_THREAD__
#define GLIBC_ACCOUNTING false
#else
#define GLIBC_ACCOUNTING (!RUNNING_ON_VALGRIND)
#endif

#define SOON_AFTER_LEAVING 5000 //  msecs after a client left
#define AT_LEAST_EVERY     60000

struct _ces_heap_t {
    int64_t last;       //  when it last trimmed, zclock_mono (0: never)
    size_t gone_since;  //  clients gone since then
    uint64_t trims;     //  trims so far
    int64_t last_usecs; //  how long the last one took
};

ces_heap_t *
ces_heap_new (void)
{
    ces_heap_t *self = (ces_heap_t *)zmalloc (sizeof (ces_heap_t));
    assert (self);
    return self;
}

void
ces_heap_destroy (ces_heap_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        freen (*self_p);
        *self_p = NULL;
    }
}

void
ces_heap_client_gone (ces_heap_t *self)
{
    assert (self);
    self->gone_since++;
}

bool
ces_heap_trim_if_due (ces_heap_t *self, int64_t now)
{
    assert (self);
    int64_t since = now - self->last;
    if (self->last && since < AT_LEAST_EVERY &&
        (self->gone_since == 0 || since < SOON_AFTER_LEAVING))
        return false;
    int64_t start = zclock_usecs ();
    malloc_trim (0);
    self->last_usecs = zclock_usecs () - start;
    self->last = now;
    self->gone_since = 0;
    self->trims++;
    return true;
}

void
ces_heap_report (ces_heap_t *self, ces_heap_report_t *report)
{
    assert (self);
    struct mallinfo2 info = mallinfo2 ();
    report->in_use = info.uordblks + info.hblkhd;
    report->free = info.fordblks;
    report->trims = self->trims;
    report->last_trim_usecs = (uint64_t)self->last_usecs;
}

void
ces_heap_test (bool verbose)
{
    printf (" * ces_heap: ");
    (void)verbose;
    //  @selftest
    ces_heap_t *heap = ces_heap_new ();
    int64_t now = zclock_mono ();
    assert (ces_heap_trim_if_due (heap, now)); //  never trimmed: due
    assert (!ces_heap_trim_if_due (heap, now + 1000));
    ces_heap_client_gone (heap);
    assert (!ces_heap_trim_if_due (heap, now + SOON_AFTER_LEAVING - 1));
    assert (ces_heap_trim_if_due (heap, now + SOON_AFTER_LEAVING));
    assert (!ces_heap_trim_if_due (heap, now + 2 * SOON_AFTER_LEAVING));
    assert (
        ces_heap_trim_if_due (heap, now + SOON_AFTER_LEAVING + AT_LEAST_EVERY));
    //  A megabyte held shows in use, where glibc's allocator counts
    ces_heap_report_t before, after;
    ces_heap_report (heap, &before);
    void *held = malloc (1 << 20);
    assert (held);
    memset (held, 1, 1 << 20);
    ces_heap_report (heap, &after);
    assert (!GLIBC_ACCOUNTING || after.in_use >= before.in_use + (1 << 20));
    assert (after.trims == 3);
    free (held);
    ces_heap_destroy (&heap);
    assert (heap == NULL);
    //  @end
    printf ("OK\n");
}
