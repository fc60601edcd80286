/*
 * teaclave_file.h -- file API available to Teaclave-style WAMR payloads.
 *
 * A payload is a wasm module exporting
 *
 *     int entrypoint(int argc, char *argv[]);
 *
 * argv holds the function arguments as key/value string pairs sorted by
 * key: argv[0] = key1, argv[1] = value1, argv[2] = key2, ... and
 * argc = 2 * (number of arguments).  The payload has no direct file system
 * access; it reaches the input and output files the task declared only
 * through the five functions below, which the host provides as imports from
 * module "env".  File ids are the names the task registered for each file,
 * not paths.  A payload may hold at most 1024 handles open at the same time.
 *
 * Usable with -nostdlib: nothing here depends on libc headers.
 */
#ifndef TEACLAVE_FILE_H
#define TEACLAVE_FILE_H

#ifdef __cplusplus
extern "C" {
#endif

/* On wasm32 this is a 32-bit unsigned integer. */
typedef __SIZE_TYPE__ size_t;

#ifdef __wasm__
#define TEACLAVE_IMPORT(name) \
    __attribute__((import_module("env"), import_name(name)))
#else
#define TEACLAVE_IMPORT(name)
#endif

/*
 * Opens the input file registered under file_id for reading.
 * Returns a handle > 0, or -1 if no such input exists or it cannot be
 * opened (including when 1024 handles are already open).
 */
TEACLAVE_IMPORT("teaclave_open_input")
int teaclave_open_input(const char *file_id);

/*
 * Creates (truncating) the output file declared under file_id and opens it
 * for writing.  Returns a handle > 0 with bit 0x40000000 set, which marks
 * it as a write handle, or -1 if no such output was declared or it cannot
 * be created.
 */
TEACLAVE_IMPORT("teaclave_create_output")
int teaclave_create_output(const char *file_id);

/*
 * Reads up to size bytes from the read handle into buf.
 * Returns the number of bytes read (possibly fewer than size), 0 at end of
 * file, or -1 on error (bad handle, write handle, buf outside memory).
 */
TEACLAVE_IMPORT("teaclave_read_file")
int teaclave_read_file(int handle, void *buf, size_t size);

/*
 * Writes size bytes from buf to the write handle.
 * Returns the number of bytes written or -1 on error.
 */
TEACLAVE_IMPORT("teaclave_write_file")
int teaclave_write_file(int handle, const void *buf, size_t size);

/*
 * Closes a read or write handle, flushing any written data; the handle is
 * invalid afterwards.  Returns 0 on success or -1 (e.g. unknown handle).
 */
TEACLAVE_IMPORT("teaclave_close_file")
int teaclave_close_file(int handle);

/* Bit set in every handle returned by teaclave_create_output. */
#define TEACLAVE_WRITE_HANDLE_FLAG 0x40000000

/* Maximum number of handles a payload may hold open at once. */
#define TEACLAVE_MAX_OPEN_HANDLES 1024

#ifdef __cplusplus
}
#endif

#endif /* TEACLAVE_FILE_H */
