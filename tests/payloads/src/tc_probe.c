/* A Teaclave payload that exercises every failure path of the file API.
 * Argument "case" picks the scenario; the return value is the number of
 * calls that returned -1 (or a count, as described per case). */
#include "teaclave_file.h"

int strcmp(const char *a, const char *b);
void *malloc(size_t size);

static int counter; /* .bss: must read 0 at the start of every invocation */

static char buf[256];
static char chunk[1 << 20];

static int
fails(int rc)
{
    return rc == -1 ? 1 : 0;
}

static int
write_str(int h, const char *s)
{
    int n = 0;
    while (s[n])
        n++;
    return teaclave_write_file(h, s, (size_t)n);
}

int
entrypoint(int argc, char *argv[])
{
    const char *which = "";
    int i, h, w, n = 0;
    for (i = 0; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "case"))
            which = argv[i + 1];

    if (!strcmp(which, "bad-handle")) {
        n += fails(teaclave_read_file(12345, buf, 10));
        n += fails(teaclave_close_file(-3));
        n += fails(teaclave_write_file(7 | 0x40000000, buf, 1));
        n += fails(teaclave_read_file(0, buf, 1));
        return n;
    }
    if (!strcmp(which, "wrong-direction")) {
        h = teaclave_open_input("in");
        w = teaclave_create_output("out");
        n += fails(teaclave_write_file(h, "x", 1));
        n += fails(teaclave_read_file(w, buf, 10));
        teaclave_close_file(h);
        teaclave_close_file(w);
        return n;
    }
    if (!strcmp(which, "closed-handle")) {
        h = teaclave_open_input("in");
        n += fails(teaclave_close_file(h)); /* succeeds */
        n += fails(teaclave_close_file(h));
        n += fails(teaclave_read_file(h, buf, 1));
        return n;
    }
    if (!strcmp(which, "unknown-id")) {
        n += fails(teaclave_open_input("nope"));
        n += fails(teaclave_create_output("undeclared"));
        n += fails(teaclave_open_input("out")); /* an output id is not an input */
        return n;
    }
    if (!strcmp(which, "out-of-bounds")) {
        h = teaclave_open_input("in");
        w = teaclave_create_output("out");
        n += fails(teaclave_read_file(h, (void *)0xFFFFFF00, 1000));
        n += fails(teaclave_write_file(w, (void *)0xFFFFFFF0, 64));
        n += fails(teaclave_open_input((const char *)0xFFFFFFF0));
        teaclave_close_file(h);
        teaclave_close_file(w);
        return n;
    }
    if (!strcmp(which, "leave-open")) {
        h = teaclave_open_input("in");
        w = teaclave_create_output("out");
        n = teaclave_read_file(h, buf, sizeof(buf));
        teaclave_write_file(w, buf, (size_t)n);
        return n; /* both handles left open */
    }
    if (!strcmp(which, "trap-after-write")) {
        w = teaclave_create_output("out");
        write_str(w, "partial");
        __builtin_trap();
    }
    if (!strcmp(which, "many")) {
        for (i = 0; i < 1100; i++)
            if (teaclave_open_input("in") > 0)
                n++;
        return n; /* at most 1024 open at once */
    }
    if (!strcmp(which, "handles")) {
        h = teaclave_open_input("in");
        w = teaclave_create_output("out");
        write_str(w, "ok");
        teaclave_close_file(w);
        /* read handles are small positive ints; write handles carry 0x40000000 */
        return (h > 0 && h <= 1024 && (w & 0x40000000)) ? 1 : 0;
    }
    if (!strcmp(which, "copy")) {
        /* Pure data movement: how fast the file API itself is. */
        h = teaclave_open_input("in");
        w = teaclave_create_output("out");
        while ((i = teaclave_read_file(h, chunk, sizeof(chunk))) > 0) {
            if (teaclave_write_file(w, chunk, (size_t)i) != i)
                return -1;
            n += i;
        }
        teaclave_close_file(h);
        teaclave_close_file(w);
        return i < 0 ? -1 : n;
    }
    if (!strcmp(which, "dirty")) {
        /* Leave traces everywhere; an isolated invocation never sees them. */
        unsigned char *p = malloc(4096);
        int stale = 0;
        if (!p)
            return -1;
        for (i = 0; i < 4096; i++)
            stale += p[i] == 0xAB; /* a previous invocation's fill */
        for (i = 0; i < 4096; i++)
            p[i] = 0xAB; /* and leak p */
        counter++;
        return counter * 1000 + stale;
    }
    if (!strcmp(which, "grow")) {
        /* memory.grow by one page; returns the page count before growing */
        return __builtin_wasm_memory_grow(0, 1);
    }
    if (!strcmp(which, "spin")) {
        volatile int spins = 0;
        for (;;)
            spins++; /* runs until a timeout stops it */
    }
    if (!strcmp(which, "args")) {
        w = teaclave_create_output("out");
        for (i = 0; i < argc; i++) {
            write_str(w, argv[i]);
            write_str(w, i % 2 ? "\n" : "=");
        }
        teaclave_close_file(w);
        return argc;
    }
    return -1;
}
