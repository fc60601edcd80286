/*
 * Exports other than functions, and reference values: globals (typed get,
 * set), tables (get/set/grow/size), funcref and externref values at the API.
 *
 * Everything is addressed by export position (Module.exports order), so an
 * export's name never has to survive a round trip through C strings.  One
 * implementation serves bytecode and AOT instances: WAMR 1.1.2 gives both the
 * same module-instance, table-instance and global-data layout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw_internal.h"
#include "../interpreter/wasm_runtime.h"
#if WASM_ENABLE_AOT != 0
#include "../aot/aot_runtime.h"
#endif

static const WASMExport *
export_at(pw_instance *inst, uint32_t i, uint8_t kind)
{
    const WASMExport *exp;
    if (inst->closed || !inst->module_inst
        || i >= pw_module_export_count(inst->module))
        return NULL;
#if WASM_ENABLE_AOT != 0
    if (inst->module->is_aot)
        exp = &((AOTModule *)inst->module->module)->exports[i];
    else
#endif
        exp = &((WASMModule *)inst->module->module)->exports[i];
    return exp->kind == kind ? exp : NULL;
}

static WASMModuleInstance *
raw(pw_instance *inst)
{
    return (WASMModuleInstance *)inst->module_inst;
}

/* ---- globals --------------------------------------------------------- */

/* Type, mutability and address of the global an export names. */
static uint8_t *
global_at(pw_instance *inst, uint32_t i, uint8_t *type, int *is_mutable)
{
    const WASMExport *exp = export_at(inst, i, EXPORT_KIND_GLOBAL);
    uint32_t g, offset;
    if (!exp)
        return NULL;
    g = exp->index;
#if WASM_ENABLE_AOT != 0
    if (inst->module->is_aot) {
        AOTModule *a = (AOTModule *)inst->module->module;
        if (g < a->import_global_count) {
            *type = a->import_globals[g].type;
            *is_mutable = a->import_globals[g].is_mutable;
            offset = a->import_globals[g].data_offset;
        }
        else {
            g -= a->import_global_count;
            *type = a->globals[g].type;
            *is_mutable = a->globals[g].is_mutable;
            offset = a->globals[g].data_offset;
        }
        return raw(inst)->global_data + offset;
    }
#endif
    {
        WASMGlobalInstance *gi = &raw(inst)->e->globals[g];
        *type = gi->type;
        *is_mutable = gi->is_mutable;
        return raw(inst)->global_data + gi->data_offset;
    }
}

static uint32_t
value_size(uint8_t type)
{
    switch (type) {
        case VALUE_TYPE_I64:
        case VALUE_TYPE_F64:
            return 8;
        case VALUE_TYPE_V128:
            return 16;
        default: /* i32, f32, funcref, externref (an index) */
            return 4;
    }
}

int
pw_global_type(pw_instance *inst, uint32_t export_index, uint8_t *type,
               int *is_mutable)
{
    return global_at(inst, export_index, type, is_mutable) ? PW_OK
                                                           : PW_ERR_STATE;
}

int
pw_global_get(pw_instance *inst, uint32_t export_index, uint8_t *out16)
{
    uint8_t type;
    int is_mutable;
    uint8_t *at = global_at(inst, export_index, &type, &is_mutable);
    if (!at)
        return PW_ERR_STATE;
    memset(out16, 0, 16);
    memcpy(out16, at, value_size(type));
    return PW_OK;
}

int
pw_global_set(pw_instance *inst, uint32_t export_index, const uint8_t *in16)
{
    uint8_t type;
    int is_mutable;
    uint8_t *at = global_at(inst, export_index, &type, &is_mutable);
    if (!at)
        return PW_ERR_STATE;
    if (!is_mutable)
        return PW_ERR_RANGE;
    memcpy(at, in16, value_size(type));
    return PW_OK;
}

/* ---- tables ---------------------------------------------------------- */

static WASMTableInstance *
table_at(pw_instance *inst, uint32_t i, uint8_t *elem_type)
{
    const WASMExport *exp = export_at(inst, i, EXPORT_KIND_TABLE);
    uint32_t t;
    if (!exp || exp->index >= raw(inst)->table_count)
        return NULL;
    t = exp->index;
#if WASM_ENABLE_AOT != 0
    if (inst->module->is_aot) {
        AOTModule *a = (AOTModule *)inst->module->module;
        *elem_type = (uint8_t)(t < a->import_table_count
                                   ? a->import_tables[t].elem_type
                                   : a->tables[t - a->import_table_count]
                                         .elem_type);
    }
    else
#endif
    {
        WASMModule *w = (WASMModule *)inst->module->module;
        *elem_type = t < w->import_table_count
                         ? w->import_tables[t].u.table.elem_type
                         : w->tables[t - w->import_table_count].elem_type;
    }
    return raw(inst)->tables[t];
}

