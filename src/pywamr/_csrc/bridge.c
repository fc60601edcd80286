/*
 * pywamr bridge: WAMR lifecycle, host tables, modules, instances and calls.
 * See bridge.h for the contract of each function.
 */
#define _GNU_SOURCE
#include "bridge.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

#include "bh_log.h"
#include "wasm_exec_env.h"
#include "wasm_native.h"
#include "wasm_runtime_common.h"
#include "../interpreter/wasm.h"
#if WASM_ENABLE_AOT != 0
#include "../aot/aot_runtime.h"
#endif
#include "pw_internal.h"
#include "pw_util.h"

#ifndef PW_CORE_NAME
#define PW_CORE_NAME "unknown"
#endif

#define MAX_CAPTURE (64u * 1024u * 1024u)

/* ------------------------------------------------------------------ */
/* Process-wide state                                                  */
/* ------------------------------------------------------------------ */

static pthread_mutex_t g_state_lock = PTHREAD_MUTEX_INITIALIZER;
/* Serialises loads: our host symbols are registered only during a load. */
static pthread_mutex_t g_load_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t g_refcount;
static int g_inited;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_thread_key;
static __thread pw_instance *tls_current;

static void
destroy_thread_env(void *unused)
{
    (void)unused;
    if (wasm_runtime_thread_env_inited())
        wasm_runtime_destroy_thread_env();
}

static void
make_thread_key(void)
{
    pthread_key_create(&g_thread_key, destroy_thread_env);
}

/* WAMR needs a signal environment on every thread that runs wasm. */
static int
ensure_thread_env(void)
{
    if (wasm_runtime_thread_env_inited())
        return 1;
    if (!wasm_runtime_init_thread_env())
        return 0;
    pthread_once(&g_key_once, make_thread_key);
    pthread_setspecific(g_thread_key, (void *)1);
    return 1;
}

static int
wamr_init_locked(char *err, uint32_t err_len)
{
    RuntimeInitArgs args;
    memset(&args, 0, sizeof(args));
    args.mem_alloc_type = Alloc_With_System_Allocator;
    if (!wasm_runtime_full_init(&args)) {
        set_err(err, err_len, "WAMR runtime initialisation failed");
        return PW_ERR_STATE;
    }
    if (!pw_wasi_register_natives()) { /* wasi.c */
        wasm_runtime_destroy();
        set_err(err, err_len, "could not register pywamr's WASI natives");
        return PW_ERR_STATE;
    }
    /* A library does not print: WAMR's messages reach Python as errors. */
    bh_log_set_verbose_level(BH_LOG_LEVEL_FATAL);
    g_inited = 1;
    return PW_OK;
}

int
pw_wamr_acquire(int fresh, char *err, uint32_t err_len)
{
    int rc = PW_OK;
    pthread_mutex_lock(&g_state_lock);
    if (fresh) {
        if (g_refcount) {
            set_err(err, err_len,
                    "a fresh WAMR runtime needs the %s core to itself, but %u "
                    "runtime(s) are open",
                    PW_CORE_NAME, g_refcount);
            rc = PW_ERR_STATE;
            goto out;
        }
        if (g_inited) {
            wasm_runtime_destroy();
            g_inited = 0;
        }
    }
    if (!g_inited)
        rc = wamr_init_locked(err, err_len);
    if (rc == PW_OK)
        g_refcount++;
out:
    pthread_mutex_unlock(&g_state_lock);
    return rc;
}

void
pw_wamr_release(int destroy)
{
    pthread_mutex_lock(&g_state_lock);
    if (g_refcount)
        g_refcount--;
    if (destroy && !g_refcount && g_inited) {
        wasm_runtime_destroy();
        g_inited = 0;
    }
    pthread_mutex_unlock(&g_state_lock);
}

uint32_t
pw_wamr_refcount(void)
{
    return g_refcount;
}

const char *
pw_core_name(void)
{
    return PW_CORE_NAME;
}

