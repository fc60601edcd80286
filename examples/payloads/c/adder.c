/*
 * adder.c -- Teaclave-style payload: returns a + b.
 *
 * Arguments: "a" and "b", decimal integers as strings (leading blanks and a
 * sign allowed, parsing stops at the first non-digit, as atoi does).  Keys
 * are found wherever they are in argv.  Returns -1 if either argument is
 * missing.  No files and no imports: it needs nothing from WAMR's
 * libc-builtin, which Teaclave's WAMR build lacks.
 */

static int
same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static int
number(const char *s)
{
    unsigned value = 0;
    int negative = 0;
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    if (*s == '-' || *s == '+')
        negative = *s++ == '-';
    while (*s >= '0' && *s <= '9')
        value = value * 10u + (unsigned)(*s++ - '0');
    return (int)(negative ? 0u - value : value);
}

int
entrypoint(int argc, char *argv[])
{
    const char *a = 0, *b = 0;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!argv[i] || !argv[i + 1])
            continue; /* an argument that did not fit the app heap */
        if (same(argv[i], "a"))
            a = argv[i + 1];
        else if (same(argv[i], "b"))
            b = argv[i + 1];
    }
    if (!a || !b)
        return -1;
    return (int)((unsigned)number(a) + (unsigned)number(b));
}
