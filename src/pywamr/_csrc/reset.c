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
 * is skipped.  What the reset itself writes (copied segments, the edges of
 * zero runs, the app heap's first page with the allocator's header) is
 * restored every time.  Pages an invocation writes every time would fault
 * (and force a drop) every time: at a drop, zero-run pages found present
 * (mincore) become "hot" instead, up to PW_MAX_HOT_PAGES: they stay
 * resident and are cleared with memset at every reset; the other present
 * pages are dropped.  Transparent huge pages are turned off for linear
 * memory (MADV_NOHUGEPAGE) so khugepaged never makes absent pages present
 * behind our back.  The first reset after a snapshot always drops.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pw_internal.h"
#include "mem_alloc.h"
#include "../interpreter/wasm_runtime.h"
#if WASM_ENABLE_AOT != 0
#include "../aot/aot_runtime.h"
#endif

/* Pages of zero runs kept resident and cleared with memset (see hot below). */
#define PW_MAX_HOT_PAGES 64

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
    long faults; /* the process's page faults after the last drop; -1 unknown */
    int always_drop; /* a drop failed once: never skip it again */
    /* hot pages: pages of zero runs found present at a drop, cleared with
     * memset at every reset (kept, so an invocation that writes them again
     * takes no fault); offsets in linear memory */
    uint64_t hot[PW_MAX_HOT_PAGES];
    uint32_t nhot;
    unsigned char *vec; /* mincore's answer */
    size_t vec_len;
} pw_snapshot;

/* Page faults the process has taken so far (minor and major), -1 unknown. */
static long
process_faults(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_minflt + ru.ru_majflt;
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
    if (mem) { /* see "Skipping the drop" above */
        uint32_t i;
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        /* without THP this fails, harmlessly */
        (void)madvise(mem->memory_data, mem->memory_data_size, MADV_NOHUGEPAGE);
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
is_hot(const pw_snapshot *s, uint64_t offset)
{
    uint32_t i;
    for (i = 0; i < s->nhot; i++)
        if (s->hot[i] == offset)
            return 1;
    return 0;
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

/* The whole pages [first, last) at a drop: present ones become hot while
 * there is room, the other present ones are dropped (absent ones need
 * nothing).  Without mincore's answer everything is dropped.  At the first
 * drop after the snapshot, what is present may be instantiation's doing
 * (WAMR clears or copies whole regions): nothing becomes hot then. */
static void
drop_range(pw_snapshot *s, uint8_t *base, uint8_t *first, uint8_t *last,
           uintptr_t page)
{
    size_t i, n = (size_t)(last - first) / page;
    uint8_t *run = NULL;
    if (s->vec_len < n) {
        unsigned char *vec = realloc(s->vec, n);
        if (vec) {
            s->vec = vec;
            s->vec_len = n;
        }
    }
    if (s->vec_len < n || mincore(first, last - first, s->vec) != 0) {
        drop_pages(s, first, last);
        return;
    }
    for (i = 0; i < n; i++) {
        uint8_t *at = first + i * page;
        int keep = !(s->vec[i] & 1); /* absent: nothing to drop */
        if (!keep && s->faults >= 0 /* not the first drop: see below */
            && (is_hot(s, (uint64_t)(at - base)) || s->nhot < PW_MAX_HOT_PAGES)) {
            if (!is_hot(s, (uint64_t)(at - base)))
                s->hot[s->nhot++] = (uint64_t)(at - base);
            keep = 1; /* hot: cleared below */
        }
        if (!keep && !run)
            run = at;
        else if (keep && run) {
            drop_pages(s, run, at);
            run = NULL;
        }
    }
    if (run)
        drop_pages(s, run, last);
}

/* Zero [start, end) of linear memory at base: the edges and the hot pages
 * are cleared; at a drop (see "Skipping the drop") the other present whole
 * pages are dropped or become hot. */
static void
zero_range(pw_snapshot *s, uint8_t *base, uint8_t *start, uint8_t *end,
           int drop)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uint8_t *first = (uint8_t *)(((uintptr_t)start + page - 1) & ~(page - 1));
    uint8_t *last = (uint8_t *)((uintptr_t)end & ~(page - 1));
    uint32_t i;
    if (first >= last) {
        memset(start, 0, end - start);
        return;
    }
    memset(start, 0, first - start);
    memset(last, 0, end - last);
    if (drop)
        drop_range(s, base, first, last, page);
    for (i = 0; i < s->nhot; i++) {
        uint8_t *at = base + s->hot[i];
        if (at >= first && at < last)
            memset(at, 0, page);
    }
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
        int drop = s->faults < 0 || s->always_drop || process_faults() != s->faults;
        if (mem->cur_page_count != s->pages)
            return PW_ERR_STATE; /* grown memory cannot shrink back */
        uint32_t i;
        for (i = 0; i < s->nsegments; i++) {
            pw_segment *seg = &s->segments[i];
            uint8_t *at = mem->memory_data + seg->offset;
            if (seg->copy)
                memcpy(at, seg->copy, seg->length);
            else
                zero_range(s, mem->memory_data, at, at + seg->length, drop);
        }
        if (mem->heap_data && mem->heap_handle) {
            uint32_t heap_size = (uint32_t)(mem->heap_data_end - mem->heap_data);
            /* the allocator writes its header (a few dozen bytes) at the
             * heap's start: the page(s) it lands in are cleared every time,
             * never left to the fault count */
            uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
            uint8_t *head_end = (uint8_t *)(((uintptr_t)mem->heap_data + 256 + page - 1)
                                            & ~(page - 1));
            if (head_end > mem->heap_data_end)
                head_end = mem->heap_data_end;
            mem_allocator_destroy(mem->heap_handle);
            memset(mem->heap_data, 0, head_end - mem->heap_data);
            zero_range(s, mem->memory_data, head_end, mem->heap_data_end, drop);
            if (!mem_allocator_create_with_struct_and_pool(
                    mem->heap_handle, mem_allocator_get_heap_struct_size(),
                    mem->heap_data, heap_size))
                return PW_ERR_STATE;
        }
        if (drop) /* after the reset's own writes, which may fault too */
            s->faults = process_faults();
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
