/*
 * The Teaclave file API as builtin natives (WAMR raw ABI).
 *
 * The payload sees five functions in module "env"; every failure returns -1
 * to the guest and is recorded on the instance for the caller.  Bytes move
 * straight between the file descriptor and guest memory.  Only paths the
 * caller declared (pw_files_declare) are ever opened.  The table is the
 * instance's "teaclave-files" attachment, made on first use and released
 * with the instance (reset by pw_instance_reset).
 *
 * Two rule sets (pw_files_configure), chosen per run:
 * - pywamr's (the "strict" profile): a pointer out of bounds returns -1;
 *   handles are the lowest free slot (reused after a close), up to 1024 open;
 *   file ids are compared byte for byte.
 * - Teaclave's executor's (teaclave_rules): WAMR checks the pointers of the
 *   natives' signatures ($, *~) before the call, so a bad one makes the guest
 *   trap with "out of bounds memory access"; handles come from one sequence
 *   1..1023 shared by reads and writes and are never reused (write handles
 *   carry bit 0x40000000); a file id is decoded as UTF-8 with invalid
 *   sequences replaced by U+FFFD (Rust's String::from_utf8_lossy) before the
 *   lookup.
 * Either way writes can be capped per output and per run, and a read fills
 * the buffer up to its length or the end of the file (as Teaclave's readers
 * do; a plain file gives that in one read(), a FIFO may need several).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pw_internal.h"

#define PW_MAX_OPEN_FILES 1024
#define PW_WRITE_FLAG 0x40000000

typedef struct pw_file_decl {
    char *file_id;
    char *path;
    int is_output;
    int created;
    int failed;
    uint64_t written; /* bytes written to this output during the run */
} pw_file_decl;

typedef struct pw_files {
    pw_file_decl *decls;
    uint32_t ndecls, cap;
    int fds[PW_MAX_OPEN_FILES]; /* slot -> fd, -1 free */
    int slot_decl[PW_MAX_OPEN_FILES];
    uint32_t nopen; /* slots in use: a reset of an unused table is cheap */
    int inited;
    char **errors;
    uint32_t nerrors, errors_cap;
    /* per run (pw_files_configure; a reset restores the defaults) */
    int teaclave_rules;  /* Teaclave's executor's rules (see above) */
    int32_t next_seq;    /* teaclave_rules: the next handle number */
    uint64_t max_output; /* bytes per output (UINT64_MAX: unbounded) */
    uint64_t max_total;  /* bytes per run over all outputs */
    uint64_t total_written;
} pw_files;

static void files_reset_hook(pw_instance *inst, void *state);
static void files_release(pw_instance *inst, void *state);

static const pw_attachment_type files_type = { "teaclave-files",
                                               files_reset_hook,
                                               files_release };

/* The instance's file table, or NULL if it has none yet. */
static pw_files *
files_get(pw_instance *inst)
{
    return pw_instance_attached(inst, &files_type);
}

/* The instance's file table, made on first use; NULL when out of memory. */
static pw_files *
files_make(pw_instance *inst)
{
    pw_files *f = files_get(inst);
    if (f)
        return f;
    if (!(f = calloc(1, sizeof(*f))))
        return NULL;
    if (pw_instance_attach(inst, &files_type, f) != PW_OK) {
        free(f);
        return NULL;
    }
    return f;
}

static pw_files *
files_of(wasm_exec_env_t env, pw_instance **out_inst)
{
    pw_instance *inst = pw_instance_of(wasm_runtime_get_module_inst(env));
    *out_inst = inst;
    return files_make(inst);
}

static void
files_init(pw_files *f)
{
    int i;
    if (f->inited)
        return;
    for (i = 0; i < PW_MAX_OPEN_FILES; i++) {
        f->fds[i] = -1;
        f->slot_decl[i] = -1;
    }
    f->next_seq = 1;
    f->max_output = UINT64_MAX; /* unbounded until pw_files_configure */
    f->max_total = UINT64_MAX;
    f->inited = 1;
}

