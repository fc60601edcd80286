/*
 * Instances: creation and the two-step end (close, then free when cffi
 * collects the handle; memory views defer deinstantiation), attachments
 * (optional features' per-instance state, released here without being
 * known), the per-thread claim that serialises calls, and calls with
 * deadlines.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pw_internal.h"
#include "pw_util.h"
#include "../interpreter/wasm_runtime.h"
#if WASM_ENABLE_AOT != 0
#include "../aot/aot_runtime.h"
#endif

__thread pw_instance *pw_tls_current;

/* ------------------------------------------------------------------ */
/* Attachments: optional features' per-instance state                  */
/* ------------------------------------------------------------------ */

void *
pw_instance_attached(pw_instance *inst, const pw_attachment_type *type)
{
    uint32_t i;
    for (i = 0; i < PW_MAX_ATTACHMENTS; i++)
        if (inst->attachments[i].type == type)
            return inst->attachments[i].state;
    return NULL;
}

int
pw_instance_attach(pw_instance *inst, const pw_attachment_type *type,
                   void *state)
{
    uint32_t i;
    pw_instance_detach(inst, type);
    for (i = 0; i < PW_MAX_ATTACHMENTS; i++) {
        if (!inst->attachments[i].type) {
            inst->attachments[i].type = type;
            inst->attachments[i].state = state;
            return PW_OK;
        }
    }
    return PW_ERR_NOMEM;
}

void
pw_instance_detach(pw_instance *inst, const pw_attachment_type *type)
{
    uint32_t i;
    for (i = 0; i < PW_MAX_ATTACHMENTS; i++) {
        pw_attachment a = inst->attachments[i];
        if (a.type == type) {
            inst->attachments[i].type = NULL;
            inst->attachments[i].state = NULL;
            a.type->release(inst, a.state);
        }
    }
}

void
pw_instance_reset_attachments(pw_instance *inst)
{
    uint32_t i;
    for (i = 0; i < PW_MAX_ATTACHMENTS; i++)
        if (inst->attachments[i].type && inst->attachments[i].type->reset)
            inst->attachments[i].type->reset(inst,
                                             inst->attachments[i].state);
}

static void
release_attachments(pw_instance *inst)
{
    uint32_t i;
    for (i = 0; i < PW_MAX_ATTACHMENTS; i++)
        if (inst->attachments[i].type)
            pw_instance_detach(inst, inst->attachments[i].type);
}

/* ------------------------------------------------------------------ */
/* Lifetime                                                            */
/* ------------------------------------------------------------------ */

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
pw_instance_deinstantiate(pw_instance *inst)
{
    release_attachments(inst);
    if (inst->exec_env) {
        wasm_runtime_destroy_exec_env(inst->exec_env);
        inst->exec_env = NULL;
    }
    if (inst->module_inst) {
        wasm_runtime_deinstantiate(inst->module_inst);
        inst->module_inst = NULL;
    }
    if (inst->module) {
        pw_module_release(inst->module);
        inst->module = NULL;
    }
}

pw_instance *
pw_instance_alloc(uint32_t handle)
{
    pw_instance *inst = calloc(1, sizeof(*inst));
    if (inst)
        inst->handle = handle;
    return inst;
}

int
pw_instance_start(pw_instance *inst, pw_module *m, uint32_t stack_size,
                  uint32_t heap_size, char *err, uint32_t err_len)
{
    pw_instance *outer;
    wasm_module_inst_t module_inst;
    uint64_t t0, t1;
    if (inst->module || inst->closed) {
        set_err(err, err_len, "the instance was already started");
        return PW_ERR_STATE;
    }
    inst->stack_size = stack_size;
    pw_module_retain(m);
    inst->module = m;
    if (!pw_ensure_thread_env()) {
        set_err(err, err_len, "could not set up WAMR's thread environment");
        goto fail;
    }
    t0 = now_ns();
    outer = pw_tls_instantiating; /* a host function may instantiate another */
    pw_tls_instantiating = inst;
    module_inst =
        wasm_runtime_instantiate(m->module, stack_size, heap_size, err, err_len);
    pw_tls_instantiating = outer;
    /* On failure WAMR has already freed what pw_instance_of may have seen. */
    inst->module_inst = module_inst;
    if (!module_inst)
        goto fail;
    wasm_runtime_set_custom_data(module_inst, inst);
    /* No file is declared before the first call: whatever the start function
     * tried is forgotten, so every call of every policy starts alike. */
    pw_instance_reset_attachments(inst);
    t1 = now_ns();
    inst->exec_env = wasm_runtime_create_exec_env(module_inst, stack_size);
    inst->instantiate_ns = t1 - t0;
    inst->exec_env_ns = now_ns() - t1;
    if (!inst->exec_env) {
        set_err(err, err_len, "could not create an execution environment");
        goto fail;
    }
    return PW_OK;
fail:
    inst->closed = 1;
    pw_instance_deinstantiate(inst);
    return PW_ERR_INSTANTIATE;
}

