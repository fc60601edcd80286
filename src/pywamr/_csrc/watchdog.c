/*
 * Timeouts: one watchdog thread per core watches every armed call.
 *
 * WAMR 1.1.2 has no wasm_runtime_terminate.  At a call's deadline the
 * watchdog sets the instance's exception ("execution timed out") and
 * cancels its exec env (wasm_cluster_cancel_thread sets the terminate
 * flag); the exception makes wasm_runtime_call_wasm report failure.
 *
 * How the running code notices depends on the mode:
 *   - the interpreters check the exec env's suspend flags at back edges and
 *     calls (cheap beside their dispatch);
 *   - AOT code is compiled without those checks (they cost up to a third
 *     of a tight loop's time).  Instead the watchdog sends the calling
 *     thread PW_TIMEOUT_SIGNAL every millisecond until the call returns.
 *     The handler leaves the call exactly the way WAMR leaves it on an
 *     out-of-bounds access caught by the hardware check: it longjmps to the
 *     exec env's innermost jump buffer.  It does so only when the thread is
 *     executing the AOT module's own code (the interrupted program counter
 *     lies in the module's code section) and the instance's exception is
 *     set: never inside WAMR's runtime, a native or Python, where a lock or
 *     the GIL may be held.  A signal that finds the thread elsewhere does
 *     nothing; the next one, a millisecond later, tries again.
 * The flag stays set, so the exec env is replaced after a timeout
 * (pw_watchdog_recover).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include "pw_internal.h"
#include "wasm_runtime_common.h"
#include "../aot/aot_runtime.h"

int32 wasm_cluster_cancel_thread(WASMExecEnv *exec_env);

#define KICK_INTERVAL 0.001 /* seconds between signals to an expired AOT call */
/* The signal: SIGRTMIN + 5, a real-time signal nothing else in the process
 * is expected to use (glibc keeps the first ones for itself; SIGRTMIN
 * already excludes them). */
#define PW_TIMEOUT_SIGNAL_OFFSET 5

static pthread_mutex_t g_watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_watch_cond;
static pw_instance *g_watched;
static int g_thread_started;
static int g_signal; /* 0: AOT code cannot be preempted on this platform */
/* The handler installed before ours: the other core's (each core is a
 * separate extension with its own WAMR and its own copy of this file, and a
 * signal has one handler per process), to which a signal that is not for
 * this core is passed on. */
static struct sigaction g_previous;

static double
now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
static uintptr_t
interrupted_pc(void *context)
{
    ucontext_t *uc = context;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#else
    return (uintptr_t)uc->uc_mcontext.pc;
#endif
}

static void
pass_on(int sig, siginfo_t *info, void *context)
{
    if (g_previous.sa_flags & SA_SIGINFO) {
        if (g_previous.sa_sigaction)
            g_previous.sa_sigaction(sig, info, context);
    }
    else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
        g_previous.sa_handler(sig);
    }
}

/* The thread's current AOT call of this core, if the signal may end it. */
static WASMExecEnv *
stoppable_call(void *context)
{
    WASMExecEnv *env = wasm_runtime_get_exec_env_tls();
    WASMModuleInstance *mi;
    AOTModule *module;
    uintptr_t pc = interrupted_pc(context), code;
    if (!env || !env->jmpbuf_stack_top)
        return NULL;
    mi = (WASMModuleInstance *)env->module_inst;
    if (!mi || mi->module_type != Wasm_Module_AoT || !mi->cur_exception[0])
        return NULL;
    module = (AOTModule *)mi->module;
    code = (uintptr_t)module->code;
    if (pc < code || pc - code >= module->code_size)
        return NULL;
    return env;
}

static void
on_timeout_signal(int sig, siginfo_t *info, void *context)
{
    WASMExecEnv *env = stoppable_call(context);
    sigset_t self;
    if (!env) {
        pass_on(sig, info, context); /* perhaps the other core's call */
        return;
    }
    /* longjmp does not restore the signal mask: unblock ours first. */
    sigemptyset(&self);
    sigaddset(&self, sig);
    pthread_sigmask(SIG_UNBLOCK, &self, NULL);
    longjmp(env->jmpbuf_stack_top->jmpbuf, 1);
}

