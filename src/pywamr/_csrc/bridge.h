/*
 * pywamr bridge: the small C layer between cffi and WAMR.
 *
 * This header declares exactly what Python calls: tools/ffibuild.py turns
 * it into the cffi declarations (plain declarations and #defines only; C
 * that Python does not call goes to pw_internal.h).  The functions own the
 * native lifetimes (reference counts on modules and host tables), keep WAMR's
 * per-thread requirements, guard instances against concurrent use, and turn
 * WAMR failures into status codes plus a message.  No Python API is used here:
 * Python callbacks are reached only through the cffi `extern "Python"`
 * function pw_py_host.
 */
#ifndef PYWAMR_BRIDGE_H
#define PYWAMR_BRIDGE_H

#include <stdint.h>
#include "wasm_export.h"

/* Internal to the extension (only PyInit_* leaves it): direct calls. */
#pragma GCC visibility push(hidden)

/* Status codes.  Python reads them from the cffi library by name
 * (lib.PW_ERR_TRAP, ...): this is their only definition. */
#define PW_OK 0
#define PW_ERR_TRAP -1        /* wasm trapped; message in the instance */
#define PW_ERR_CLOSED -2      /* object already closed */
#define PW_ERR_BUSY -3        /* instance in use by another thread */
#define PW_ERR_RANGE -4       /* an argument does not fit its wasm type */
#define PW_ERR_NOMEM -5       /* allocation failed */
#define PW_ERR_HOST -6        /* a Python host function raised */
#define PW_ERR_TIMEOUT -7     /* the call ran past its deadline */
#define PW_ERR_STATE -8       /* the call is not allowed in this state */
#define PW_ERR_LOAD -9        /* WAMR refused the module; message in err */
#define PW_ERR_LINK -10       /* an import is unresolved or does not match
                                 its host function; message in err */
#define PW_ERR_INSTANTIATE -11 /* instantiation failed; message in err */

/* Host entry kinds. */
#define PW_HOST_PYTHON 1
#define PW_HOST_NATIVE 2      /* WAMR raw ABI; pointer arguments converted */
#define PW_HOST_BUILTIN 3     /* our own natives; raw app offsets */

typedef struct pw_hosts pw_hosts;
typedef struct pw_module pw_module;
typedef struct pw_instance pw_instance;
typedef void (*pw_raw_fn)(wasm_exec_env_t exec_env, uint64_t *args);

/* ---- process-wide WAMR state (wamr_env.c) --------------------------- */
/* Initialise WAMR for this core (once) and take a reference.  With fresh=1
 * the caller needs WAMR to itself: it fails with PW_ERR_STATE unless no
 * other reference exists, and re-initialises WAMR from scratch. */
int pw_wamr_acquire(int fresh, char *err, uint32_t err_len);
/* Drop a reference; with destroy=1 and no reference left, wasm_runtime_destroy. */
void pw_wamr_release(int destroy);
void pw_wamr_version(uint32_t *major, uint32_t *minor, uint32_t *patch);

/* ---- host function tables, one per Runtime (hosts.c) ---------------- */
pw_hosts *pw_hosts_new(void);
void pw_hosts_release(pw_hosts *hosts);
/* Add or replace module.name.  sig is WAMR's signature string.  kind is
 * PW_HOST_*; fn is used by the native kinds, py_id by PW_HOST_PYTHON.
 * Returns PW_OK, PW_ERR_RANGE for a bad signature, PW_ERR_NOMEM. */
int pw_hosts_set(pw_hosts *hosts, const char *module_name, const char *name,
                 const char *sig, int kind, pw_raw_fn fn, uint32_t py_id);
/* The builtin Teaclave file API natives, for pw_hosts_set(kind=BUILTIN). */
pw_raw_fn pw_builtin_fn(const char *name);

/* ---- modules (module.c) ---------------------------------------------- */
/* Load a .wasm or AOT image (copied).  Unless allow_unresolved, any function
 * import that neither `hosts` nor libc-builtin provides fails the load with a
 * message naming it (PW_ERR_LINK), as does a host function registered with
 * a different signature; WAMR's own refusals are PW_ERR_LOAD. */
