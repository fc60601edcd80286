/*
 * Instance reset for the reuse-instance policy.
 *
 * pw_instance_snapshot records an instance's state right after
 * instantiation; pw_instance_reset puts it back between invocations:
 *   - linear memory outside the app heap: pages that were all zeros are
 *     dropped (madvise), the others copied back from the snapshot;
 *   - the app heap: its pages are dropped with madvise(MADV_DONTNEED), so
 *     they read as zeros again (only pages that were touched cost anything),
 *     and WAMR's heap allocator is re-created over the same pool;
 *   - globals (mutable ones included, e.g. the aux stack pointer) and table
 *     elements: copied back;
 *   - which data and element segments are dropped (per instance since
 *     vendor/patches/0006): copied back;
 *   - exception and captured output: cleared; every attachment (e.g. the
 *     Teaclave file table) is reset through its hook.
 * The snapshot itself is an attachment of the instance.
 * A memory that grew cannot shrink back: reset then reports PW_ERR_STATE
 * and the caller replaces the instance.
 *
 * Skipping the drop.  Dropping costs two madvise calls whose page-table
 * walks dominate a small invocation's reset.  Right after a drop every whole
 * page of a zero run (and of the app heap past its first page) is absent;
 * making one of them non-zero needs a write, and a write to an absent page
 * (or to the shared zero page a read maps) is a page fault, which the kernel
 * counts for the process (getrusage: every thread, including faults taken
 * inside system calls such as read()).  So when the process has taken no
 * fault since the last drop, those pages are still all zeros and the drop
 * is skipped.  Counting the process's faults (getrusage(RUSAGE_SELF)) sums
 * every thread's CPU time under the scheduler's lock (~0.5 us); while glibc
 * says the process is single-threaded (__libc_single_threaded: no thread was
 * ever created with pthread_create, which clears it for good) the calling
 * thread's own count (RUSAGE_THREAD, ~0.2 us) is the process's, and is used
 * instead.  A baseline remembers which count it is, and of which thread: a
 * reset compares like with like only, any other case drops.  What the reset itself writes (copied segments, the edges of
 * zero runs, the app heap's first page with the allocator's header) is
 * restored every time.  Pages an invocation writes every time would fault
 * (and force a drop) every time: at a drop, zero-run pages found present
 * (mincore) become "hot" instead while they fit PW_MAX_HOT_PAGES: they stay
 * resident and are cleared at every reset (a page still all zeros needs only
 * reading; one found clean PW_HOT_IDLE_RESETS resets in a row is dropped
 * with madvise and leaves the hot set, so a write to it faults again and the
 * reset's cost follows what invocations write, not what they once wrote).
 * Keeping pages resident is what makes many written pages cheap: clearing a
 * page costs far less than dropping it and faulting it back (zeroed) on the
 * next write.  A range with more present pages than the budget is dropped
 * whole, as without the skip.  Transparent huge pages are turned off for linear
 * memory (MADV_NOHUGEPAGE) so khugepaged never makes absent pages present
 * behind our back.  The first reset after a snapshot, and the first after a
 * fork (the child counts its faults from zero), always drop.  Out of reach
 * of the count, and of this promise: another process writing into ours
 * (process_vm_writev, /proc/PID/mem), which needs ptrace rights over it,
 * and threads started behind glibc's back (a raw clone(), io_uring's kernel
 * workers) writing into linear memory while glibc reports one thread.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/single_threaded.h>
#include <unistd.h>

#include "pw_internal.h"
#include "mem_alloc.h"
#include "../interpreter/wasm_runtime.h"
#if WASM_ENABLE_AOT != 0
#include "../aot/aot_runtime.h"
#endif

/* Pages of zero runs kept resident and cleared at every reset (see hot
 * below): at most 16 MiB of 4 KiB pages; a hot page found clean this many
 * resets in a row is dropped again. */
#define PW_MAX_HOT_PAGES 4096
#define PW_HOT_IDLE_RESETS 4

/* A hot page: its offset in linear memory, and for how many resets in a row
 * it was found clean. */
typedef struct pw_hot {
    uint64_t offset;
    uint32_t idle;
    uint32_t run; /* which zero run it lies in (see clear_hot) */
} pw_hot;

/* A run of linear memory outside the app heap: all zeros at snapshot time
 * (restored by dropping its pages) or copied. */
