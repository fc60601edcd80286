/*
 * WASI preview 1: per-instance configuration and proc_exit.
 *
 * WAMR 1.1.2 keeps WASI arguments (argv, environment, preopened directories,
 * stdio descriptors) on the *module*, as borrowed pointers, and reads them
 * only while instantiating.  pw_wasi_instance_start therefore sets them,
 * instantiates and clears them again under one lock, so two instances of one
 * module -- made by two threads at once -- each get their own configuration.
 * Every instantiation of a WASI module in pywamr goes through here (the
 * Python layer routes them), so no instantiation ever sees another's
 * arguments.  The strings only need to live for the call: WAMR copies them
 * into the instance's WASI context (patch 0010 makes it duplicate the stdio
 * descriptors too, so the caller keeps and closes its own).
 *
 * proc_exit: WAMR's own proc_exit raises the exception "wasi proc exit",
 * which every layer of WAMR then clears as if the call had returned
 * normally -- the embedder cannot tell proc_exit(0) from a return, nor a
 * reactor's exit from a result.  pywamr registers its own proc_exit (user
 * natives registered after start-up are found before libc-wasi's) that
 * records the code on the instance and raises an exception WAMR does not
 * clear: the call unwinds as a trap, and the Python layer turns it into
 * WasiExit(code) (pw_wasi_take_exit).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pw_internal.h"
#include "pw_util.h"

/* The message of the trap proc_exit ends a call with. */
#define PW_WASI_EXIT_MESSAGE "wasi proc_exit"

/* Recursive: a module's start function runs inside pw_instance_start and may
 * call a host function that instantiates another WASI module on this thread
 * (WAMR has read the outer instance's arguments by then). */
static pthread_mutex_t g_wasi_lock;
static pthread_once_t g_wasi_lock_once = PTHREAD_ONCE_INIT;

static void
init_wasi_lock(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&g_wasi_lock, &attr);
    pthread_mutexattr_destroy(&attr);
}

static void
pw_wasi_proc_exit(wasm_exec_env_t exec_env, uint32_t code)
{
    wasm_module_inst_t module_inst = wasm_runtime_get_module_inst(exec_env);
    pw_instance *inst = wasm_runtime_get_custom_data(module_inst);
    WASIContext *ctx = wasm_runtime_get_wasi_ctx(module_inst);
    if (ctx)
        ctx->exit_code = code;
    if (inst) {
        inst->wasi_exit_code = code;
        inst->wasi_exited = 1;
    }
    wasm_runtime_set_exception(module_inst, PW_WASI_EXIT_MESSAGE);
}

/* No sockets.  WAMR 1.1.2 adds ~50 socket functions of its own to
 * wasi_snapshot_preview1 (sock_open, sock_connect, sock_send_to, ...), gated
 * by an address pool pywamr leaves empty, and its sock_shutdown returns
 * success on any descriptor.  pywamr grants no network at all: WAMR's
 * extensions answer ENOTSUP, and preview 1's own sock_accept, sock_recv,
 * sock_send and sock_shutdown answer ENOTSOCK (no descriptor a guest holds
 * is ever a socket pywamr gave it). */
#define PW_WASI_ENOTSOCK 57
#define PW_WASI_ENOTSUP 58

static void
pw_wasi_no_socket(wasm_exec_env_t exec_env, uint64_t *args)
{
    (void)exec_env;
    *(uint32_t *)args = PW_WASI_ENOTSOCK;
}

static void
pw_wasi_no_network(wasm_exec_env_t exec_env, uint64_t *args)
{
    (void)exec_env;
    *(uint32_t *)args = PW_WASI_ENOTSUP;
}

#define NOSOCK(name, sig) { #name, (void *)pw_wasi_no_socket, sig, NULL }
#define NONET(name, sig) { #name, (void *)pw_wasi_no_network, sig, NULL }
/* Signatures as WAMR 1.1.2's libc_wasi_wrapper.c registers them. */
#define PREVIEW1_SOCKETS                                                    \
    NOSOCK(sock_accept, "(ii*)i"), NOSOCK(sock_recv, "(i*ii**)i"),          \
        NOSOCK(sock_send, "(i*ii*)i"), NOSOCK(sock_shutdown, "(ii)i")