/* What pywamr must link itself in a .wasm (read before loading; see
 * _linking.py and _names.py): the number of table and memory imports, and
 * whether an import or export name has a NUL byte.  -1 when the framing or
 * the import/export sections do not parse (WAMR's loader then judges). */
int pw_wasm_scan(const uint8_t *buf, uint32_t size,
                 uint32_t *table_memory_imports, int *nul_import_name,
                 int *nul_export_name);

int pw_module_load(pw_hosts *hosts, const uint8_t *buf, uint32_t size,
                   int allow_unresolved, pw_module **out, char *err,
                   uint32_t err_len);
void pw_module_release(pw_module *module);
int pw_module_is_aot(pw_module *module);
uint32_t pw_module_export_count(pw_module *module);
/* Name and kind of export i; for functions, type as "(params)results" in
 * WAMR letters (i I f F) written into sig. Returns 0 or -1 (bad index). */
int pw_module_export(pw_module *module, uint32_t i, const char **name,
                     int *kind, char *sig, uint32_t sig_len);
uint32_t pw_module_import_count(pw_module *module);
/* linked: 0 unresolved, 1 our host table, 2 WAMR built-in (libc). */
int pw_module_import(pw_module *module, uint32_t i, const char **module_name,
                     const char **name, int *kind, char *sig, uint32_t sig_len,
                     int *linked);

/* ---- instances and calls (instance.c) -------------------------------- */
/* A new, not yet instantiated handle (NULL when out of memory); handle is
 * what Python host functions receive as the instance. */
pw_instance *pw_instance_alloc(uint32_t handle);
/* Instantiate module into inst.  Host functions called by the start function
 * see the instance (its memory; its exports are callable only once this
 * returns).  Failures are PW_ERR_INSTANTIATE with the reason in err; the
 * handle is then closed (free it with pw_instance_free). */
int pw_instance_start(pw_instance *inst, pw_module *module, uint32_t stack_size,
                      uint32_t heap_size, char *err, uint32_t err_len);
/* Deinstantiate now, or as soon as the last memory view is released.
 * Fails with PW_ERR_BUSY while a call is running on another thread. */
int pw_instance_close(pw_instance *inst);
/* Free the handle itself (the cffi finaliser); closes first if needed. */
void pw_instance_free(pw_instance *inst);
int pw_instance_is_closed(pw_instance *inst);
/* Record the instance's state for pw_instance_reset (reset.c). */
int pw_instance_snapshot(pw_instance *inst);
/* Restore the recorded state; PW_ERR_STATE if it cannot be (e.g. the memory
 * grew): replace the instance then. */
int pw_instance_reset(pw_instance *inst);
/* How long pw_instance_start spent instantiating and creating the exec env. */
void pw_instance_timings(pw_instance *inst, uint64_t *instantiate_ns,
                         uint64_t *exec_env_ns);
const char *pw_instance_error(pw_instance *inst);

/* A function of the instance; NULL when there is no such function export.
 * Types are written as in pw_module_export. */
wasm_function_inst_t pw_instance_func(pw_instance *inst, const char *name,
                                      char *sig, uint32_t sig_len);
/* The function export at index export_index of the module's exports (for
 * names WAMR cannot look up: it cuts them at a NUL byte); NULL when that
 * export is not a function. */
wasm_function_inst_t pw_instance_func_at(pw_instance *inst,
                                         uint32_t export_index, char *sig,
                                         uint32_t sig_len);

/* Call with argv in WAMR cell layout (results land in argv) and a deadline
 * in seconds (<= 0: none); PW_ERR_TIMEOUT when it passes.  The instance
 * stays usable. */
int pw_call_deadline(pw_instance *inst, wasm_function_inst_t func,
                     uint32_t argc, uint32_t *argv, double timeout);
/* ---- scalar fast calls (fastcall.c) ---------------------------------- */
/* A looked-up function prepared for the fast calls: i32/i64/f32/f64 params
 * and results only (sig is the function's "(params)results" string); the
 * calls below state which shapes each takes.  NULL for another signature or
 * without memory.  It does not own inst: the caller
 * keeps the instance handle alive while the fastfn lives. */
