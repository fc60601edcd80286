/*
 * millionaire.c -- Teaclave-style payload: Yao's millionaire problem.
 *
 * Arguments: "input_file_id1", "input_file_id2" (the file ids of the two
 * parties' inputs) and "output_file_id", as in Teaclave's example task.
 * Each input holds one decimal amount (leading blanks and a sign allowed;
 * the first 63 bytes are read).  The output receives the file id of the
 * richer party (the second one on a tie), without a newline.  Returns the
 * number of bytes written, or -1 on a missing argument or a file error.
 * Needs nothing but the five Teaclave natives.
 */
#include "teaclave_file.h"

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
argument(int argc, char *argv[], const char *key)
{
    for (int i = 0; i + 1 < argc; i += 2)
        if (argv[i] && argv[i + 1] && same(argv[i], key))
            return argv[i + 1];
    return 0;
}

/* The amount in an input file, or 0 (and *ok cleared) on a file error. */
static long long
amount(const char *file_id, int *ok)
{
    char text[64];
    int handle = teaclave_open_input(file_id), n, i = 0, negative = 0;
    long long value = 0;
    if (handle == -1) {
        *ok = 0;
        return 0;
    }
    n = teaclave_read_file(handle, text, sizeof(text) - 1);
    teaclave_close_file(handle);
    if (n < 0) {
        *ok = 0;
        return 0;
    }
    text[n] = '\0';
    while (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')
        i++;
    if (text[i] == '-' || text[i] == '+')
        negative = text[i++] == '-';
    for (; text[i] >= '0' && text[i] <= '9'; i++)
        value = value * 10 + (text[i] - '0');
    return negative ? -value : value;
}

int
entrypoint(int argc, char *argv[])
{
    const char *first = argument(argc, argv, "input_file_id1");
    const char *second = argument(argc, argv, "input_file_id2");
    const char *result = argument(argc, argv, "output_file_id");
    const char *richer;
    int ok = 1, handle, written;
    long long a, b;
    if (!first || !second || !result)
        return -1;
    a = amount(first, &ok);
    b = amount(second, &ok);
    if (!ok)
        return -1;
    richer = a > b ? first : second;
    handle = teaclave_create_output(result);
    if (handle == -1)
        return -1;
    written = teaclave_write_file(handle, richer, (size_t)length(richer));
    if (teaclave_close_file(handle) != 0)
        return -1;
    return written;
}
