/*
 * Internal structures and functions shared by the bridge's C files (not seen
 * by cffi; bridge.h is the part Python calls).
 *
 * The files and who may call whom (no cycles; a file calls only files listed
 * before it):
 *   wamr_env.c       process-wide WAMR init/teardown, per-thread environment
 *   hosts.c          host-function tables, signatures, the trampoline
 *   module.c         module load, native registration, import/export lists
 *   watchdog.c       the timeout thread (instance fields only)
 *   instance.c       instances: new/close/free, attachments, enter/leave,
 *                    calls with deadlines
 *   externs.c        globals, tables, funcref/externref values at the API
 *   fastcall.c       scalar fast calls behind Python's generated callers
 *   memory.c         linear memory access and views
 *   output.c         guest output capture (WAMR's printf hook)
 *   reset.c          snapshot/reset for the reuse-instance policy
 *   teaclave_entry.c Teaclave's entrypoint: argv in the app heap, the call
 *   teaclave_files.c Teaclave's five file natives and their per-instance table
 *   teaclave_invoke.c a warm reuse-instance invocation in one call
 *   wasi.c           WASI preview 1: per-instance configuration, proc_exit,
 *                    the socket refusals
 * Per-instance state of an optional feature (the reset snapshot, the Teaclave
 * file table) is an attachment: instance.c releases it without knowing it.
 */
#ifndef PYWAMR_INTERNAL_H
#define PYWAMR_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include "bridge.h"
#include "wasm_exec_env.h"
#include "wasm_native.h"
#include "wasm_runtime_common.h"
#include "../interpreter/wasm.h"

/* Everything below is internal to the extension: hidden visibility lets the
 * compiler call it directly and use the cheap TLS model for pw_tls_current
 * (the extension exports only PyInit_*, see cmake/extension.map). */
#pragma GCC visibility push(hidden)

#define PW_MAX_HOST_PARAMS 32
#define PW_MAX_ATTACHMENTS 4

/* Export/import kinds (WASM binary encoding). */
#define PW_KIND_FUNC 0
#define PW_KIND_TABLE 1
#define PW_KIND_MEMORY 2
#define PW_KIND_GLOBAL 3

/* ---- wamr_env.c ------------------------------------------------------ */
uint32_t pw_wamr_refcount(void);
const char *pw_core_name(void);
/* WAMR needs a signal environment on every thread that runs wasm: set it up
 * on this thread (once); 0 on failure. */
int pw_ensure_thread_env(void);
/* Call hook (returns 0 on failure) after every WAMR initialisation, to
 * register natives; for constructors of optional features (at most 4). */
void pw_wamr_add_init_hook(int (*hook)(void));

/* ---- hosts.c --------------------------------------------------------- */
/* One registered host function; immutable once made. */
typedef struct pw_entry {
    struct pw_entry *next_all;
    char *module_name;
    char *name;
    char sig[PW_MAX_HOST_PARAMS + 4];
    char plan[PW_MAX_HOST_PARAMS]; /* parameter letters */
    uint32_t nparams;
    char result; /* 0, or i I f F */
    int int_call; /* Python, <= 4 params of i I * and an i/I result or none:
                     values travel as C integers (pw_py_host0..4) */
    int c_call;   /* Python, no '~' or '$' parameter: pywamr._fastcall's
                     caller takes it when set (pw_set_host_caller) */
    int kind;
    pw_raw_fn fn;
    uint32_t py_id;
} pw_entry;

struct pw_hosts {
    pthread_mutex_t lock;
    uint32_t refcount;
    pw_entry *all;      /* every entry ever made, freed with the table */
    pw_entry **current; /* the live entry for each module.name */
    uint32_t ncurrent, cap;
};

void pw_hosts_retain(pw_hosts *hosts);
/* Every host import of every module is linked to this function; the entry
 * is its attachment. */
void pw_trampoline(wasm_exec_env_t exec_env, uint64_t *args);
/* A function type as "(params)results" in WAMR letters (i I f F). */
void pw_format_type(const WASMType *type, char *out, uint32_t out_len);
/* Whether a host entry's signature fits a wasm function type. */
int pw_entry_matches(const pw_entry *e, const WASMType *type);

/* ---- module.c -------------------------------------------------------- */
struct pw_module {
    uint32_t refcount;
    wasm_module_t module;
    uint8_t *bytes; /* WAMR needs the image until unload */
    pw_hosts *hosts;
    int is_aot;
};

void pw_module_retain(pw_module *module);

/* ---- instance.c ------------------------------------------------------ */
/* Per-instance state of an optional feature, owned by the instance once
 * attached.  The instance calls reset() from pw_instance_reset (between
 * invocations) and release() when it is deinstantiated; it never knows what
 * the state is. */
typedef struct pw_attachment_type {
    const char *name;
    void (*reset)(pw_instance *inst, void *state);   /* may be NULL */
    void (*release)(pw_instance *inst, void *state); /* frees state */
} pw_attachment_type;

typedef struct pw_attachment {
    const pw_attachment_type *type;
    void *state;
} pw_attachment;

