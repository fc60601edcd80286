/* Small helpers shared by the runtime bridge and the compiler extension. */
#ifndef PYWAMR_UTIL_H
#define PYWAMR_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

/* Format a message into a caller's error buffer (which may be absent). */
static inline void
set_err(char *err, uint32_t err_len, const char *fmt, ...)
{
    va_list ap;
    if (!err || !err_len)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

#endif