typedef struct pw_segment {
    uint64_t offset, length;
    uint8_t *copy; /* NULL for a zero run */
} pw_segment;

typedef struct pw_snapshot {
    uint32_t pages;
    pw_segment *segments;
    uint32_t nsegments;
    uint8_t *globals;
    uint32_t globals_len;
    uint8_t *tables; /* each table's elems, in order */
    uint64_t tables_len;
    uint8_t *dropped; /* data then element segments' drop bytes */
    uint32_t ndata, nelem;
    long faults; /* page faults after the last drop (see fault_count); -1 unknown */
    unsigned long counter; /* whose faults: 0 the process's, else a thread's token */
    unsigned forks; /* fork_count when faults was taken */
    int always_drop; /* a drop (or turning THP off) failed: never skip it */
    /* hot pages: pages of zero runs found present at a drop, cleared at
     * every reset (kept, so an invocation that writes them again takes no
     * fault); hot_map has one bit per page of linear memory */
    pw_hot *hot;
    uint32_t nhot, hot_cap;
    uint8_t *hot_map;
    uint64_t map_pages;
    unsigned char *vec; /* mincore's answer */
    size_t vec_len;
} pw_snapshot;

/* A forked child counts its own faults from zero: its count could meet a
 * baseline taken by the parent by chance, so a fork invalidates baselines. */
static volatile unsigned fork_count;
static pthread_once_t fork_hook_once = PTHREAD_ONCE_INIT;

static void
count_fork(void)
{
    fork_count++;
}

static void
install_fork_hook(void)
{
    pthread_atfork(NULL, NULL, count_fork);
}

/* A token naming the calling thread, unique for the process's life (never
 * 0; thread ids are reused, tokens are not). */
static unsigned long
thread_token(void)
{
    static unsigned long next_token;
    static __thread unsigned long token;
    if (!token)
        token = __atomic_add_fetch(&next_token, 1, __ATOMIC_RELAXED);
    return token;
}

/* Page faults taken so far (minor and major), -1 unknown: the process's
 * (*counter = 0) or, while the process is single-threaded, the calling
 * thread's, which are then the same (*counter = its token). */
