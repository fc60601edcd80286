/* wasi_crossdir: renames and hard links between preopened directories.
 *
 *   wasi_crossdir A B A2 NEST
 *
 * A and B are two preopens, A2 the host directory of A granted a second time
 * under another name, NEST a subdirectory of A's host directory granted on its
 * own.  Each host directory holds the files named below (see
 * tests/test_wasi_crossdir.py, which builds the tree and checks the host side
 * afterwards).  Every attempt prints "key errno" (the preview-1 errno enum;
 * 0 = done), one line each.  Built with clang-14 and Debian's wasi-libc by
 * tools/build_payloads.py. */
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static void
report(const char *key, long long value)
{
    printf("%s %lld\n", key, value);
}

/* The fd of the preopened directory the guest knows as `name`, or -1. */
static int
preopen(const char *name)
{
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t st;
        char buf[256];
        if (__wasi_fd_prestat_get(fd, &st) != 0 || st.u.dir.pr_name_len >= sizeof(buf))
            continue;
        if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, st.u.dir.pr_name_len))
            continue;
        buf[st.u.dir.pr_name_len] = 0;
        if (!strcmp(buf, name))
            return (int)fd;
    }
    return -1;
}

/* A directory below `dir` (`path` may be "."), with every right `dir` passes
 * on but the write rights (which would open it O_RDWR: EISDIR). */
static int
open_dir(int dir, const char *path)
{
    __wasi_fdstat_t st;
    __wasi_fd_t fd;
    if (dir < 0 || __wasi_fd_fdstat_get((__wasi_fd_t)dir, &st) != 0)
        return -1;
    __wasi_rights_t rights =
        st.fs_rights_inheriting
        & ~(__WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_ALLOCATE
            | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE);
    if (__wasi_path_open((__wasi_fd_t)dir, 0, path, __WASI_OFLAGS_DIRECTORY, rights, rights,
                         0, &fd))
        return -1;
    return (int)fd;
}

static void
rename_(const char *key, int from_dir, const char *from, int to_dir, const char *to)
{
    report(key, __wasi_path_rename((__wasi_fd_t)from_dir, from, (__wasi_fd_t)to_dir, to));
}

static void
link_(const char *key, int from_dir, const char *from, int to_dir, const char *to)
{
    report(key, __wasi_path_link((__wasi_fd_t)from_dir, 0, from, (__wasi_fd_t)to_dir, to));
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc != 5) {
        fprintf(stderr, "usage: wasi_crossdir A B A2 NEST\n");
        return 64;
    }
    int a = preopen(argv[1]), b = preopen(argv[2]), a2 = preopen(argv[3]);
    int nest = preopen(argv[4]);
    int sub_a = open_dir(a, "sub"), sub_b = open_dir(b, "sub"), dot_a = open_dir(a, ".");
    report("found", a >= 0 && b >= 0 && a2 >= 0 && nest >= 0 && sub_a >= 0 && sub_b >= 0
                    && dot_a >= 0);

    /* between the two preopens, both ways, through their own descriptors */
    rename_("rename_a_to_b", a, "f1", b, "x1");
    rename_("rename_b_to_a", b, "g1", a, "y1");
    link_("link_a_to_b", a, "f1", b, "x2");
    link_("link_b_to_a", b, "g1", a, "y2");
    /* through descriptors opened below each preopen */
    rename_("rename_suba_to_subb", sub_a, "s1", sub_b, "x3");
    rename_("rename_subb_to_suba", sub_b, "t1", sub_a, "y3");
    link_("link_suba_to_subb", sub_a, "s1", sub_b, "x4");
    link_("link_subb_to_suba", sub_b, "t1", sub_a, "y4");
    rename_("rename_suba_to_b", sub_a, "s1", b, "x5");
    link_("link_a_to_subb", a, "f1", sub_b, "x6");
    rename_("rename_dot_a_to_b", dot_a, "f1", b, "x7");
    /* `..` inside a preopen stays in it; above a descriptor it is refused */
    rename_("rename_dotdot_a_to_b", a, "sub/../f1", b, "sub/../x8");
    link_("link_dotdot_b_to_a", b, "sub/../g1", a, "sub/../y8");
    rename_("rename_suba_up_to_b", sub_a, "../f1", b, "x9");
    link_("link_suba_up_to_subb_up", sub_a, "../f1", sub_b, "../x9");
    rename_("rename_a_via_dotdot_to_b", a, "f1", a, "../b/x10");
    /* one host directory granted twice, and a grant nested in another */
    rename_("rename_a_to_a2", a, "f1", a2, "x11");
    rename_("rename_a2_to_a", a2, "f1", a, "x12");
    link_("link_a_to_a2", a, "f1", a2, "x13");
    rename_("rename_a_to_nest", a, "f1", nest, "x14");
    rename_("rename_nest_to_suba", nest, "s1", sub_a, "x15");
    link_("link_nest_to_a", nest, "s1", a, "x16");
    /* a descriptor renumbered onto another keeps the grant it descends from */
    int moved_b = open_dir(b, "sub"), victim_a = open_dir(a, "sub");
    report("renumber", moved_b < 0 || victim_a < 0
                           ? -1
                           : __wasi_fd_renumber((__wasi_fd_t)moved_b, (__wasi_fd_t)victim_a));
    rename_("rename_renumbered_to_a", victim_a, "t1", a, "x17");
    rename_("rename_renumbered_to_b", victim_a, "t3", b, "t3_moved");

    /* within one grant: allowed */
    rename_("rename_within_a", a, "f2", a, "sub/f2");
    rename_("rename_within_suba_to_a", sub_a, "s2", a, "s2");
    link_("link_within_a", a, "f3", a, "sub/f3_link");
    link_("link_within_subb_to_b", sub_b, "t2", b, "t2_link");
    rename_("rename_within_a2", a2, "f4", a2, "f4_renamed");
    rename_("rename_within_nest", nest, "s3", nest, "s3_renamed");
    rename_("rename_within_dot_to_a", dot_a, "f5", a, "f5_renamed");
    rename_("rename_within_b_dotdot", b, "sub/../g2", b, "sub/g2");
    return 0;
}
