/* cffi declarations for pywamr._compiler (see compiler.h).
 * Parsed by cffi (no preprocessor): keep it plain declarations. */

#define PWC_OK 0
#define PWC_ERR_LOAD -1
#define PWC_ERR_COMPILE -2
#define PWC_ERR_NOMEM -3
#define PWC_ERR_INIT -4

typedef struct pwc_options {
    const char *target_arch;
    const char *target_cpu;
    const char *cpu_features;
    uint32_t opt_level;
    uint32_t size_level;
    int bounds_checks;
    int stack_bounds_checks;
    int enable_simd;
    int enable_thread_mgr;
    int enable_aux_stack_check;
    int enable_bulk_memory;
    int enable_ref_types;
} pwc_options;

int pwc_compile(const uint8_t *wasm, uint32_t wasm_size,
                const pwc_options *options, uint8_t **out, uint32_t *out_size,
                char *err, uint32_t err_len);
void pwc_free(uint8_t *buf);
void pwc_wamr_version(uint32_t *major, uint32_t *minor, uint32_t *patch);
const char *pwc_llvm_version(void);