static void
record(pw_files *f, const char *fmt, ...)
{
    char buf[384];
    va_list ap;
    if (f->nerrors >= 10000)
        return; /* a runaway payload cannot exhaust host memory */
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (f->nerrors == f->errors_cap) {
        uint32_t cap = f->errors_cap ? f->errors_cap * 2 : 8;
        char **grown = realloc(f->errors, cap * sizeof(*grown));
        if (!grown)
            return;
        f->errors = grown;
        f->errors_cap = cap;
    }
    if ((f->errors[f->nerrors] = strdup(buf)))
        f->nerrors++;
}

static void
ret_i32(uint64_t *args, int32_t value)
{
    *(int32_t *)args = value;
}

/* Teaclave's rules: what WAMR does when a native's signature check fails. */
static void
trap_out_of_bounds(wasm_exec_env_t env)
{
    wasm_runtime_set_exception(wasm_runtime_get_module_inst(env),
                               "out of bounds memory access");
}

/* Length of the UTF-8 sequence starting at s[i] if it is valid, else the
 * length of the maximal invalid prefix to replace by one U+FFFD (the
 * substitution of maximal subparts, as Rust's from_utf8_lossy does). */
static size_t
utf8_step(const uint8_t *s, size_t i, size_t len, int *valid)
{
    uint8_t b = s[i], lo = 0x80, hi = 0xBF;
    size_t need, k;
    *valid = 1;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        need = 1;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        if (b == 0xE0)
            lo = 0xA0;
        else if (b == 0xED)
            hi = 0x9F;
    }
    else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F;
    }
    else {
        *valid = 0;
        return 1;
    }
    for (k = 1; k <= need; k++) {
        uint8_t c = i + k < len ? s[i + k] : 0;
        if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) {
            *valid = 0;
            return k;
        }
    }
    return need + 1;
}

/* A malloc'd copy of s with invalid UTF-8 replaced, or NULL (no memory). */
static char *
utf8_lossy(const char *s)
{
    size_t len = strlen(s), i = 0, o = 0;
    char *out = malloc(3 * len + 1);
    if (!out)
        return NULL;
    while (i < len) {
        int valid;
        size_t step = utf8_step((const uint8_t *)s, i, len, &valid);
        if (valid) {
            memcpy(out + o, s + i, step);
            o += step;
        }
        else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
        }
        i += step;
    }
    out[o] = '\0';
    return out;
}

/* Guest string argument, validated against linear memory. */
static const char *
guest_str(pw_instance *inst, uint64_t arg)
{
    uint64_t size, off = (uint32_t)arg;
    uint8_t *base = pw_linear_memory(inst, &size);
    if (!base || off >= size || !memchr(base + off, 0, size - off))
        return NULL;
    return (const char *)base + off;
}

static uint8_t *
guest_buf(pw_instance *inst, uint64_t ptr, uint64_t len)
{
    uint64_t size, off = (uint32_t)ptr;
    uint8_t *base = pw_linear_memory(inst, &size);
    len = (uint32_t)len;
    if (!base || off > size || len > size - off)
        return NULL;
    return base + off;
}

static int
find_decl(pw_files *f, const char *file_id, int is_output)
{
    uint32_t i;
    for (i = 0; i < f->ndecls; i++)
        if (f->decls[i].is_output == is_output
            && !strcmp(f->decls[i].file_id, file_id))
            return (int)i;
    return -1;
}