int
pw_table_info(pw_instance *inst, uint32_t export_index, uint8_t *elem_type,
              uint32_t *size, uint32_t *max_size)
{
    WASMTableInstance *t = table_at(inst, export_index, elem_type);
    if (!t)
        return PW_ERR_STATE;
    *size = t->cur_size;
    *max_size = t->max_size;
    return PW_OK;
}

int
pw_table_get(pw_instance *inst, uint32_t export_index, uint32_t i,
             uint32_t *ref)
{
    uint8_t elem_type;
    WASMTableInstance *t = table_at(inst, export_index, &elem_type);
    if (!t)
        return PW_ERR_STATE;
    if (i >= t->cur_size)
        return PW_ERR_RANGE;
    *ref = t->elems[i];
    return PW_OK;
}

int
pw_table_set(pw_instance *inst, uint32_t export_index, uint32_t i,
             uint32_t ref)
{
    uint8_t elem_type;
    WASMTableInstance *t = table_at(inst, export_index, &elem_type);
    if (!t)
        return PW_ERR_STATE;
    if (i >= t->cur_size)
        return PW_ERR_RANGE;
    t->elems[i] = ref;
    return PW_OK;
}

int
pw_table_grow(pw_instance *inst, uint32_t export_index, uint32_t delta,
              uint32_t init, uint32_t *old_size)
{
    uint8_t elem_type;
    uint32_t i;
    WASMTableInstance *t = table_at(inst, export_index, &elem_type);
    if (!t)
        return PW_ERR_STATE;
    /* WAMR allocates every table at its maximum: growing fills in place. */
    if (delta > t->max_size - t->cur_size) {
        *old_size = UINT32_MAX; /* table.grow's -1 */
        return PW_OK;
    }
    for (i = 0; i < delta; i++)
        t->elems[t->cur_size + i] = init;
    *old_size = t->cur_size;
    t->cur_size += delta;
    return PW_OK;
}

/* ---- reference values -------------------------------------------------- */

int
pw_externref_index(pw_instance *inst, uint64_t host_value, uint32_t *index)
{
    if (inst->closed || !inst->module_inst)
        return PW_ERR_CLOSED;
    if (!host_value) {
        *index = NULL_REF;
        return PW_OK;
    }
#if WASM_ENABLE_REF_TYPES != 0
    return wasm_externref_obj2ref(inst->module_inst,
                                  (void *)(uintptr_t)host_value, index)
               ? PW_OK
               : PW_ERR_NOMEM;
#else
    (void)index; /* the teaclave core has no reference types */
    return PW_ERR_STATE;
#endif
}

uint64_t
pw_externref_value(uint32_t index)
{
    void *obj = NULL;
#if WASM_ENABLE_REF_TYPES != 0
    if (index == NULL_REF || !wasm_externref_ref2obj(index, &obj))
        return 0;
#else
    (void)index;
#endif
    return (uint64_t)(uintptr_t)obj;
}

static uint32_t
func_count(pw_instance *inst)
{
#if WASM_ENABLE_AOT != 0
    if (inst->module->is_aot) {
        AOTModule *a = (AOTModule *)inst->module->module;
        return a->import_func_count + a->func_count;
    }
#endif
    return ((WASMModule *)inst->module->module)->import_function_count
           + ((WASMModule *)inst->module->module)->function_count;
}

#if WASM_ENABLE_AOT != 0
/* AOT function instances made for funcrefs that are not exports: a list
 * attached to the instance, freed when it is deinstantiated. */
typedef struct pw_funcref_node {
    struct pw_funcref_node *next;
    AOTFunctionInstance func;
} pw_funcref_node;

typedef struct pw_funcrefs {
    pw_funcref_node *head;
} pw_funcrefs;

static void
funcrefs_release(pw_instance *inst, void *state)
{
    pw_funcrefs *f = state;
    pw_funcref_node *node, *next;
    (void)inst;
    for (node = f->head; node; node = next) {
        next = node->next;
        free(node);
    }
    free(f);
}

static const pw_attachment_type funcrefs_type = { "funcrefs", NULL,
                                                  funcrefs_release };

