/*
 * libc.c -- exercises WAMR's libc-builtin imports (module "env").
 * Built with -nostdlib -fno-builtin, so prototypes are declared here and
 * every call below stays a real import.  malloc/strdup need an app heap
 * (non-zero heap size at instantiation).
 */

typedef __SIZE_TYPE__ size_t;

int printf(const char *fmt, ...);
void *malloc(size_t size);
void free(void *ptr);
void *memset(void *s, int c, size_t n);
size_t strlen(const char *s);
char *strdup(const char *s);

/* Prints "hello <n>\n" through the host's stdout; returns n. */
int hello(int n)
{
    printf("hello %d\n", n);
    return n;
}

/* strlen of a strdup'ed copy of s (freed again); -1 if strdup fails. */
int dup_len(const char *s)
{
    char *copy = strdup(s);
    int len;

    if (!copy)
        return -1;
    len = (int)strlen(copy);
    free(copy);
    return len;
}

/*
 * malloc(n), memset the block to 1, sum its bytes, free it: returns n
 * (0 if n <= 0, -1 if malloc fails).
 */
int use_malloc(int n)
{
    unsigned char *p;
    int i, sum = 0;

    if (n <= 0)
        return 0;
    p = malloc((size_t)n);
    if (!p)
        return -1;
    memset(p, 1, (size_t)n);
    for (i = 0; i < n; i++)
        sum += p[i];
    free(p);
    return sum;
}