void
pw_wamr_version(uint32_t *major, uint32_t *minor, uint32_t *patch)
{
    wasm_runtime_get_version(major, minor, patch);
}

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
        default:
            return '?';
    }
}

static void
format_type(const WASMType *type, char *out, uint32_t out_len)
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
        if (!strchr("iIfF*~$", c) || n >= PW_MAX_HOST_PARAMS)
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
        if (!strchr("iIfF", *p) || p[1])
            return 0;
        e->result = *p;
    }
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
        default:
            return VALUE_TYPE_I32;
    }
}

static int
entry_matches(const pw_entry *e, const WASMType *type)
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

/* ------------------------------------------------------------------ */
/* Host tables                                                         */
/* ------------------------------------------------------------------ */

struct pw_hosts {
    pthread_mutex_t lock;
    uint32_t refcount;
    pw_entry *all;      /* every entry ever made, freed with the table */
    pw_entry **current; /* the live entry for each module.name */
    uint32_t ncurrent, cap;
};

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

static void
hosts_retain(pw_hosts *h)
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

/* ------------------------------------------------------------------ */
/* The trampoline: every host import of every module lands here.       */
/* ------------------------------------------------------------------ */

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

static void
pw_trampoline(wasm_exec_env_t exec_env, uint64_t *args)
{
    pw_entry *e = wasm_runtime_get_function_attachment(exec_env);
    wasm_module_inst_t module_inst = wasm_runtime_get_module_inst(exec_env);
    pw_instance *inst = wasm_runtime_get_custom_data(module_inst);
    char msg[192];
    uint64_t mem_size = 0;
    uint8_t *base;
    uint32_t bad, i;

    if (e->kind == PW_HOST_BUILTIN) {
        e->fn(exec_env, args);
        return;
    }
    base = pw_memory(inst, &mem_size);
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
    if (pw_py_host(e->py_id, inst->handle, args, base) != 0) {
        inst->host_failed = 1;
        snprintf(msg, sizeof(msg), "host function %s.%s raised an exception",
                 e->module_name, e->name);
        wasm_runtime_set_exception(module_inst, msg);
    }
}

/* ------------------------------------------------------------------ */
/* Modules                                                             */
/* ------------------------------------------------------------------ */

struct pw_module {
    uint32_t refcount;
    wasm_module_t module;
    uint8_t *bytes; /* WAMR needs the image until unload */
    pw_hosts *hosts;
    int is_aot;
};

static void
module_retain(pw_module *m)
{
    __atomic_add_fetch(&m->refcount, 1, __ATOMIC_ACQ_REL);
}

void
pw_module_release(pw_module *m)
{
    if (!m || __atomic_sub_fetch(&m->refcount, 1, __ATOMIC_ACQ_REL))
        return;
    if (m->module)
        wasm_runtime_unload(m->module);
    free(m->bytes);
    pw_hosts_release(m->hosts);
    free(m);
    pw_wamr_release(0);
}

/* Register the table's symbols (grouped by module name) for one load. */
typedef struct {
    const char *module_name;
    NativeSymbol *symbols;
    uint32_t count;
} symbol_group;

static symbol_group *
register_groups(pw_hosts *h, uint32_t *ngroups)
{
    symbol_group *groups = calloc(h->ncurrent ? h->ncurrent : 1, sizeof(*groups));
    uint32_t i, g, n = 0;
    if (!groups)
        return NULL;
    for (i = 0; i < h->ncurrent; i++) {
        pw_entry *e = h->current[i];
        for (g = 0; g < n; g++)
            if (!strcmp(groups[g].module_name, e->module_name))
                break;
        if (g == n) {
            groups[n].module_name = e->module_name;
            groups[n].symbols = calloc(h->ncurrent, sizeof(NativeSymbol));
            if (!groups[n].symbols)
                goto fail;
            n++;
        }
        groups[g].symbols[groups[g].count].symbol = e->name;
        groups[g].symbols[groups[g].count].func_ptr = (void *)pw_trampoline;
        groups[g].symbols[groups[g].count].signature = "";
        groups[g].symbols[groups[g].count].attachment = e;
        groups[g].count++;
    }
    for (g = 0; g < n; g++) {
        if (!wasm_runtime_register_natives_raw(groups[g].module_name,
                                               groups[g].symbols,
                                               groups[g].count)) {
            while (g--)
                wasm_runtime_unregister_natives(groups[g].module_name,
                                                groups[g].symbols);
            goto fail;
        }
    }
    *ngroups = n;
    return groups;
fail:
    for (g = 0; g < n; g++)
        free(groups[g].symbols);
    free(groups);
    return NULL;
}

