/*
 * acl.c — the access list: parser and decision (include/hoptrace/acl.h, docs/policy.md).
 *
 * A list is parsed once into an array of rules; process names are resolved
 * through PATH and symlinks at load time, so deciding never touches the file
 * system and the parsed list is read-only afterwards (safe from many threads).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hoptrace/acl.h"

#define ACL_LINE_MAX 8191
#define ACL_FILE_MAX (16u << 20)

enum acl_mode { MODE_EVALUATE, MODE_ACCEPT, MODE_REJECT, MODE_DROP };

struct acl_addr {
	int any;
	int family; /* AF_INET / AF_INET6 */
	uint8_t addr[16];
	int plen;
};

struct acl_ports {
	uint16_t lo, hi;
};

struct acl_proc {
	int any;        /* "*" */
	char *name;     /* NULL for a bare sha256= entry */
	char sha256[65];/* "" when not pinned */
	size_t nres;
	char **res;     /* realpaths the name resolves to */
	char **resbase; /* their basenames (pointers into res) */
};

struct acl_rule {
	int line;
	struct acl_addr src, dst;
	struct acl_ports sport, dport;
	int white;
	int anyproc; /* white with empty list or "*": any process; black empty: none */
	size_t nprocs;
	struct acl_proc *procs;
	enum acl_verdict refuse;
};

struct acl_directive {
	enum acl_mode mode;
	int line; /* 0 = default */
};

struct acl {
	char name[256];
	size_t nrules;
	struct acl_rule *rules;
	struct acl_directive incomplete, kernel_only;
	enum acl_verdict deflt;
	int deflt_line;
};

/* ---- helpers ------------------------------------------------------------ */

const char *acl_verdict_str(enum acl_verdict v)
{
	switch (v) {
	case ACL_ACCEPT: return "accept";
	case ACL_REJECT: return "reject";
	case ACL_DROP: return "drop";
	}
	return "?";
}

int acl_verdict_parse(const char *s, enum acl_verdict *v)
{
	if (!strcmp(s, "accept")) *v = ACL_ACCEPT;
	else if (!strcmp(s, "reject")) *v = ACL_REJECT;
	else if (!strcmp(s, "drop")) *v = ACL_DROP;
	else return -1;
	return 0;
}

size_t acl_nrules(const struct acl *acl) { return acl ? acl->nrules : 0; }
const char *acl_name(const struct acl *acl) { return acl ? acl->name : ""; }

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
		     s[n - 1] == '\v' || s[n - 1] == '\f'))
		s[--n] = 0;
	return s;
}

/* Shortens a user-supplied token for an error message. */
static const char *tok(const char *s, char *buf, size_t n)
{
	size_t i, j = 0;
	for (i = 0; s[i] && j + 4 < n; i++)
		buf[j++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (s[i]) {
		buf[j++] = '.'; buf[j++] = '.'; buf[j++] = '.';
	}
	buf[j] = 0;
	return buf;
}

struct perr {
	char *reason;
	size_t n;
};

static int fail(struct perr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct perr *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->reason, e->n, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -2;
	}
	*out = v;
	return 0;
}

