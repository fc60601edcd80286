/*
 * A warm invocation of a kept instance (the reuse-instance policy) in one
 * call from Python: file-table settings, output capture, the entry call and
 * the reset, so the common invocation (no declared files, nothing printed,
 * no file error) crosses into C once.
 */
#include <stdio.h>

#include "pw_internal.h"

int
pw_teaclave_invoke_kept(pw_instance *inst, wasm_function_inst_t func,
                        uint32_t n, const char *packed, uint32_t packed_len,
                        double timeout, int teaclave_layout, int teaclave_rules,
                        uint64_t max_output, uint64_t max_total, int capture,
                        int32_t *result, int *reset)
{
    int rc;
    *reset = 0;
    if (inst->closed)
        return PW_ERR_CLOSED;
    if (pw_files_configure(inst, teaclave_rules, max_output, max_total)
        != PW_OK) {
        snprintf(inst->error, sizeof(inst->error),
                 "could not set up the file table");
        return PW_ERR_STATE;
    }
    pw_output_capture(inst, capture);
    rc = pw_entry_call(inst, func, n, packed, packed_len, timeout,
                       teaclave_layout, 1, result);
    if (pw_files_error_count(inst) == 0 && pw_output_size(inst) == 0)
        *reset = pw_instance_reset(inst) == PW_OK ? 1 : -1;
    return rc;
}
