/*
 * Host functions: the per-Runtime tables of registered imports, WAMR
 * signature parsing, and the trampoline every host import lands in (it
 * bounds-checks pointer arguments, then calls a native or Python).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw_internal.h"
#include "pw_util.h"

/* ------------------------------------------------------------------ */
/* Signatures                                                          */
/* ------------------------------------------------------------------ */

static char
wasm_letter(uint8 type)
{
    switch (type) {
        case VALUE_TYPE_I32:
            return 'i';
        case VALUE_TYPE_I64:
            return 'I';
        case VALUE_TYPE_F32:
            return 'f';
        case VALUE_TYPE_F64:
            return 'F';
        case VALUE_TYPE_V128:
            return 'V';
        case VALUE_TYPE_FUNCREF:
            return 'R';
        case VALUE_TYPE_EXTERNREF:
            return 'r';
        default:
            return '?';
    }
}

void
pw_format_type(const WASMType *type, char *out, uint32_t out_len)
{
    uint32_t i, n = 0;
    if (!out || out_len < 4)
        return;
    out[n++] = '(';
    for (i = 0; i < type->param_count && n + 3 < out_len; i++)
        out[n++] = wasm_letter(type->types[i]);
    out[n++] = ')';
    for (i = 0; i < type->result_count && n + 1 < out_len; i++)
        out[n++] = wasm_letter(type->types[type->param_count + i]);
    out[n] = '\0';
}

/* Parse a WAMR signature into a plan; returns 0 when malformed. */
static int
parse_signature(const char *sig, pw_entry *e)
{
    const char *p = sig;
    uint32_t n = 0;
    if (*p++ != '(')
        return 0;
    while (*p && *p != ')') {
        char c = *p;
        if (!strchr("iIfF*~$r", c) || n >= PW_MAX_HOST_PARAMS)
            return 0;
        if (c == '~' && (n == 0 || e->plan[n - 1] != '*'))
            return 0;
        e->plan[n++] = c;
        p++;
    }
    if (*p++ != ')')
        return 0;
    e->nparams = n;
    e->result = 0;
    if (*p) {
        if (!strchr("iIfFr", *p) || p[1])
            return 0;
        e->result = *p;
    }
    /* The same rule as _host.int_call in Python. */
    e->int_call = n <= 4 && (!e->result || e->result == 'i' || e->result == 'I');
    for (uint32_t i = 0; i < n; i++)
        if (e->plan[i] != 'i' && e->plan[i] != 'I' && e->plan[i] != '*')
            e->int_call = 0;
    /* The same rule as _host.c_call in Python. */
    e->c_call = !memchr(e->plan, '~', n) && !memchr(e->plan, '$', n)
                && !memchr(e->plan, 'r', n) && e->result != 'r';
    return 1;
}

static uint8
plan_wasm_type(char c)
{
    switch (c) {
        case 'I':
            return VALUE_TYPE_I64;
        case 'f':
            return VALUE_TYPE_F32;
        case 'F':
            return VALUE_TYPE_F64;
        case 'r':
            return VALUE_TYPE_EXTERNREF;
        default:
            return VALUE_TYPE_I32;
    }
}

int
pw_entry_matches(const pw_entry *e, const WASMType *type)
{
    uint32_t i;
    if (type->param_count != e->nparams
        || type->result_count != (e->result ? 1 : 0))
        return 0;
    for (i = 0; i < e->nparams; i++)
        if (type->types[i] != plan_wasm_type(e->plan[i]))
            return 0;
    return !e->result
           || type->types[type->param_count] == plan_wasm_type(e->result);
}


pw_hosts *
pw_hosts_new(void)
{
    pw_hosts *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->refcount = 1;
    return h;
}

void
pw_hosts_retain(pw_hosts *h)
{
    __atomic_add_fetch(&h->refcount, 1, __ATOMIC_ACQ_REL);
}