static int
open_handle(pw_files *f, const char *fn, const char *file_id, int is_output)
{
    int d, slot, fd;
    files_init(f);
    d = find_decl(f, file_id, is_output);
    if (d < 0) {
        record(f, "%s: no %s declared with file id '%.64s'", fn,
               is_output ? "output" : "input", file_id);
        return -1;
    }
    if (f->teaclave_rules)
        slot = 0; /* chosen after the open, as Teaclave numbers handles */
    else {
        for (slot = 0; slot < PW_MAX_OPEN_FILES && f->fds[slot] >= 0; slot++)
            ;
        if (slot == PW_MAX_OPEN_FILES) {
            record(f, "%s: too many open files (limit %d)", fn,
                   PW_MAX_OPEN_FILES);
            return -1;
        }
    }
    if (is_output)
        fd = open(f->decls[d].path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0644);
    else
        fd = open(f->decls[d].path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        record(f, "%s: cannot open file id '%.64s': %s", fn, file_id,
               strerror(errno));
        if (is_output)
            f->decls[d].failed = 1;
        return -1;
    }
    if (f->teaclave_rules) {
        /* one sequence 1..1023 for the whole run, never reused */
        if (f->next_seq >= PW_MAX_OPEN_FILES) {
            close(fd);
            record(f, "%s: reached the maximum of %d handles per run", fn,
                   PW_MAX_OPEN_FILES - 1);
            return -1;
        }
        slot = f->next_seq++ - 1;
    }
    if (is_output) {
        f->decls[d].created = 1;
        f->decls[d].failed = 0;
    }
    f->fds[slot] = fd;
    f->slot_decl[slot] = d;
    f->nopen++;
    return (slot + 1) | (is_output ? PW_WRITE_FLAG : 0);
}

/* Slot for a handle, or -1 (and the failure recorded). */
static int
slot_of(pw_files *f, const char *fn, int32_t handle, int want_write)
{
    int is_write = (handle & PW_WRITE_FLAG) != 0;
    int32_t n = handle & ~PW_WRITE_FLAG;
    int slot = 0;
    files_init(f);
    /* The range check comes first: n - 1 overflows for INT32_MIN. */
    if (handle > 0 && n >= 1 && n <= PW_MAX_OPEN_FILES)
        slot = n - 1;
    else
        n = 0;
    if (!n || f->fds[slot] < 0
        || f->decls[f->slot_decl[slot]].is_output != is_write) {
        record(f, "%s: bad or closed handle %d", fn, handle);
        return -1;
    }
    if (want_write >= 0 && want_write != is_write) {
        record(f, "%s: handle %d is open for %s", fn, handle,
               is_write ? "writing" : "reading");
        return -1;
    }
    return slot;
}

static void
open_native(wasm_exec_env_t env, uint64_t *args, const char *fn, int is_output)
{
    pw_instance *inst;
    pw_files *f = files_of(env, &inst);
    const char *id = guest_str(inst, args[0]);
    char *lossy;
    if (!f) {
        ret_i32(args, -1); /* out of memory: nowhere to record it */
        return;
    }
    if (!id) {
        record(f, "%s: file id out of bounds", fn);
        if (f->teaclave_rules)
            trap_out_of_bounds(env);
        ret_i32(args, -1);
        return;
    }
    if (!f->teaclave_rules) {
        ret_i32(args, open_handle(f, fn, id, is_output));
        return;
    }
    if (!(lossy = utf8_lossy(id))) {
        record(f, "%s: out of memory", fn);
        ret_i32(args, -1);
        return;
    }
    ret_i32(args, open_handle(f, fn, lossy, is_output));
    free(lossy);
}

static void
tc_open_input(wasm_exec_env_t env, uint64_t *args)
{
    open_native(env, args, "teaclave_open_input", 0);
}

static void
tc_create_output(wasm_exec_env_t env, uint64_t *args)
{
    open_native(env, args, "teaclave_create_output", 1);
}

static void
tc_read_file(wasm_exec_env_t env, uint64_t *args)
{
    pw_instance *inst;
    pw_files *f = files_of(env, &inst);
    uint32_t len = (uint32_t)args[2], done = 0;
    uint8_t *buf = guest_buf(inst, args[1], len);
    int slot;
    if (!buf && f && f->teaclave_rules) { /* WAMR checks (*~) before the call */
        record(f, "teaclave_read_file: buffer out of bounds");
        trap_out_of_bounds(env);
        ret_i32(args, -1);
        return;
    }
    slot = f ? slot_of(f, "teaclave_read_file", (int32_t)args[0], 0) : -1;
    if (slot < 0) {
        ret_i32(args, -1);
        return;
    }
    if (!buf) {
        record(f, "teaclave_read_file: buffer out of bounds");
        ret_i32(args, -1);
        return;
    }
    if (len > INT32_MAX)
        len = INT32_MAX;
    while (done < len) { /* up to len bytes or the end of the file */
        ssize_t n = read(f->fds[slot], buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            record(f, "teaclave_read_file: %s", strerror(errno));
            ret_i32(args, -1);
            return;
        }
        if (n == 0)
            break;
        done += (uint32_t)n;
    }
    ret_i32(args, (int32_t)done);
}

