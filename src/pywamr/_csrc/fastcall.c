/*
 * Scalar fast calls: the C half of the callers Python generates per
 * signature (<= 4 scalar params, <= 1 result).  What is constant for a
 * looked-up function (its instance, its WAMR handle, the kinds of its
 * parameters and result) is prepared once in a pw_fastfn; a call then passes
 * only the fastfn and the values (few cffi arguments, no strings to parse).
 * The fastfn travels as an integer: cffi converts an int several times
 * faster than a typed pointer.
 * A failure returns a sentinel and leaves the status in pw_last_status().
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pw_internal.h"
#include "pw_util.h"

struct pw_fastfn {
    pw_instance *inst;
    wasm_function_inst_t func;
    uint32_t nparams;
    char params[4]; /* 'i' 'I' 'f' 'F' */
    char result;    /* 'i' 'I' 'f' 'F', or 0 for none */
};

static __thread int tls_status;

int
pw_last_status(void)
{
    return tls_status;
}

pw_fastfn *
pw_fastfn_new(pw_instance *inst, wasm_function_inst_t func, const char *sig)
{
    pw_fastfn *f;
    const char *close = strchr(sig, ')');
    uint32_t n;
    if (sig[0] != '(' || !close || close - sig - 1 > 4 || strlen(close + 1) > 1)
        return NULL;
    n = (uint32_t)(close - sig - 1);
    if (!(f = calloc(1, sizeof(*f))))
        return NULL;
    f->inst = inst;
    f->func = func;
    f->nparams = n;
    memcpy(f->params, sig + 1, n);
    f->result = close[1];
    return f;
}

void
pw_fastfn_free(pw_fastfn *f)
{
    free(f);
}

/* Pack scalar arguments (ints from iv, floats from dv, by kind) into cells
 * and call; on success argv holds the results. */
static int
call_scalar(const pw_fastfn *f, const int64_t *iv, const double *dv,
            uint32_t *argv)
{
    uint32_t cells = 0, i;
    for (i = 0; i < f->nparams; i++) {
        switch (f->params[i]) {
            case 'i':
                if (iv[i] < INT32_MIN || iv[i] > (int64_t)UINT32_MAX) {
                    snprintf(f->inst->error, sizeof(f->inst->error),
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
                float x = (float)dv[i];
                memcpy(&argv[cells++], &x, 4);
                break;
            }
            default:
                memcpy(&argv[cells], &dv[i], 8);
                cells += 2;
        }
    }
    return pw_call_deadline(f->inst, f->func, cells, argv, 0);
}

static int64_t
call_int(const pw_fastfn *f, const int64_t *iv)
{
    uint32_t argv[8];
    int64_t result = 0;
    int rc = call_scalar(f, iv, NULL, argv);
    tls_status = rc;
    if (rc != PW_OK)
        return PW_INT_SENTINEL;
    if (f->result == 'i')
        result = (int32_t)argv[0];
    else if (f->result == 'I')
        memcpy(&result, argv, 8);
    return result;
}

int64_t
pw_fcall0(uintptr_t f)
{
    return call_int((const pw_fastfn *)f, NULL);
}

int64_t
pw_fcall1(uintptr_t f, int64_t a0)
{
    int64_t iv[1] = { a0 };
    return call_int((const pw_fastfn *)f, iv);
}

int64_t
pw_fcall2(uintptr_t f, int64_t a0, int64_t a1)
{
    int64_t iv[2] = { a0, a1 };
    return call_int((const pw_fastfn *)f, iv);
}

int64_t
pw_fcall3(uintptr_t f, int64_t a0, int64_t a1, int64_t a2)
{
    int64_t iv[3] = { a0, a1, a2 };
    return call_int((const pw_fastfn *)f, iv);
}

int64_t
pw_fcall4(uintptr_t f, int64_t a0, int64_t a1, int64_t a2, int64_t a3)
{
    int64_t iv[4] = { a0, a1, a2, a3 };
    return call_int((const pw_fastfn *)f, iv);
}

double
pw_fcall_float(uintptr_t fastfn, int64_t i0, int64_t i1, int64_t i2,
               int64_t i3, double d0, double d1, double d2, double d3)
{
    const pw_fastfn *f = (const pw_fastfn *)fastfn;
    int64_t iv[4] = { i0, i1, i2, i3 };
    double dv[4] = { d0, d1, d2, d3 }, result = 0;
    uint32_t argv[8];
    int rc = call_scalar(f, iv, dv, argv);
    tls_status = rc;
    if (rc != PW_OK)
        return NAN;
    switch (f->result) {
        case 'f': {
            float x;
            memcpy(&x, argv, 4);
            result = x;
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