typedef struct pw_fastfn pw_fastfn;
pw_fastfn *pw_fastfn_new(pw_instance *inst, wasm_function_inst_t func,
                         const char *sig);
void pw_fastfn_free(pw_fastfn *f);
/* f is the pw_fastfn's address as an integer (cffi converts an int faster
 * than a typed pointer).  All parameters i32/i64 (pw_fcallN takes N of
 * them), at most one i32/i64 result, returned (0 without a result).  On failure returns
 * PW_INT_SENTINEL; pw_last_status() (per thread) tells the status of the
 * last fast call on this thread. */
#define PW_INT_SENTINEL INT64_MIN
int64_t pw_fcall0(uintptr_t f);
int64_t pw_fcall1(uintptr_t f, int64_t a0);
int64_t pw_fcall2(uintptr_t f, int64_t a0, int64_t a1);
int64_t pw_fcall3(uintptr_t f, int64_t a0, int64_t a1, int64_t a2);
int64_t pw_fcall4(uintptr_t f, int64_t a0, int64_t a1, int64_t a2, int64_t a3);
int pw_last_status(void);
/* Any scalar signature: ints in i0..i3, floats in d0..d3 (by position); a
 * float (or no) result; NaN on failure (then pw_last_status() tells). */
double pw_fcall_float(uintptr_t f, int64_t i0, int64_t i1, int64_t i2,
                      int64_t i3, double d0, double d1, double d2, double d3);
/* Any scalar signature, for pywamr._fastcall (the C-API caller, which gets
 * this function's address from cffi): argv holds the argc cells of the
 * parameters in WAMR's layout and receives the results' cells.  Returns the
 * status (PW_OK or a failure), also left in pw_last_status(). */
int pw_fcall_cells(uintptr_t f, uint32_t argc, uint32_t *argv);

/* ---- linear memory (memory.c) ----------------------------------------- */
/* Linear memory (default memory): base and current size in bytes. */
uint8_t *pw_memory(pw_instance *inst, uint64_t *size);
/* Views pin the linear memory: deinstantiation waits for the last one. */
void pw_view_acquire(pw_instance *inst);
void pw_view_release(pw_instance *inst);
/* Native address of [offset, offset + size) in linear memory, for a copy
 * made while the caller holds the GIL (so no close can run meanwhile);
 * NULL if the instance is closed or the range is out of bounds. */
const char *pw_memory_at(pw_instance *inst, uint64_t offset, uint64_t size);
int pw_memory_write(pw_instance *inst, uint64_t offset, const uint8_t *data,
                    uint64_t size);
/* ---- Teaclave's entrypoint (teaclave_entry.c) -------------------------- */
/* Teaclave's call in one step: marshal n packed strings, call
 * entrypoint(argc = n, argv) (a (ii)i function) with an optional deadline,
 * free the arguments; *result gets the return value. */
int pw_invoke_entry(pw_instance *inst, wasm_function_inst_t func, uint32_t n,
                    const char *packed, uint32_t packed_len, double timeout,
                    int32_t *result);
/* Teaclave's entry call exactly: each string is copied into the app heap on
 * its own (wasm_runtime_module_dup_data, in order), then the array of their
 * offsets (no terminator); a string or the array that does not fit becomes
 * offset 0 and the call goes ahead.  entrypoint is called with (argc = n,
 * argv) whatever its type; *result gets the first result cell (argc itself
 * for a function without results). */
int pw_invoke_entry_teaclave(pw_instance *inst, wasm_function_inst_t func,
                             uint32_t n, const char *packed,
                             uint32_t packed_len, double timeout,
                             int32_t *result);

/* ---- guest output (output.c) ------------------------------------------ */
/* Guest output (printf & co.): captured per instance while enabled. */
void pw_output_capture(pw_instance *inst, int enabled);
/* Take the captured bytes: returns a pointer valid until the next call on
 * this instance or pw_output_clear. */
const uint8_t *pw_output_peek(pw_instance *inst, uint64_t *size);
void pw_output_clear(pw_instance *inst);
uint64_t pw_output_size(pw_instance *inst);