static void
tc_write_file(wasm_exec_env_t env, uint64_t *args)
{
    pw_instance *inst;
    pw_files *f = files_of(env, &inst);
    uint32_t len = (uint32_t)args[2], done = 0;
    uint8_t *buf = guest_buf(inst, args[1], len);
    pw_file_decl *d;
    int slot;
    if (!buf && f && f->teaclave_rules) { /* WAMR checks (*~) before the call */
        record(f, "teaclave_write_file: buffer out of bounds");
        trap_out_of_bounds(env);
        ret_i32(args, -1);
        return;
    }
    slot = f ? slot_of(f, "teaclave_write_file", (int32_t)args[0], 1) : -1;
    if (slot < 0) {
        ret_i32(args, -1);
        return;
    }
    if (!buf) {
        record(f, "teaclave_write_file: buffer out of bounds");
        ret_i32(args, -1);
        return;
    }
    if (len > INT32_MAX)
        len = INT32_MAX;
    d = &f->decls[f->slot_decl[slot]];
    if (d->written + len > f->max_output || f->total_written + len > f->max_total) {
        int per_output = d->written + len > f->max_output;
        record(f,
               "teaclave_write_file: output '%.64s' would exceed the cap of "
               "%llu bytes per %s; nothing written",
               d->file_id,
               (unsigned long long)(per_output ? f->max_output : f->max_total),
               per_output ? "output" : "invocation");
        d->failed = 1;
        ret_i32(args, -1);
        return;
    }
    while (done < len) {
        ssize_t n = write(f->fds[slot], buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            record(f, "teaclave_write_file: %s",
                   n < 0 ? strerror(errno) : "no progress");
            d->failed = 1;
            d->written += done;
            f->total_written += done;
            ret_i32(args, -1);
            return;
        }
        done += (uint32_t)n;
    }
    d->written += done;
    f->total_written += done;
    ret_i32(args, (int32_t)done);
}

static int
close_slot(pw_files *f, int slot)
{
    int rc = close(f->fds[slot]);
    pw_file_decl *d = &f->decls[f->slot_decl[slot]];
    if (rc != 0 && d->is_output)
        d->failed = 1;
    f->fds[slot] = -1;
    f->slot_decl[slot] = -1;
    f->nopen--;
    return rc;
}

static void
tc_close_file(wasm_exec_env_t env, uint64_t *args)
{
    pw_instance *inst;
    pw_files *f = files_of(env, &inst);
    int slot = f ? slot_of(f, "teaclave_close_file", (int32_t)args[0], -1) : -1;
    if (slot < 0) {
        ret_i32(args, -1);
        return;
    }
    if (close_slot(f, slot) != 0) {
        record(f, "teaclave_close_file: %s", strerror(errno));
        ret_i32(args, -1);
        return;
    }
    ret_i32(args, 0);
}

/* Teaclave's build has no libc-builtin: in the teaclave profile the imports
 * another core's libc-builtin would satisfy are bound to this, which traps
 * exactly as WAMR does when an unlinked import is called. */
static void
tc_unlinked(wasm_exec_env_t env, uint64_t *args)
{
    pw_entry *e = wasm_runtime_get_function_attachment(env);
    char msg[256];
    (void)args;
    snprintf(msg, sizeof(msg), "failed to call unlinked import function (%s, %s)",
             e ? e->module_name : "?", e ? e->name : "?");
    wasm_runtime_set_exception(wasm_runtime_get_module_inst(env), msg);
}

