/*
 * Timeouts: one watchdog thread per core watches every armed call.
 *
 * WAMR 1.1.2 has no wasm_runtime_terminate.  With the thread manager built
 * in, the interpreters (and AOT code compiled with thread support) check the
 * exec env's suspend flags at loop back-edges and calls;
 * wasm_cluster_cancel_thread sets the terminate flag.  The exception set
 * first makes wasm_runtime_call_wasm report failure.  The flag stays set, so
 * the exec env is replaced after a timeout (pw_watchdog_recover).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "pw_internal.h"
#include "wasm_runtime_common.h"

int32 wasm_cluster_cancel_thread(WASMExecEnv *exec_env);

static pthread_mutex_t g_watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_watch_cond;
static pw_instance *g_watched;
static int g_thread_started;

static double
now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
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
            first->expired = 1;
            wasm_runtime_set_exception(first->module_inst,
                                       "execution timed out");
            wasm_cluster_cancel_thread(first->exec_env);
            unlink_locked(first);
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