static void
unregister_groups(symbol_group *groups, uint32_t n)
{
    uint32_t g;
    for (g = 0; g < n; g++) {
        wasm_runtime_unregister_natives(groups[g].module_name,
                                        groups[g].symbols);
        free(groups[g].symbols);
    }
    free(groups);
}

/* Uniform view of a function import across bytecode and AOT modules. */
typedef struct {
    const char *module_name, *name;
    const WASMType *type;
    void *func_ptr, *attachment;
} func_import;

static uint32_t
func_import_count(pw_module *m)
{
#if WASM_ENABLE_AOT != 0
    if (m->is_aot)
        return ((AOTModule *)m->module)->import_func_count;
#endif
    return ((WASMModule *)m->module)->import_function_count;
}

static void
get_func_import(pw_module *m, uint32_t i, func_import *out)
{
#if WASM_ENABLE_AOT != 0
    if (m->is_aot) {
        AOTImportFunc *f = &((AOTModule *)m->module)->import_funcs[i];
        out->module_name = f->module_name;
        out->name = f->func_name;
        out->type = f->func_type;
        out->func_ptr = f->func_ptr_linked;
        out->attachment = f->attachment;
        return;
    }
#endif
    {
        WASMFunctionImport *f =
            &((WASMModule *)m->module)->import_functions[i].u.function;
        out->module_name = f->module_name;
        out->name = f->field_name;
        out->type = f->func_type;
        out->func_ptr = f->func_ptr_linked;
        out->attachment = f->attachment;
    }
}

static int
check_imports(pw_module *m, int allow_unresolved, char *err, uint32_t err_len)
{
    uint32_t i, n = func_import_count(m);
    char wasm_sig[64];
    for (i = 0; i < n; i++) {
        func_import f;
        get_func_import(m, i, &f);
        format_type(f.type, wasm_sig, sizeof(wasm_sig));
        if (f.func_ptr == (void *)pw_trampoline) {
            pw_entry *e = f.attachment;
            if (!entry_matches(e, f.type)) {
                set_err(err, err_len,
                        "import %s.%s has type %s, but the host function was "
                        "registered with signature %s",
                        f.module_name, f.name, wasm_sig, e->sig);
                return 0;
            }
        }
        else if (!f.func_ptr && !allow_unresolved) {
            set_err(err, err_len,
                    "unresolved import %s.%s %s: register a host function "
                    "for it before loading",
                    f.module_name, f.name, wasm_sig);
            return 0;
        }
    }
    return 1;
}

int
pw_module_load(pw_hosts *hosts, const uint8_t *buf, uint32_t size,
               int allow_unresolved, pw_module **out, char *err,
               uint32_t err_len)
{
    pw_module *m;
    symbol_group *groups;
    uint32_t ngroups = 0;
    int rc;

    *out = NULL;
    if ((rc = pw_wamr_acquire(0, err, err_len)) != PW_OK)
        return rc;
    m = calloc(1, sizeof(*m));
    if (!m || !(m->bytes = malloc(size ? size : 1))) {
        free(m);
        pw_wamr_release(0);
        set_err(err, err_len, "out of memory");
        return PW_ERR_NOMEM;
    }
    memcpy(m->bytes, buf, size);
    m->refcount = 1;
    m->hosts = hosts;
    hosts_retain(hosts);

    pthread_mutex_lock(&g_load_lock);
    pthread_mutex_lock(&hosts->lock);
    groups = register_groups(hosts, &ngroups);
    if (groups) {
        m->module = wasm_runtime_load(m->bytes, size, err, err_len);
        unregister_groups(groups, ngroups);
    }
    else {
        set_err(err, err_len, "could not register host functions");
    }
    pthread_mutex_unlock(&hosts->lock);
    pthread_mutex_unlock(&g_load_lock);

    if (!m->module) {
        pw_module_release(m);
        return PW_ERR_TRAP;
    }
    m->is_aot = ((WASMModuleCommon *)m->module)->module_type == Wasm_Module_AoT;
    if (!check_imports(m, allow_unresolved, err, err_len)) {
        pw_module_release(m);
        return PW_ERR_STATE;
    }
    *out = m;
    return PW_OK;
}

