/*
 * wordcount.c -- Teaclave-style payload: line count plus a file copy.
 *
 * Arguments: none.  Input: "input".  Output: "output", which receives an
 * exact copy of the input.  The input is processed in 64 KiB chunks while
 * counting bytes and newline characters; also used for throughput
 * benchmarks.  Returns the number of newline characters ('\n') in the
 * input (like `wc -l`), or -1 on any file API error.
 *
 * Also exports `long long bytes_copied(void)`: the number of bytes copied
 * by the most recent entrypoint call (lets benchmarks check throughput).
 */
#include "teaclave_file.h"

#define CHUNK_SIZE (64 * 1024)

static unsigned char chunk[CHUNK_SIZE];

/* Writes all len bytes of buf, retrying short writes; 0 or -1. */
static int write_all(int handle, const unsigned char *buf, int len)
{
    while (len > 0) {
        int n = teaclave_write_file(handle, buf, (size_t)len);
        if (n <= 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

/* Total number of bytes copied by the last entrypoint call. */
static long long total_bytes;

long long bytes_copied(void)
{
    return total_bytes;
}

int entrypoint(int argc, char *argv[])
{
    int in, out, lines = 0, result = 0;

    (void)argc;
    (void)argv;
    total_bytes = 0;

    in = teaclave_open_input("input");
    if (in < 0)
        return -1;
    out = teaclave_create_output("output");
    if (out < 0) {
        teaclave_close_file(in);
        return -1;
    }
    for (;;) {
        int n = teaclave_read_file(in, chunk, CHUNK_SIZE);
        int i;

        if (n < 0) {
            result = -1;
            break;
        }
        if (n == 0)
            break;
        total_bytes += n;
        for (i = 0; i < n; i++)
            lines += chunk[i] == '\n';
        if (write_all(out, chunk, n) != 0) {
            result = -1;
            break;
        }
    }
    if (teaclave_close_file(in) != 0)
        result = -1;
    if (teaclave_close_file(out) != 0)
        result = -1;
    return result < 0 ? -1 : lines;
}
