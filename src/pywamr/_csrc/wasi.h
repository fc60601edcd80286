/* WASI preview 1 (wasi.c): per-instance configuration and proc_exit. */
#ifndef PYWAMR_WASI_H
#define PYWAMR_WASI_H

#include <stdint.h>

/* Instantiate a module that imports WASI with its own configuration: argv,
 * env ("NAME=VALUE"), ndirs preopened directories (host path, and the name
 * the guest sees), and host descriptors for stdin, stdout and stderr (the
 * instance gets duplicates; the caller keeps and closes these).  Serialised
 * with every other WASI instantiation (WAMR keeps the arguments on the
 * module).  Status codes and errors as pw_instance_new. */
int pw_wasi_instance_new(pw_module *module, uint32_t stack_size,
                         uint32_t heap_size, uint32_t handle,
                         const char **argv, uint32_t argc, const char **env,
                         uint32_t envc, const char **host_dirs,
                         const char **guest_dirs, uint32_t ndirs, int stdin_fd,
                         int stdout_fd, int stderr_fd, pw_instance **out,
                         char *err, uint32_t err_len);
/* Whether the last failed call ended in proc_exit: 1 and *code, once. */
int pw_wasi_take_exit(pw_instance *inst, uint32_t *code);
/* Whether the instance has a WASI context. */
int pw_wasi_is_enabled(pw_instance *inst);

#endif
