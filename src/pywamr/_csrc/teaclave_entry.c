/*
 * Teaclave's entrypoint call: `int entrypoint(int argc, char *argv[])` with
 * the arguments (key/value strings) copied into the guest's app heap as
 * Teaclave's executor does, the call made with an optional deadline, and the
 * arguments freed again.  Also the app-heap helpers it builds on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw_internal.h"
#include "pw_util.h"
#include "wasm_runtime_common.h"

/*
 * A payload that exports malloc and free has no app heap: WAMR allocates the
 * arguments by calling the guest's own allocator.  Outside a call it creates
 * (and destroys) a whole exec env for every such call; with the instance's
 * exec env made the thread's current one, the allocator runs on it instead
 * (five times cheaper per warm invocation).  Returns 1 if it set it.  WAMR
 * forgets the current exec env when the allocator returns, so it is set
 * again for every allocation (guest_malloc, guest_dup, guest_free).
 */
static int
use_exec_env(pw_instance *inst)
{
    if (inst->closed || !inst->exec_env || wasm_runtime_get_exec_env_tls()
        || !pw_ensure_thread_env())
        return 0;
    if (inst->exec_env->handle != os_self_thread())
        wasm_exec_env_set_thread_info(inst->exec_env);
    wasm_runtime_set_exec_env_tls(inst->exec_env);
    return 1;
}

static void
release_exec_env(int was_set)
{
    if (was_set)
        wasm_runtime_set_exec_env_tls(NULL);
}


static uint32_t
guest_malloc(pw_instance *inst, uint32_t size, void **native)
{
    int set = use_exec_env(inst);
    uint32_t offset = wasm_runtime_module_malloc(inst->module_inst, size, native);
    release_exec_env(set);
    return offset;
}

static uint32_t
guest_dup(pw_instance *inst, const char *data, uint32_t size)
{
    int set = use_exec_env(inst);
    uint32_t offset = wasm_runtime_module_dup_data(inst->module_inst, data, size);
    release_exec_env(set);
    return offset;
}

static void
guest_free(pw_instance *inst, uint32_t offset)
{
    int set = use_exec_env(inst);
    wasm_runtime_module_free(inst->module_inst, offset);
    release_exec_env(set);
}

uint32_t
pw_heap_alloc(pw_instance *inst, uint32_t size)
{
    if (inst->closed)
        return 0;
    return guest_malloc(inst, size, NULL);
}

void
pw_heap_free(pw_instance *inst, uint32_t offset)
{
    if (!inst->closed && offset)
        guest_free(inst, offset);
}

int
pw_marshal_argv(pw_instance *inst, uint32_t n, const char *packed,
                uint32_t packed_len, uint32_t *argv_out)
{
    uint32_t i, array, block;
    uint32_t *slots;
    char *native;
    if (inst->closed)
        return PW_ERR_CLOSED;
    /* One block for the strings, one for the pointer array (as Teaclave
     * does, both live in the app heap). */
    array = guest_malloc(inst, 4 * n + 4, (void **)&slots);
    if (!array)
        return PW_ERR_NOMEM;
    if (!n) {
        slots[0] = 0;
        *argv_out = array;
        return PW_OK;
    }
    block = guest_malloc(inst, packed_len, (void **)&native);
    if (!block) {
        guest_free(inst, array);
        return PW_ERR_NOMEM;
    }
    memcpy(native, packed, packed_len);
    slots = wasm_runtime_addr_app_to_native(inst->module_inst, array);
    for (i = 0; i < n; i++) { /* Python packs exactly n terminated strings */
        uint32_t len = (uint32_t)strnlen(native, packed_len);
        uint32_t step = len < packed_len ? len + 1 : packed_len;
        slots[i] = block;
        block += step;
        native += step;
        packed_len -= step;
    }
    slots[n] = 0; /* argv[argc] == NULL, as C expects */
    *argv_out = array;
    return PW_OK;
}

void
pw_free_argv(pw_instance *inst, uint32_t array, uint32_t n)
{
    uint32_t *slots;
    if (inst->closed || !array)
        return;
    slots = wasm_runtime_addr_app_to_native(inst->module_inst, array);
    if (slots && n)
        guest_free(inst, slots[0]); /* the strings */
    guest_free(inst, array);
}

/* pywamr's layout; keep_args leaves the arguments allocated (the caller
 * resets the instance right after: freeing them would be wasted guest
 * allocator calls). */
