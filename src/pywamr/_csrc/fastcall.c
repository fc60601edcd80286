/*
 * Scalar fast calls.  What is constant for a looked-up function (its
 * instance, its WAMR handle, the kinds of its parameters and results) is
 * prepared once in a pw_fastfn; a call then passes only the fastfn and the
 * values.  The fastfn travels as an integer: cffi converts an int several
 * times faster than a typed pointer.
 *
 * Two kinds of caller use it:
 * - pywamr._fastcall (vectorcall.c), the C-API caller: any scalar
 *   signature, through pw_fcall_cells (it packs the cells itself);
 * - the callers _function.py generates per signature when that module is
 *   absent (<= 4 scalar params, <= 1 result): pw_fcallN / pw_fcall_float,
 *   which return a sentinel on failure.
 * Every call leaves its status in pw_last_status().
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
    uint32_t result_cells;
    char result;    /* the first result: 'i' 'I' 'f' 'F', or 0 for none */
    char params[];  /* 'i' 'I' 'f' 'F', nparams of them */
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
    if (sig[0] != '(' || !close || strspn(sig + 1, "iIfF") != (size_t)(close - sig - 1)
        || strspn(close + 1, "iIfF") != strlen(close + 1))
        return NULL;
    n = (uint32_t)(close - sig - 1);
    if (!(f = calloc(1, sizeof(*f) + n)))
        return NULL;
    f->inst = inst;
    f->func = func;
    f->nparams = n;
    memcpy(f->params, sig + 1, n);
    f->result = close[1];
    for (const char *r = close + 1; *r; r++)
        f->result_cells += (*r == 'I' || *r == 'F') ? 2 : 1;
    return f;
}

void
pw_fastfn_free(pw_fastfn *f)
{
    free(f);
}

int
pw_fcall_cells(uintptr_t f, uint32_t argc, uint32_t *argv)
{
    const pw_fastfn *fn = (const pw_fastfn *)f;
    return tls_status = pw_call_deadline(fn->inst, fn->func, argc, argv, 0);
}

/* Pack scalar arguments (ints from iv, floats from dv, by kind) into cells
 * and call; on success argv (8 cells) holds the results.  nparams is how
 * many values iv and dv hold: a fastfn of another shape is refused. */
static int
call_scalar(const pw_fastfn *f, uint32_t nparams, const int64_t *iv,
            const double *dv, uint32_t *argv)
{
    uint32_t cells = 0, i;
    if (f->nparams != nparams || f->result_cells > 2) {
        snprintf(f->inst->error, sizeof(f->inst->error),
                 "a fast call of %u values cannot call a function of %u "
                 "parameters and %u result cells",
                 nparams, f->nparams, f->result_cells);
        return PW_ERR_STATE;
    }
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
call_int(const pw_fastfn *f, uint32_t nparams, const int64_t *iv)
{
    uint32_t argv[8];
    int64_t result = 0;
    int rc = call_scalar(f, nparams, iv, NULL, argv);
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
    return call_int((const pw_fastfn *)f, 0, NULL);
}

int64_t
pw_fcall1(uintptr_t f, int64_t a0)
{
    int64_t iv[1] = { a0 };
    return call_int((const pw_fastfn *)f, 1, iv);
}

int64_t
pw_fcall2(uintptr_t f, int64_t a0, int64_t a1)
{
    int64_t iv[2] = { a0, a1 };
    return call_int((const pw_fastfn *)f, 2, iv);
}

int64_t
pw_fcall3(uintptr_t f, int64_t a0, int64_t a1, int64_t a2)
{
    int64_t iv[3] = { a0, a1, a2 };
    return call_int((const pw_fastfn *)f, 3, iv);
}

int64_t
pw_fcall4(uintptr_t f, int64_t a0, int64_t a1, int64_t a2, int64_t a3)
{
    int64_t iv[4] = { a0, a1, a2, a3 };
    return call_int((const pw_fastfn *)f, 4, iv);
}

double
pw_fcall_float(uintptr_t fastfn, int64_t i0, int64_t i1, int64_t i2,
               int64_t i3, double d0, double d1, double d2, double d3)
{
    const pw_fastfn *f = (const pw_fastfn *)fastfn;
    int64_t iv[4] = { i0, i1, i2, i3 };
    double dv[4] = { d0, d1, d2, d3 }, result = 0;
    uint32_t argv[8];
    int rc = call_scalar(f, f->nparams <= 4 ? f->nparams : 4, iv, dv, argv);
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