static void mask_addr(uint8_t *a, int plen, int bytes)
{
	for (int i = 0; i < bytes; i++) {
		int bits = plen - i * 8;
		if (bits >= 8)
			continue;
		a[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
}

static int parse_addr(const char *what, char *s, struct acl_addr *a, struct perr *e)
{
	char t[64];
	memset(a, 0, sizeof(*a));
	if (!*s)
		return fail(e, "empty %s IP", what);
	if (!strcmp(s, "*")) {
		a->any = 1;
		return 0;
	}
	char *slash = strchr(s, '/');
	if (slash)
		*slash = 0;
	char *h = s;
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h[hl - 1] = 0;
		h++;
	}
	if (inet_pton(AF_INET, h, a->addr) == 1) {
		a->family = AF_INET;
		a->plen = 32;
	} else if (inet_pton(AF_INET6, h, a->addr) == 1) {
		a->family = AF_INET6;
		a->plen = 128;
	} else {
		return fail(e, "bad %s IP '%s'", what, tok(h, t, sizeof t));
	}
	if (slash) {
		unsigned long p;
		int max = a->family == AF_INET ? 32 : 128;
		if (parse_uint(slash + 1, (unsigned long)max, &p) != 0)
			return fail(e, "bad CIDR prefix '/%s' for %s IP (0-%d)",
				    tok(slash + 1, t, sizeof t), what, max);
		a->plen = (int)p;
	}
	/* an IPv4-mapped IPv6 rule is an IPv4 rule */
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (a->family == AF_INET6 && !memcmp(a->addr, mapped, 12) && a->plen >= 96) {
		memmove(a->addr, a->addr + 12, 4);
		memset(a->addr + 4, 0, 12);
		a->family = AF_INET;
		a->plen -= 96;
	}
	mask_addr(a->addr, a->plen, a->family == AF_INET ? 4 : 16);
	return 0;
}

static int parse_ports(const char *what, char *s, struct acl_ports *p, struct perr *e)
{
	char t[64];
	unsigned long lo = 0, hi = 0;
	int r;
	if (!*s)
		return fail(e, "empty %s port", what);
	if (!strcmp(s, "*")) {
		p->lo = 0;
		p->hi = 65535;
		return 0;
	}
	char *dash = strchr(s, '-');
	if (dash) {
		*dash = 0;
		char *a = trim(s), *b = trim(dash + 1);
		int r1 = parse_uint(a, 65535, &lo), r2 = parse_uint(b, 65535, &hi);
		if (r1 == -2 || r2 == -2)
			return fail(e, "%s port out of range in '%s-%s' (0-65535)", what,
				    tok(a, t, 24), tok(b, t + 32, 24));
		if (r1 || r2)
			return fail(e, "bad %s port range '%s-%s'", what, tok(a, t, 24),
				    tok(b, t + 32, 24));
		if (lo > hi)
			return fail(e, "bad %s port range '%lu-%lu' (start above end)", what,
				    lo, hi);
	} else {
		r = parse_uint(s, 65535, &lo);
		if (r == -2)
			return fail(e, "%s port out of range '%s' (0-65535)", what,
				    tok(s, t, sizeof t));
		if (r)
			return fail(e, "bad %s port '%s'", what, tok(s, t, sizeof t));
		hi = lo;
	}
	p->lo = (uint16_t)lo;
	p->hi = (uint16_t)hi;
	return 0;
}

static int is_sha256(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isxdigit((unsigned char)s[n]))
			return 0;
	return n == 64;
}

static const char *base_of(const char *p)
{
	const char *b = strrchr(p, '/');
	return b ? b + 1 : p;
}

static int add_res(struct acl_proc *pr, const char *path)
{
	for (size_t i = 0; i < pr->nres; i++)
		if (!strcmp(pr->res[i], path))
			return 0;
	char **r = realloc(pr->res, (pr->nres + 1) * sizeof(*r));
	if (!r)
		return -1;
	pr->res = r;
	char **b = realloc(pr->resbase, (pr->nres + 1) * sizeof(*b));
	if (!b)
		return -1;
	pr->resbase = b;
	if (!(pr->res[pr->nres] = strdup(path)))
		return -1;
	pr->resbase[pr->nres] = (char *)base_of(pr->res[pr->nres]);
	pr->nres++;
	return 0;
}

/* Resolves a name as the shell would (PATH, then symlinks), plus the standard
 * directories, so a daemon with a short PATH still finds /usr/bin/nc. */
