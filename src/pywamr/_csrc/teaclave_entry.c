/*
 * Teaclave's entrypoint call: `int entrypoint(int argc, char *argv[])` with
 * the arguments (key/value strings) copied into the guest's app heap as
 * Teaclave's executor does, the call made with an optional deadline, and the
 * arguments freed again.  Also the app-heap helpers it builds on.
 */
#include <string.h>

#include "pw_internal.h"
#include "pw_util.h"
#include "wasm_runtime_common.h"

uint32_t
pw_heap_alloc(pw_instance *inst, uint32_t size)
{
    if (inst->closed)
        return 0;
    return wasm_runtime_module_malloc(inst->module_inst, size, NULL);
}

void
pw_heap_free(pw_instance *inst, uint32_t offset)
{
    if (!inst->closed && offset)
        wasm_runtime_module_free(inst->module_inst, offset);
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
    array = wasm_runtime_module_malloc(inst->module_inst, 4 * n + 4,
                                       (void **)&slots);
    if (!array)
        return PW_ERR_NOMEM;
    if (!n) {
        slots[0] = 0;
        *argv_out = array;
        return PW_OK;
    }
    block = wasm_runtime_module_malloc(inst->module_inst, packed_len,
                                       (void **)&native);
    if (!block) {
        wasm_runtime_module_free(inst->module_inst, array);
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
        wasm_runtime_module_free(inst->module_inst, slots[0]); /* the strings */
    wasm_runtime_module_free(inst->module_inst, array);
}

/*
 * A payload that exports malloc and free has no app heap: WAMR allocates the
 * arguments by calling the guest's own allocator.  Outside a call it creates
 * (and destroys) a whole exec env for every such call; with the instance's
 * exec env made the thread's current one, the allocator runs on it instead
 * (five times cheaper per warm invocation).  Returns 1 if it set it.
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

int
pw_invoke_entry(pw_instance *inst, wasm_function_inst_t func, uint32_t n,
                const char *packed, uint32_t packed_len, double timeout,
                int32_t *result)
{
    uint32_t argv_off, argv[2];
    int set = use_exec_env(inst);
    int rc = pw_marshal_argv(inst, n, packed, packed_len, &argv_off);
    release_exec_env(set);
    if (rc != PW_OK)
        return rc;
    argv[0] = n;
    argv[1] = argv_off;
    rc = pw_call_deadline(inst, func, 2, argv, timeout);
    if (rc == PW_OK)
        *result = (int32_t)argv[0];
    set = use_exec_env(inst);
    pw_free_argv(inst, argv_off, n);
    release_exec_env(set);
    return rc;
}