void
pw_instance_timings(pw_instance *inst, uint64_t *instantiate_ns,
                    uint64_t *exec_env_ns)
{
    *instantiate_ns = inst->instantiate_ns;
    *exec_env_ns = inst->exec_env_ns;
}

pthread_mutex_t pw_lifetime_lock = PTHREAD_MUTEX_INITIALIZER;

int
pw_instance_close(pw_instance *inst)
{
    if (inst->closed)
        return PW_OK;
    if (__atomic_load_n(&inst->owner, __ATOMIC_ACQUIRE))
        return PW_ERR_BUSY;
    pthread_mutex_lock(&pw_lifetime_lock);
    inst->closed = 1;
    if (!__atomic_load_n(&inst->views, __ATOMIC_ACQUIRE))
        pw_instance_deinstantiate(inst);
    pthread_mutex_unlock(&pw_lifetime_lock);
    return PW_OK;
}

void
pw_instance_destroy(pw_instance *inst)
{
    pw_instance_deinstantiate(inst);
    free(inst->out);
    free(inst);
}

void
pw_instance_free(pw_instance *inst)
{
    if (!inst)
        return;
    pthread_mutex_lock(&pw_lifetime_lock);
    inst->closed = 1;
    if (__atomic_load_n(&inst->views, __ATOMIC_ACQUIRE)) {
        /* A view outlives its instance object (its finaliser runs later,
         * e.g. in the garbage collection at interpreter exit): it frees. */
        inst->freed = 1;
        pthread_mutex_unlock(&pw_lifetime_lock);
        return;
    }
    pthread_mutex_unlock(&pw_lifetime_lock);
    pw_instance_destroy(inst);
}

int
pw_instance_is_closed(pw_instance *inst)
{
    return inst->closed;
}

wasm_module_inst_t
pw_instance_raw(pw_instance *inst)
{
    return inst->module_inst;
}

const char *
pw_instance_error(pw_instance *inst)
{
    return inst->error;
}

wasm_function_inst_t
pw_instance_func(pw_instance *inst, const char *name, char *sig,
                 uint32_t sig_len)
{
    wasm_function_inst_t f;
    uint32_t i, n;
    if (inst->closed)
        return NULL;
    f = wasm_runtime_lookup_function(inst->module_inst, name, NULL);
    if (!f)
        return NULL;
    /* Find the export's type through the module (works for AOT too). */
    n = pw_module_export_count(inst->module);
    for (i = 0; i < n; i++) {
        const char *ename;
        int kind;
        pw_module_export(inst->module, i, &ename, &kind, sig, sig_len);
        if (kind == PW_KIND_FUNC && !strcmp(ename, name))
            return f;
    }
    return NULL;
}

wasm_function_inst_t
pw_instance_func_at(pw_instance *inst, uint32_t export_index, char *sig,
                    uint32_t sig_len)
{
    /* WAMR's instance lists its function exports in module order: the
       export's rank among them is its place there. */
    uint32_t i, rank = 0, n;
    const char *ename;
    int kind;
    WASMModuleInstance *mi;
    if (inst->closed || !inst->module_inst)
        return NULL;
    n = pw_module_export_count(inst->module);
    if (export_index >= n)
        return NULL;
    for (i = 0; i < export_index; i++) {
        pw_module_export(inst->module, i, &ename, &kind, sig, sig_len);
        rank += kind == PW_KIND_FUNC;
    }
    pw_module_export(inst->module, export_index, &ename, &kind, sig, sig_len);
    mi = (WASMModuleInstance *)inst->module_inst;
    if (kind != PW_KIND_FUNC || rank >= mi->export_func_count)
        return NULL;
#if WASM_ENABLE_AOT != 0
    if (inst->module->is_aot)
        return (wasm_function_inst_t) &(
            (AOTFunctionInstance *)mi->export_functions)[rank];
#endif
    return (wasm_function_inst_t)mi->export_functions[rank].function;
}

