/* tc_work.c -- a Teaclave payload for batch tests and benchmarks.
 *
 * Argument "action" picks what it does (default "spin"):
 *   spin   -- "rounds" (decimal, default 0) rounds of an xorshift/multiply
 *             mix; returns the low 31 bits of the final state, so the result
 *             depends on every round.  About 10 ms at ~400k rounds.
 *   copy   -- copies input "in" to output "out" with ASCII letters upper-
 *             cased; returns the number of bytes copied, -1 on a file error.
 *   trap   -- creates output "out", writes "partial", then traps
 *             (unreachable), so the output's fate follows the trap rule.
 * No libc: argument parsing is done here, the only imports are teaclave_*.
 */
#include "teaclave_file.h"

typedef unsigned int u32;

static int
same(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static int
number(const char *s)
{
    int n = 0;
    while (*s >= '0' && *s <= '9')
        n = n * 10 + (*s++ - '0');
    return n;
}

static int
spin(int rounds)
{
    u32 x = 2463534242u;
    int i;
    for (i = 0; i < rounds; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x = x * 2654435761u + (u32)i;
    }
    return (int)(x & 0x7fffffff);
}

static char buf[4096];

static int
copy(void)
{
    int in = teaclave_open_input("in");
    int out = teaclave_create_output("out");
    int total = 0, n, i;
    if (in < 0 || out < 0)
        return -1;
    while ((n = teaclave_read_file(in, buf, sizeof(buf))) > 0) {
        for (i = 0; i < n; i++)
            if (buf[i] >= 'a' && buf[i] <= 'z')
                buf[i] = (char)(buf[i] - 'a' + 'A');
        if (teaclave_write_file(out, buf, (size_t)n) != n)
            return -1;
        total += n;
    }
    if (n < 0)
        return -1;
    teaclave_close_file(in);
    teaclave_close_file(out);
    return total;
}

int
entrypoint(int argc, char *argv[])
{
    const char *action = "spin";
    int rounds = 0, i, out;
    for (i = 0; i + 1 < argc; i += 2) {
        if (same(argv[i], "action"))
            action = argv[i + 1];
        else if (same(argv[i], "rounds"))
            rounds = number(argv[i + 1]);
    }
    if (same(action, "copy"))
        return copy();
    if (same(action, "trap")) {
        out = teaclave_create_output("out");
        teaclave_write_file(out, "partial", 7);
        __builtin_trap();
    }
    return spin(rounds);
}
