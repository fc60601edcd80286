/*
 * Guest output: WAMR's os_printf (printf, puts, ... of libc-builtin) routes
 * to pw_vprintf; while capture is on for the instance whose call runs on
 * this thread, the text is collected on the instance (up to MAX_CAPTURE).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "pw_internal.h"
#include "pw_util.h"

#define MAX_CAPTURE (64u * 1024u * 1024u)

/* WAMR's os_printf routes here (BH_VPRINTF=pw_vprintf). */
int
pw_vprintf(const char *format, va_list ap)
{
    pw_instance *inst = pw_tls_current;
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