/* Claim the instance for this thread (re-entry from host functions allowed). */
static int
enter(pw_instance *inst)
{
    uintptr_t self = (uintptr_t)pthread_self(), expected = 0;
    if (inst->closed)
        return PW_ERR_CLOSED;
    if (!inst->exec_env) { /* a host function called by the start function */
        snprintf(inst->error, sizeof(inst->error),
                 "the instance is still being instantiated: its functions "
                 "cannot be called from its start function's host calls");
        return PW_ERR_STATE;
    }
    if (!__atomic_compare_exchange_n(&inst->owner, &expected, self, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        if (expected != self)
            return PW_ERR_BUSY;
    }
    inst->depth++;
    return PW_OK;
}

static void
leave(pw_instance *inst)
{
    if (--inst->depth == 0)
        __atomic_store_n(&inst->owner, 0, __ATOMIC_RELEASE);
}

static int
take_exception(pw_instance *inst)
{
    const char *exc = wasm_runtime_get_exception(inst->module_inst);
    int rc = PW_ERR_TRAP;
    if (!exc)
        exc = "wasm call failed";
    if (!strncmp(exc, "Exception: ", 11))
        exc += 11;
    snprintf(inst->error, sizeof(inst->error), "%s", exc);
    wasm_runtime_clear_exception(inst->module_inst);
    if (inst->host_failed) {
        inst->host_failed = 0;
        rc = PW_ERR_HOST;
    }
    if (pw_watchdog_expired(inst))
        rc = PW_ERR_TIMEOUT;
    return rc;
}

/* wasm_runtime_call_wasm, also from a host function that another
 * instance's wasm called on this thread.  With hardware bounds checks WAMR
 * keeps one "current" exec env per thread (its signal handler needs it) and
 * refuses to enter a different one ("invalid exec env"): the outer one is
 * set aside for the nested call and put back after it, so instances can call
 * each other through host functions (linking). */
static int
call_wasm(wasm_exec_env_t env, wasm_function_inst_t func, uint32_t argc,
          uint32_t *argv)
{
#if WASM_ENABLE_AOT != 0
    /* An AOT export of an imported function: WAMR 1.1.2's aot_call_function
     * reads such a function instance as a defined one (its type is garbage,
     * "invalid argument count").  Call the import as AOT code does. */
    if (env->module_inst->module_type == Wasm_Module_AoT
        && ((AOTFunctionInstance *)func)->is_import_func) {
        wasm_module_inst_t module_inst = env->module_inst;
        int ok = aot_invoke_native(env, ((AOTFunctionInstance *)func)->func_index,
                                   argc, argv);
        return ok && !wasm_runtime_get_exception(module_inst);
    }
#endif
#ifdef OS_ENABLE_HW_BOUND_CHECK
    WASMExecEnv *outer = wasm_runtime_get_exec_env_tls();
    int ok;
    if (!outer || outer == env)
        return wasm_runtime_call_wasm(env, func, argc, argv);
    wasm_runtime_set_exec_env_tls(NULL);
    ok = wasm_runtime_call_wasm(env, func, argc, argv);
    wasm_runtime_set_exec_env_tls(outer);
    return ok;
#else
    return wasm_runtime_call_wasm(env, func, argc, argv);
#endif
}

int
pw_call_deadline(pw_instance *inst, wasm_function_inst_t func, uint32_t argc,
                 uint32_t *argv, double timeout)
{
    pw_instance *prev;
    wasm_exec_env_t env;
    int rc, ok;

    if ((rc = enter(inst)) != PW_OK)
        return rc;
    if (!pw_ensure_thread_env()) {
        snprintf(inst->error, sizeof(inst->error),
                 "could not set up WAMR's thread environment");
        leave(inst);
        return PW_ERR_STATE;
    }
    env = inst->exec_env;
    if (env->handle != os_self_thread())
        wasm_exec_env_set_thread_info(env);
    prev = pw_tls_current;
    pw_tls_current = inst;
    if (timeout > 0 && inst->depth == 1) {
        if (!pw_watchdog_arm(inst, timeout)) {
            pw_tls_current = prev;
            snprintf(inst->error, sizeof(inst->error),
                     "could not start the timeout watchdog");
            leave(inst);
            return PW_ERR_STATE;
        }
        ok = call_wasm(env, func, argc, argv);
        pw_watchdog_disarm(inst);
    }
    else {
        ok = call_wasm(env, func, argc, argv);
    }
    pw_tls_current = prev;
    rc = ok ? PW_OK : take_exception(inst);
    if (rc == PW_ERR_TIMEOUT)
        pw_watchdog_recover(inst);
    leave(inst);
    return rc;
}

int
pw_call(pw_instance *inst, wasm_function_inst_t func, uint32_t argc,
        uint32_t *argv)
{
    return pw_call_deadline(inst, func, argc, argv, 0);
}