static int
entry_pywamr(pw_instance *inst, wasm_function_inst_t func, uint32_t n,
             const char *packed, uint32_t packed_len, double timeout,
             int keep_args, int32_t *result)
{
    uint32_t argv_off, argv[2];
    int rc = pw_marshal_argv(inst, n, packed, packed_len, &argv_off);
    if (rc != PW_OK)
        return rc;
    argv[0] = n;
    argv[1] = argv_off;
    rc = pw_call_deadline(inst, func, 2, argv, timeout);
    if (rc == PW_OK)
        *result = (int32_t)argv[0];
    if (!keep_args)
        pw_free_argv(inst, argv_off, n);
    return rc;
}

int
pw_invoke_entry(pw_instance *inst, wasm_function_inst_t func, uint32_t n,
                const char *packed, uint32_t packed_len, double timeout,
                int32_t *result)
{
    return entry_pywamr(inst, func, n, packed, packed_len, timeout, 0, result);
}

/* Teaclave's layout (see pw_invoke_entry_teaclave); keep_args as above. */
static int
entry_teaclave(pw_instance *inst, wasm_function_inst_t func, uint32_t n,
               const char *packed, uint32_t packed_len, double timeout,
               int keep_args, int32_t *result)
{
    wasm_module_inst_t mi = inst->module_inst;
    uint32_t i, array, cells, nresults, nparams, param_cells = 0;
    wasm_valkind_t kinds[64];
    uint32_t *argv;
    uint8_t *offsets;
    int rc;
    if (inst->closed || !mi)
        return PW_ERR_CLOSED;
    /* WAMR's interpreter refuses (argc, argv) for a function wanting more
     * cells; a core with reference types would read past argv instead, so
     * the refusal is made here, in WAMR's words, for every core. */
    nparams = wasm_func_get_param_count(func, mi);
    if (nparams > 64)
        param_cells = 2 * nparams; /* surely more than 2 */
    else {
        wasm_func_get_param_types(func, mi, kinds);
        for (i = 0; i < nparams; i++)
            param_cells += kinds[i] == WASM_I64 || kinds[i] == WASM_F64 ? 2 : 1;
    }
    if (param_cells > 2) {
        snprintf(inst->error, sizeof(inst->error),
                 "invalid argument count 2, must be no smaller than %u",
                 param_cells);
        return PW_ERR_TRAP;
    }
    /* argv also receives the results: room for every result cell */
    nresults = wasm_func_get_result_count(func, mi);
    cells = 2 * nresults > 2 ? 2 * nresults : 2;
    offsets = malloc(4 * (size_t)n + 1);
    argv = calloc(cells, sizeof(*argv));
    if (!offsets || !argv) {
        free(offsets);
        free(argv);
        return PW_ERR_NOMEM;
    }
    /* As Teaclave: each string on its own, in order, then the array (both
     * with dup_data; what does not fit is offset 0, the call goes ahead). */
    for (i = 0; i < n; i++) {
        uint32_t len = (uint32_t)strnlen(packed, packed_len);
        uint32_t step = len < packed_len ? len + 1 : packed_len;
        uint32_t off = guest_dup(inst, packed, step);
        offsets[4 * i] = (uint8_t)off; /* little-endian, as wasm reads it */
        offsets[4 * i + 1] = (uint8_t)(off >> 8);
        offsets[4 * i + 2] = (uint8_t)(off >> 16);
        offsets[4 * i + 3] = (uint8_t)(off >> 24);
        packed += step;
        packed_len -= step;
    }
    array = guest_dup(inst, (const char *)offsets, 4 * n);
    argv[0] = n;
    argv[1] = array;
    rc = pw_call_deadline(inst, func, 2, argv, timeout);
    if (rc == PW_OK)
        *result = (int32_t)argv[0];
    if (!inst->closed && !keep_args) { /* free the strings and the array */
        for (i = 0; i < n; i++) {
            uint32_t off = (uint32_t)offsets[4 * i]
                           | (uint32_t)offsets[4 * i + 1] << 8
                           | (uint32_t)offsets[4 * i + 2] << 16
                           | (uint32_t)offsets[4 * i + 3] << 24;
            if (off)
                guest_free(inst, off);
        }
        if (array)
            guest_free(inst, array);
    }
    free(offsets);
    free(argv);
    return rc;
}

int
pw_invoke_entry_teaclave(pw_instance *inst, wasm_function_inst_t func,
                         uint32_t n, const char *packed, uint32_t packed_len,
                         double timeout, int32_t *result)
{
    return entry_teaclave(inst, func, n, packed, packed_len, timeout, 0,
                          result);
}

int
pw_entry_call(pw_instance *inst, wasm_function_inst_t func, uint32_t n,
              const char *packed, uint32_t packed_len, double timeout,
              int teaclave_layout, int keep_args, int32_t *result)
{
    return (teaclave_layout ? entry_teaclave : entry_pywamr)(
        inst, func, n, packed, packed_len, timeout, keep_args, result);
}
