/*
 * adder.c -- Teaclave-style payload: returns a + b.
 *
 * Arguments: "a" and "b", decimal integers as strings (parsed with atoi).
 * Keys are matched with strcmp, so their position in argv does not matter.
 * Returns -1 if either argument is missing.  No files are used.
 */

int atoi(const char *s);   /* WAMR libc-builtin, module "env" */
int strcmp(const char *a, const char *b);

int entrypoint(int argc, char *argv[])
{
    const char *a = 0, *b = 0;
    int i;

    for (i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "a") == 0)
            a = argv[i + 1];
        else if (strcmp(argv[i], "b") == 0)
            b = argv[i + 1];
    }
    if (!a || !b)
        return -1;
    return atoi(a) + atoi(b);
}
