/* cffi declarations: a hand-picked subset of wasm_export.h plus the bridge.
 * Parsed by cffi (no preprocessor): keep it plain declarations. */

typedef struct WASMModuleInstanceCommon *wasm_module_inst_t;
typedef void *wasm_function_inst_t;
typedef struct WASMExecEnv *wasm_exec_env_t;

void wasm_runtime_set_exception(wasm_module_inst_t module_inst,
                                const char *exception);

/* bridge.h */
#define PW_OK 0
#define PW_ERR_TRAP -1
#define PW_ERR_CLOSED -2
#define PW_ERR_BUSY -3
#define PW_ERR_RANGE -4
#define PW_ERR_NOMEM -5
#define PW_ERR_HOST -6
#define PW_ERR_TIMEOUT -7
#define PW_ERR_STATE -8
#define PW_HOST_PYTHON 1
#define PW_HOST_NATIVE 2
#define PW_HOST_BUILTIN 3

typedef struct pw_hosts pw_hosts;
typedef struct pw_module pw_module;
typedef struct pw_instance pw_instance;
typedef void (*pw_raw_fn)(wasm_exec_env_t exec_env, uint64_t *args);

int pw_wamr_acquire(int fresh, char *err, uint32_t err_len);
void pw_wamr_release(int destroy);
uint32_t pw_wamr_refcount(void);
const char *pw_core_name(void);
void pw_wamr_version(uint32_t *major, uint32_t *minor, uint32_t *patch);

pw_hosts *pw_hosts_new(void);
void pw_hosts_release(pw_hosts *hosts);
int pw_hosts_set(pw_hosts *hosts, const char *module_name, const char *name,
                 const char *sig, int kind, pw_raw_fn fn, uint32_t py_id);
pw_raw_fn pw_builtin_fn(const char *name);

int pw_module_load(pw_hosts *hosts, const uint8_t *buf, uint32_t size,
                   int allow_unresolved, pw_module **out, char *err,
                   uint32_t err_len);
void pw_module_release(pw_module *module);
int pw_module_is_aot(pw_module *module);
uint32_t pw_module_export_count(pw_module *module);
int pw_module_export(pw_module *module, uint32_t i, const char **name,
                     int *kind, char *sig, uint32_t sig_len);
uint32_t pw_module_import_count(pw_module *module);
int pw_module_import(pw_module *module, uint32_t i, const char **module_name,
                     const char **name, int *kind, char *sig, uint32_t sig_len,
                     int *linked);

int pw_instance_new(pw_module *module, uint32_t stack_size, uint32_t heap_size,
                    uint32_t handle, pw_instance **out, char *err,
                    uint32_t err_len);
int pw_instance_close(pw_instance *inst);
void pw_instance_free(pw_instance *inst);
int pw_instance_is_closed(pw_instance *inst);
int pw_instance_snapshot(pw_instance *inst);
int pw_instance_reset(pw_instance *inst);
void pw_instance_timings(pw_instance *inst, uint64_t *instantiate_ns,
                         uint64_t *exec_env_ns);
wasm_module_inst_t pw_instance_raw(pw_instance *inst);
const char *pw_instance_error(pw_instance *inst);
wasm_function_inst_t pw_instance_func(pw_instance *inst, const char *name,
                                      char *sig, uint32_t sig_len);
int pw_call(pw_instance *inst, wasm_function_inst_t func, uint32_t argc,
            uint32_t *argv);
int pw_call_deadline(pw_instance *inst, wasm_function_inst_t func,
                     uint32_t argc, uint32_t *argv, double timeout);
int64_t pw_call_int(pw_instance *inst, wasm_function_inst_t func,
                    const char *sig, uint32_t nparams, int64_t a0, int64_t a1,
                    int64_t a2, int64_t a3);
int pw_last_status(void);
double pw_call_float(pw_instance *inst, wasm_function_inst_t func,
                     const char *sig, uint32_t nparams, int64_t i0, int64_t i1,
                     int64_t i2, int64_t i3, double d0, double d1, double d2,
                     double d3);

uint8_t *pw_memory(pw_instance *inst, uint64_t *size);
void pw_view_acquire(pw_instance *inst);
void pw_view_release(pw_instance *inst);
int pw_memory_read(pw_instance *inst, uint64_t offset, uint8_t *out,
                   uint64_t size);
int pw_memory_write(pw_instance *inst, uint64_t offset, const uint8_t *data,
                    uint64_t size);
uint32_t pw_heap_alloc(pw_instance *inst, uint32_t size);
void pw_heap_free(pw_instance *inst, uint32_t offset);
int pw_marshal_argv(pw_instance *inst, uint32_t n, const char *packed,
                    uint32_t packed_len, uint32_t *argv_out);
int pw_invoke_entry(pw_instance *inst, wasm_function_inst_t func, uint32_t n,
                    const char *packed, uint32_t packed_len, double timeout,
                    int32_t *result);
void pw_free_argv(pw_instance *inst, uint32_t argv_offset, uint32_t n);

void pw_output_capture(pw_instance *inst, int enabled);
const uint8_t *pw_output_peek(pw_instance *inst, uint64_t *size);
void pw_output_clear(pw_instance *inst);
uint64_t pw_output_size(pw_instance *inst);

int pw_files_declare(pw_instance *inst, const char *file_id, const char *path,
                     int is_output);
int pw_files_close_all(pw_instance *inst);
int pw_files_reset(pw_instance *inst);
void pw_files_configure(pw_instance *inst, int teaclave_rules,
                        uint64_t max_output, uint64_t max_total);
int pw_invoke_entry_teaclave(pw_instance *inst, wasm_function_inst_t func,
                             uint32_t n, const char *packed,
                             uint32_t packed_len, double timeout,
                             int32_t *result);
int pw_files_output_state(pw_instance *inst, const char *file_id, int *failed);
uint32_t pw_files_error_count(pw_instance *inst);
const char *pw_files_error(pw_instance *inst, uint32_t i);

extern "Python+C" int pw_py_host(uint32_t py_id, uint32_t inst_handle,
                                 uint64_t *args, uint8_t *memory);
