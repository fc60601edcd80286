/*
 * simple_add.c -- Teaclave-style payload: the sum of two numbers.
 *
 * Arguments: "adder1" and "adder2", decimal integers as strings (leading
 * blanks and a sign allowed), as in Teaclave's example task.  Returns their
 * sum, or -1 if either is missing.  No files and no imports at all (like
 * adder.c, which takes "a" and "b"), so it also runs in Teaclave's WAMR.
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
    int value = 0, negative = 0;
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    if (*s == '-' || *s == '+')
        negative = *s++ == '-';
    while (*s >= '0' && *s <= '9')
        value = value * 10 + (*s++ - '0');
    return negative ? -value : value;
}

int
entrypoint(int argc, char *argv[])
{
    const char *x = 0, *y = 0;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!argv[i] || !argv[i + 1])
            continue;
        if (same(argv[i], "adder1"))
            x = argv[i + 1];
        else if (same(argv[i], "adder2"))
            y = argv[i + 1];
    }
    if (!x || !y)
        return -1;
    return number(x) + number(y);
}