static void
install_signal_locked(void)
{
    struct sigaction action;
    if (g_signal)
        return;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = on_timeout_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGRTMIN + PW_TIMEOUT_SIGNAL_OFFSET, &action, &g_previous) == 0)
        g_signal = SIGRTMIN + PW_TIMEOUT_SIGNAL_OFFSET;
}
#else
static void
install_signal_locked(void)
{
}
#endif

static int
is_aot(pw_instance *inst)
{
    return ((WASMModuleInstance *)inst->module_inst)->module_type
           == Wasm_Module_AoT;
}

static void
unlink_locked(pw_instance *inst)
{
    pw_instance **p;
    for (p = &g_watched; *p; p = &(*p)->watch_next) {
        if (*p == inst) {
            *p = inst->watch_next;
            break;
        }
    }
    inst->watch_next = NULL;
    inst->armed = 0;
    inst->kicking = 0;
}

static void
expire_locked(pw_instance *inst, double now)
{
    if (!inst->kicking) {
        inst->expired = 1;
        wasm_runtime_set_exception(inst->module_inst, "execution timed out");
        wasm_cluster_cancel_thread(inst->exec_env);
        if (!g_signal || !is_aot(inst)) {
            unlink_locked(inst);
            return;
        }
        inst->kicking = 1;
    }
    /* An AOT call: signal its thread until it returns (disarm unlinks). */
    pthread_kill(inst->caller, g_signal);
    inst->deadline = now + KICK_INTERVAL;
}

static void *
watchdog_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&g_watch_lock);
    for (;;) {
        pw_instance *inst, *first = NULL;
        double now = now_monotonic();
        for (inst = g_watched; inst; inst = inst->watch_next)
            if (!first || inst->deadline < first->deadline)
                first = inst;
        if (!first) {
            pthread_cond_wait(&g_watch_cond, &g_watch_lock);
            continue;
        }
        if (first->deadline <= now) {
            expire_locked(first, now);
            continue;
        }
        {
            struct timespec ts;
            double at = first->deadline;
            ts.tv_sec = (time_t)at;
            ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&g_watch_cond, &g_watch_lock, &ts);
        }
    }
    return NULL;
}

static int
start_thread_locked(void)
{
    pthread_condattr_t attr;
    pthread_attr_t tattr;
    pthread_t thread;
    sigset_t all, old;
    int rc;
    if (g_thread_started)
        return 1;
    install_signal_locked();
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g_watch_cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_attr_init(&tattr);
    pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&tattr, 64 * 1024);
    /* Signals stay with Python's threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&thread, &tattr, watchdog_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&tattr);
    if (rc != 0)
        return 0;
    g_thread_started = 1;
    return 1;
}

int
pw_watchdog_arm(pw_instance *inst, double timeout)
{
    int ok;
    pthread_mutex_lock(&g_watch_lock);
    ok = start_thread_locked();
    if (ok) {
        inst->deadline = now_monotonic() + timeout;
        inst->expired = 0;
        inst->kicking = 0;
        inst->caller = pthread_self();
        inst->armed = 1;
        inst->watch_next = g_watched;
        g_watched = inst;
        pthread_cond_signal(&g_watch_cond);
    }
    pthread_mutex_unlock(&g_watch_lock);
    return ok;
}

void
pw_watchdog_disarm(pw_instance *inst)
{
    pthread_mutex_lock(&g_watch_lock);
    if (inst->armed)
        unlink_locked(inst);
    pthread_mutex_unlock(&g_watch_lock);
}

int
pw_watchdog_expired(pw_instance *inst)
{
    return inst->expired;
}

void
pw_watchdog_recover(pw_instance *inst)
{
    inst->expired = 0;
    wasm_runtime_clear_exception(inst->module_inst);
    wasm_runtime_destroy_exec_env(inst->exec_env);
    inst->exec_env =
        wasm_runtime_create_exec_env(inst->module_inst, inst->stack_size);
    if (!inst->exec_env)
        inst->closed = 1; /* cannot run again; calls report a closed instance */
}
