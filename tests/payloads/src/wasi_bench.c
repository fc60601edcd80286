/* wasi_bench: the WASI command behind bench/test_wasi.py.
 *
 *   wasi_bench hello                 prints "hello, world"
 *   wasi_bench write PATH N SIZE     N fd_write calls of SIZE bytes to PATH
 *   wasi_bench copy SRC DST          SRC to DST through fd_read/fd_write (64 KiB)
 *
 * Files are opened with wasi-libc's open(), i.e. through the preopens. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[1 << 16];

int
main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "hello")) {
        static const char msg[] = "hello, world\n";
        return write(1, msg, sizeof(msg) - 1) == sizeof(msg) - 1 ? 0 : 1;
    }
    if (argc == 5 && !strcmp(argv[1], "write")) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        long n = atol(argv[3]), size = atol(argv[4]);
        if (fd < 0 || size > (long)sizeof(buf))
            return 2;
        memset(buf, 'w', (size_t)size);
        for (long i = 0; i < n; i++)
            if (write(fd, buf, (size_t)size) != size)
                return 3;
        return close(fd) ? 4 : 0;
    }
    if (argc == 4 && !strcmp(argv[1], "copy")) {
        int in = open(argv[2], O_RDONLY), out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ssize_t n;
        if (in < 0 || out < 0)
            return 2;
        while ((n = read(in, buf, sizeof(buf))) > 0)
            if (write(out, buf, (size_t)n) != n)
                return 3;
        return n < 0 || close(in) || close(out) ? 4 : 0;
    }
    fprintf(stderr, "usage: wasi_bench hello | write PATH N SIZE | copy SRC DST\n");
    return 64;
}
