/*
 * Scalar fast calls: the C half of the callers Python generates per
 * signature (<= 4 scalar params, <= 1 result).  Arguments travel as C
 * int64/double, not through a cell buffer; a failure returns a sentinel and
 * leaves the status in pw_last_status().
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pw_internal.h"
#include "pw_util.h"

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
                    snprintf(inst->error, sizeof(inst->error),
                             "argument %u is out of range for i32", i);
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