int
pw_module_is_aot(pw_module *m)
{
    return m->is_aot;
}

wasm_module_t
pw_module_raw(pw_module *m)
{
    return m->module;
}

static const WASMType *
func_type_of(pw_module *m, uint32_t func_index)
{
    uint32_t nimports = func_import_count(m);
    func_import f;
    if (func_index < nimports) {
        get_func_import(m, func_index, &f);
        return f.type;
    }
    func_index -= nimports;
#if WASM_ENABLE_AOT != 0
    if (m->is_aot) {
        AOTModule *a = (AOTModule *)m->module;
        if (func_index >= a->func_count)
            return NULL;
        return a->func_types[a->func_type_indexes[func_index]];
    }
#endif
    {
        WASMModule *w = (WASMModule *)m->module;
        if (func_index >= w->function_count)
            return NULL;
        return w->functions[func_index]->func_type;
    }
}

uint32_t
pw_module_export_count(pw_module *m)
{
#if WASM_ENABLE_AOT != 0
    if (m->is_aot)
        return ((AOTModule *)m->module)->export_count;
#endif
    return ((WASMModule *)m->module)->export_count;
}

int
pw_module_export(pw_module *m, uint32_t i, const char **name, int *kind,
                 char *sig, uint32_t sig_len)
{
    WASMExport *exp;
    if (i >= pw_module_export_count(m))
        return -1;
#if WASM_ENABLE_AOT != 0
    if (m->is_aot)
        exp = &((AOTModule *)m->module)->exports[i];
    else
#endif
        exp = &((WASMModule *)m->module)->exports[i];
    *name = exp->name;
    *kind = exp->kind;
    if (sig && sig_len)
        sig[0] = '\0';
    if (exp->kind == EXPORT_KIND_FUNC) {
        const WASMType *t = func_type_of(m, exp->index);
        if (t)
            format_type(t, sig, sig_len);
    }
    return 0;
}

uint32_t
pw_module_import_count(pw_module *m)
{
#if WASM_ENABLE_AOT != 0
    if (m->is_aot) {
        AOTModule *a = (AOTModule *)m->module;
        return a->import_func_count + a->import_global_count
               + a->import_memory_count + a->import_table_count;
    }
#endif
    return ((WASMModule *)m->module)->import_count;
}