static wasm_function_inst_t
aot_function(pw_instance *inst, uint32_t index)
{
    AOTModule *a = (AOTModule *)inst->module->module;
    AOTFunctionInstance *exports =
        (AOTFunctionInstance *)raw(inst)->export_functions;
    pw_funcrefs *f = pw_instance_attached(inst, &funcrefs_type);
    pw_funcref_node *node;
    uint32_t i;
    for (i = 0; i < raw(inst)->export_func_count; i++)
        if (exports[i].func_index == index)
            return &exports[i];
    for (node = f ? f->head : NULL; node; node = node->next)
        if (node->func.func_index == index)
            return &node->func;
    if (!f) {
        if (!(f = calloc(1, sizeof(*f))))
            return NULL;
        if (pw_instance_attach(inst, &funcrefs_type, f) != PW_OK) {
            free(f);
            return NULL;
        }
    }
    if (!(node = calloc(1, sizeof(*node))))
        return NULL;
    node->func.func_name = "";
    node->func.func_index = index;
    if (index < a->import_func_count) {
        node->func.is_import_func = true;
        node->func.u.func_import = &a->import_funcs[index];
    }
    else {
        uint32_t k = index - a->import_func_count;
        node->func.u.func.func_type = a->func_types[a->func_type_indexes[k]];
        node->func.u.func.func_ptr = a->func_ptrs[k];
    }
    node->next = f->head;
    f->head = node;
    return &node->func;
}
#endif

wasm_function_inst_t
pw_funcref_function(pw_instance *inst, uint32_t index, char *sig,
                    uint32_t sig_len)
{
    wasm_function_inst_t func;
    const WASMType *type;
    if (inst->closed || !inst->module_inst || index >= func_count(inst))
        return NULL;
#if WASM_ENABLE_AOT != 0
    if (inst->module->is_aot) {
        func = aot_function(inst, index);
        if (!func)
            return NULL;
        type = ((AOTFunctionInstance *)func)->is_import_func
                   ? ((AOTFunctionInstance *)func)->u.func_import->func_type
                   : ((AOTFunctionInstance *)func)->u.func.func_type;
        pw_format_type(type, sig, sig_len);
        return func;
    }
#endif
    {
        WASMFunctionInstance *f = &raw(inst)->e->functions[index];
        type = f->is_import_func ? f->u.func_import->func_type
                                 : f->u.func->func_type;
        pw_format_type(type, sig, sig_len);
        return f;
    }
}

int64_t
pw_function_index(pw_instance *inst, wasm_function_inst_t func)
{
    if (inst->closed || !inst->module_inst || !func)
        return -1;
#if WASM_ENABLE_AOT != 0
    if (inst->module->is_aot)
        return ((AOTFunctionInstance *)func)->func_index;
#endif
    {
        WASMFunctionInstance *f = func;
        WASMFunctionInstance *base = raw(inst)->e->functions;
        if (f < base || f >= base + raw(inst)->e->function_count)
            return -1;
        return f - base;
    }
}

/* ---- host-defined values for imported globals ---------------------------- */

/* The import at position i (pw_module_import order) if it is a global. */
static WASMValue *
import_global_at(pw_module *m, uint32_t i, uint8_t *type, int *is_mutable,
                 int *builtin)
{
    if (i >= pw_module_import_count(m))
        return NULL;
#if WASM_ENABLE_AOT != 0
    if (m->is_aot) {
        AOTModule *a = (AOTModule *)m->module;
        if (i < a->import_func_count
            || i - a->import_func_count >= a->import_global_count)
            return NULL;
        i -= a->import_func_count;
        *type = a->import_globals[i].type;
        *is_mutable = a->import_globals[i].is_mutable;
        {
            WASMGlobalImport probe; /* the AOT image does not record it */
            memset(&probe, 0, sizeof(probe));
            *builtin = wasm_native_lookup_libc_builtin_global(
                a->import_globals[i].module_name,
                a->import_globals[i].global_name, &probe);
        }
        return &a->import_globals[i].global_data_linked;
    }
#endif
    {
        WASMImport *imp = &((WASMModule *)m->module)->imports[i];
        if (imp->kind != IMPORT_KIND_GLOBAL)
            return NULL;
        *type = imp->u.global.type;
        *is_mutable = imp->u.global.is_mutable;
        *builtin = imp->u.global.is_linked;
        return &imp->u.global.global_data_linked;
    }
}

int
pw_module_import_global(pw_module *m, uint32_t i, uint8_t *type,
                        int *is_mutable, int *builtin)
{
    return import_global_at(m, i, type, is_mutable, builtin) ? PW_OK
                                                             : PW_ERR_STATE;
}

int
pw_module_link_global(pw_module *m, uint32_t i, const uint8_t *value16)
{
    uint8_t type;
    int is_mutable, builtin;
    WASMValue *v = import_global_at(m, i, &type, &is_mutable, &builtin);
    if (!v)
        return PW_ERR_STATE;
    memset(v, 0, sizeof(*v));
    memcpy(v, value16, value_size(type) < sizeof(*v) ? value_size(type)
                                                     : sizeof(*v));
    return PW_OK;
}
