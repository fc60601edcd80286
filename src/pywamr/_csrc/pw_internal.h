/* Internal structures shared by the bridge's C files (not seen by cffi). */
#ifndef PYWAMR_INTERNAL_H
#define PYWAMR_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "bridge.h"

#define PW_MAX_HOST_PARAMS 32
#define PW_MAX_OPEN_FILES 1024
#define PW_WRITE_FLAG 0x40000000

/* One registered host function; immutable once made. */
typedef struct pw_entry {
    struct pw_entry *next_all;
    char *module_name;
    char *name;
    char sig[PW_MAX_HOST_PARAMS + 4];
    char plan[PW_MAX_HOST_PARAMS]; /* parameter letters */
    uint32_t nparams;
    char result; /* 0, or i I f F */
    int kind;
    pw_raw_fn fn;
    uint32_t py_id;
} pw_entry;

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
    int inited;
    char **errors;
    uint32_t nerrors, errors_cap;
    /* per run (pw_files_configure; pw_files_reset restores the defaults) */
    int teaclave_rules;    /* Teaclave's executor's rules, see teaclave_files.c */
    int32_t next_seq;      /* teaclave_rules: the next handle number */
    uint64_t max_output;   /* bytes per output (UINT64_MAX: unbounded) */
    uint64_t max_total;    /* bytes per run over all outputs */
    uint64_t total_written;
} pw_files;

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
    int host_failed;
    char error[512];
    /* guest output */
    int capture;
    int out_truncated;
    uint8_t *out;
    uint64_t out_len, out_cap;
    /* timeouts */
    double deadline;
    int armed;
    int expired;
    struct pw_instance *watch_next;
    /* Teaclave file API */
    pw_files files;
    /* reuse-instance: state right after instantiation (reset.c) */
    struct pw_snapshot *snapshot;
    /* phase timings of pw_instance_new, nanoseconds */
    uint64_t instantiate_ns, exec_env_ns;
};

int pw_vprintf(const char *format, va_list ap);
void pw_files_free(pw_instance *inst);

/* reset.c */
void pw_snapshot_free(pw_instance *inst);

/* watchdog.c */
int pw_watchdog_arm(pw_instance *inst, double timeout);
void pw_watchdog_disarm(pw_instance *inst);
int pw_watchdog_expired(pw_instance *inst);
void pw_watchdog_recover(pw_instance *inst);

#endif
