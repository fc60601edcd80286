/* Probes the behaviours in which Teaclave's executor and pywamr's strict
 * profile differ (docs/teaclave-fidelity.md).  Argument "case" picks one;
 * only the five Teaclave natives are imported (no libc-builtin), so it runs
 * in Teaclave's own WAMR build too. */
#include "teaclave_file.h"

typedef __UINTPTR_TYPE__ uintptr_t;

static char buf[256];

static int
same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static int
length(const char *s)
{
    int n = 0;
    while (s[n])
        n++;
    return n;
}

static const char *
which_case(int argc, char *argv[])
{
    for (int i = 0; i + 1 < argc; i += 2)
        if (argv[i] && argv[i + 1] && same(argv[i], "case"))
            return argv[i + 1];
    return "";
}

int
entrypoint(int argc, char *argv[])
{
    const char *which = which_case(argc, argv);
    int h, w, n = 0;

    if (same(which, "trap"))
        __builtin_trap();
    if (same(which, "write-then-trap")) { /* behaviour 2 */
        w = teaclave_create_output("out");
        teaclave_write_file(w, "partial", 7);
        __builtin_trap();
    }
    if (same(which, "oob-buffer")) { /* behaviour 3: -1, or a trap */
        h = teaclave_open_input("in");
        return teaclave_read_file(h, (void *)0xFFFFFF00, 1000);
    }
    if (same(which, "oob-id"))
        return teaclave_open_input((const char *)0xFFFFFFF0);
    if (same(which, "negative-length")) {
        w = teaclave_create_output("out");
        return teaclave_write_file(w, buf, (size_t)-1);
    }
    if (same(which, "reopen")) { /* behaviour 4: the handle of a reopen */
        h = teaclave_open_input("in");
        teaclave_close_file(h);
        return teaclave_open_input("in");
    }
    if (same(which, "output-handle")) {
        h = teaclave_open_input("in");
        return teaclave_create_output("out");
    }
    if (same(which, "open-many")) { /* how many of 1100 open+close succeed */
        for (int i = 0; i < 1100; i++) {
            h = teaclave_open_input("in");
            if (h == -1)
                break;
            teaclave_close_file(h);
            n++;
        }
        return n;
    }
    if (same(which, "args")) { /* behaviour 5: every pair, as k=v lines */
        w = teaclave_create_output("out");
        for (int i = 0; i + 1 < argc; i += 2) {
            teaclave_write_file(w, argv[i], (size_t)length(argv[i]));
            teaclave_write_file(w, "=", 1);
            teaclave_write_file(w, argv[i + 1], (size_t)length(argv[i + 1]));
            teaclave_write_file(w, "\n", 1);
        }
        teaclave_close_file(w);
        return argc;
    }
    if (same(which, "nulls")) { /* behaviour 6: bit i set when argv[i] is NULL */
        for (int i = 0; i < argc && i < 30; i++)
            if (!argv[i])
                n |= 1 << i;
        return n;
    }
    if (same(which, "layout")) { /* behaviour 7 */
        /* bit 0: the array lies after every string; bit 1: argv[argc] == NULL;
           bit 2: the strings are in argv order */
        n = 4;
        for (int i = 0; i < argc; i++) {
            if ((uintptr_t)argv[i] > (uintptr_t)argv)
                n |= 8; /* a string after the array */
            if (i && (uintptr_t)argv[i] < (uintptr_t)argv[i - 1])
                n &= ~4;
        }
        n = (n & 8 ? 0 : 1) | (argv[argc] == 0 ? 2 : 0) | (n & 4);
        return n;
    }
    if (same(which, "lossy-id")) { /* behaviour 12: "in" + an invalid byte */
        static const char id[] = { 'i', 'n', (char)0xFF, 0 };
        return teaclave_open_input(id) == -1 ? -1 : 1;
    }
    if (same(which, "no-output"))
        return 0;
    if (same(which, "read-once")) { /* one read of 1 MiB: how many bytes it gave */
        static char big[1 << 20];
        h = teaclave_open_input("in");
        return teaclave_read_file(h, big, sizeof(big));
    }
    if (same(which, "write")) { /* caps: write "size" bytes in 4 KiB chunks */
        static char chunk[4096];
        int total = 0, size = 0;
        for (int i = 0; i + 1 < argc; i += 2)
            if (same(argv[i], "size"))
                for (const char *p = argv[i + 1]; *p >= '0' && *p <= '9'; p++)
                    size = size * 10 + (*p - '0');
        w = teaclave_create_output("out");
        while (total < size) {
            int step = size - total < 4096 ? size - total : 4096;
            int rc = teaclave_write_file(w, chunk, (size_t)step);
            if (rc == -1)
                break;
            total += rc;
        }
        teaclave_close_file(w);
        return total;
    }
    return -100;
}
