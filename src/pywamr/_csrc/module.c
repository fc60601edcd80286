/*
 * Modules: loading a .wasm or AOT image with the runtime's host functions
 * registered as natives for the duration of the load, checking its imports,
 * and listing its imports and exports (bytecode and AOT alike).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if WASM_ENABLE_AOT != 0
#include "../aot/aot_runtime.h"
#endif
#include "pw_internal.h"
#include "pw_util.h"

/* Serialises loads: our host symbols are registered only during a load. */
static pthread_mutex_t g_load_lock = PTHREAD_MUTEX_INITIALIZER;

void
pw_module_retain(pw_module *m)
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
        pw_format_type(f.type, wasm_sig, sizeof(wasm_sig));
        if (f.func_ptr == (void *)pw_trampoline) {
            pw_entry *e = f.attachment;
            if (!pw_entry_matches(e, f.type)) {
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

/* ---- reading a .wasm's import and export sections (pw_wasm_scan) ------ */

static int
scan_u32(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    uint32_t value = 0;
    int shift;
    for (shift = 0; shift < 35; shift += 7) {
        uint8_t byte;
        if (*p >= end)
            return 0;
        byte = *(*p)++;
        value |= (uint32_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return 1;
        }
    }
    return 0;
}

/* A name: skipped; *nul set if it holds a NUL byte. */
static int
scan_name(const uint8_t **p, const uint8_t *end, int *nul)
{
    uint32_t len;
    if (!scan_u32(p, end, &len) || len > (uint32_t)(end - *p))
        return 0;
    if (memchr(*p, 0, len))
        *nul = 1;
    *p += len;
    return 1;
}

static int
scan_limits(const uint8_t **p, const uint8_t *end)
{
    uint32_t flag, v;
    if (!scan_u32(p, end, &flag) || flag > 3 || !scan_u32(p, end, &v))
        return 0;
    return !(flag & 1) || scan_u32(p, end, &v);
}

int
pw_wasm_scan(const uint8_t *buf, uint32_t size,
             uint32_t *table_memory_imports, int *nul_import_name,
             int *nul_export_name)
{
    const uint8_t *p = buf + 8, *end = buf + size;
    *table_memory_imports = 0;
    *nul_import_name = *nul_export_name = 0;
    if (size < 8 || memcmp(buf, "\0asm", 4))
        return -1;
    while (p < end) {
        uint8_t id = *p++;
        uint32_t len, count, i, v;
        const uint8_t *s, *s_end;
        if (!scan_u32(&p, end, &len) || len > (uint32_t)(end - p))
            return -1;
        s = p;
        s_end = p + len;
        p = s_end;
        if (id == 2) { /* imports */
            if (!scan_u32(&s, s_end, &count))
                return -1;
            for (i = 0; i < count; i++) {
                if (!scan_name(&s, s_end, nul_import_name)
                    || !scan_name(&s, s_end, nul_import_name) || s >= s_end)
                    return -1;
                switch (*s++) {
                    case 0: /* function: type index */
                        if (!scan_u32(&s, s_end, &v))
                            return -1;
                        break;
                    case 1: /* table: element type, limits */
                        if (s >= s_end)
                            return -1;
                        s++;
                        /* fall through */
                    case 2: /* memory: limits */
                        if (!scan_limits(&s, s_end))
                            return -1;
                        (*table_memory_imports)++;
                        break;
                    case 3: /* global: value type, mutability */
                        if (s_end - s < 2)
                            return -1;
                        s += 2;
                        break;
                    default:
                        return -1;
                }
            }
        }
        else if (id == 7) { /* exports: the last section read */
            if (!scan_u32(&s, s_end, &count))
                return -1;
            for (i = 0; i < count; i++) {
                if (!scan_name(&s, s_end, nul_export_name) || s >= s_end)
                    return -1;
                s++; /* kind */
                if (!scan_u32(&s, s_end, &v))
                    return -1;
            }
            return 0;
        }
        else if (id > 7) {
            return 0;
        }
    }
    return 0;
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
    pw_hosts_retain(hosts);

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
        return PW_ERR_LOAD;
    }
    m->is_aot = ((WASMModuleCommon *)m->module)->module_type == Wasm_Module_AoT;
    if (!check_imports(m, allow_unresolved, err, err_len)) {
        pw_module_release(m);
        return PW_ERR_LINK;
    }
    *out = m;
    return PW_OK;
}

int
pw_module_is_aot(pw_module *m)
{
    return m->is_aot;
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
            pw_format_type(t, sig, sig_len);
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
            pw_format_type(f.type, sig, sig_len);
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
            pw_format_type(imp->u.function.func_type, sig, sig_len);
            *linked = !fp ? 0 : fp == (void *)pw_trampoline ? 1 : 2;
        }
    }
    return 0;
}
