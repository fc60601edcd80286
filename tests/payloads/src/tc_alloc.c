/*
 * tc_alloc.c -- the adder with an allocator of its own: it exports malloc and
 * free, so WAMR gives it no app heap and allocates the arguments by calling
 * its malloc (the case of payloads linked with a libc).  Returns a + b, or
 * -1 if an argument is missing; "blocks" reports how many allocations the
 * payload has served since instantiation (the reuse-instance reset must
 * bring it back).
 */
int atoi(const char *s);
int strcmp(const char *a, const char *b);

extern unsigned char __heap_base;
static unsigned long next_free;
static int allocations;

void *malloc(unsigned long size)
{
    unsigned long at;
    if (!next_free)
        next_free = (unsigned long)&__heap_base;
    at = (next_free + 15) & ~15ul;
    if (at + size > (unsigned long)__builtin_wasm_memory_size(0) * 65536)
        return 0;
    next_free = at + size;
    allocations++;
    return (void *)at;
}

void free(void *p)
{
    (void)p;
}

int entrypoint(int argc, char *argv[])
{
    const char *a = 0, *b = 0;
    int i;
    for (i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "a") == 0)
            a = argv[i + 1];
        else if (strcmp(argv[i], "b") == 0)
            b = argv[i + 1];
        else if (strcmp(argv[i], "blocks") == 0)
            return allocations;
    }
    if (!a || !b)
        return -1;
    return atoi(a) + atoi(b);
}