static NativeSymbol g_preview1_sockets[] = {
    PREVIEW1_SOCKETS,
    NONET(sock_addr_local, "(i*)i"),
    NONET(sock_addr_remote, "(i*)i"),
    NONET(sock_addr_resolve, "($$**i*)i"),
    NONET(sock_bind, "(i*)i"),
    NONET(sock_close, "(i)i"),
    NONET(sock_connect, "(i*)i"),
    NONET(sock_get_broadcast, "(i*)i"),
    NONET(sock_get_keep_alive, "(i*)i"),
    NONET(sock_get_linger, "(i**)i"),
    NONET(sock_get_recv_buf_size, "(i*)i"),
    NONET(sock_get_recv_timeout, "(i*)i"),
    NONET(sock_get_reuse_addr, "(i*)i"),
    NONET(sock_get_reuse_port, "(i*)i"),
    NONET(sock_get_send_buf_size, "(i*)i"),
    NONET(sock_get_send_timeout, "(i*)i"),
    NONET(sock_get_tcp_fastopen_connect, "(i*)i"),
    NONET(sock_get_tcp_keep_idle, "(i*)i"),
    NONET(sock_get_tcp_keep_intvl, "(i*)i"),
    NONET(sock_get_tcp_no_delay, "(i*)i"),
    NONET(sock_get_tcp_quick_ack, "(i*)i"),
    NONET(sock_get_ip_multicast_loop, "(ii*)i"),
    NONET(sock_get_ip_multicast_ttl, "(i*)i"),
    NONET(sock_get_ip_ttl, "(i*)i"),
    NONET(sock_get_ipv6_only, "(i*)i"),
    NONET(sock_listen, "(ii)i"),
    NONET(sock_open, "(iii*)i"),
    NONET(sock_recv_from, "(i*ii**)i"),
    NONET(sock_send_to, "(i*ii**)i"),
    NONET(sock_set_broadcast, "(ii)i"),
    NONET(sock_set_keep_alive, "(ii)i"),
    NONET(sock_set_linger, "(iii)i"),
    NONET(sock_set_recv_buf_size, "(ii)i"),
    NONET(sock_set_recv_timeout, "(iI)i"),
    NONET(sock_set_reuse_addr, "(ii)i"),
    NONET(sock_set_reuse_port, "(ii)i"),
    NONET(sock_set_send_buf_size, "(ii)i"),
    NONET(sock_set_send_timeout, "(iI)i"),
    NONET(sock_set_tcp_fastopen_connect, "(ii)i"),
    NONET(sock_set_tcp_keep_idle, "(ii)i"),
    NONET(sock_set_tcp_keep_intvl, "(ii)i"),
    NONET(sock_set_tcp_no_delay, "(ii)i"),
    NONET(sock_set_tcp_quick_ack, "(ii)i"),
    NONET(sock_set_ip_multicast_loop, "(iii)i"),
    NONET(sock_set_ip_multicast_ttl, "(ii)i"),
    NONET(sock_set_ip_add_membership, "(i*i)i"),
    NONET(sock_set_ip_drop_membership, "(i*i)i"),
    NONET(sock_set_ip_ttl, "(ii)i"),
    NONET(sock_set_ipv6_only, "(ii)i"),
};
static NativeSymbol g_unstable_sockets[] = { PREVIEW1_SOCKETS };

/* Registered once per WAMR initialisation (the list dies with WAMR);
 * registration sorts the arrays in place. */
static NativeSymbol g_preview1_natives[] = {
    { "proc_exit", (void *)pw_wasi_proc_exit, "(i)", NULL },
};
static NativeSymbol g_unstable_natives[] = {
    { "proc_exit", (void *)pw_wasi_proc_exit, "(i)", NULL },
};

#define COUNT(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static int
register_natives(void)
{
    return wasm_runtime_register_natives("wasi_snapshot_preview1",
                                         g_preview1_natives,
                                         COUNT(g_preview1_natives))
           && wasm_runtime_register_natives("wasi_unstable",
                                            g_unstable_natives,
                                            COUNT(g_unstable_natives))
           && wasm_runtime_register_natives_raw("wasi_snapshot_preview1",
                                                g_preview1_sockets,
                                                COUNT(g_preview1_sockets))
           && wasm_runtime_register_natives_raw("wasi_unstable",
                                                g_unstable_sockets,
                                                COUNT(g_unstable_sockets));
}

/* Registered with WAMR again after every initialisation. */
__attribute__((constructor)) static void
add_init_hook(void)
{
    pw_wamr_add_init_hook(register_natives);
}

int
pw_wasi_instance_start(pw_instance *inst, pw_module *m, uint32_t stack_size,
                       uint32_t heap_size, const char **argv, uint32_t argc,
                       const char **env, uint32_t envc, const char **host_dirs,
                       const char **guest_dirs, uint32_t ndirs, int stdin_fd,
                       int stdout_fd, int stderr_fd, char *err, uint32_t err_len)
{
    int rc;
    if (stdin_fd < 0 || stdout_fd < 0 || stderr_fd < 0) {
        /* -1 would mean the process's own stdio to WAMR: callers say so
           explicitly by passing 0, 1, 2. */
        set_err(err, err_len, "WASI stdio descriptors must be given");
        return PW_ERR_RANGE;
    }
    pthread_once(&g_wasi_lock_once, init_wasi_lock);
    pthread_mutex_lock(&g_wasi_lock);
    wasm_runtime_set_wasi_args_ex(m->module, host_dirs, ndirs, guest_dirs, ndirs,
                                  env, envc, (char **)argv, (int)argc,
                                  stdin_fd, stdout_fd, stderr_fd);
    rc = pw_instance_start(inst, m, stack_size, heap_size, err, err_len);
    /* Forget the borrowed pointers.  An instantiation that bypassed this
       function would see no arguments, no directories, and -- with -1 --
       duplicates of the process's stdio. */
    wasm_runtime_set_wasi_args_ex(m->module, NULL, 0, NULL, 0, NULL, 0, NULL, 0,
                                  -1, -1, -1);
    pthread_mutex_unlock(&g_wasi_lock);
    return rc;
}

int
pw_wasi_take_exit(pw_instance *inst, uint32_t *code)
{
    if (!inst->wasi_exited)
        return 0;
    inst->wasi_exited = 0;
    *code = inst->wasi_exit_code;
    return 1;
}
