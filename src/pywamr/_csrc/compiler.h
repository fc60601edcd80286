/*
 * pywamr AOT compiler: wasm bytes in, a WAMR 1.1.2 AOT image out.
 *
 * Built only when LLVM 14 is found (cmake/compiler), into its own extension
 * module, pywamr._compiler, together with a private copy of WAMR's core built
 * in compiler mode (WASM_ENABLE_WAMR_COMPILER changes the layout of the
 * loader's structures, so it cannot share a runtime core).  Only PyInit_*
 * leaves that library.  Python reaches it through src/pywamr/_aot.py only.
 */
#ifndef PYWAMR_COMPILER_H
#define PYWAMR_COMPILER_H

#include <stdint.h>

/* Status codes (_aot.py mirrors them). */
#define PWC_OK 0
#define PWC_ERR_LOAD -1    /* the wasm module is malformed or invalid */
#define PWC_ERR_COMPILE -2 /* LLVM/WAMR refused the options or the module */
#define PWC_ERR_NOMEM -3
#define PWC_ERR_INIT -4    /* the compiler's WAMR core could not start */

typedef struct pwc_options {
    const char *target_arch;  /* WAMR/LLVM arch name, e.g. "x86_64" */
    const char *target_cpu;   /* LLVM CPU, e.g. "x86-64-v2" */
    const char *cpu_features; /* LLVM feature string or NULL */
    uint32_t opt_level;       /* 0..3 */
    uint32_t size_level;      /* 0..3 */
    int bounds_checks;        /* 0: the runtime's guard pages check memory */
    int stack_bounds_checks;  /* 1: native stack overflow traps */
    int enable_simd;
    int enable_thread_mgr;    /* suspend-flag checks: timeouts stop AOT code */
    int enable_aux_stack_check;
    int enable_bulk_memory;
    int enable_ref_types;
} pwc_options;

/* Compile a wasm module.  On success *out is a malloc()ed AOT image of
 * *out_size bytes (free it with pwc_free).  Thread-safe: compilations are
 * serialised (WAMR keeps the last error in a global). */
int pwc_compile(const uint8_t *wasm, uint32_t wasm_size,
                const pwc_options *options, uint8_t **out, uint32_t *out_size,
                char *err, uint32_t err_len);
void pwc_free(uint8_t *buf);
void pwc_wamr_version(uint32_t *major, uint32_t *minor, uint32_t *patch);
const char *pwc_llvm_version(void);

#endif