struct pw_instance {
    struct pw_module *module;
    wasm_module_inst_t module_inst;
    wasm_exec_env_t exec_env;
    uint32_t handle;
    uint32_t stack_size;
    uintptr_t owner; /* thread running a call, 0 when idle */
    uint32_t depth;
    uint32_t views;
    int closed;
    int freed; /* the owner let go while views were alive: the last view frees */
    int host_failed;
    char error[512];
    /* guest output (output.c) */
    int capture;
    int out_truncated;
    uint8_t *out;
    uint64_t out_len, out_cap;
    /* timeouts (watchdog.c) */
    double deadline;
    int armed;
    int expired;
    int kicking;      /* expired AOT call: the watchdog signals its thread */
    pthread_t caller; /* the thread running the armed call */
    struct pw_instance *watch_next;
    /* optional features' state (reset snapshot, Teaclave files) */
    pw_attachment attachments[PW_MAX_ATTACHMENTS];
    /* WASI: proc_exit seen during the current call (wasi.c) */
    int wasi_exited;
    uint32_t wasi_exit_code;
    /* phase timings of pw_instance_start, nanoseconds */
    uint64_t instantiate_ns, exec_env_ns;
};

/* The pw_instance of a WAMR instance, also while its start function runs
 * (before wasm_runtime_instantiate has returned). */
pw_instance *pw_instance_of(wasm_module_inst_t module_inst);
/* The instance being instantiated on this thread (hosts.c; set by
 * pw_instance_start around wasm_runtime_instantiate). */
extern __thread pw_instance *pw_tls_instantiating;

/* The instance whose call is running on this thread (guest output). */
extern __thread pw_instance *pw_tls_current;

/* The state attached for type, or NULL. */
void *pw_instance_attached(pw_instance *inst, const pw_attachment_type *type);
/* Attach state (replacing and releasing an earlier one of the same type);
 * PW_ERR_NOMEM when every slot is taken (state is not taken over then). */
int pw_instance_attach(pw_instance *inst, const pw_attachment_type *type,
                       void *state);
/* Release and forget the state attached for type, if any. */
void pw_instance_detach(pw_instance *inst, const pw_attachment_type *type);
/* Call every attachment's reset hook (pw_instance_reset). */
void pw_instance_reset_attachments(pw_instance *inst);
/* Serialises the end of an instance's life: close, free and the release of
 * its last view (which may come in any order, e.g. at interpreter exit). */
extern pthread_mutex_t pw_lifetime_lock;
/* Free the struct itself (after deinstantiation); caller holds no lock. */
void pw_instance_destroy(pw_instance *inst);

/* Release everything the instance holds in WAMR (also when views pinned it
 * past pw_instance_close). */
void pw_instance_deinstantiate(pw_instance *inst);
wasm_module_inst_t pw_instance_raw(pw_instance *inst);
int pw_call(pw_instance *inst, wasm_function_inst_t func, uint32_t argc,
            uint32_t *argv);

/* Linear memory (default memory) of a live instance: base and size in bytes,
 * NULL/0 without one.  Inline: the trampoline and the natives need it on
 * every call. */
static inline uint8_t *
pw_linear_memory(pw_instance *inst, uint64_t *size)
{
    uint32_t start = 0, end = 0;
    *size = 0;
    if (!inst->module_inst
        || !wasm_runtime_get_app_addr_range(inst->module_inst, 0, &start, &end))
        return NULL;
    *size = end;
    return (uint8_t *)wasm_runtime_addr_app_to_native(inst->module_inst, 0);
}

/* ---- output.c -------------------------------------------------------- */
int pw_vprintf(const char *format, va_list ap);

/* ---- watchdog.c ------------------------------------------------------ */
int pw_watchdog_arm(pw_instance *inst, double timeout);
void pw_watchdog_disarm(pw_instance *inst);
int pw_watchdog_expired(pw_instance *inst);
void pw_watchdog_recover(pw_instance *inst);

/* ---- teaclave_entry.c ------------------------------------------------ */
/* App heap (module_malloc): 0 on failure. */
uint32_t pw_heap_alloc(pw_instance *inst, uint32_t size);
void pw_heap_free(pw_instance *inst, uint32_t offset);
/* Copy n NUL-terminated strings, packed back to back, into the app heap
 * plus a NULL-terminated pointer array; *argv_out gets the array's offset.
 * Returns PW_OK or PW_ERR_NOMEM (nothing left allocated). */
int pw_marshal_argv(pw_instance *inst, uint32_t n, const char *packed,
                    uint32_t packed_len, uint32_t *argv_out);
/* Free what pw_marshal_argv allocated. */
void pw_free_argv(pw_instance *inst, uint32_t argv_offset, uint32_t n);
/* pw_invoke_entry (teaclave_layout 0) or pw_invoke_entry_teaclave (1);
 * keep_args leaves the arguments allocated, for a caller that resets the
 * instance right after (teaclave_invoke.c). */
int pw_entry_call(pw_instance *inst, wasm_function_inst_t func, uint32_t n,
                  const char *packed, uint32_t packed_len, double timeout,
                  int teaclave_layout, int keep_args, int32_t *result);

/* ---- teaclave_files.c ------------------------------------------------ */
/* Close what is open and forget declarations and recorded failures. */
int pw_files_reset(pw_instance *inst);

#pragma GCC visibility pop

#endif
