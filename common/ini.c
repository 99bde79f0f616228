/*
 * ini.c — implements include/hoptrace/ini.h.
 *
 * Grammar, one line at a time (lines end with "\n"; a trailing "\r" is dropped):
 *   blank                      ignored
 *   [#;] ...                   comment (after optional leading whitespace)
 *   [ section ]                section name: non-empty, no '[' ']' '=' or
 *                              whitespace inside; may be followed by a comment.
 *                              A section may appear more than once: its keys
 *                              simply continue (the callback sees them all).
 *   key = value                key: [A-Za-z0-9_.-]+; value: everything after the
 *                              first '=', trimmed, up to a '#' or ';' that starts
 *                              a comment (one preceded by whitespace). The value
 *                              may be empty and may contain '='.
 * Keys before any section have section "".
 * Errors: a line longer than 1023 bytes, a NUL byte, and anything else are
 * reported as "NAME:LINE: reason". Files larger than INI_MAX_FILE are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hoptrace/ini.h"

#define INI_LINE_MAX 1023
#define INI_MAX_FILE (4u << 20)

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int is_keych(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* Cuts a comment: '#' or ';' at position 0 or after whitespace. */
static void cut_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if ((*p == '#' || *p == ';') && (p == s || is_ws(p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

static char *trim(char *s)
{
	char *e;
	while (is_ws(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_ws(e[-1]))
		*--e = '\0';
	return s;
}

/* Parses one line (NUL-terminated, already checked for length); returns 0 or -1
 * with a reason in why. */
static int parse_line(char *line, char *section, size_t seclen, ini_cb cb, void *ctx,
		      char *why, size_t whylen)
{
	char *s = trim(line);

	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');
		char *name, *rest;
		if (!close) {
			seterr(why, whylen, "missing ']' in section header");
			return -1;
		}
		*close = '\0';
		rest = close + 1;
		cut_comment(rest);
		if (*trim(rest) != '\0') {
			seterr(why, whylen, "unexpected text after section header");
			return -1;
		}
		name = trim(s + 1);
		if (*name == '\0') {
			seterr(why, whylen, "empty section name");
			return -1;
		}
		for (char *p = name; *p; p++) {
			if (is_ws(*p) || *p == '[' || *p == '=' || (unsigned char)*p < 0x20 ||
			    *p == 0x7f) {
				seterr(why, whylen, "invalid character in section name");
				return -1;
			}
		}
		if (strlen(name) >= seclen) {
			seterr(why, whylen, "section name too long");
			return -1;
		}
		strcpy(section, name);
		return 0;
	}

	char *eq = strchr(s, '=');
	if (!eq) {
		seterr(why, whylen, "expected 'key = value' or '[section]'");
		return -1;
	}
	*eq = '\0';
	char *key = trim(s);
	char *val = eq + 1;
	if (*key == '\0') {
		seterr(why, whylen, "missing key before '='");
		return -1;
	}
	for (char *p = key; *p; p++) {
		if (!is_keych(*p)) {
			seterr(why, whylen, "invalid character in key '%.64s'", key);
			return -1;
		}
	}
	/* a comment may start right after '=' ("key =# c" is an empty value) */
	while (is_ws(*val))
		val++;
	if (*val == '#' || *val == ';')
		*val = '\0';
	cut_comment(val);
	val = trim(val);

	if (why && whylen)
		why[0] = '\0';
	if (cb(ctx, section, key, val, why, whylen) != 0) {
		if (why && whylen && why[0] == '\0')
			seterr(why, whylen, "invalid value for '%.64s'", key);
		return -1;
	}
	return 0;
}

int ini_parse_buf(const char *name, const char *buf, size_t len, ini_cb cb, void *ctx,
		  char *err, size_t errlen)
{
	char line[INI_LINE_MAX + 2];
	char section[INI_LINE_MAX + 1] = "";
	char why[512];
	size_t pos = 0;
	unsigned long lineno = 0;

	if (!name)
		name = "(buffer)";
	if (err && errlen)
		err[0] = '\0';
	while (pos < len) {
		const char *start = buf + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;

		lineno++;
		pos += n + (nl ? 1 : 0);
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > INI_LINE_MAX) {
			seterr(err, errlen, "%s:%lu: line too long (more than %d bytes)", name,
			       lineno, INI_LINE_MAX);
			return -1;
		}
		if (memchr(start, '\0', n)) {
			seterr(err, errlen, "%s:%lu: NUL byte in line", name, lineno);
			return -1;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		why[0] = '\0';
		if (parse_line(line, section, sizeof(section), cb, ctx, why, sizeof(why)) != 0) {
			seterr(err, errlen, "%s:%lu: %s", name, lineno, why);
			return -1;
		}
	}
	return 0;
}

int ini_parse(const char *path, ini_cb cb, void *ctx, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	int fd, rc;

	if (err && errlen)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		seterr(err, errlen, "%s: %s", path, strerror(EISDIR));
		close(fd);
		return -1;
	}
	cap = S_ISREG(st.st_mode) && st.st_size > 0 && (size_t)st.st_size < INI_MAX_FILE
		      ? (size_t)st.st_size + 1
		      : 4096;
	buf = malloc(cap);
	if (!buf) {
		seterr(err, errlen, "%s: %s", path, strerror(ENOMEM));
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r;
		if (len == cap) {
			char *nb;
			if (cap >= INI_MAX_FILE) {
				seterr(err, errlen, "%s: file too large (more than %u bytes)", path,
				       INI_MAX_FILE);
				free(buf);
				close(fd);
				return -1;
			}
			cap = cap * 2 > INI_MAX_FILE ? INI_MAX_FILE : cap * 2;
			nb = realloc(buf, cap);
			if (!nb) {
				seterr(err, errlen, "%s: %s", path, strerror(ENOMEM));
				free(buf);
				close(fd);
				return -1;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			seterr(err, errlen, "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	rc = ini_parse_buf(path, buf, len, cb, ctx, err, errlen);
	free(buf);
	return rc;
}

/* ---- value helpers ------------------------------------------------------ */

int ini_bool(const char *v, int *out, char *err, size_t errlen)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};
	if (!v)
		v = "";
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	seterr(err, errlen, "'%.64s' is not a boolean (yes/no, true/false, on/off, 1/0)", v);
	return -1;
}

/* decimal digits only; returns the number of digits consumed, -1 on overflow */
static int parse_digits(const char *v, unsigned long long *out)
{
	unsigned long long n = 0;
	int i = 0;
	for (; v[i] >= '0' && v[i] <= '9'; i++) {
		unsigned d = (unsigned)(v[i] - '0');
		if (n > (ULLONG_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*out = n;
	return i;
}

int ini_uint(const char *v, unsigned long long max, unsigned long long *out, char *err,
	     size_t errlen)
{
	unsigned long long n;
	int k;
	if (!v)
		v = "";
	k = parse_digits(v, &n);
	if (k < 0 || (k > 0 && v[k] == '\0' && n > max)) {
		seterr(err, errlen, "'%.64s' is too large (at most %llu)", v, max);
		return -1;
	}
	if (k == 0 || v[k] != '\0') {
		seterr(err, errlen, "'%.64s' is not a non-negative integer", v);
		return -1;
	}
	*out = n;
	return 0;
}

int ini_duration_ms(const char *v, unsigned long long *out, char *err, size_t errlen)
{
	unsigned long long n, mult;
	const char *u;
	int k;
	if (!v)
		v = "";
	k = parse_digits(v, &n);
	if (k < 0) {
		seterr(err, errlen, "'%.64s' is too large", v);
		return -1;
	}
	if (k == 0) {
		seterr(err, errlen, "'%.64s' is not a duration (e.g. 60, 60s, 500ms, 10m, 2h)", v);
		return -1;
	}
	u = v + k;
	if (*u == '\0' || strcmp(u, "s") == 0)
		mult = 1000;
	else if (strcmp(u, "ms") == 0)
		mult = 1;
	else if (strcmp(u, "m") == 0)
		mult = 60ULL * 1000;
	else if (strcmp(u, "h") == 0)
		mult = 3600ULL * 1000;
	else {
		seterr(err, errlen, "'%.64s' is not a duration (e.g. 60, 60s, 500ms, 10m, 2h)", v);
		return -1;
	}
	if (n > ULLONG_MAX / mult) {
		seterr(err, errlen, "'%.64s' is too large", v);
		return -1;
	}
	*out = n * mult;
	return 0;
}
