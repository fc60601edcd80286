/* The aux (C shadow) stack: deep recursion and big frames.
 *
 * Built twice by tools/build_payloads.py: aux_stack.wasm with clang's default
 * 64 KiB stack, aux_stack_1k.wasm linked with a 1 KiB stack.  Arguments (all
 * optional, decimal): "depth" recurses that deep with 48-byte frames (n + 1 levels) and
 * returns the depth reached; "frames" recurses that deep with 8 KiB frames;
 * "spin" loops that many million times (for timeouts).
 */

static int
equal(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
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

/* Writes every 256th byte of a frame: the frame escapes, so clang keeps it
 * whole on the aux stack and cannot turn the recursion into a loop. */
__attribute__((noinline)) void
touch(volatile char *frame, int size, int n)
{
    for (int i = 0; i < size; i += 256)
        frame[i] = (char)n;
}

/* 48 bytes of aux stack per level (a 40-byte frame, 16-byte aligned). */
__attribute__((noinline)) int
small_frames(int n)
{
    char frame[40];
    touch(frame, sizeof frame, n);
    if (n <= 0)
        return 0;
    return small_frames(n - 1) + 1;
}

/* 8 KiB and 16 bytes of aux stack per level. */
__attribute__((noinline)) int
big_frames(int n)
{
    char frame[8192];
    touch(frame, sizeof frame, n);
    if (n <= 0)
        return 0;
    return big_frames(n - 1) + 1;
}

/* An xorshift walk: no closed form, so no compiler (AOT's LLVM included)
 * can skip the loop. */
__attribute__((noinline)) int
spin(int millions)
{
    unsigned x = 2463534242u;
    for (int i = 0; i < millions; i++)
        for (int j = 0; j < 1000000; j++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
        }
    return x ? millions : -1; /* x never becomes 0 */
}

int
entrypoint(int argc, char *argv[])
{
    int result = 0;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (equal(argv[i], "depth"))
            result += small_frames(number(argv[i + 1]));
        else if (equal(argv[i], "frames"))
            result += big_frames(number(argv[i + 1]));
        else if (equal(argv[i], "spin"))
            result += spin(number(argv[i + 1]));
    }
    return result;
}
