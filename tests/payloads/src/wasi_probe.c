/* wasi_probe: exercises WASI preview 1 through its raw calls (<wasi/api.h>)
 * and reports what happened, one "key value" line per check, on stdout.
 *
 *   wasi_probe SCENARIO [ARGS...]
 *
 * Errors are printed as WASI errno numbers (the preview-1 `errno` enum), so
 * the tests compare them with the specification directly.  Every scenario
 * finds its directories by their preopened names (fd_prestat_dir_name), never
 * by fd number.  Built with clang-14 and Debian's wasi-libc by
 * tools/build_payloads.py; the same file builds with zig cc. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

/* Raw imports, for handing WASI deliberately bad pointers and lengths. */
#define RAW(name) \
    __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
RAW(fd_write) int32_t raw_fd_write(int32_t, int32_t, int32_t, int32_t);
RAW(fd_read) int32_t raw_fd_read(int32_t, int32_t, int32_t, int32_t);
RAW(path_open) int32_t raw_path_open(int32_t, int32_t, int32_t, int32_t, int32_t,
                                     int64_t, int64_t, int32_t, int32_t);
RAW(args_get) int32_t raw_args_get(int32_t, int32_t);
RAW(random_get) int32_t raw_random_get(int32_t, int32_t);
RAW(poll_oneoff) int32_t raw_poll_oneoff(int32_t, int32_t, int32_t, int32_t);
RAW(fd_readdir) int32_t raw_fd_readdir(int32_t, int32_t, int32_t, int64_t, int32_t);
RAW(path_readlink) int32_t raw_path_readlink(int32_t, int32_t, int32_t, int32_t,
                                             int32_t, int32_t);
RAW(clock_time_get) int32_t raw_clock_time_get(int32_t, int64_t, int32_t);

/* "--valid-only" as the last argument skips checks that pass values outside
 * an enum (wasmtime traps on those; WAMR answers EINVAL). */
static int valid_only;

static void
report(const char *key, long long value)
{
    printf("%s %lld\n", key, value);
}

static void
say(const char *key, const char *text)
{
    printf("%s %s\n", key, text);
}

/* The fd of the preopened directory the guest knows as `name`, or -1. */
static int
preopen(const char *name)
{
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t st;
        char buf[256];
        if (__wasi_fd_prestat_get(fd, &st) != 0)
            continue;
        if (st.u.dir.pr_name_len >= sizeof(buf))
            continue;
        if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, st.u.dir.pr_name_len))
            continue;
        buf[st.u.dir.pr_name_len] = 0;
        if (!strcmp(buf, name))
            return (int)fd;
    }
    return -1;
}

static const __wasi_rights_t ALL = (__wasi_rights_t)0x1fffffff;

/* Open with every right the directory can pass on (as wasi-libc's open does). */
static __wasi_errno_t
open_at(int dir, const char *path, __wasi_oflags_t oflags, __wasi_fdflags_t fdflags,
        __wasi_lookupflags_t lookup, __wasi_fd_t *fd)
{
    __wasi_fdstat_t st;
    __wasi_rights_t rights = ALL;
    if (__wasi_fd_fdstat_get((__wasi_fd_t)dir, &st) == 0)
        rights = st.fs_rights_inheriting;
    if (oflags & __WASI_OFLAGS_DIRECTORY) /* no write rights: O_RDONLY */
        rights &= ~(__WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_DATASYNC
                    | __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE);
    return __wasi_path_open((__wasi_fd_t)dir, lookup, path, oflags, rights, rights, fdflags,
                            fd);
}

/* Write a whole string to fd. */
static __wasi_errno_t
put(__wasi_fd_t fd, const char *text, __wasi_size_t *n)
{
    __wasi_ciovec_t iov = { (const uint8_t *)text, strlen(text) };
    return __wasi_fd_write(fd, &iov, 1, n);
}

static int
scenario_args(int argc, char **argv)
{
    __wasi_size_t n, size;
    report("argc", argc);
    for (int i = 0; i < argc; i++)
        printf("arg%d %s\n", i, argv[i]);
    report("sizes_errno", __wasi_args_sizes_get(&n, &size));
    report("args_count", n);
    report("args_buf", size);
    if (__wasi_environ_sizes_get(&n, &size) == 0) {
        char **env = calloc(n + 1, sizeof(char *));
        char *buf = malloc(size ? size : 1);
        report("environ_count", n);
        report("environ_errno", __wasi_environ_get((uint8_t **)env, (uint8_t *)buf));
        for (__wasi_size_t i = 0; i < n; i++)
            printf("env %s\n", env[i]);
    }
    return 0;
}

static int
scenario_clocks(void)
{
    __wasi_timestamp_t res, t1, t2, r1;
    report("res_realtime_errno", __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &res));
    report("res_realtime_positive", res > 0);
    report("res_monotonic_errno", __wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &res));
    report("realtime_errno", __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &r1));
    printf("realtime_s %llu\n", (unsigned long long)(r1 / 1000000000ull));
    report("mono1_errno", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t1));
    for (volatile int i = 0; i < 100000; i++)
        ;
    report("mono2_errno", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t2));
    report("monotonic_nondecreasing", t2 >= t1);
    report("process_cputime_errno",
           __wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &t1));
    report("thread_cputime_errno",
           __wasi_clock_time_get(__WASI_CLOCKID_THREAD_CPUTIME_ID, 1, &t1));
    if (!valid_only) {
        report("bad_clock_errno", __wasi_clock_time_get(99, 1, &t1));
        report("bad_clock_res_errno", __wasi_clock_res_get(99, &res));
    }
    return 0;
}

