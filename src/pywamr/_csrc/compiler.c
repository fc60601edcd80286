/*
 * pywamr AOT compiler: see compiler.h.
 *
 * The pipeline is wamrc's: load the module with this library's own (compiler
 * mode) WAMR core, aot_create_comp_data, aot_create_comp_context,
 * aot_compile_wasm, then emit the AOT image into a buffer.  No native symbols
 * are registered here: with registered natives WAMR would hard-wire their
 * calling convention into the code; without, every import goes through the
 * runtime's generic native invoker, which is what our runtime cores expect.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "compiler.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aot_export.h"
#include "llvm/Config/llvm-config.h"
#include "wasm_export.h"
#include "pw_util.h"

/* Exported by compilation/aot_emit_aot_file.c, declared only in
 * aot_compiler.h (which pulls in LLVM's C++-era headers); the buffer comes
 * from wasm_runtime_malloc. */
extern uint8_t *aot_emit_aot_file_buf(aot_comp_context_t comp_ctx,
                                      aot_comp_data_t comp_data,
                                      uint32_t *p_aot_file_size);

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_inited;

/* WAMR's os_printf in this library (BH_VPRINTF=pwc_vprintf): a library does
 * not print.  aot_create_comp_context writes a banner on every call, and the
 * loader warns about imports it cannot resolve (none are, by design). */
int
pwc_vprintf(const char *format, va_list ap)
{
    (void)format;
    (void)ap;
    return 0;
}

/* WAMR's compiler errors start with "Error: ". */
static const char *
last_error(void)
{
    const char *msg = aot_get_last_error();
    if (!strncmp(msg, "Error: ", 7))
        msg += 7;
    return *msg ? msg : "unknown error";
}

/* Initialised once, never destroyed: wasm_runtime_destroy would shut LLVM
 * down (aot_compiler_destroy), and LLVM cannot be initialised again. */
static int
init_locked(char *err, uint32_t err_len)
{
    RuntimeInitArgs args;
    if (g_inited)
        return PWC_OK;
    memset(&args, 0, sizeof(args));
    args.mem_alloc_type = Alloc_With_System_Allocator;
    if (!wasm_runtime_full_init(&args)) {
        set_err(err, err_len, "the AOT compiler's WAMR core failed to start");
        return PWC_ERR_INIT;
    }
    g_inited = 1;
    return PWC_OK;
}

static int
compile_locked(const uint8_t *wasm, uint32_t wasm_size,
               const pwc_options *o, uint8_t **out, uint32_t *out_size,
               char *err, uint32_t err_len)
{
    wasm_module_t module = NULL;
    aot_comp_data_t comp_data = NULL;
    aot_comp_context_t comp_ctx = NULL;
    AOTCompOption option;
    uint8_t *copy, *image = NULL;
    uint32_t image_size = 0;
    int rc = PWC_ERR_COMPILE;

    /* The loader keeps pointers into its buffer until unload. */
    if (!(copy = malloc(wasm_size ? wasm_size : 1))) {
        set_err(err, err_len, "out of memory");
        return PWC_ERR_NOMEM;
    }
    memcpy(copy, wasm, wasm_size);
    if (wasm_size < 4 || get_package_type(copy, wasm_size) != Wasm_Module_Bytecode) {
        set_err(err, err_len, "not a WebAssembly module (no \\0asm header)");
        rc = PWC_ERR_LOAD;
        goto done;
    }
    if (!(module = wasm_runtime_load(copy, wasm_size, err, err_len))) {
        rc = PWC_ERR_LOAD;
        goto done;
    }
    if (!(comp_data = aot_create_comp_data(module))) {
        set_err(err, err_len, "%s", last_error());
        goto done;
    }

    memset(&option, 0, sizeof(option));
    option.target_arch = (char *)o->target_arch;
    option.target_cpu = (char *)o->target_cpu;
    option.cpu_features = (char *)o->cpu_features;
    option.opt_level = o->opt_level;
    option.size_level = o->size_level;
    option.bounds_checks = (uint32_t)o->bounds_checks;
    option.stack_bounds_checks = (uint32_t)o->stack_bounds_checks;
    option.enable_simd = o->enable_simd != 0;
    option.enable_thread_mgr = o->enable_thread_mgr != 0;
    option.enable_aux_stack_check = o->enable_aux_stack_check != 0;
    option.enable_bulk_memory = o->enable_bulk_memory != 0;
    option.enable_ref_types = o->enable_ref_types != 0;
    option.output_format = AOT_FORMAT_FILE;

    if (!(comp_ctx = aot_create_comp_context(comp_data, &option))) {
        set_err(err, err_len, "%s", last_error());
        goto done;
    }
    if (!aot_compile_wasm(comp_ctx)) {
        set_err(err, err_len, "%s", last_error());
        goto done;
    }
    if (!(image = aot_emit_aot_file_buf(comp_ctx, comp_data, &image_size))) {
        set_err(err, err_len, "%s", last_error());
        goto done;
    }
    if (!(*out = malloc(image_size ? image_size : 1))) {
        set_err(err, err_len, "out of memory");
        rc = PWC_ERR_NOMEM;
        goto done;
    }
    memcpy(*out, image, image_size);
    *out_size = image_size;
    rc = PWC_OK;
done:
    if (image)
        wasm_runtime_free(image);
    if (comp_ctx)
        aot_destroy_comp_context(comp_ctx);
    if (comp_data)
        aot_destroy_comp_data(comp_data);
    if (module)
        wasm_runtime_unload(module);
    free(copy);
    return rc;
}

int
pwc_compile(const uint8_t *wasm, uint32_t wasm_size,
            const pwc_options *options, uint8_t **out, uint32_t *out_size,
            char *err, uint32_t err_len)
{
    int rc;
    *out = NULL;
    *out_size = 0;
    if (err && err_len)
        err[0] = '\0';
    pthread_mutex_lock(&g_lock);
    rc = init_locked(err, err_len);
    if (rc == PWC_OK)
        rc = compile_locked(wasm, wasm_size, options, out, out_size, err,
                            err_len);
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void
pwc_free(uint8_t *buf)
{
    free(buf);
}

void
pwc_wamr_version(uint32_t *major, uint32_t *minor, uint32_t *patch)
{
    wasm_runtime_get_version(major, minor, patch);
}

const char *
pwc_llvm_version(void)
{
    return LLVM_VERSION_STRING;
}
