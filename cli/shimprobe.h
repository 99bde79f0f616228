/*
 * shimprobe.h — for `hoptrace enable` and `hoptrace status`: proving that the
 * shim loads and runs in a fresh process before it goes into
 * /etc/ld.so.preload, and finding the running processes that carry it.
 */
#ifndef HOPTRACE_SHIMPROBE_H
#define HOPTRACE_SHIMPROBE_H

#include <stddef.h>

/* Runs prog (no arguments; a plain, setuid-free program such as /bin/true)
 * with LD_PRELOAD=lib and HOPTRACE_SOCKET naming a private abstract socket,
 * and succeeds only when the child exits 0 within timeout_ms, printed nothing
 * on stderr (ld.so's "cannot be preloaded" goes there) and its shim's
 * constructor sent a record from the child's own pid (SO_PEERCRED). Returns 0,
 * or -1 with why in err. */
int shim_probe(const char *lib, const char *prog, int timeout_ms, char *err, size_t errlen);

/* Refuses a library that a non-root user could replace: the file and every
 * directory above it must be owned by root and not writable by group or
 * others (a sticky directory such as /tmp may be world-writable). 0 or -1. */
int shim_path_safe(const char *lib, char *err, size_t errlen);

struct shim_scan {
	unsigned procs;      /* processes looked at */
	unsigned unreadable; /* whose maps could not be read */
	unsigned with_shim;  /* that map a file named libhoptrace.so */
	unsigned with_lib;   /* that map exactly `lib` (when given) */
};

/* Scans proc_root/[pid]/maps ("/proc" normally). lib may be NULL. */
int shim_scan(const char *proc_root, const char *lib, struct shim_scan *out);

/* Does a maps line name a mapping of a file called libhoptrace.so? If so and
 * path is not NULL, *path and *len get the file name. Exposed for the unit test. */
int shim_maps_line(const char *line, const char **path, size_t *len);

#endif
