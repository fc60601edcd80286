/*
 * Process-wide WAMR state for this core (init once, reference-counted,
 * optionally torn down and re-initialised: Teaclave's per-call lifecycle) and
 * WAMR's per-thread signal environment.  See bridge.h for the contracts.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include "bh_log.h"
#include "pw_internal.h"
#include "pw_util.h"

#ifndef PW_CORE_NAME
#define PW_CORE_NAME "unknown"
#endif

static pthread_mutex_t g_state_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t g_refcount;
static int g_inited;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_thread_key;

/* Features that register natives with WAMR after each initialisation
 * (WAMR forgets them when destroyed); added by constructors at load time. */
#define PW_MAX_INIT_HOOKS 4
static int (*g_init_hooks[PW_MAX_INIT_HOOKS])(void);
static uint32_t g_ninit_hooks;

void
pw_wamr_add_init_hook(int (*hook)(void))
{
    if (g_ninit_hooks < PW_MAX_INIT_HOOKS)
        g_init_hooks[g_ninit_hooks++] = hook;
}

/* Whether this thread has WAMR's signal environment.  WAMR 1.1.2's
 * wasm_runtime_thread_env_inited() checks the signal state only in a core
 * with AOT, yet its interpreter needs it whenever bounds are checked with
 * guard pages: in the teaclave core (no AOT) every thread but the first
 * failed its calls with "thread signal env not inited". */
static int
thread_env_inited(void)
{
#ifdef OS_ENABLE_HW_BOUND_CHECK
    return os_thread_signal_inited() ? 1 : 0;
#else
    return wasm_runtime_thread_env_inited() ? 1 : 0;
#endif
}

static void
destroy_thread_env(void *unused)
{
    (void)unused;
    if (thread_env_inited())
        wasm_runtime_destroy_thread_env();
}

static void
make_thread_key(void)
{
    pthread_key_create(&g_thread_key, destroy_thread_env);
}

int
pw_ensure_thread_env(void)
{
    if (thread_env_inited())
        return 1;
    if (!wasm_runtime_init_thread_env())
        return 0;
    pthread_once(&g_key_once, make_thread_key);
    pthread_setspecific(g_thread_key, (void *)1);
    return 1;
}

static int
wamr_init_locked(char *err, uint32_t err_len)
{
    RuntimeInitArgs args;
    memset(&args, 0, sizeof(args));
    args.mem_alloc_type = Alloc_With_System_Allocator;
    if (!wasm_runtime_full_init(&args)) {
        set_err(err, err_len, "WAMR runtime initialisation failed");
        return PW_ERR_STATE;
    }
    for (uint32_t i = 0; i < g_ninit_hooks; i++) {
        if (!g_init_hooks[i]()) {
            wasm_runtime_destroy();
            set_err(err, err_len, "could not register pywamr's natives with WAMR");
            return PW_ERR_STATE;
        }
    }
    /* A library does not print: WAMR's messages reach Python as errors. */
    bh_log_set_verbose_level(BH_LOG_LEVEL_FATAL);
    g_inited = 1;
    return PW_OK;
}

int
pw_wamr_acquire(int fresh, char *err, uint32_t err_len)
{
    int rc = PW_OK;
    pthread_mutex_lock(&g_state_lock);
    if (fresh) {
        if (g_refcount) {
            set_err(err, err_len,
                    "a fresh WAMR runtime needs the %s core to itself, but %u "
                    "runtime(s) are open",
                    PW_CORE_NAME, g_refcount);
            rc = PW_ERR_STATE;
            goto out;
        }
        if (g_inited) {
            wasm_runtime_destroy();
            g_inited = 0;
        }
    }
    if (!g_inited)
        rc = wamr_init_locked(err, err_len);
    if (rc == PW_OK)
        g_refcount++;
out:
    pthread_mutex_unlock(&g_state_lock);
    return rc;
}

void
pw_wamr_release(int destroy)
{
    pthread_mutex_lock(&g_state_lock);
    if (g_refcount)
        g_refcount--;
    if (destroy && !g_refcount && g_inited) {
        wasm_runtime_destroy();
        g_inited = 0;
    }
    pthread_mutex_unlock(&g_state_lock);
}

uint32_t
pw_wamr_refcount(void)
{
    return g_refcount;
}

const char *
pw_core_name(void)
{
    return PW_CORE_NAME;
}

void
pw_wamr_version(uint32_t *major, uint32_t *minor, uint32_t *patch)
{
    wasm_runtime_get_version(major, minor, patch);
}