int
pw_module_import(pw_module *m, uint32_t i, const char **module_name,
                 const char **name, int *kind, char *sig, uint32_t sig_len,
                 int *linked)
{
    if (i >= pw_module_import_count(m))
        return -1;
    if (sig && sig_len)
        sig[0] = '\0';
    *linked = 1;
#if WASM_ENABLE_AOT != 0
    if (m->is_aot) {
        AOTModule *a = (AOTModule *)m->module;
        if (i < a->import_func_count) {
            func_import f;
            get_func_import(m, i, &f);
            *module_name = f.module_name;
            *name = f.name;
            *kind = PW_KIND_FUNC;
            format_type(f.type, sig, sig_len);
            *linked = !f.func_ptr ? 0 : f.func_ptr == (void *)pw_trampoline ? 1 : 2;
            return 0;
        }
        i -= a->import_func_count;
        if (i < a->import_global_count) {
            *module_name = a->import_globals[i].module_name;
            *name = a->import_globals[i].global_name;
            *kind = PW_KIND_GLOBAL;
            return 0;
        }
        i -= a->import_global_count;
        if (i < a->import_memory_count) {
            *module_name = a->import_memories[i].module_name;
            *name = a->import_memories[i].memory_name;
            *kind = PW_KIND_MEMORY;
            return 0;
        }
        i -= a->import_memory_count;
        *module_name = a->import_tables[i].module_name;
        *name = a->import_tables[i].table_name;
        *kind = PW_KIND_TABLE;
        return 0;
    }
#endif
    {
        WASMImport *imp = &((WASMModule *)m->module)->imports[i];
        *module_name = imp->u.names.module_name;
        *name = imp->u.names.field_name;
        *kind = imp->kind;
        if (imp->kind == IMPORT_KIND_FUNC) {
            void *fp = imp->u.function.func_ptr_linked;
            format_type(imp->u.function.func_type, sig, sig_len);
            *linked = !fp ? 0 : fp == (void *)pw_trampoline ? 1 : 2;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Instances                                                           */
/* ------------------------------------------------------------------ */

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
deinstantiate(pw_instance *inst)
{
    pw_files_reset(inst);
    pw_snapshot_free(inst);
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

int
pw_instance_new(pw_module *m, uint32_t stack_size, uint32_t heap_size,
                uint32_t handle, pw_instance **out, char *err,
                uint32_t err_len)
{
    pw_instance *inst;
    uint64_t t0, t1;
    *out = NULL;
    inst = calloc(1, sizeof(*inst));
    if (!inst) {
        set_err(err, err_len, "out of memory");
        return PW_ERR_NOMEM;
    }
    inst->handle = handle;
    inst->stack_size = stack_size;
    module_retain(m);
    inst->module = m;
    if (!ensure_thread_env()) {
        set_err(err, err_len, "could not set up WAMR's thread environment");
        goto fail;
    }
    t0 = now_ns();
    inst->module_inst =
        wasm_runtime_instantiate(m->module, stack_size, heap_size, err, err_len);
    if (!inst->module_inst)
        goto fail;
    wasm_runtime_set_custom_data(inst->module_inst, inst);
    t1 = now_ns();
    inst->exec_env = wasm_runtime_create_exec_env(inst->module_inst, stack_size);
    inst->instantiate_ns = t1 - t0;
    inst->exec_env_ns = now_ns() - t1;
    if (!inst->exec_env) {
        set_err(err, err_len, "could not create an execution environment");
        goto fail;
    }
    *out = inst;
    return PW_OK;
fail:
    deinstantiate(inst);
    free(inst);
    return PW_ERR_TRAP;
}

void
pw_instance_timings(pw_instance *inst, uint64_t *instantiate_ns,
                    uint64_t *exec_env_ns)
{
    *instantiate_ns = inst->instantiate_ns;
    *exec_env_ns = inst->exec_env_ns;
}

int
pw_instance_close(pw_instance *inst)
{
    if (inst->closed)
        return PW_OK;
    if (__atomic_load_n(&inst->owner, __ATOMIC_ACQUIRE))
        return PW_ERR_BUSY;
    inst->closed = 1;
    if (!__atomic_load_n(&inst->views, __ATOMIC_ACQUIRE))
        deinstantiate(inst);
    return PW_OK;
}

void
pw_instance_free(pw_instance *inst)
{
    if (!inst)
        return;
    inst->closed = 1;
    deinstantiate(inst);
    free(inst->out);
    pw_files_free(inst);
    free(inst);
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

/* Claim the instance for this thread (re-entry from host functions allowed). */
static int
enter(pw_instance *inst)
{
    uintptr_t self = (uintptr_t)pthread_self(), expected = 0;
    if (inst->closed)
        return PW_ERR_CLOSED;
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

int
pw_call_deadline(pw_instance *inst, wasm_function_inst_t func, uint32_t argc,
                 uint32_t *argv, double timeout)
{
    pw_instance *prev;
    wasm_exec_env_t env;
    int rc, ok;

    if ((rc = enter(inst)) != PW_OK)
        return rc;
    if (!ensure_thread_env()) {
        snprintf(inst->error, sizeof(inst->error),
                 "could not set up WAMR's thread environment");
        leave(inst);
        return PW_ERR_STATE;
    }
    env = inst->exec_env;
    if (env->handle != os_self_thread())
        wasm_exec_env_set_thread_info(env);
    prev = tls_current;
    tls_current = inst;
    if (timeout > 0 && inst->depth == 1) {
        if (!pw_watchdog_arm(inst, timeout)) {
            tls_current = prev;
            snprintf(inst->error, sizeof(inst->error),
                     "could not start the timeout watchdog");
            leave(inst);
            return PW_ERR_STATE;
        }
        ok = wasm_runtime_call_wasm(env, func, argc, argv);
        pw_watchdog_disarm(inst);
    }
    else {
        ok = wasm_runtime_call_wasm(env, func, argc, argv);
    }
    tls_current = prev;
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

static __thread int tls_status;

int
pw_last_status(void)
{
    return tls_status;
}

/* Pack scalar arguments (ints from iv, floats from dv, by sig) into cells and
 * call; on success argv holds the results. */
static int
call_scalar(pw_instance *inst, wasm_function_inst_t func, const char *sig,
            uint32_t nparams, const int64_t *iv, const double *dv, uint32_t *argv)
{
    uint32_t cells = 0, i;
    const char *p = sig + 1;
    for (i = 0; i < nparams && i < 4; i++, p++) {
        switch (*p) {
            case 'i':
                if (iv[i] < INT32_MIN || iv[i] > (int64_t)UINT32_MAX) {
                    snprintf(inst->error, sizeof(inst->error), "%u", i);
                    return PW_ERR_RANGE;
                }
                argv[cells++] = (uint32_t)iv[i];
                break;
            case 'I':
                memcpy(&argv[cells], &iv[i], 8);
                cells += 2;
                break;
            case 'f': {
                float f = (float)dv[i];
                memcpy(&argv[cells++], &f, 4);
                break;
            }
            default:
                memcpy(&argv[cells], &dv[i], 8);
                cells += 2;
        }
    }
    return pw_call_deadline(inst, func, cells, argv, 0);
}

int64_t
pw_call_int(pw_instance *inst, wasm_function_inst_t func, const char *sig,
            uint32_t nparams, int64_t a0, int64_t a1, int64_t a2, int64_t a3)
{
    int64_t iv[4] = { a0, a1, a2, a3 }, result = 0;
    uint32_t argv[8];
    const char *r = strchr(sig, ')') + 1;
    int rc = call_scalar(inst, func, sig, nparams, iv, NULL, argv);
    tls_status = rc;
    if (rc != PW_OK)
        return PW_INT_SENTINEL;
    if (*r == 'i')
        result = (int32_t)argv[0];
    else if (*r == 'I')
        memcpy(&result, argv, 8);
    return result;
}

double
pw_call_float(pw_instance *inst, wasm_function_inst_t func, const char *sig,
              uint32_t nparams, int64_t i0, int64_t i1, int64_t i2, int64_t i3,
              double d0, double d1, double d2, double d3)
{
    int64_t iv[4] = { i0, i1, i2, i3 };
    double dv[4] = { d0, d1, d2, d3 }, result = 0;
    uint32_t argv[8];
    const char *r = strchr(sig, ')') + 1;
    int rc = call_scalar(inst, func, sig, nparams, iv, dv, argv);
    tls_status = rc;
    if (rc != PW_OK)
        return NAN;
    switch (*r) {
        case 'f': {
            float f;
            memcpy(&f, argv, 4);
            result = f;
            break;
        }
        case 'F':
            memcpy(&result, argv, 8);
            break;
        case 'i':
            result = (double)(int32_t)argv[0];
            break;
        case 'I': {
            int64_t v;
            memcpy(&v, argv, 8);
            result = (double)v;
            break;
        }
    }
    return result;
}

/* ------------------------------------------------------------------ */
/* Memory and the app heap                                             */
/* ------------------------------------------------------------------ */

uint8_t *
pw_memory(pw_instance *inst, uint64_t *size)
{
    uint32_t start = 0, end = 0;
    *size = 0;
    if (!inst->module_inst
        || !wasm_runtime_get_app_addr_range(inst->module_inst, 0, &start, &end))
        return NULL;
    *size = end;
    return wasm_runtime_addr_app_to_native(inst->module_inst, 0);
}

void
pw_view_acquire(pw_instance *inst)
{
    __atomic_add_fetch(&inst->views, 1, __ATOMIC_ACQ_REL);
}

void
pw_view_release(pw_instance *inst)
{
    if (!__atomic_sub_fetch(&inst->views, 1, __ATOMIC_ACQ_REL) && inst->closed)
        deinstantiate(inst);
}

/* Native address of [offset, offset + size) in linear memory, or NULL. */
static uint8_t *
memory_range(pw_instance *inst, uint64_t offset, uint64_t size)
{
    uint64_t mem_size;
    uint8_t *base = pw_memory(inst, &mem_size);
    if (!base || offset > mem_size || size > mem_size - offset)
        return NULL;
    return base + offset;
}

int
pw_memory_read(pw_instance *inst, uint64_t offset, uint8_t *out, uint64_t size)
{
    uint8_t *src;
    if (inst->closed)
        return PW_ERR_CLOSED;
    if (!(src = memory_range(inst, offset, size)))
        return PW_ERR_RANGE;
    memcpy(out, src, size);
    return PW_OK;
}

int
pw_memory_write(pw_instance *inst, uint64_t offset, const uint8_t *data,
                uint64_t size)
{
    uint8_t *dst;
    if (inst->closed)
        return PW_ERR_CLOSED;
    if (!(dst = memory_range(inst, offset, size)))
        return PW_ERR_RANGE;
    memcpy(dst, data, size);
    return PW_OK;
}

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

int
pw_invoke_entry(pw_instance *inst, wasm_function_inst_t func, uint32_t n,
                const char *packed, uint32_t packed_len, double timeout,
                int32_t *result)
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
    pw_free_argv(inst, argv_off, n);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Guest output                                                        */
/* ------------------------------------------------------------------ */

/* WAMR's os_printf routes here (BH_VPRINTF=pw_vprintf). */
int
pw_vprintf(const char *format, va_list ap)
{
    pw_instance *inst = tls_current;
    va_list copy;
    int n;
    if (!inst || !inst->capture)
        return vprintf(format, ap);
    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, format, copy);
    va_end(copy);
    if (n <= 0)
        return n;
    if (inst->out_len + (uint64_t)n + 1 > MAX_CAPTURE) {
        inst->out_truncated = 1;
        return n;
    }
    if (inst->out_len + n + 1 > inst->out_cap) {
        uint64_t cap = inst->out_cap ? inst->out_cap : 256;
        uint8_t *grown;
        while (cap < inst->out_len + n + 1)
            cap *= 2;
        if (!(grown = realloc(inst->out, cap)))
            return n;
        inst->out = grown;
        inst->out_cap = cap;
    }
    vsnprintf((char *)inst->out + inst->out_len, n + 1, format, ap);
    inst->out_len += n;
    return n;
}

void
pw_output_capture(pw_instance *inst, int enabled)
{
    inst->capture = enabled;
}

const uint8_t *
pw_output_peek(pw_instance *inst, uint64_t *size)
{
    *size = inst->out_len;
    return inst->out;
}

uint64_t
pw_output_size(pw_instance *inst)
{
    return inst->out_len;
}

void
pw_output_clear(pw_instance *inst)
{
    inst->out_len = 0;
    inst->out_truncated = 0;
}