static int resolve_proc(struct acl_proc *pr)
{
	char buf[PATH_MAX], rp[PATH_MAX];
	if (strchr(pr->name, '/')) {
		if (realpath(pr->name, rp) && strcmp(rp, pr->name))
			return add_res(pr, rp);
		return 0;
	}
	static const char std[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	const char *env = getenv("PATH");
	for (int pass = 0; pass < 2; pass++) {
		const char *p = pass == 0 ? (env ? env : "") : std;
		while (*p) {
			const char *c = strchr(p, ':');
			size_t dl = c ? (size_t)(c - p) : strlen(p);
			if (dl > 0 && p[0] == '/' &&
			    (size_t)snprintf(buf, sizeof buf, "%.*s/%s", (int)dl, p, pr->name) <
				    sizeof buf &&
			    access(buf, X_OK) == 0 && realpath(buf, rp)) {
				struct stat st;
				if (stat(rp, &st) == 0 && S_ISREG(st.st_mode) && add_res(pr, rp))
					return -1;
			}
			p += dl;
			if (*p == ':')
				p++;
		}
	}
	return 0;
}

static void proc_free(struct acl_proc *pr)
{
	free(pr->name);
	for (size_t i = 0; i < pr->nres; i++)
		free(pr->res[i]);
	free(pr->res);
	free(pr->resbase);
}

static void rule_free(struct acl_rule *r)
{
	for (size_t i = 0; i < r->nprocs; i++)
		proc_free(&r->procs[i]);
	free(r->procs);
}

static int parse_proc(char *s, struct acl_proc *pr, struct perr *e)
{
	char t[80];
	memset(pr, 0, sizeof(*pr));
	if (!strcmp(s, "*")) {
		pr->any = 1;
		return 0;
	}
	char *hash = NULL;
	if (!strncmp(s, "sha256=", 7)) {
		hash = s + 7;
		s = NULL;
	} else {
		char *at = strchr(s, '@');
		if (at) {
			*at = 0;
			if (strncmp(at + 1, "sha256=", 7))
				return fail(e, "bad process entry '%s@%s' (expected NAME@sha256=HEX)",
					    tok(s, t, 32), tok(at + 1, t + 40, 32));
			hash = at + 1 + 7;
		}
	}
	if (hash) {
		if (!is_sha256(hash))
			return fail(e, "bad sha256 '%s' (expected 64 hex digits)",
				    tok(hash, t, sizeof t));
		for (int i = 0; i < 64; i++)
			pr->sha256[i] = (char)tolower((unsigned char)hash[i]);
		pr->sha256[64] = 0;
	}
	if (s) {
		if (!*s)
			return fail(e, "empty process name before '@'");
		for (const char *c = s; *c; c++)
			if (!isgraph((unsigned char)*c))
				return fail(e, "bad process name '%s'", tok(s, t, sizeof t));
		if (strlen(s) >= PATH_MAX)
			return fail(e, "process name too long");
		if (!(pr->name = strdup(s)) || resolve_proc(pr))
			return fail(e, "out of memory");
	}
	return 0;
}

static int parse_mode(const char *s, int allow_eval, enum acl_mode *m)
{
	if (!strcmp(s, "reject")) *m = MODE_REJECT;
	else if (!strcmp(s, "drop")) *m = MODE_DROP;
	else if (!strcmp(s, "accept")) *m = MODE_ACCEPT;
	else if (allow_eval && !strcmp(s, "evaluate")) *m = MODE_EVALUATE;
	else return -1;
	return 0;
}

static int parse_directive(struct acl *acl, char *s, int line, unsigned *seen, struct perr *e)
{
	char t[64];
	char *sp = s + strcspn(s, " \t");
	char *val = trim(sp);
	if (*sp) {
		*sp = 0;
		val = trim(sp + 1);
	}
	struct acl_directive *d = NULL;
	unsigned bit;
	if (!strcmp(s, "@incomplete")) {
		d = &acl->incomplete;
		bit = 1;
	} else if (!strcmp(s, "@kernel_only")) {
		d = &acl->kernel_only;
		bit = 2;
	} else if (!strcmp(s, "@default")) {
		bit = 4;
	} else {
		return fail(e, "unknown directive '%s' (expected @incomplete, @kernel_only or @default)",
			    tok(s, t, sizeof t));
	}
	if (*seen & bit)
		return fail(e, "duplicate directive %s", s);
	if (d) {
		if (parse_mode(val, 1, &d->mode))
			return fail(e, "bad value '%s' for %s (expected reject, drop, accept or evaluate)",
				    tok(val, t, sizeof t), s);
		d->line = line;
	} else {
		enum acl_verdict v;
		if (acl_verdict_parse(val, &v) || v == ACL_ACCEPT)
			return fail(e, "bad value '%s' for @default (expected reject or drop)",
				    tok(val, t, sizeof t));
		acl->deflt = v;
		acl->deflt_line = line;
	}
	*seen |= bit;
	return 0;
}

static int parse_rule(char *s, struct acl_rule *r, struct perr *e)
{
	char *f[8];
	int nf = 0;
	char t[64];
	memset(r, 0, sizeof(*r));
	for (char *p = s;; nf++) {
		char *c = strchr(p, ',');
		if (nf < 8)
			f[nf] = p;
		if (!c) {
			nf++;
			break;
		}
		*c = 0;
		p = c + 1;
	}
	if (nf != 6 && nf != 7)
		return fail(e, "expected 6 or 7 comma-separated fields (src ip, src port, dst ip, "
			       "dst port, white|black, processes[, reject|drop]), got %d", nf);
	for (int i = 0; i < nf; i++)
		f[i] = trim(f[i]);
	if (parse_addr("source", f[0], &r->src, e) || parse_ports("source", f[1], &r->sport, e) ||
	    parse_addr("destination", f[2], &r->dst, e) ||
	    parse_ports("destination", f[3], &r->dport, e))
		return -1;
	if (!strcmp(f[4], "white"))
		r->white = 1;
	else if (strcmp(f[4], "black"))
		return fail(e, "unknown list type '%s' (expected white or black)",
			    tok(f[4], t, sizeof t));
	r->refuse = ACL_REJECT;
	if (nf == 7) {
		if (acl_verdict_parse(f[6], &r->refuse) || r->refuse == ACL_ACCEPT)
			return fail(e, "unknown refusal verdict '%s' (expected reject or drop)",
				    tok(f[6], t, sizeof t));
	}
	/* the process list */
	size_t cap = 0;
	for (char *p = f[5]; p;) {
		char *c = strchr(p, ':');
		if (c)
			*c = 0;
		char *ent = trim(p);
		p = c ? c + 1 : NULL;
		if (!*ent)
			continue;
		if (r->nprocs == cap) {
			cap = cap ? cap * 2 : 4;
			struct acl_proc *np = realloc(r->procs, cap * sizeof(*np));
			if (!np)
				return fail(e, "out of memory");
			r->procs = np;
		}
		if (parse_proc(ent, &r->procs[r->nprocs], e)) {
			proc_free(&r->procs[r->nprocs]);
			return -1;
		}
		r->nprocs++;
	}
	if (r->white) {
		if (r->nprocs == 0)
			r->anyproc = 1;
		for (size_t i = 0; i < r->nprocs; i++)
			if (r->procs[i].any)
				r->anyproc = 1;
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------ */

static void add_err(struct acl_error *errs, size_t maxerr, size_t *cnt, const char *name,
		    int line, const char *reason)
{
	if (*cnt < maxerr && errs) {
		struct acl_error *x = &errs[*cnt];
		snprintf(x->file, sizeof x->file, "%s", name);
		x->line = line;
		snprintf(x->reason, sizeof x->reason, "%s", reason);
	}
	(*cnt)++;
}

void acl_free(struct acl *acl)
{
	if (!acl)
		return;
	for (size_t i = 0; i < acl->nrules; i++)
		rule_free(&acl->rules[i]);
	free(acl->rules);
	free(acl);
}

int acl_load_buf(const char *name, const char *buf, size_t len, struct acl **out,
		 struct acl_error *errs, size_t maxerr, size_t *nerr)
{
	size_t cnt = 0, cap = 0;
	unsigned seen = 0;
	char reason[160];
	struct perr e = {reason, sizeof reason};
	char *line = malloc(ACL_LINE_MAX + 1);
	struct acl *acl = calloc(1, sizeof(*acl));
	if (!name)
		name = "(buffer)";
	if (!line || !acl) {
		free(line);
		free(acl);
		add_err(errs, maxerr, &cnt, name, 0, "out of memory");
		if (nerr)
			*nerr = cnt;
		return -1;
	}
	snprintf(acl->name, sizeof acl->name, "%s", name);
	acl->incomplete.mode = MODE_REJECT;
	acl->kernel_only.mode = MODE_EVALUATE;
	acl->deflt = ACL_REJECT;

	size_t pos = 0;
	int lineno = 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		const char *lp = buf + pos;
		pos += ll + (nl ? 1 : 0);
		lineno++;
		/* the comment ends the line's content */
		const char *hash = memchr(lp, '#', ll);
		if (hash)
			ll = (size_t)(hash - lp);
		if (ll > ACL_LINE_MAX) {
			add_err(errs, maxerr, &cnt, name, lineno, "line too long (max 8191 bytes)");
			continue;
		}
		if (memchr(lp, 0, ll)) {
			add_err(errs, maxerr, &cnt, name, lineno, "NUL byte in line");
			continue;
		}
		memcpy(line, lp, ll);
		line[ll] = 0;
		char *s = trim(line);
		if (!*s)
			continue;
		if (*s == '@') {
			if (parse_directive(acl, s, lineno, &seen, &e))
				add_err(errs, maxerr, &cnt, name, lineno, reason);
			continue;
		}
		if (acl->nrules == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct acl_rule *nr = realloc(acl->rules, ncap * sizeof(*nr));
			if (!nr) {
				add_err(errs, maxerr, &cnt, name, lineno, "out of memory");
				break;
			}
			acl->rules = nr;
			cap = ncap;
		}
		struct acl_rule *r = &acl->rules[acl->nrules];
		if (parse_rule(s, r, &e)) {
			rule_free(r);
			add_err(errs, maxerr, &cnt, name, lineno, reason);
			continue;
		}
		r->line = lineno;
		acl->nrules++;
	}
	free(line);
	if (nerr)
		*nerr = cnt;
	if (cnt) {
		acl_free(acl);
		return -1;
	}
	*out = acl;
	return 0;
}

int acl_load(const char *path, struct acl **out, struct acl_error *errs, size_t maxerr,
	     size_t *nerr)
{
	size_t cnt = 0;
	char reason[160];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(reason, sizeof reason, "%s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(reason, sizeof reason, "not a regular file");
		goto fail;
	}
	if ((unsigned long long)st.st_size > ACL_FILE_MAX) {
		snprintf(reason, sizeof reason, "file too large (max %u bytes)", ACL_FILE_MAX);
		goto fail;
	}
	size_t sz = (size_t)st.st_size, got = 0;
	char *buf = malloc(sz + 1);
	if (!buf) {
		snprintf(reason, sizeof reason, "out of memory");
		goto fail;
	}
	while (got < sz) {
		ssize_t n = read(fd, buf + got, sz - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(reason, sizeof reason, "%s",
				 n < 0 ? strerror(errno) : "file shrank while reading");
			free(buf);
			goto fail;
		}
		got += (size_t)n;
	}
	close(fd);
	int r = acl_load_buf(path, buf, sz, out, errs, maxerr, nerr);
	free(buf);
	return r;
fail:
	if (fd >= 0)
		close(fd);
	add_err(errs, maxerr, &cnt, path, 0, reason);
	if (nerr)
		*nerr = cnt;
	return -1;
}

/* ---- deciding ----------------------------------------------------------- */

static int addr_match(const struct acl_addr *a, const struct ht_endpoint *ep)
{
	if (a->any)
		return 1;
	int fam = ep->family;
	const uint8_t *p = ep->addr;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (fam == AF_INET6 && !memcmp(p, mapped, 12)) {
		fam = AF_INET;
		p += 12;
	}
	if (fam != a->family)
		return 0;
	int full = a->plen / 8, rem = a->plen % 8;
	if (memcmp(p, a->addr, (size_t)full))
		return 0;
	if (rem && ((p[full] & (uint8_t)(0xff << (8 - rem))) != a->addr[full]))
		return 0;
	return 1;
}

static int port_match(const struct acl_ports *pr, const struct ht_endpoint *ep)
{
	if (pr->lo == 0 && pr->hi == 65535)
		return 1;
	if (!ep->family)
		return 0;
	return ep->port >= pr->lo && ep->port <= pr->hi;
}

static int proc_match(const struct acl_proc *e, const struct ht_chain_proc *p)
{
	if (e->any)
		return 1;
	if (e->name) {
		const char *exe = p->exe;
		if (!*exe)
			return 0;
		const char *b = base_of(exe);
		int ok = 0;
		if (!strcmp(exe, e->name) || (!strchr(e->name, '/') && !strcmp(b, e->name)))
			ok = 1;
		for (size_t i = 0; !ok && i < e->nres; i++)
			if (!strcmp(exe, e->res[i]) || !strcmp(b, e->resbase[i]))
				ok = 1;
		if (!ok)
			return 0;
	}
	if (e->sha256[0])
		return p->sha256[0] && !strcasecmp(p->sha256, e->sha256);
	return 1;
}

static int listed(const struct acl_rule *r, const struct ht_chain_proc *p)
{
	for (size_t i = 0; i < r->nprocs; i++)
		if (proc_match(&r->procs[i], p))
			return 1;
	return 0;
}

static void setwhy(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void setwhy(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
}

static const char *pname(const struct ht_chain_proc *p)
{
	return p->exe[0] ? base_of(p->exe) : "(unknown)";
}

static enum acl_verdict mode_verdict(enum acl_mode m)
{
	return m == MODE_ACCEPT ? ACL_ACCEPT : m == MODE_DROP ? ACL_DROP : ACL_REJECT;
}

static void where(const struct acl *acl, int line, char *b, size_t n)
{
	if (line)
		snprintf(b, n, "%s:%d", acl->name, line);
	else
		snprintf(b, n, "default");
}

static enum acl_verdict result(struct acl_result *res, enum acl_verdict v, enum acl_why why)
{
	res->verdict = v;
	res->why = why;
	return v;
}

static enum acl_verdict decide_one(const struct acl *acl, const struct ht_chain *c,
				   struct acl_result *res)
{
	char w[300];
	res->rule[0] = 0;
	if (!c->complete && acl->incomplete.mode != MODE_EVALUATE) {
		where(acl, acl->incomplete.line, w, sizeof w);
		setwhy(res->text, sizeof res->text, "chain incomplete (%s)", w);
		return result(res, mode_verdict(acl->incomplete.mode), ACL_WHY_INCOMPLETE);
	}
	int kern = c->fallback;
	for (size_t i = 0; !kern && i < c->nprocs; i++)
		kern = c->procs[i].kernel_only;
	if (kern && acl->kernel_only.mode != MODE_EVALUATE) {
		where(acl, acl->kernel_only.line, w, sizeof w);
		setwhy(res->text, sizeof res->text, "chain seen only by the kernel fallback (%s)", w);
		return result(res, mode_verdict(acl->kernel_only.mode), ACL_WHY_KERNEL_ONLY);
	}
	static const struct ht_endpoint unattested; /* family 0 */
	for (size_t i = 0; i < acl->nrules; i++) {
		const struct acl_rule *r = &acl->rules[i];
		/* a source only a record named matches only a rule's `*` */
		const struct ht_endpoint *src = c->src_unattested ? &unattested : &c->src;
		if (!addr_match(&r->src, src) || !port_match(&r->sport, src) ||
		    !addr_match(&r->dst, &c->dst) || !port_match(&r->dport, &c->dst))
			continue;
		snprintf(res->rule, sizeof res->rule, "%s:%d", acl->name, r->line);
		for (size_t j = 0; j < c->nprocs; j++) {
			const struct ht_chain_proc *p = &c->procs[j];
			if (r->white && !r->anyproc && !listed(r, p)) {
				setwhy(res->text, sizeof res->text, "process %s not in white list (%s)",
				       pname(p), res->rule);
				return result(res, r->refuse, ACL_WHY_NOT_WHITE);
			}
			if (!r->white && listed(r, p)) {
				setwhy(res->text, sizeof res->text, "process %s in black list (%s)",
				       pname(p), res->rule);
				return result(res, r->refuse, ACL_WHY_BLACK);
			}
		}
		setwhy(res->text, sizeof res->text, "%s", res->rule);
		return result(res, ACL_ACCEPT, ACL_WHY_RULE);
	}
	setwhy(res->text, sizeof res->text, "no matching rule");
	return result(res, acl->deflt, ACL_WHY_NO_MATCH);
}

enum acl_verdict acl_decide(const struct acl *acl, const struct ht_chainset *cs,
			    struct acl_result *res)
{
	res->rule[0] = 0;
	if (!acl) {
		setwhy(res->text, sizeof res->text, "no policy loaded");
		return result(res, ACL_REJECT, ACL_WHY_NO_POLICY);
	}
	if (!cs || cs->n == 0) {
		setwhy(res->text, sizeof res->text, "no chain");
		return result(res, acl->deflt, ACL_WHY_NO_CHAIN);
	}
	/* the first chain's result is the answer unless another is refused */
	struct acl_result one;
	for (size_t i = 0; i < cs->n; i++) {
		struct acl_result *r = i ? &one : res;
		enum acl_verdict v = decide_one(acl, &cs->v[i], r);
		if (v == ACL_ACCEPT)
			continue;
		if (cs->n > 1) {
			char t[sizeof r->text];
			memcpy(t, r->text, sizeof t);
			setwhy(r->text, sizeof r->text, "origin %s: %s",
			       cs->v[i].origin_host[0] ? cs->v[i].origin_host : "?", t);
		}
		if (r != res)
			*res = *r;
		return v;
	}
	return ACL_ACCEPT;
}
