/* wc: count lines, words and bytes of files, like `wc`, as a WASI command.
 *
 *   wc FILE...      one line per file: lines words bytes name, then a total
 *
 * Files are reached through the directories the host preopened (e.g.
 * `pywamr run --map-dir=/data::./texts wc.wasm /data/a.txt`).  Exit status:
 * 0, or 1 if a file could not be read (its error is reported on stderr). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

struct counts {
    unsigned long long lines, words, bytes;
};

static int
count_file(const char *path, struct counts *c)
{
    FILE *f = fopen(path, "rb");
    char buf[8192];
    size_t n;
    int in_word = 0;
    if (!f)
        return -1;
    memset(c, 0, sizeof(*c));
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        c->bytes += n;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)buf[i];
            if (ch == '\n')
                c->lines++;
            if (isspace(ch))
                in_word = 0;
            else if (!in_word) {
                in_word = 1;
                c->words++;
            }
        }
    }
    int failed = ferror(f);
    fclose(f);
    return failed ? -1 : 0;
}

int
main(int argc, char **argv)
{
    struct counts total = { 0, 0, 0 }, c;
    int status = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: wc FILE...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (count_file(argv[i], &c) != 0) {
            fprintf(stderr, "wc: %s: %s\n", argv[i], strerror(errno));
            status = 1;
            continue;
        }
        printf("%llu %llu %llu %s\n", c.lines, c.words, c.bytes, argv[i]);
        total.lines += c.lines;
        total.words += c.words;
        total.bytes += c.bytes;
    }
    printf("%llu %llu %llu total\n", total.lines, total.words, total.bytes);
    return status;
}