void
pw_hosts_release(pw_hosts *h)
{
    pw_entry *e, *next;
    if (!h || __atomic_sub_fetch(&h->refcount, 1, __ATOMIC_ACQ_REL))
        return;
    for (e = h->all; e; e = next) {
        next = e->next_all;
        free(e->module_name);
        free(e->name);
        free(e);
    }
    free(h->current);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int
pw_hosts_set(pw_hosts *h, const char *module_name, const char *name,
             const char *sig, int kind, pw_raw_fn fn, uint32_t py_id)
{
    uint32_t i;
    pw_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return PW_ERR_NOMEM;
    if (!parse_signature(sig, e) || strlen(sig) >= sizeof(e->sig)
        || (kind != PW_HOST_PYTHON && !fn)) {
        free(e);
        return PW_ERR_RANGE;
    }
    e->module_name = strdup(module_name);
    e->name = strdup(name);
    if (!e->module_name || !e->name) {
        free(e->module_name);
        free(e->name);
        free(e);
        return PW_ERR_NOMEM;
    }
    strcpy(e->sig, sig);
    e->kind = kind;
    e->fn = fn;
    e->py_id = py_id;

    pthread_mutex_lock(&h->lock);
    e->next_all = h->all;
    h->all = e;
    for (i = 0; i < h->ncurrent; i++) {
        if (!strcmp(h->current[i]->module_name, module_name)
            && !strcmp(h->current[i]->name, name)) {
            h->current[i] = e;
            pthread_mutex_unlock(&h->lock);
            return PW_OK;
        }
    }
    if (h->ncurrent == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 16;
        pw_entry **grown = realloc(h->current, cap * sizeof(*grown));
        if (!grown) {
            pthread_mutex_unlock(&h->lock);
            return PW_ERR_NOMEM; /* e stays on h->all and is freed later */
        }
        h->current = grown;
        h->cap = cap;
    }
    h->current[h->ncurrent++] = e;
    pthread_mutex_unlock(&h->lock);
    return PW_OK;
}

/* The instance whose instantiation runs on this thread: a start function
 * may call host functions before wasm_runtime_instantiate has returned. */
__thread pw_instance *pw_tls_instantiating;

pw_instance *
pw_instance_of(wasm_module_inst_t module_inst)
{
    pw_instance *inst = wasm_runtime_get_custom_data(module_inst);
    if (!inst && pw_tls_instantiating) {
        inst = pw_tls_instantiating;
        inst->module_inst = module_inst;
        wasm_runtime_set_custom_data(module_inst, inst);
    }
    return inst;
}

/* ------------------------------------------------------------------ */
/* The trampoline: every host import of every module lands here.       */
/* ------------------------------------------------------------------ */

/* Set by Python (pw_host_raised) when a host function called through
 * pw_py_host0..4 raised; read and cleared by the trampoline that called it. */
static __thread int tls_host_raised;

void
pw_host_raised(void)
{
    tls_host_raised = 1;
}

/* pywamr._fastcall's caller of Python host functions (bridge.h). */
typedef int (*host_caller)(uint32_t py_id, uint32_t inst_handle, const char *plan,
                           uint32_t nparams, char result, uint64_t *args);
static host_caller g_host_caller;

void
pw_set_host_caller(uintptr_t fn)
{
    __atomic_store_n(&g_host_caller, (host_caller)fn, __ATOMIC_RELEASE);
}

/* A Python host function of integers: the values as C integers (i32
 * sign-extended, pointers as unsigned offsets), the result returned. */
static int
call_python_int(const pw_entry *e, uint32_t handle, uint64_t *args)
{
    int64_t v[4] = { 0, 0, 0, 0 }, r = 0;
    uint32_t i;
    int raised;
    for (i = 0; i < e->nparams; i++)
        v[i] = e->plan[i] == 'i'   ? (int64_t)(int32_t)args[i]
               : e->plan[i] == 'I' ? (int64_t)args[i]
                                   : (int64_t)(uint32_t)args[i];
    tls_host_raised = 0;
    switch (e->nparams) {
        case 0:
            r = pw_py_host0(e->py_id, handle);
            break;
        case 1:
            r = pw_py_host1(e->py_id, handle, v[0]);
            break;
        case 2:
            r = pw_py_host2(e->py_id, handle, v[0], v[1]);
            break;
        case 3:
            r = pw_py_host3(e->py_id, handle, v[0], v[1], v[2]);
            break;
        default:
            r = pw_py_host4(e->py_id, handle, v[0], v[1], v[2], v[3]);
    }
    raised = tls_host_raised;
    tls_host_raised = 0; /* a caught failure of a nested call is not ours */
    if (raised)
        return PW_ERR_HOST;
    if (e->result == 'i')
        args[0] = (uint32_t)r;
    else if (e->result == 'I')
        args[0] = (uint64_t)r;
    return 0;
}

static int
check_pointer_args(const pw_entry *e, const uint64_t *args, uint64_t mem_size,
                   const uint8_t *base, uint32_t *bad_index)
{
    uint32_t i;
    for (i = 0; i < e->nparams; i++) {
        uint64_t off = (uint32_t)args[i];
        if (e->plan[i] == '*' && i + 1 < e->nparams && e->plan[i + 1] == '~') {
            uint64_t len = (uint32_t)args[i + 1];
            if (off + len > mem_size) {
                *bad_index = i;
                return 0;
            }
            i++;
        }
        else if (e->plan[i] == '$') {
            if (off >= mem_size || !memchr(base + off, 0, mem_size - off)) {
                *bad_index = i;
                return 0;
            }
        }
        else if (e->plan[i] == '*' && e->kind == PW_HOST_NATIVE) {
            if (off >= mem_size) {
                *bad_index = i;
                return 0;
            }
        }
    }
    return 1;
}

void
pw_trampoline(wasm_exec_env_t exec_env, uint64_t *args)
{
    pw_entry *e = wasm_runtime_get_function_attachment(exec_env);
    wasm_module_inst_t module_inst = wasm_runtime_get_module_inst(exec_env);
    pw_instance *inst = pw_instance_of(module_inst);
    char msg[192];
    uint64_t mem_size = 0;
    uint8_t *base;
    uint32_t bad, i;
    host_caller caller;
    int rc = -1;

    if (e->kind == PW_HOST_BUILTIN) {
        e->fn(exec_env, args);
        return;
    }
    base = pw_linear_memory(inst, &mem_size);
    if (!check_pointer_args(e, args, mem_size, base, &bad)) {
        snprintf(msg, sizeof(msg),
                 "out of bounds memory access: argument %u of host function "
                 "%s.%s",
                 bad, e->module_name, e->name);
        wasm_runtime_set_exception(module_inst, msg);
        return;
    }
    if (e->kind == PW_HOST_NATIVE) {
        /* WAMR's raw ABI with a signature: pointers become native. */
        for (i = 0; i < e->nparams; i++)
            if (e->plan[i] == '*' || e->plan[i] == '$')
                args[i] = (uint64_t)(uintptr_t)(base + (uint32_t)args[i]);
        e->fn(exec_env, args);
        return;
    }
    if (e->c_call && (caller = __atomic_load_n(&g_host_caller, __ATOMIC_ACQUIRE)))
        rc = caller(e->py_id, inst->handle, e->plan, e->nparams, e->result, args);
    if (rc < 0) /* no C caller, or it does not know the function */
        rc = e->int_call ? call_python_int(e, inst->handle, args)
                         : pw_py_host(e->py_id, inst->handle, args, base);
    if (rc != 0) {
        inst->host_failed = 1;
        snprintf(msg, sizeof(msg), "host function %s.%s raised an exception",
                 e->module_name, e->name);
        wasm_runtime_set_exception(module_inst, msg);
    }
}
