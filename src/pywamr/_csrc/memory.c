/*
 * Linear memory: the default memory's base and size, bounds-checked copies,
 * and the views that pin it (an instance closed while views are alive is
 * deinstantiated when the last one goes).
 */
#include <pthread.h>
#include <string.h>

#include "pw_internal.h"
#include "pw_util.h"

uint8_t *
pw_memory(pw_instance *inst, uint64_t *size)
{
    return pw_linear_memory(inst, size);
}

void
pw_view_acquire(pw_instance *inst)
{
    __atomic_add_fetch(&inst->views, 1, __ATOMIC_ACQ_REL);
}

void
pw_view_release(pw_instance *inst)
{
    int destroy = 0;
    pthread_mutex_lock(&pw_lifetime_lock);
    if (!__atomic_sub_fetch(&inst->views, 1, __ATOMIC_ACQ_REL)) {
        if (inst->freed)
            destroy = 1; /* the owner is gone: the last view frees */
        else if (inst->closed)
            pw_instance_deinstantiate(inst);
    }
    pthread_mutex_unlock(&pw_lifetime_lock);
    if (destroy)
        pw_instance_destroy(inst);
}

/* Native address of [offset, offset + size) in linear memory, or NULL. */
static uint8_t *
memory_range(pw_instance *inst, uint64_t offset, uint64_t size)
{
    uint64_t mem_size;
    uint8_t *base = pw_memory(inst, &mem_size);
    if (!base || offset > mem_size || size > mem_size - offset)
        return NULL;
    return base + offset;
}

const char *
pw_memory_at(pw_instance *inst, uint64_t offset, uint64_t size)
{
    return inst->closed ? NULL : (const char *)memory_range(inst, offset, size);
}

int
pw_memory_write(pw_instance *inst, uint64_t offset, const uint8_t *data,
                uint64_t size)
{
    uint8_t *dst;
    if (inst->closed)
        return PW_ERR_CLOSED;
    if (!(dst = memory_range(inst, offset, size)))
        return PW_ERR_RANGE;
    memcpy(dst, data, size);
    return PW_OK;
}