/* ---- Teaclave file API state, per instance (teaclave_files.c) ------- */
/* Declare a file id; is_output selects the output table.  path is where the
 * bytes are read from or written to. */
int pw_files_declare(pw_instance *inst, const char *file_id, const char *path,
                     int is_output);
/* Close every handle the payload left open; returns how many there were. */
int pw_files_close_all(pw_instance *inst);
/* Settings for the coming run (reset between runs).  teaclave_rules:
 * Teaclave's executor's rules (out-of-bounds pointers trap, handles numbered
 * 1..1023 and never reused, file ids decoded lossily as UTF-8).
 * max_output / max_total: bytes a run may write per output and over all
 * outputs (UINT64_MAX: unbounded, the default); a write past a cap writes
 * nothing and returns -1.  PW_OK or PW_ERR_NOMEM. */
int pw_files_configure(pw_instance *inst, int teaclave_rules,
                       uint64_t max_output, uint64_t max_total);
/* Whether output file_id was created during the run (1), and whether any
 * write or close on it failed (*failed). -1 if not declared. */
int pw_files_output_state(pw_instance *inst, const char *file_id, int *failed);
/* Recorded failures: count, and the i-th message. */
uint32_t pw_files_error_count(pw_instance *inst);
const char *pw_files_error(pw_instance *inst, uint32_t i);

/* ---- a warm invocation in one call (teaclave_invoke.c) ------------------ */
/* One invocation of a kept (snapshotted) instance with no declared files:
 * pw_files_configure(teaclave_rules, max_output, max_total), output capture
 * on or off, the entry call (Teaclave's layout or pywamr's, as
 * pw_invoke_entry_teaclave / pw_invoke_entry; *result set on PW_OK), then,
 * when the run left nothing for Python to collect (no file error, no
 * output), the reset.  *reset: 1 reset done, -1 reset impossible (replace
 * the instance), 0 not attempted (collect, then pw_instance_reset).  The
 * arguments are not freed: the reset that always follows restores the app
 * heap or the guest's allocator anyway.  Returns the call's status. */
int pw_teaclave_invoke_kept(pw_instance *inst, wasm_function_inst_t func,
                            uint32_t n, const char *packed,
                            uint32_t packed_len, double timeout,
                            int teaclave_layout, int teaclave_rules,
                            uint64_t max_output, uint64_t max_total,
                            int capture, int32_t *result, int *reset);

/* Python host dispatch: implemented in Python (cffi extern "Python").
 * args holds raw wasm values, pointer/length pairs already validated;
 * returns 0 or PW_ERR_HOST. */
extern int pw_py_host(uint32_t py_id, uint32_t inst_handle, uint64_t *args,
                      uint8_t *memory);
/* The same for host functions of at most four i32/i64/pointer parameters
 * and an i32/i64 result or none (the rule is stated in _host.int_call and
 * hosts.c): the values as C integers (i32 sign-extended, pointers as
 * unsigned offsets), the result returned (0 without one).  A function that
 * raised calls pw_host_raised() before returning. */
extern int64_t pw_py_host0(uint32_t py_id, uint32_t inst_handle);
extern int64_t pw_py_host1(uint32_t py_id, uint32_t inst_handle, int64_t a0);
extern int64_t pw_py_host2(uint32_t py_id, uint32_t inst_handle, int64_t a0,
                           int64_t a1);
extern int64_t pw_py_host3(uint32_t py_id, uint32_t inst_handle, int64_t a0,
                           int64_t a1, int64_t a2);
extern int64_t pw_py_host4(uint32_t py_id, uint32_t inst_handle, int64_t a0,
                           int64_t a1, int64_t a2, int64_t a3);
