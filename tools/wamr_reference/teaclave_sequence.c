/* Teaclave's call sequence (executor/src/wamr.rs: init, load, instantiate with a
 * 160 KiB wasm stack and a 20 MiB app heap, argv strings then the pointer array
 * in the app heap, an exec env of 160 KiB, call `entrypoint`) against any WAMR
 * build, so a behaviour of pywamr's teaclave profile can be compared with an
 * older WAMR such as Teaclave's pinned tag.  Build it against a WAMR checkout's
 * libvmlib.a (see docs/teaclave-fidelity.md, "What cannot match"):
 *   gcc -O2 -o teaclave_sequence teaclave_sequence.c -I$WAMR/core/iwasm/include \
 *       $WAMR/product-mini/platforms/linux/build/libvmlib.a -lpthread -lm -ldl
 *   ./teaclave_sequence PAYLOAD.wasm KEY VALUE ...                            */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wasm_export.h"
int main(int argc, char **argv) {
    if (argc < 2 || argc - 2 > 16) {
        fprintf(stderr, "usage: %s PAYLOAD.wasm [KEY VALUE]... (at most 16 strings)\n", argv[0]);
        return 1;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END); long n = ftell(f); rewind(f);
    uint8_t *buf = malloc(n); fread(buf, 1, n, f); fclose(f);
    char err[256];
    if (!wasm_runtime_init()) return 2;
    wasm_module_t m = wasm_runtime_load(buf, n, err, sizeof err);
    if (!m) { printf("load: %s\n", err); return 3; }
    wasm_module_inst_t inst = wasm_runtime_instantiate(m, 163840, 20 * 1024 * 1024, err, sizeof err);
    if (!inst) { printf("inst: %s\n", err); return 4; }
    int nargs = argc - 2;  /* strings, then the pointer array */
    uint32_t offs[16];
    for (int i = 0; i < nargs; i++) {
        offs[i] = wasm_runtime_module_dup_data(inst, argv[i + 2], strlen(argv[i + 2]) + 1);
    }
    uint32_t arr = wasm_runtime_module_dup_data(inst, (const char *)offs, 4 * nargs);
    wasm_function_inst_t fn = wasm_runtime_lookup_function(inst, "entrypoint", NULL);
    wasm_exec_env_t env = wasm_runtime_create_exec_env(inst, 163840);
    uint32_t a[2] = { (uint32_t)nargs, arr };
    if (!wasm_runtime_call_wasm(env, fn, 2, a)) { printf("trap: %s\n", wasm_runtime_get_exception(inst)); return 0; }
    printf("ok: %d\n", (int)a[0]);
    return 0;
}
