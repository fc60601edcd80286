/*
 * A warm invocation of a kept instance (the reuse-instance policy) in one
 * call from Python: file-table settings, output capture, the entry call and
 * the reset, so the common invocation (no declared files, nothing printed,
 * no file error) crosses into C once, with five arguments, and returns one
 * number.
 */
#include <stdio.h>

#include "pw_internal.h"

int64_t
pw_teaclave_invoke_kept(pw_kept_call *call, uint32_t n, const char *packed,
                        uint32_t packed_len, double timeout)
{
    pw_instance *inst = call->inst;
    int rc;
    call->reset = 0;
    call->result = 0;
    if (inst->closed) {
        call->status = PW_ERR_CLOSED;
        return PW_KEPT_OTHER;
    }
    if (pw_files_configure(inst, call->teaclave_rules, call->max_output,
                           call->max_total)
        != PW_OK) {
        snprintf(inst->error, sizeof(inst->error),
                 "could not set up the file table");
        call->status = PW_ERR_STATE;
        return PW_KEPT_OTHER;
    }
    pw_output_capture(inst, call->capture);
    rc = pw_entry_call(inst, call->func, n, packed, packed_len, timeout,
                       call->teaclave_layout, 1, &call->result);
    call->status = rc;
    if (pw_files_error_count(inst) == 0 && pw_output_size(inst) == 0)
        call->reset = pw_instance_reset(inst) == PW_OK ? 1 : -1;
    return rc == PW_OK && call->reset == 1 ? (int64_t)call->result
                                           : PW_KEPT_OTHER;
}