/* Called by Python from a pw_py_host0..4 callback that failed. */
void pw_host_raised(void);
/* Route Python host functions without '~' or '$' parameters to a C caller
 * instead of pw_py_host / pw_py_host0..4: fn is the address of
 * pywamr._fastcall's
 *   int fn(uint32_t py_id, uint32_t inst_handle, const char *plan,
 *          uint32_t nparams, char result, uint64_t *args)
 * which reads the raw wasm values in args by plan (i I f F *) and stores
 * the result (kind result, 0 for none) into args[0] as pw_py_host does.
 * Returns 0, 1 when the function raised or returned a bad result (its
 * Python side stored the exception on the instance), -1 when it does not
 * know py_id (the cffi way is taken then).  0 turns it off.  Set once,
 * before calls. */
void pw_set_host_caller(uintptr_t fn);

/* ---- exports other than functions; reference values (externs.c) ----- */
/* Addressed by export position (Module.exports order).  Value types are
 * WAMR's VALUE_TYPE_* bytes.  PW_ERR_STATE: no such export of that kind. */
int pw_global_type(pw_instance *inst, uint32_t export_index, uint8_t *type,
                   int *is_mutable);
/* The value's bytes, little-endian, zero-padded to 16 (funcref/externref:
 * the 32-bit index WAMR stores). */
int pw_global_get(pw_instance *inst, uint32_t export_index, uint8_t *out16);
/* PW_ERR_RANGE for an immutable global. */
int pw_global_set(pw_instance *inst, uint32_t export_index,
                  const uint8_t *in16);
int pw_table_info(pw_instance *inst, uint32_t export_index, uint8_t *elem_type,
                  uint32_t *size, uint32_t *max_size);
/* Elements are funcref indexes / externref indexes (0xFFFFFFFF: null);
 * PW_ERR_RANGE past the end. */
int pw_table_get(pw_instance *inst, uint32_t export_index, uint32_t i,
                 uint32_t *ref);
int pw_table_set(pw_instance *inst, uint32_t export_index, uint32_t i,
                 uint32_t ref);
/* *old_size = the size before, or 0xFFFFFFFF when it cannot grow. */
int pw_table_grow(pw_instance *inst, uint32_t export_index, uint32_t delta,
                  uint32_t init, uint32_t *old_size);
/* An externref's index for host value (0: null), and back (0 for null). */
int pw_externref_index(pw_instance *inst, uint64_t host_value, uint32_t *index);
uint64_t pw_externref_value(uint32_t index);
/* The function a funcref names (its index in the module's function space),
 * its type written as in pw_module_export; NULL when out of range. */
wasm_function_inst_t pw_funcref_function(pw_instance *inst, uint32_t index,
                                         char *sig, uint32_t sig_len);
/* The function-space index of func in inst, or -1. */
int64_t pw_function_index(pw_instance *inst, wasm_function_inst_t func);

/* An imported global (import position i): its type, mutability and whether
 * WAMR's libc-builtin provides it; PW_ERR_STATE if import i is no global. */
int pw_module_import_global(pw_module *module, uint32_t i, uint8_t *type,
                            int *is_mutable, int *builtin);
/* The value instances of module get for imported global i (bytes as
 * pw_global_get); set before instantiating. */
int pw_module_link_global(pw_module *module, uint32_t i, const uint8_t *value16);

/* ---- WASI preview 1 (wasi.c) ---------------------------------------- */
/* pw_instance_start for a module that imports WASI, with its own
 * configuration: argv, env ("NAME=VALUE"), ndirs preopened directories (host
 * path, and the name the guest sees), and host descriptors for stdin, stdout
 * and stderr (the instance gets duplicates; the caller keeps and closes
 * these).  Serialised with every other WASI instantiation (WAMR keeps the
 * arguments on the module).  Status codes and errors as pw_instance_start. */
int pw_wasi_instance_start(pw_instance *inst, pw_module *module,
                           uint32_t stack_size, uint32_t heap_size,
                           const char **argv, uint32_t argc, const char **env,
                           uint32_t envc, const char **host_dirs,
                           const char **guest_dirs, uint32_t ndirs,
                           int stdin_fd, int stdout_fd, int stderr_fd,
                           char *err, uint32_t err_len);
/* Whether the last failed call ended in proc_exit: 1 and *code, once. */
int pw_wasi_take_exit(pw_instance *inst, uint32_t *code);

#pragma GCC visibility pop

#endif