pw_raw_fn
pw_builtin_fn(const char *name)
{
    if (!strcmp(name, "teaclave_unlinked"))
        return tc_unlinked;
    if (!strcmp(name, "teaclave_open_input"))
        return tc_open_input;
    if (!strcmp(name, "teaclave_create_output"))
        return tc_create_output;
    if (!strcmp(name, "teaclave_read_file"))
        return tc_read_file;
    if (!strcmp(name, "teaclave_write_file"))
        return tc_write_file;
    if (!strcmp(name, "teaclave_close_file"))
        return tc_close_file;
    return NULL;
}

int
pw_files_declare(pw_instance *inst, const char *file_id, const char *path,
                 int is_output)
{
    pw_files *f = files_make(inst);
    pw_file_decl *d;
    if (!f)
        return PW_ERR_NOMEM;
    files_init(f);
    if (f->ndecls == f->cap) {
        uint32_t cap = f->cap ? f->cap * 2 : 8;
        pw_file_decl *grown = realloc(f->decls, cap * sizeof(*grown));
        if (!grown)
            return PW_ERR_NOMEM;
        f->decls = grown;
        f->cap = cap;
    }
    d = &f->decls[f->ndecls];
    memset(d, 0, sizeof(*d));
    d->file_id = strdup(file_id);
    d->path = strdup(path);
    d->is_output = is_output;
    if (!d->file_id || !d->path) {
        free(d->file_id);
        free(d->path);
        return PW_ERR_NOMEM;
    }
    f->ndecls++;
    return PW_OK;
}

int
pw_files_output_state(pw_instance *inst, const char *file_id, int *failed)
{
    pw_files *f = files_get(inst);
    int d = f ? find_decl(f, file_id, 1) : -1;
    if (d < 0)
        return -1;
    *failed = f->decls[d].failed;
    return f->decls[d].created;
}

uint32_t
pw_files_error_count(pw_instance *inst)
{
    pw_files *f = files_get(inst);
    return f ? f->nerrors : 0;
}

const char *
pw_files_error(pw_instance *inst, uint32_t i)
{
    pw_files *f = files_get(inst);
    return f && i < f->nerrors ? f->errors[i] : NULL;
}

/* Close every open handle of f; how many there were. */
static int
files_close_all(pw_files *f)
{
    int slot, closed = 0;
    if (!f || !f->inited)
        return 0;
    for (slot = 0; f->nopen && slot < PW_MAX_OPEN_FILES; slot++) {
        if (f->fds[slot] >= 0) {
            close_slot(f, slot);
            closed++;
        }
    }
    return closed;
}

/* Close what is open and forget declarations and recorded failures. */
static int
files_clear(pw_files *f)
{
    uint32_t i;
    int closed = files_close_all(f);
    if (!f)
        return closed;
    for (i = 0; i < f->ndecls; i++) {
        free(f->decls[i].file_id);
        free(f->decls[i].path);
    }
    f->ndecls = 0;
    for (i = 0; i < f->nerrors; i++)
        free(f->errors[i]);
    f->nerrors = 0;
    f->teaclave_rules = 0;
    f->next_seq = 1;
    f->max_output = f->max_total = UINT64_MAX;
    f->total_written = 0;
    return closed;
}

int
pw_files_close_all(pw_instance *inst)
{
    return files_close_all(files_get(inst));
}

int
pw_files_reset(pw_instance *inst)
{
    return files_clear(files_get(inst));
}

int
pw_files_configure(pw_instance *inst, int teaclave_rules, uint64_t max_output,
                   uint64_t max_total)
{
    pw_files *f = files_make(inst);
    if (!f)
        return PW_ERR_NOMEM;
    files_init(f);
    f->teaclave_rules = teaclave_rules;
    f->next_seq = 1;
    f->max_output = max_output;
    f->max_total = max_total;
    f->total_written = 0;
    return PW_OK;
}

static void
files_reset_hook(pw_instance *inst, void *state)
{
    (void)inst;
    files_clear(state);
}

static void
files_release(pw_instance *inst, void *state)
{
    pw_files *f = state;
    (void)inst;
    files_clear(f);
    free(f->decls);
    free(f->errors);
    free(f);
}
