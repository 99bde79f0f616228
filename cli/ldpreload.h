/*
 * ldpreload.h — the list of libraries in /etc/ld.so.preload (and in
 * LD_PRELOAD): entries separated by blanks and ':' (ld.so(8)).
 */
#ifndef HOPTRACE_LDPRELOAD_H
#define HOPTRACE_LDPRELOAD_H

#include <stddef.h>

/* Is the entry tok (l bytes) lib itself, or any copy of the shim (a path
 * ending in /libhoptrace.so)? */
int ldp_is_shim(const char *tok, size_t l, const char *lib);

/* Does the whitespace/colon separated list contain item? */
int ldp_list_has(const char *list, const char *item);

#endif
