/*
 * compare.c -- Teaclave-style payload: are two input files identical?
 *
 * Arguments: none.  Inputs: "input_a", "input_b".  Output: "result", which
 * receives "same\n" or "different\n".  Both inputs are streamed through
 * 4 KiB buffers.  Returns 0 if same, 1 if different, -1 on any file API
 * error.
 */
#include "teaclave_file.h"

#define BUF_SIZE 4096

static unsigned char buf_a[BUF_SIZE];
static unsigned char buf_b[BUF_SIZE];

/* Fills buf with up to size bytes unless EOF; returns count or -1. */
static int read_full(int handle, unsigned char *buf, int size)
{
    int total = 0;

    while (total < size) {
        int n = teaclave_read_file(handle, buf + total, (size_t)(size - total));
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        total += n;
    }
    return total;
}

/* 0 if the two streams are identical, 1 if not, -1 on error. */
static int compare_streams(int fa, int fb)
{
    for (;;) {
        int na = read_full(fa, buf_a, BUF_SIZE);
        int nb = read_full(fb, buf_b, BUF_SIZE);
        int i;

        if (na < 0 || nb < 0)
            return -1;
        if (na != nb)
            return 1;
        for (i = 0; i < na; i++)
            if (buf_a[i] != buf_b[i])
                return 1;
        if (na < BUF_SIZE)
            return 0; /* both at end of file */
    }
}

int entrypoint(int argc, char *argv[])
{
    static const char same[] = "same\n";
    static const char different[] = "different\n";
    int fa, fb, out, result, ok = 1;
    const char *msg;
    int len;

    (void)argc;
    (void)argv;

    fa = teaclave_open_input("input_a");
    if (fa < 0)
        return -1;
    fb = teaclave_open_input("input_b");
    if (fb < 0) {
        teaclave_close_file(fa);
        return -1;
    }
    result = compare_streams(fa, fb);
    if (teaclave_close_file(fa) != 0)
        ok = 0;
    if (teaclave_close_file(fb) != 0)
        ok = 0;
    if (result < 0 || !ok)
        return -1;

    out = teaclave_create_output("result");
    if (out < 0)
        return -1;
    msg = result == 0 ? same : different;
    len = result == 0 ? (int)sizeof(same) - 1 : (int)sizeof(different) - 1;
    if (teaclave_write_file(out, msg, (size_t)len) != len)
        ok = 0;
    if (teaclave_close_file(out) != 0)
        ok = 0;
    return ok ? result : -1;
}
