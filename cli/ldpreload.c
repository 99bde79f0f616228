/*
 * ldpreload.c — implements ldpreload.h: the preload list's tokenizer and the
 * edit `hoptrace enable` / `disable` make of /etc/ld.so.preload.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ldpreload.h"

static int is_sep(char c)
{
	return c == ' ' || c == '\t' || c == ':' || c == '\n' || c == '\0';
}

int ldp_next(const char *s, size_t n, size_t *pos, struct ldp_entry *e)
{
	size_t i = *pos, start;

	while (i < n && is_sep(s[i]))
		i++;
	if (i >= n) {
		*pos = n;
		return 0;
	}
	for (start = i; i < n && !is_sep(s[i]); i++)
		;
	e->p = s + start;
	e->len = i - start;
	*pos = i;
	return 1;
}

static int is_exactly(const struct ldp_entry *e, const char *s)
{
	return s && e->len == strlen(s) && memcmp(e->p, s, e->len) == 0;
}

int ldp_is_shim(const struct ldp_entry *e, const char *lib)
{
	size_t nl = strlen(CLI_SHIM_NAME);

	if (is_exactly(e, lib))
		return 1;
	/* any copy of the shim, wherever installed (a build tree, another prefix) */
	return e->len > nl && e->p[e->len - nl - 1] == '/' &&
	       memcmp(e->p + e->len - nl, CLI_SHIM_NAME, nl) == 0;
}

int ldp_list_has(const char *list, const char *item)
{
	struct ldp_entry e;
	size_t pos = 0, n = list ? strlen(list) : 0;

	while (ldp_next(list, n, &pos, &e))
		if (is_exactly(&e, item))
			return 1;
	return 0;
}

size_t ldp_uncommented(const char *line, size_t ll)
{
	const char *h = memchr(line, '#', ll);
	return h ? (size_t)(h - line) : ll;
}

/* The line at s[pos..n): its length up to its '\n' or NUL (or the end). */
static size_t line_len(const char *s, size_t n, size_t pos)
{
	size_t i = pos;

	while (i < n && s[i] != '\n' && s[i] != '\0')
		i++;
	return i - pos;
}

void ldp_scan(const char *s, size_t n, const char *lib, int *listed, int *other)
{
	struct ldp_entry e;

	for (size_t at = 0; at < n;) {
		size_t ll = line_len(s, n, at), pos = 0, act = ldp_uncommented(s + at, ll);
		while (ldp_next(s + at, act, &pos, &e)) {
			if (is_exactly(&e, lib))
				*listed = 1;
			else if (ldp_is_shim(&e, lib))
				*other = 1;
		}
		at += ll + 1;
	}
}

/* ---- the edit ------------------------------------------------------------------ */

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

/* Appends (NUL-terminated); a failure is remembered in b->oom. */
static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		char *q;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(q = realloc(b->p, cap))) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* The entries of line[0..act) that are not the shim, joined by blanks, then
 * the line's comment (line[act..ll), when it has one), and '\n'. */
static void keep_others(struct buf *b, const char *line, size_t act, size_t ll, const char *lib)
{
	struct ldp_entry e;
	size_t pos = 0;
	int first = 1;

	while (ldp_next(line, act, &pos, &e)) {
		if (ldp_is_shim(&e, lib))
			continue;
		if (!first)
			buf_add(b, " ", 1);
		buf_add(b, e.p, e.len);
		first = 0;
	}
	if (act < ll) {
		if (!first)
			buf_add(b, " ", 1);
		buf_add(b, line + act, ll - act);
	}
	buf_add(b, "\n", 1);
}

int ldp_edit(const char *in, size_t len, const char *lib, int add, char **out,
	     size_t *outlen)
{
	struct buf b = {0};
	int found = 0, changed = 0;

	*out = NULL;
	*outlen = 0;
	for (size_t pos = 0; pos < len;) {
		const char *line = in + pos;
		size_t ll = line_len(in, len, pos), lpos = 0;
		size_t act = ldp_uncommented(line, ll); /* ld.so reads no further */
		size_t end = ll + (pos + ll < len); /* with its line end */
		int ours = 0, others = 0;
		struct ldp_entry e;

		while (ldp_next(line, act, &lpos, &e)) {
			found |= is_exactly(&e, lib);
			if (ldp_is_shim(&e, lib))
				ours++;
			else
				others++;
		}
		if (add || !ours) {
			buf_add(&b, line, end);
		} else {
			changed = 1;
			if (others || act < ll) /* keep the other entries, and a comment */
				keep_others(&b, line, act, ll, lib);
		}
		pos += end;
	}
	if (add && !found) {
		if (b.len && b.p[b.len - 1] != '\n')
			buf_add(&b, "\n", 1);
		buf_add(&b, lib, strlen(lib));
		buf_add(&b, "\n", 1);
		changed = 1;
	}
	if (b.oom || !changed) {
		free(b.p);
		return b.oom ? -1 : 0;
	}
	if (!b.p) /* a disable that leaves nothing */
		b.p = calloc(1, 1);
	if (!b.p)
		return -1;
	*out = b.p;
	*outlen = b.len;
	return 1;
}