static long
fault_count(unsigned long *counter)
{
    struct rusage ru;
    int single = __libc_single_threaded;
    *counter = single ? thread_token() : 0;
    if (getrusage(single ? RUSAGE_THREAD : RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_minflt + ru.ru_majflt;
}

int
pw_reset_counts_thread(void)
{
    return __libc_single_threaded ? 1 : 0;
}

/* Whether the process took no page fault since the baseline in s: the same
 * kind of count (of the same thread) and the same number. */
static int
no_fault_since(const pw_snapshot *s)
{
    unsigned long counter;
    long now;
    if (s->faults < 0 || s->always_drop || s->forks != fork_count)
        return 0;
    now = fault_count(&counter);
    return now >= 0 && now == s->faults && counter == s->counter;
}

static WASMMemoryInstance *
default_memory(pw_instance *inst)
{
    WASMModuleInstance *mi = (WASMModuleInstance *)inst->module_inst;
    return mi->memory_count ? mi->memories[0] : NULL;
}

static int
is_zero(const uint8_t *p, uint64_t n)
{
    return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

static int
add_segment(pw_snapshot *s, const uint8_t *base, uint64_t offset, uint64_t length,
            int zero)
{
    pw_segment *seg;
    if (s->nsegments && !!s->segments[s->nsegments - 1].copy == !zero
        && s->segments[s->nsegments - 1].offset + s->segments[s->nsegments - 1].length
               == offset && zero) {
        s->segments[s->nsegments - 1].length += length; /* extend a zero run */
        return 1;
    }
    seg = realloc(s->segments, (s->nsegments + 1) * sizeof(*seg));
    if (!seg)
        return 0;
    s->segments = seg;
    seg = &s->segments[s->nsegments];
    seg->offset = offset;
    seg->length = length;
    seg->copy = NULL;
    if (!zero) {
        if (!(seg->copy = malloc(length)))
            return 0;
        memcpy(seg->copy, base + offset, length);
    }
    s->nsegments++;
    return 1;
}

/* Split [start, end) into page-sized pieces, each a zero run or a copy. */
static int
snapshot_range(pw_snapshot *s, const uint8_t *base, uint64_t start, uint64_t end)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), at = start;
    while (at < end) {
        uint64_t next = (at / page + 1) * page;
        if (next > end)
            next = end;
        if (!add_segment(s, base, at, next - at, is_zero(base + at, next - at)))
            return 0;
        at = next;
    }
    return 1;
}

static uint64_t
tables_size(WASMModuleInstance *mi)
{
    uint64_t n = 0;
    uint32_t i;
    /* AOTTableInstance is WASMTableInstance in 1.1.2: one walk serves both.
     * (Without reference types, which our cores leave off, nothing can
     * change a table; restoring it keeps the reset sound if they are on.) */
    for (i = 0; i < mi->table_count; i++)
        n += (uint64_t)mi->tables[i]->cur_size * sizeof(uint32);
    return n;
}

/* How many data and element segments the instance's module has. */
static void
segment_counts(WASMModuleInstance *mi, uint32_t *ndata, uint32_t *nelem)
{
#if WASM_ENABLE_AOT != 0
    if (mi->module_type == Wasm_Module_AoT) {
        AOTModule *a = (AOTModule *)mi->module;
        *ndata = a->mem_init_data_count;
        *nelem = a->table_init_data_count;
        return;
    }
#endif
    *ndata = mi->module->data_seg_count;
    *nelem = mi->module->table_seg_count;
}

/* Copy the drop state (first member of either instance extra) to or from buf. */
static void
copy_dropped(WASMModuleInstance *mi, uint8_t *buf, uint32_t ndata,
             uint32_t nelem, int to_instance)
{
    WASMSegmentDropState *seg = (WASMSegmentDropState *)mi->e;
    if (ndata) {
        if (to_instance)
            memcpy(seg->data_dropped, buf, ndata);
        else
            memcpy(buf, seg->data_dropped, ndata);
    }
    if (nelem) {
        if (to_instance)
            memcpy(seg->elem_dropped, buf + ndata, nelem);
        else
            memcpy(buf + ndata, seg->elem_dropped, nelem);
    }
}

static void
copy_tables(WASMModuleInstance *mi, uint8_t *buf, int to_instance)
{
    uint32_t i;
    for (i = 0; i < mi->table_count; i++) {
        uint64_t len = (uint64_t)mi->tables[i]->cur_size * sizeof(uint32);
        if (!len)
            continue;
        if (to_instance)
            memcpy(mi->tables[i]->elems, buf, len);
        else
            memcpy(buf, mi->tables[i]->elems, len);
        buf += len;
    }
}

static void
snapshot_free(pw_snapshot *s)
{
    uint32_t i;
    if (!s)
        return;
    for (i = 0; i < s->nsegments; i++)
        free(s->segments[i].copy);
    free(s->segments);
    free(s->globals);
    free(s->tables);
    free(s->dropped);
    free(s->vec);
    free(s->hot);
    free(s->hot_map);
    free(s);
}

static void
snapshot_release(pw_instance *inst, void *state)
{
    (void)inst;
    snapshot_free(state);
}

static const pw_attachment_type snapshot_type = { "reset-snapshot", NULL,
                                                  snapshot_release };

int
pw_instance_snapshot(pw_instance *inst)
{
    WASMModuleInstance *mi;
    WASMMemoryInstance *mem;
    pw_snapshot *s;
    if (inst->closed)
        return PW_ERR_CLOSED;
    if (!inst->exec_env)
        return PW_ERR_STATE; /* still instantiating */
    pw_instance_detach(inst, &snapshot_type);
    mi = (WASMModuleInstance *)inst->module_inst;
    mem = default_memory(inst);
    if (!(s = calloc(1, sizeof(*s))))
        return PW_ERR_NOMEM;
    if (mem) {
        uint64_t size = mem->memory_data_size;
        uint64_t heap_off = mem->heap_data ? (uint64_t)(mem->heap_data - mem->memory_data)
                                           : size;
        uint64_t heap_end = mem->heap_data
                                ? (uint64_t)(mem->heap_data_end - mem->memory_data)
                                : size;
        s->pages = mem->cur_page_count;
        s->map_pages = size / (uint64_t)sysconf(_SC_PAGESIZE);
        if (!(s->hot_map = calloc((size_t)(s->map_pages / 8 + 1), 1)))
            goto nomem;
        if (!snapshot_range(s, mem->memory_data, 0, heap_off)
            || !snapshot_range(s, mem->memory_data, heap_end, size))
            goto nomem;
    }
    s->globals_len = mi->global_data_size;
    if (s->globals_len && !(s->globals = malloc(s->globals_len)))
        goto nomem;
    if (s->globals_len) /* memcpy from/to NULL is undefined even for 0 bytes */
        memcpy(s->globals, mi->global_data, s->globals_len);
    s->tables_len = tables_size(mi);
    if (s->tables_len && !(s->tables = malloc(s->tables_len)))
        goto nomem;
    copy_tables(mi, s->tables, 0);
    segment_counts(mi, &s->ndata, &s->nelem);
    if (s->ndata + s->nelem
        && !(s->dropped = malloc((size_t)s->ndata + s->nelem)))
        goto nomem;
    copy_dropped(mi, s->dropped, s->ndata, s->nelem, 0);
    s->faults = -1; /* the first reset drops */
    pthread_once(&fork_hook_once, install_fork_hook);
    if (mem) { /* see "Skipping the drop" above */
        uint32_t i;
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        /* EINVAL: a kernel without THP, nothing to turn off; any other
         * failure leaves khugepaged free to fill pages: never skip then */
        if (madvise(mem->memory_data, mem->memory_data_size, MADV_NOHUGEPAGE) != 0
            && errno != EINVAL)
            s->always_drop = 1;
        /* Reading the zero runs above mapped the shared zero page there:
         * drop them (they are zeros, nothing changes), so the first drop
         * finds present only what the first invocation touched. */
        for (i = 0; i < s->nsegments; i++) {
            uint8_t *at = mem->memory_data + s->segments[i].offset;
            uint8_t *first = (uint8_t *)(((uintptr_t)at + page - 1) & ~(page - 1));
            uint8_t *last = (uint8_t *)(((uintptr_t)at + s->segments[i].length) & ~(page - 1));
            if (!s->segments[i].copy && first < last)
                (void)madvise(first, last - first, MADV_DONTNEED);
        }
    }
    if (pw_instance_attach(inst, &snapshot_type, s) != PW_OK)
        goto nomem;
    return PW_OK;
nomem:
    snapshot_free(s);
    return PW_ERR_NOMEM;
}

static int
is_hot(const pw_snapshot *s, uint64_t offset, uintptr_t page)
{
    uint64_t p = offset / page;
    return p < s->map_pages && (s->hot_map[p / 8] >> (p % 8)) & 1;
}

static void
mark_hot(pw_snapshot *s, uint64_t offset, uintptr_t page, int hot)
{
    uint64_t p = offset / page;
    if (hot)
        s->hot_map[p / 8] |= (uint8_t)(1u << (p % 8));
    else
        s->hot_map[p / 8] &= (uint8_t)~(1u << (p % 8));
}

/* Make the page at offset hot (it fits the budget: checked by the caller);
 * 0 if the list cannot grow. */
static int
add_hot(pw_snapshot *s, uint64_t offset, uintptr_t page, uint32_t run)
{
    if (s->nhot == s->hot_cap) {
        uint32_t cap = s->hot_cap ? 2 * s->hot_cap : 64;
        pw_hot *hot;
        if (cap > PW_MAX_HOT_PAGES)
            cap = PW_MAX_HOT_PAGES;
        if (cap <= s->nhot || !(hot = realloc(s->hot, cap * sizeof(*hot))))
            return 0;
        s->hot = hot;
        s->hot_cap = cap;
    }
    s->hot[s->nhot].offset = offset;
    s->hot[s->nhot].idle = 0;
    s->hot[s->nhot].run = run;
    s->nhot++;
    mark_hot(s, offset, page, 1);
    return 1;
}

static void
remove_hot(pw_snapshot *s, uint32_t j, uintptr_t page)
{
    mark_hot(s, s->hot[j].offset, page, 0);
    s->hot[j] = s->hot[--s->nhot];
}

/* Drop [from, to) (whole pages); on failure clear them and never skip a
 * drop again (cleared pages stay present: writes to them would not fault). */
static void
drop_pages(pw_snapshot *s, uint8_t *from, uint8_t *to)
{
    if (from < to && madvise(from, to - from, MADV_DONTNEED) != 0) {
        memset(from, 0, to - from);
        s->always_drop = 1;
    }
}

/* The whole pages [first, last) at a drop.  When the pages found present
 * (mincore) fit the hot-page budget they become hot (cleared by clear_hot
 * from now on; absent pages are zeros and need nothing); otherwise (more
 * pages than the budget, the first drop after the snapshot, where what is
 * present may be instantiation's doing, or no answer from mincore) the whole
 * range is dropped in one call and its hot pages are forgotten. */
static void
drop_range(pw_snapshot *s, uint8_t *base, uint8_t *first, uint8_t *last,
           uintptr_t page, uint32_t run)
{
    size_t i, n = (size_t)(last - first) / page;
    uint32_t j, fresh = 0;
    if (s->vec_len < n) {
        unsigned char *vec = realloc(s->vec, n);
        if (vec) {
            s->vec = vec;
            s->vec_len = n;
        }
    }
    if (s->faults >= 0 && s->vec_len >= n && mincore(first, last - first, s->vec) == 0) {
        for (i = 0; i < n && s->nhot + fresh <= PW_MAX_HOT_PAGES; i++)
            if ((s->vec[i] & 1) && !is_hot(s, (uint64_t)(first + i * page - base), page))
                fresh++;
        if (s->nhot + fresh <= PW_MAX_HOT_PAGES) {
            for (i = 0; i < n; i++) {
                uint64_t offset = (uint64_t)(first + i * page - base);
                if ((s->vec[i] & 1) && !is_hot(s, offset, page)
                    && !add_hot(s, offset, page, run))
                    goto whole;
            }
            return;
        }
    }
whole:
    for (j = 0; j < s->nhot;) { /* forget the range's hot pages: dropped too */
        uint8_t *at = base + s->hot[j].offset;
        if (at >= first && at < last)
            remove_hot(s, j, page);
        else
            j++;
    }
    drop_pages(s, first, last);
}

/* Zero [start, end) of linear memory at base: the edges are cleared; at a
 * drop (see "Skipping the drop") the present whole pages are dropped or
 * become hot.  Hot pages are cleared by clear_hot. */
static void
zero_range(pw_snapshot *s, uint8_t *base, uint8_t *start, uint8_t *end,
           int drop, uintptr_t page, uint32_t run)
{
    uint8_t *first = (uint8_t *)(((uintptr_t)start + page - 1) & ~(page - 1));
    uint8_t *last = (uint8_t *)((uintptr_t)end & ~(page - 1));
    /* Never memset 0 bytes: glibc's AVX-512 memset does a masked store even
     * then, and one to an absent page (a dropped one) costs a microcode
     * assist of hundreds of nanoseconds. */
    if (first >= last) {
        if (start < end)
            memset(start, 0, end - start);
        return;
    }
    if (start < first)
        memset(start, 0, first - start);
    if (last < end)
        memset(last, 0, end - last);
    if (drop)
        drop_range(s, base, first, last, page, run);
}

/* Whether the page at p is all zeros: 512-byte blocks of a fixed length
 * (the compiler vectorises them), stopping at the first non-zero one. */
static int
page_is_zero(const uint8_t *p, uintptr_t page)
{
    const uint64_t *w = (const uint64_t *)p;
    uintptr_t i, words = page / 8;
    for (i = 0; i + 64 <= words; i += 64) {
        uint64_t any = 0;
        int j;
        for (j = 0; j < 64; j++)
            any |= w[i + j];
        if (any)
            return 0;
    }
    for (; i < words; i++)
        if (w[i])
            return 0;
    return 1;
}

/* Drop [from, to), pages just retired from the hot set; a failure leaves
 * them present but no longer hot: every later reset then drops (and finds
 * them present again). */
static void
retire_pages(pw_snapshot *s, uint8_t *from, uint8_t *to)
{
    if (from < to && madvise(from, to - from, MADV_DONTNEED) != 0)
        s->always_drop = 1;
}

/* Whether every page of [from, to) is not hot (and so, within a zero run at
 * clear_hot's time, absent: after a drop every present page of a zero run
 * is hot, and no page became present since, or this reset would drop). */
static int
none_hot(const pw_snapshot *s, uint8_t *base, uint8_t *from, uint8_t *to,
         uintptr_t page)
{
    for (; from < to; from += page)
        if (is_hot(s, (uint64_t)(from - base), page))
            return 0;
    return 1;
}

/* Clear the hot pages: one written to is zeroed; one found clean
 * PW_HOT_IDLE_RESETS resets in a row leaves the hot set and is dropped
 * (absent again, so a write faults).  Retiring pages of the same zero run
 * are dropped in one call with the absent pages between them (a gap of at
 * most PW_RETIRE_GAP pages, none of them hot).  The list keeps its order
 * (ascending offsets within a zero run, as mincore found them). */
#define PW_RETIRE_GAP 64
static void
clear_hot(pw_snapshot *s, uint8_t *base, uintptr_t page)
{
    uint32_t j, kept = 0, run_id = 0;
    uint8_t *run = NULL, *run_end = NULL;
    for (j = 0; j < s->nhot; j++) {
        pw_hot hot = s->hot[j];
        uint8_t *at = base + hot.offset;
        if (!page_is_zero(at, page)) {
            memset(at, 0, page);
            hot.idle = 0;
        }
        else if (++hot.idle >= PW_HOT_IDLE_RESETS) {
            mark_hot(s, hot.offset, page, 0);
            if (!(run && hot.run == run_id && at >= run_end
                  && at - run_end <= (ptrdiff_t)(PW_RETIRE_GAP * page)
                  && none_hot(s, base, run_end, at, page))) {
                retire_pages(s, run, run_end);
                run = at;
                run_id = hot.run;
            }
            run_end = at + page;
            continue;
        }
        s->hot[kept++] = hot;
    }
    retire_pages(s, run, run_end);
    s->nhot = kept;
}

int
pw_instance_reset(pw_instance *inst)
{
    pw_snapshot *s;
    WASMModuleInstance *mi;
    WASMMemoryInstance *mem;
    if (inst->closed)
        return PW_ERR_CLOSED;
    s = pw_instance_attached(inst, &snapshot_type);
    if (!s)
        return PW_ERR_STATE;
    if (__atomic_load_n(&inst->owner, __ATOMIC_ACQUIRE))
        return PW_ERR_BUSY;
    mi = (WASMModuleInstance *)inst->module_inst;
    mem = default_memory(inst);
    if (mem) {
        /* No fault since the last drop: the dropped pages are still zeros. */
        int drop = !no_fault_since(s);
        if (mem->cur_page_count != s->pages)
            return PW_ERR_STATE; /* grown memory cannot shrink back */
        uint32_t i;
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        for (i = 0; i < s->nsegments; i++) {
            pw_segment *seg = &s->segments[i];
            uint8_t *at = mem->memory_data + seg->offset;
            if (seg->copy)
                memcpy(at, seg->copy, seg->length);
            else
                zero_range(s, mem->memory_data, at, at + seg->length, drop, page, i);
        }
        if (mem->heap_data && mem->heap_handle) {
            uint32_t heap_size = (uint32_t)(mem->heap_data_end - mem->heap_data);
            /* the allocator writes its header (a few dozen bytes) at the
             * heap's start: the page(s) it lands in are cleared every time,
             * never left to the fault count */
            uint8_t *head_end = (uint8_t *)(((uintptr_t)mem->heap_data + 256 + page - 1)
                                            & ~(page - 1));
            if (head_end > mem->heap_data_end)
                head_end = mem->heap_data_end;
            mem_allocator_destroy(mem->heap_handle);
            memset(mem->heap_data, 0, head_end - mem->heap_data);
            zero_range(s, mem->memory_data, head_end, mem->heap_data_end, drop, page,
                       s->nsegments);
            if (!mem_allocator_create_with_struct_and_pool(
                    mem->heap_handle, mem_allocator_get_heap_struct_size(),
                    mem->heap_data, heap_size))
                return PW_ERR_STATE;
        }
        clear_hot(s, mem->memory_data, page); /* after the drops: new hot pages too */
        if (drop) { /* after the reset's own writes, which may fault too */
            s->faults = fault_count(&s->counter);
            s->forks = fork_count;
        }
    }
    if (s->globals_len)
        memcpy(mi->global_data, s->globals, s->globals_len);
    if (tables_size(mi) != s->tables_len)
        return PW_ERR_STATE;
    copy_tables(mi, s->tables, 1);
    copy_dropped(mi, s->dropped, s->ndata, s->nelem, 1);
    wasm_runtime_clear_exception(inst->module_inst);
    pw_instance_reset_attachments(inst);
    pw_output_clear(inst);
    return PW_OK;
}