static int
scenario_random(void)
{
    uint8_t a[64], b[64];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    report("random_errno", __wasi_random_get(a, sizeof(a)));
    report("random2_errno", __wasi_random_get(b, sizeof(b)));
    report("random_differs", memcmp(a, b, sizeof(a)) != 0);
    int nonzero = 0;
    for (unsigned i = 0; i < sizeof(a); i++)
        nonzero += a[i] != 0;
    report("random_nonzero_bytes_over_32", nonzero > 32);
    report("random_zero_len_errno", __wasi_random_get(a, 0));
    return 0;
}

/* fd_* on a file created in the preopen `dir`. */
static int
scenario_fd(const char *dir_name)
{
    int dir = preopen(dir_name);
    __wasi_fd_t fd;
    __wasi_size_t n;
    __wasi_filesize_t pos;
    __wasi_filestat_t st;
    __wasi_fdstat_t fst;
    char buf[64];
    report("dir_found", dir >= 0);
    report("create_errno", open_at(dir, "probe.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC,
                                   0, 0, &fd));
    report("write_errno", put(fd, "hello, wasi", &n));
    report("written", n);
    report("tell_errno", __wasi_fd_tell(fd, &pos));
    report("tell", (long long)pos);
    __wasi_ciovec_t piov = { (const uint8_t *)"J", 1 };
    report("pwrite_errno", __wasi_fd_pwrite(fd, &piov, 1, 0, &n));
    report("tell_after_pwrite", (__wasi_fd_tell(fd, &pos), (long long)pos));
    __wasi_iovec_t riov = { (uint8_t *)buf, 5 };
    report("pread_errno", __wasi_fd_pread(fd, &riov, 1, 7, &n));
    buf[n] = 0;
    say("pread", buf);
    report("seek_set_errno", __wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    riov.buf_len = sizeof(buf) - 1;
    report("read_errno", __wasi_fd_read(fd, &riov, 1, &n));
    buf[n] = 0;
    say("read", buf);
    report("seek_end_errno", __wasi_fd_seek(fd, -4, __WASI_WHENCE_END, &pos));
    report("seek_end", (long long)pos);
    report("seek_cur_errno", __wasi_fd_seek(fd, 1, __WASI_WHENCE_CUR, &pos));
    report("seek_cur", (long long)pos);
    report("seek_negative_errno", __wasi_fd_seek(fd, -100, __WASI_WHENCE_SET, &pos));
    if (!valid_only)
        report("seek_bad_whence_errno", __wasi_fd_seek(fd, 0, 7, &pos));
    report("sync_errno", __wasi_fd_sync(fd));
    report("datasync_errno", __wasi_fd_datasync(fd));
    report("advise_errno", __wasi_fd_advise(fd, 0, 4, __WASI_ADVICE_SEQUENTIAL));
    if (!valid_only)
        report("advise_bad_errno", __wasi_fd_advise(fd, 0, 4, 42));
    report("allocate_errno", __wasi_fd_allocate(fd, 0, 100));
    report("filestat_errno", __wasi_fd_filestat_get(fd, &st));
    report("filestat_size", (long long)st.size);
    report("filestat_type", st.filetype);
    report("set_size_errno", __wasi_fd_filestat_set_size(fd, 5));
    __wasi_fd_filestat_get(fd, &st);
    report("size_after_truncate", (long long)st.size);
    report("set_times_errno", __wasi_fd_filestat_set_times(
        fd, 1000000000ull * 1000000, 1000000000ull * 2000000,
        __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    __wasi_fd_filestat_get(fd, &st);
    report("mtim_s", (long long)(st.mtim / 1000000000ull));
    report("set_times_conflict_errno", __wasi_fd_filestat_set_times(
        fd, 1, 1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
    report("fdstat_errno", __wasi_fd_fdstat_get(fd, &fst));
    report("fdstat_type", fst.fs_filetype);
    report("fdstat_flags", fst.fs_flags);
    report("set_flags_errno", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND));
    __wasi_fd_fdstat_get(fd, &fst);
    report("fdstat_flags_after", fst.fs_flags);
    report("append_write_errno", put(fd, "++", &n));
    __wasi_fd_filestat_get(fd, &st);
    report("size_after_append", (long long)st.size);
    report("dir_fdstat_errno", __wasi_fd_fdstat_get((__wasi_fd_t)dir, &fst));
    report("dir_fdstat_type", fst.fs_filetype);
    report("stdout_fdstat_errno", __wasi_fd_fdstat_get(1, &fst));
    /* rights: a read-only descriptor cannot write */
    __wasi_fd_t ro;
    report("open_ro_errno", __wasi_path_open((__wasi_fd_t)dir, 0, "probe.txt", 0,
                                             __WASI_RIGHTS_FD_READ, 0, 0, &ro));
    report("write_on_ro_errno", put(ro, "x", &n));
    report("renumber_errno", __wasi_fd_renumber(ro, fd));
    report("closed_old_number_errno", __wasi_fd_close(ro));
    report("close_errno", __wasi_fd_close(fd));
    report("close_again_errno", __wasi_fd_close(fd));
    report("read_closed_errno", __wasi_fd_read(fd, &riov, 1, &n));
    report("write_bad_fd_errno", put(12345, "x", &n));
    report("prestat_stdout_errno", __wasi_fd_prestat_get(1, &(__wasi_prestat_t){0}));
    return 0;
}

static int
scenario_path(const char *dir_name)
{
    int dir = preopen(dir_name);
    __wasi_fd_t fd;
    __wasi_size_t n;
    __wasi_filestat_t st;
    char buf[256];
    report("dir_found", dir >= 0);
    report("mkdir_errno", __wasi_path_create_directory((__wasi_fd_t)dir, "sub"));
    report("mkdir_again_errno", __wasi_path_create_directory((__wasi_fd_t)dir, "sub"));
    report("create_errno", open_at(dir, "sub/a.txt", __WASI_OFLAGS_CREAT, 0, 0, &fd));
    put(fd, "abc", &n);
    __wasi_fd_close(fd);
    report("excl_errno", open_at(dir, "sub/a.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL,
                                 0, 0, &fd));
    report("open_missing_errno", open_at(dir, "sub/missing", 0, 0, 0, &fd));
    report("open_file_as_dir_errno", open_at(dir, "sub/a.txt", __WASI_OFLAGS_DIRECTORY,
                                             0, 0, &fd));
    report("stat_errno", __wasi_path_filestat_get((__wasi_fd_t)dir, 0, "sub/a.txt", &st));
    report("stat_size", (long long)st.size);
    report("stat_type", st.filetype);
    report("stat_dir_type", (__wasi_path_filestat_get((__wasi_fd_t)dir, 0, "sub", &st),
                             st.filetype));
    report("path_set_times_errno", __wasi_path_filestat_set_times(
        (__wasi_fd_t)dir, 0, "sub/a.txt", 0, 1000000000ull * 3000000,
        __WASI_FSTFLAGS_MTIM));
    __wasi_path_filestat_get((__wasi_fd_t)dir, 0, "sub/a.txt", &st);
    report("path_mtim_s", (long long)(st.mtim / 1000000000ull));
    report("rename_errno", __wasi_path_rename((__wasi_fd_t)dir, "sub/a.txt",
                                              (__wasi_fd_t)dir, "sub/b.txt"));
    report("old_gone_errno", __wasi_path_filestat_get((__wasi_fd_t)dir, 0, "sub/a.txt", &st));
    report("link_errno", __wasi_path_link((__wasi_fd_t)dir, 0, "sub/b.txt",
                                          (__wasi_fd_t)dir, "sub/c.txt"));
    __wasi_path_filestat_get((__wasi_fd_t)dir, 0, "sub/b.txt", &st);
    report("nlink", (long long)st.nlink);
    report("symlink_errno", __wasi_path_symlink("b.txt", (__wasi_fd_t)dir, "sub/l.txt"));
    report("readlink_errno", __wasi_path_readlink((__wasi_fd_t)dir, "sub/l.txt",
                                                  (uint8_t *)buf, sizeof(buf), &n));
    buf[n] = 0;
    say("readlink", buf);
    report("readlink_short_errno", __wasi_path_readlink((__wasi_fd_t)dir, "sub/l.txt",
                                                        (uint8_t *)buf, 2, &n));
    report("readlink_short_n", n);
    report("readlink_file_errno", __wasi_path_readlink((__wasi_fd_t)dir, "sub/b.txt",
                                                       (uint8_t *)buf, sizeof(buf), &n));
    report("lstat_errno", __wasi_path_filestat_get((__wasi_fd_t)dir, 0, "sub/l.txt", &st));
    report("lstat_type", st.filetype);
    report("stat_follow_type",
           (__wasi_path_filestat_get((__wasi_fd_t)dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW,
                                     "sub/l.txt", &st), st.filetype));
    report("open_via_symlink_errno", open_at(dir, "sub/l.txt", 0, 0,
                                             __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd));
    if (fd > 2)
        __wasi_fd_close(fd);
    report("open_symlink_nofollow_errno", open_at(dir, "sub/l.txt", 0, 0, 0, &fd));
    /* readdir: names in sub, sorted by the caller */
    __wasi_fd_t sub;
    report("open_dir_errno", open_at(dir, "sub", __WASI_OFLAGS_DIRECTORY, 0, 0, &sub));
    uint8_t dbuf[1024];
    report("readdir_errno", __wasi_fd_readdir(sub, dbuf, sizeof(dbuf), 0, &n));
    for (__wasi_size_t off = 0; off + sizeof(__wasi_dirent_t) <= n;) {
        __wasi_dirent_t d;
        memcpy(&d, dbuf + off, sizeof(d));
        off += sizeof(d);
        if (off + d.d_namlen > n)
            break;
        printf("entry %.*s %d\n", (int)d.d_namlen, (char *)dbuf + off, d.d_type);
        off += d.d_namlen;
    }
    report("readdir_small_errno", __wasi_fd_readdir(sub, dbuf, 10, 0, &n));
    report("readdir_small_n", n);
    report("readdir_on_file_errno", (open_at(dir, "sub/b.txt", 0, 0, 0, &fd),
                                     __wasi_fd_readdir(fd, dbuf, sizeof(dbuf), 0, &n)));
    __wasi_fd_close(fd);
    __wasi_fd_close(sub);
    report("rmdir_nonempty_errno", __wasi_path_remove_directory((__wasi_fd_t)dir, "sub"));
    report("unlink_dir_errno", __wasi_path_unlink_file((__wasi_fd_t)dir, "sub"));
    report("unlink_errno", __wasi_path_unlink_file((__wasi_fd_t)dir, "sub/b.txt"));
    report("unlink_c_errno", __wasi_path_unlink_file((__wasi_fd_t)dir, "sub/c.txt"));
    report("unlink_l_errno", __wasi_path_unlink_file((__wasi_fd_t)dir, "sub/l.txt"));
    report("unlink_missing_errno", __wasi_path_unlink_file((__wasi_fd_t)dir, "sub/b.txt"));
    report("rmdir_errno", __wasi_path_remove_directory((__wasi_fd_t)dir, "sub"));
    return 0;
}

/* Each attempt to leave the preopen `dir`; `secret` is a file name next to it. */
static int
scenario_escape(const char *dir_name, const char *other_name)
{
    int dir = preopen(dir_name);
    int other = other_name ? preopen(other_name) : -1;
    __wasi_fd_t fd;
    __wasi_filestat_t st;
    __wasi_size_t n;
    char buf[256];
    report("dir_found", dir >= 0);
    report("dotdot_errno", open_at(dir, "../secret.txt", 0, 0, 0, &fd));
    report("dotdot_deep_errno", open_at(dir, "a/../../secret.txt", 0, 0, 0, &fd));
    report("absolute_errno", open_at(dir, "/etc/passwd", 0, 0, 0, &fd));
    report("dotdot_stat_errno", __wasi_path_filestat_get((__wasi_fd_t)dir, 0, "..", &st));
    report("dotdot_create_errno", open_at(dir, "../created.txt", __WASI_OFLAGS_CREAT,
                                          0, 0, &fd));
    report("dotdot_mkdir_errno", __wasi_path_create_directory((__wasi_fd_t)dir, "../newdir"));
    /* symlinks planted by the host inside the preopen */
    report("planted_follow_errno", open_at(dir, "planted", 0, 0,
                                           __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd));
    report("planted_nofollow_errno", open_at(dir, "planted", 0, 0, 0, &fd));
    report("planted_abs_follow_errno", open_at(dir, "planted_abs", 0, 0,
                                               __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd));
    report("planted_dir_errno", open_at(dir, "planted_dir/secret.txt", 0, 0,
                                        __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd));
    report("planted_stat_follow_errno", __wasi_path_filestat_get(
        (__wasi_fd_t)dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "planted", &st));
    report("planted_readlink_errno", __wasi_path_readlink((__wasi_fd_t)dir, "planted",
                                                          (uint8_t *)buf, sizeof(buf), &n));
    /* a dangling planted symlink must not let the guest create outside */
    report("dangling_create_follow_errno",
           open_at(dir, "dangling", __WASI_OFLAGS_CREAT, 0, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW,
                   &fd));
    report("dangling_create_nofollow_errno",
           open_at(dir, "dangling", __WASI_OFLAGS_CREAT, 0, 0, &fd));
    report("dangling_mkdir_errno", __wasi_path_create_directory((__wasi_fd_t)dir,
                                                                "planted_dir/made"));
    report("planted_trunc_nofollow_errno",
           open_at(dir, "planted", __WASI_OFLAGS_TRUNC, 0, 0, &fd));
    report("loop_errno", open_at(dir, "loop", 0, 0, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd));
    report("planted_set_times_errno", __wasi_path_filestat_set_times(
        (__wasi_fd_t)dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "planted", 0, 0,
        __WASI_FSTFLAGS_MTIM));
    report("rename_onto_planted_errno", __wasi_path_rename((__wasi_fd_t)dir, "inside.txt",
                                                           (__wasi_fd_t)dir,
                                                           "planted_dir/secret.txt"));
    /* symlinks made by the guest itself */
    report("symlink_out_errno", __wasi_path_symlink("../secret.txt", (__wasi_fd_t)dir, "mine"));
    report("symlink_out_open_errno", open_at(dir, "mine", 0, 0,
                                             __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd));
    __wasi_path_unlink_file((__wasi_fd_t)dir, "mine");
    report("symlink_abs_errno", __wasi_path_symlink("/etc/passwd", (__wasi_fd_t)dir, "mine2"));
    report("symlink_abs_open_errno", open_at(dir, "mine2", 0, 0,
                                             __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, &fd));
    __wasi_path_unlink_file((__wasi_fd_t)dir, "mine2");
    /* hard links and renames out of the preopen */
    report("link_out_errno", __wasi_path_link((__wasi_fd_t)dir, 0, "../secret.txt",
                                              (__wasi_fd_t)dir, "stolen"));
    report("link_planted_errno", __wasi_path_link((__wasi_fd_t)dir,
                                                  __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "planted",
                                                  (__wasi_fd_t)dir, "stolen2"));
    report("rename_out_errno", __wasi_path_rename((__wasi_fd_t)dir, "inside.txt",
                                                  (__wasi_fd_t)dir, "../moved.txt"));
    report("rename_in_errno", __wasi_path_rename((__wasi_fd_t)dir, "../secret.txt",
                                                 (__wasi_fd_t)dir, "got.txt"));
    report("unlink_out_errno", __wasi_path_unlink_file((__wasi_fd_t)dir, "../secret.txt"));
    if (other >= 0) {
        report("other_found", 1);
        report("rename_via_dotdot_errno", __wasi_path_rename(
            (__wasi_fd_t)dir, "inside.txt", (__wasi_fd_t)dir, "../other/moved.txt"));
        report("rename_across_errno", __wasi_path_rename(
            (__wasi_fd_t)dir, "inside.txt", (__wasi_fd_t)other, "moved.txt"));
    }
    /* nothing but preopens: fd numbers beyond them are not open */
    report("fd_99_errno", __wasi_fd_fdstat_get(99, &(__wasi_fdstat_t){0}));
    /* sockets: none are granted */
    report("sock_recv_errno", __wasi_sock_recv(1, &(__wasi_iovec_t){ (uint8_t *)buf, 4 }, 1, 0,
                                               &n, &(__wasi_roflags_t){0}));
    report("sock_shutdown_errno", __wasi_sock_shutdown((__wasi_fd_t)dir, __WASI_SDFLAGS_RD));
    /* non-UTF-8 path */
    report("non_utf8_errno", open_at(dir, "bad\xff\xfe.txt", __WASI_OFLAGS_CREAT, 0, 0, &fd));
    return 0;
}

/* Deliberately malformed use: bad pointers, huge counts, bad fds.  One case
 * per run (WAMR may answer a bad pointer with a trap, which ends the run). */
static int
scenario_malformed(const char *dir_name, const char *which)
{
    int dir = preopen(dir_name);
    static int32_t n_at;
    static int32_t fd_out;
    static __wasi_ciovec_t iov[1] = { { (const uint8_t *)"x", 1 } };
    static __wasi_ciovec_t bad_buf[1] = { { (const uint8_t *)(intptr_t)0xffffff00, 0x1000 } };
    static __wasi_iovec_t rbad[1] = { { (uint8_t *)(intptr_t)0x7ffffff0, 0x7fffffff } };
    int32_t pn = (int32_t)(intptr_t)&n_at, pfd = (int32_t)(intptr_t)&fd_out;
    int32_t piov = (int32_t)(intptr_t)iov;
    int32_t e;
    const char *x = "x";
    int32_t px = (int32_t)(intptr_t)x;
    if (dir < 0)
        return 3;
#define CASE(name, expr) else if (!strcmp(which, name)) e = (expr);
    if (0)
        e = 0;
    CASE("iovs_oob", raw_fd_write(1, (int32_t)0xfffffff0, 1, pn))
    CASE("iovs_huge_count", raw_fd_write(1, piov, 0x7fffffff, pn))
    CASE("iovs_count_overflow", raw_fd_write(1, piov, (int32_t)0xffffffff, pn))
    CASE("nwritten_oob", raw_fd_write(1, piov, 1, (int32_t)0xfffffffc))
    CASE("iov_buf_oob", raw_fd_write(1, (int32_t)(intptr_t)bad_buf, 1, pn))
    CASE("read_iov_oob", raw_fd_read(0, (int32_t)(intptr_t)rbad, 1, pn))
    CASE("read_bad_fd", raw_fd_read(-1, piov, 1, pn))
    CASE("write_bad_fd", raw_fd_write(0x7fffffff, piov, 1, pn))
    CASE("path_oob", raw_path_open(dir, 0, (int32_t)0xfffffff0, 100, 0, 0, 0, 0, pfd))
    CASE("path_len_huge", raw_path_open(dir, 0, px, 0x7fffffff, 0, 0, 0, 0, pfd))
    CASE("path_open_bad_dirfd", raw_path_open(77, 0, px, 1, 0, 0, 0, 0, pfd))
    CASE("path_open_result_oob", raw_path_open(dir, 0, px, 1, __WASI_OFLAGS_CREAT, 0, 0, 0,
                                               (int32_t)0xfffffffe))
    CASE("args_get_oob", raw_args_get((int32_t)0xfffffff0, (int32_t)0xfffffff0))
    CASE("random_oob", raw_random_get((int32_t)0xfffff000, 0x10000))
    CASE("poll_huge", raw_poll_oneoff(1024, 2048, 0x7fffffff, pn))
    CASE("poll_zero", raw_poll_oneoff(1024, 2048, 0, pn))
    CASE("readdir_oob", raw_fd_readdir(dir, (int32_t)0xfffffff0, 0x1000, 0, pn))
    CASE("readlink_oob", raw_path_readlink(dir, px, 1, (int32_t)0xfffffff0, 0x1000, pn))
    CASE("clock_result_oob", raw_clock_time_get(0, 1, (int32_t)0xfffffffc))
    CASE("renumber_same", __wasi_fd_renumber(1, 1))
    CASE("renumber_same_bad", __wasi_fd_renumber(77, 77))
    else {
        report("unknown_case", 1);
        return 3;
    }
#undef CASE
    report("errno", e);
    return 0;
}


/* ---- fuzz: every preview-1 function with random arguments ------------ */
#define R32 int32_t
#define R64 int64_t
RAW(args_sizes_get) R32 f_args_sizes_get(R32, R32);
RAW(environ_get) R32 f_environ_get(R32, R32);
RAW(environ_sizes_get) R32 f_environ_sizes_get(R32, R32);
RAW(clock_res_get) R32 f_clock_res_get(R32, R32);
RAW(fd_advise) R32 f_fd_advise(R32, R64, R64, R32);
RAW(fd_allocate) R32 f_fd_allocate(R32, R64, R64);
RAW(fd_close) R32 f_fd_close(R32);
RAW(fd_datasync) R32 f_fd_datasync(R32);
RAW(fd_fdstat_get) R32 f_fd_fdstat_get(R32, R32);
RAW(fd_fdstat_set_flags) R32 f_fd_fdstat_set_flags(R32, R32);
RAW(fd_filestat_get) R32 f_fd_filestat_get(R32, R32);
RAW(fd_filestat_set_size) R32 f_fd_filestat_set_size(R32, R64);
RAW(fd_filestat_set_times) R32 f_fd_filestat_set_times(R32, R64, R64, R32);
RAW(fd_pread) R32 f_fd_pread(R32, R32, R32, R64, R32);
RAW(fd_prestat_get) R32 f_fd_prestat_get(R32, R32);
RAW(fd_prestat_dir_name) R32 f_fd_prestat_dir_name(R32, R32, R32);
RAW(fd_pwrite) R32 f_fd_pwrite(R32, R32, R32, R64, R32);
RAW(fd_renumber) R32 f_fd_renumber(R32, R32);
RAW(fd_seek) R32 f_fd_seek(R32, R64, R32, R32);
RAW(fd_sync) R32 f_fd_sync(R32);
RAW(fd_tell) R32 f_fd_tell(R32, R32);
RAW(path_create_directory) R32 f_path_create_directory(R32, R32, R32);
RAW(path_filestat_get) R32 f_path_filestat_get(R32, R32, R32, R32, R32);
RAW(path_filestat_set_times) R32 f_path_filestat_set_times(R32, R32, R32, R32, R64, R64, R32);
RAW(path_link) R32 f_path_link(R32, R32, R32, R32, R32, R32, R32);
RAW(path_remove_directory) R32 f_path_remove_directory(R32, R32, R32);
RAW(path_rename) R32 f_path_rename(R32, R32, R32, R32, R32, R32);
RAW(path_symlink) R32 f_path_symlink(R32, R32, R32, R32, R32);
RAW(path_unlink_file) R32 f_path_unlink_file(R32, R32, R32);
RAW(sched_yield) R32 f_sched_yield(void);
RAW(sock_recv) R32 f_sock_recv(R32, R32, R32, R32, R32, R32);
RAW(sock_shutdown) R32 f_sock_shutdown(R32, R32);

static uint64_t rng;
static uint32_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* Paths and data the fuzzer points into; random bytes and path-like text. */
static char scratch[4096];
static const char *const PATHS[] = {
    "a", "b", "a/b", "..", "../secret.txt", "/etc/passwd", ".", "dir", "dir/../a",
    "planted", "dangling", "loop", "x\xff\xfe", "", "a/../../b", "dir/sub/deep",
};

/* Calls made so far (read by the host after a trap ended the run), and its
 * complement: random calls may write anywhere in memory, so the host trusts
 * the count only when the two agree. */
static volatile uint32_t fuzz_counter[2] = { 0, 0xffffffffu };
static int fuzz_trace; /* print each call before making it */

static R32
arg32(void)
{
    /* Wild pointers are rare (about 1 argument in 30), so a run makes many
       calls with plausible-but-random arguments before one traps. */
    uint32_t mem = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
    uint32_t pick = next() % 64;
    if (pick < 16)
        return (R32)(next() % 12);                        /* an fd, a flag, a count */
    if (pick < 26)
        return (R32)(uintptr_t)(scratch + next() % 3000); /* into the scratch area */
    if (pick < 32)
        return (R32)(uintptr_t)(scratch + 2048);          /* valid iovecs (see fuzz_one) */
    if (pick < 40)
        return (R32)(uintptr_t)(scratch + 3072);          /* a path (see fuzz_one) */
    if (pick < 52)
        return (R32)(next() % 64);                        /* a short length */
    if (pick < 58)
        return (R32)(next() % (mem - 4096));              /* somewhere in memory */
    if (pick == 58)
        return (R32)(mem - next() % 64);                  /* near the end of memory */
    if (pick == 59)
        return (R32)next();                               /* anything */
    return 0;
}

static R64
arg64(int small)
{
    switch (next() % (small ? 2 : 4)) {
    case 0: return (R64)(next() % 4096);
    case 1: return (R64)(next() % (1u << 20));
    case 2: return -(R64)(next() % 100);
    default: return ((R64)next() << 32) | next();
    }
}

static void
fuzz_one(void)
{
    /* a fresh random path in place, NUL-free, for the path arguments */
    const char *p = PATHS[next() % (sizeof(PATHS) / sizeof(PATHS[0]))];
    memset(scratch + 3072, 0, 64);
    memcpy(scratch + 3072, p, strlen(p));
    for (int i = 0; i < 64; i++)
        if (next() % 4 == 0)
            scratch[next() % 2048] = (char)next();
    /* eight well-formed iovecs into the scratch area, for the calls taking them */
    for (int i = 0; i < 8; i++) {
        uint32_t iov[2] = { (uint32_t)(uintptr_t)(scratch + next() % 1024), next() % 64 };
        memcpy(scratch + 2048 + 8 * i, iov, sizeof(iov));
    }
    R32 a[7];
    R64 l[2];
    int which = (int)(next() % 32);
    for (int i = 0; i < 7; i++)
        a[i] = arg32();
    l[0] = arg64(which == 5 || which == 16); /* fd_allocate, pwrite offsets: small */
    l[1] = arg64(which == 5);
    if (fuzz_trace)
        printf("call %d %d %d %d %d %d %d %d %lld %lld\n", which, a[0], a[1], a[2], a[3],
               a[4], a[5], a[6], (long long)l[0], (long long)l[1]);
    switch (which) {
    case 0: f_args_sizes_get(a[0], a[1]); break;
    case 1: f_environ_get(a[0], a[1]); break;
    case 2: f_environ_sizes_get(a[0], a[1]); break;
    case 3: f_clock_res_get(a[0], a[1]); break;
    case 4: f_fd_advise(a[0], l[0], l[1], a[1]); break;
    case 5: f_fd_allocate(a[0], l[0], l[1]); break; /* small: no real disk use */
    case 6: if (a[6] % 4 == 0) f_fd_close(a[0]); break;
    case 7: f_fd_datasync(a[0]); break;
    case 8: f_fd_fdstat_get(a[0], a[1]); break;
    case 9: f_fd_fdstat_set_flags(a[0], a[1]); break;
    case 10: f_fd_filestat_get(a[0], a[1]); break;
    case 11: f_fd_filestat_set_size(a[0], l[0]); break;
    case 12: f_fd_filestat_set_times(a[0], l[0], l[1], a[1]); break;
    case 13: f_fd_pread(a[0], a[1], a[2], l[0], a[3]); break;
    case 14: f_fd_prestat_get(a[0], a[1]); break;
    case 15: f_fd_prestat_dir_name(a[0], a[1], a[2]); break;
    case 16: f_fd_pwrite(a[0], a[1], a[2], l[0], a[3]); break;
    case 17: if (a[6] % 4 == 0) f_fd_renumber(a[0], a[1]); break;
    case 18: f_fd_seek(a[0], l[0], a[1], a[2]); break;
    case 19: f_fd_sync(a[0]); break;
    case 20: f_fd_tell(a[0], a[1]); break;
    case 21: f_path_create_directory(a[0], a[1], a[2]); break;
    case 22: f_path_filestat_get(a[0], a[1], a[2], a[3], a[4]); break;
    case 23: f_path_filestat_set_times(a[0], a[1], a[2], a[3], l[0], l[1], a[4]); break;
    case 24: f_path_link(a[0], a[1], a[2], a[3], a[4], a[5], a[6]); break;
    case 25: f_path_remove_directory(a[0], a[1], a[2]); break;
    case 26: f_path_rename(a[0], a[1], a[2], a[3], a[4], a[5]); break;
    case 27: f_path_symlink(a[0], a[1], a[2], a[3], a[4]); break;
    case 28: f_path_unlink_file(a[0], a[1], a[2]); break;
    case 29: f_sched_yield(); break;
    case 30: f_sock_recv(a[0], a[1], a[2], a[3], a[4], a[5]); break;
    default: f_sock_shutdown(a[0], a[1]); break;
    }
}

/* N random calls with seed; every pointer may be wild.  Prints where the
 * call counter lives first, so the host can read it after a trap. */
static int
scenario_fuzz(unsigned long long seed, long n)
{
    rng = seed * 0x9E3779B97F4A7C15ull + 1;
    report("counter_at", (long long)(uintptr_t)fuzz_counter);
    for (long i = 0; i < n; i++) {
        fuzz_counter[0] = (uint32_t)(i + 1);
        fuzz_counter[1] = ~(uint32_t)(i + 1);
        fuzz_one();
    }
    report("calls", fuzz_counter[0]);
    return 0;
}

/* Renumber one fresh descriptor onto another `renumbers` times, then open
 * `opens` more (each a new descriptor): the fd table must keep counting
 * right and grow (patch 0015: WAMR 1.1.2 hung in the host). */
static int
scenario_churn(const char *dir_name, int renumbers, int opens)
{
    int dir = preopen(dir_name);
    __wasi_fd_t from, to;
    if (dir < 0 || open_at(dir, ".", __WASI_OFLAGS_DIRECTORY, 0, 0, &to))
        return 1;
    for (int i = 0; i < renumbers; i++) {
        if (open_at(dir, ".", __WASI_OFLAGS_DIRECTORY, 0, 0, &from))
            return 2;
        report("renumber_errno", __wasi_fd_renumber(from, to));
    }
    int opened = 0;
    for (int i = 0; i < opens; i++)
        opened += open_at(dir, ".", __WASI_OFLAGS_DIRECTORY, 0, 0, &from) == 0;
    report("opened", opened);
    return 0;
}

static int
scenario_poll(void)
{
    __wasi_subscription_t subs[2];
    __wasi_event_t events[2];
    __wasi_size_t n;
    __wasi_timestamp_t t1, t2;
    memset(subs, 0, sizeof(subs));
    subs[0].userdata = 42;
    subs[0].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[0].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    subs[0].u.u.clock.timeout = 20 * 1000000ull; /* 20 ms */
    __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t1);
    report("poll_clock_errno", __wasi_poll_oneoff(subs, events, 1, &n));
    __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t2);
    report("poll_clock_events", n);
    report("poll_clock_userdata", (long long)events[0].userdata);
    report("poll_clock_type", events[0].type);
    report("poll_clock_error", events[0].error);
    report("poll_waited_ms_ge_15", (t2 - t1) >= 15 * 1000000ull);
    /* stdout is always writable */
    subs[1].userdata = 7;
    subs[1].u.tag = __WASI_EVENTTYPE_FD_WRITE;
    subs[1].u.u.fd_write.file_descriptor = 1;
    subs[0].u.u.clock.timeout = 1000 * 1000000ull;
    report("poll_fd_errno", __wasi_poll_oneoff(subs, events, 2, &n));
    report("poll_fd_events", n);
    report("poll_fd_userdata", (long long)events[0].userdata);
    report("poll_fd_type", events[0].type);
    report("poll_zero_errno", __wasi_poll_oneoff(subs, events, 0, &n));
    report("sched_yield_errno", __wasi_sched_yield());
    return 0;
}

/* Copy stdin to stdout (for the stdio tests). */
static int
scenario_cat(void)
{
    char buf[4096];
    __wasi_size_t n, w;
    __wasi_iovec_t iov = { (uint8_t *)buf, sizeof(buf) };
    for (;;) {
        __wasi_errno_t e = __wasi_fd_read(0, &iov, 1, &n);
        if (e) {
            report("stdin_errno", e);
            return 1;
        }
        if (!n)
            return 0;
        __wasi_ciovec_t out = { (uint8_t *)buf, n };
        if (__wasi_fd_write(1, &out, 1, &w))
            return 1;
    }
}

int
main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IONBF, 0); /* every line reaches the host at once */
    if (argc > 2 && !strcmp(argv[argc - 1], "--valid-only")) {
        valid_only = 1;
        argc--;
    }
    if (!strcmp(what, "args"))
        return scenario_args(argc, argv);
    if (!strcmp(what, "clocks"))
        return scenario_clocks();
    if (!strcmp(what, "random"))
        return scenario_random();
    if (!strcmp(what, "fd") && argc > 2)
        return scenario_fd(argv[2]);
    if (!strcmp(what, "path") && argc > 2)
        return scenario_path(argv[2]);
    if (!strcmp(what, "escape") && argc > 2)
        return scenario_escape(argv[2], argc > 3 ? argv[3] : NULL);
    if (!strcmp(what, "malformed") && argc > 3)
        return scenario_malformed(argv[2], argv[3]);
    if (!strcmp(what, "poll"))
        return scenario_poll();
    if (!strcmp(what, "churn") && argc > 4)
        return scenario_churn(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (!strcmp(what, "fuzz") && argc > 3) {
        fuzz_trace = argc > 4 && !strcmp(argv[4], "trace");
        return scenario_fuzz(strtoull(argv[2], NULL, 10), atol(argv[3]));
    }
    if (!strcmp(what, "cat"))
        return scenario_cat();
    if (!strcmp(what, "exit") && argc > 2) {
        printf("exiting %s\n", argv[2]);
        fflush(stdout);
        __wasi_proc_exit((__wasi_exitcode_t)atoi(argv[2]));
    }
    if (!strcmp(what, "stderr")) {
        fprintf(stderr, "to stderr\n");
        printf("to stdout\n");
        return 0;
    }
    if (!strcmp(what, "spin")) {
        for (volatile unsigned long long i = 0;; i++)
            ;
    }
    if (!strcmp(what, "trap"))
        __builtin_trap();
    if (!strcmp(what, "grow")) {
        /* allocate until malloc fails; report how many MiB */
        int mib = 0;
        char *volatile block;
        while ((block = malloc(1 << 20)) != NULL) {
            block[0] = 1; /* used: the allocation cannot be elided */
            mib++;
        }
        report("mib", mib);
        return 0;
    }
    fprintf(stderr, "usage: wasi_probe SCENARIO [ARGS...]\n");
    return 64;
}
