/*
 * ldpreload.h — the list of libraries in /etc/ld.so.preload (and in
 * LD_PRELOAD): one tokenizer for `hoptrace enable`, `disable`, `status` and
 * `env`, and the edit enable/disable make. Pure: text in, text out, no I/O.
 *
 * Syntax, as ld.so(8) reads it: entries are separated by blanks (' ', '\t'),
 * ':' and line ends. A line ends at '\n' or at a NUL byte (the old
 * strcspn-based reader's rule, kept). In the file, a '#' and the rest of its
 * line are a comment (glibc's rtld drops them: checked on this machine, a
 * "# /x/libhoptrace.so" line loads nothing), so a commented-out shim is not
 * enabled; ldp_scan and ldp_edit apply that, ldp_next does not (LD_PRELOAD has
 * no comments: it is used on a file line's ldp_uncommented() part).
 */
#ifndef HOPTRACE_LDPRELOAD_H
#define HOPTRACE_LDPRELOAD_H

#include <stddef.h>

/* One entry: len bytes at p (inside the text given; not NUL-terminated). */
struct ldp_entry {
	const char *p;
	size_t len;
};

/* The next entry of s[0..n) at or after *pos. Returns 1 with *e set and *pos
 * just after it, or 0 (and *pos = n) when no entry is left. s need not be
 * NUL-terminated; a '\n' or NUL inside s separates entries like a blank. */
int ldp_next(const char *s, size_t n, size_t *pos, struct ldp_entry *e);

/* Is the entry lib itself, or any copy of the shim — a path whose last
 * component is libhoptrace.so ("/opt/x/libhoptrace.so", "./libhoptrace.so";
 * a bare "libhoptrace.so" is not: ld.so would look it up elsewhere)? lib may
 * be NULL: copies only. */
int ldp_is_shim(const struct ldp_entry *e, const char *lib);

/* The length of line[0..ll) before its comment ('#'), ll when it has none. */
size_t ldp_uncommented(const char *line, size_t ll);

/* Does the list (a NUL-terminated LD_PRELOAD value, no comments) hold item exactly? */
int ldp_list_has(const char *list, const char *item);

/* Looks at the entries of the file text s[0..n), comments left out: *listed = 1 when one is lib exactly
 * (lib may be NULL), *other = 1 when one is another copy of the shim. Flags
 * already set stay set (call it line by line). */
void ldp_scan(const char *s, size_t n, const char *lib, int *listed, int *other);

/* The text of a preload file after enable (add = 1) or disable (add = 0):
 *   enable   every line kept byte for byte; when no entry is lib exactly, lib
 *            is added on a line of its own at the end (after a '\n' if the
 *            text does not end with one). Other copies of the shim stay.
 *   disable  every line without a copy of the shim kept byte for byte; a
 *            line that held only copies goes (with its line end); one that
 *            held other entries or a comment too keeps those, joined by
 *            single blanks, and ends with '\n'.
 * Entries in comments are not entries: enable adds lib when it is only in
 * a comment, disable leaves a comment that names it alone.
 * Returns 1 with *out (malloc()ed, NUL-terminated, *outlen bytes; the caller
 * frees it) when the text changes, 0 when it would not (*out NULL), -1 when
 * out of memory. */
int ldp_edit(const char *in, size_t len, const char *lib, int add, char **out,
	     size_t *outlen);

#endif
