/*
 * ini.h — the INI reader every hoptrace program uses for its config file
 * (/etc/hoptrace/hoptrace.conf). Syntax: "[section]", "key = value", comments
 * start with '#' or ';' at the beginning of a line or after whitespace; blank
 * lines ignored; values are trimmed; at most 1023 bytes a line.
 *
 * ini_parse() calls cb for every key in file order. cb returns 0 to go on, or
 * writes a reason into err and returns -1: parsing stops, and ini_parse returns
 * -1 with err = "FILE:LINE: reason". Syntax errors are reported the same way.
 * A missing file is -1 with "FILE: No such file or directory".
 */
#ifndef HOPTRACE_INI_H
#define HOPTRACE_INI_H

#include <stddef.h>

typedef int (*ini_cb)(void *ctx, const char *section, const char *key,
		      const char *value, char *err, size_t errlen);

int ini_parse(const char *path, ini_cb cb, void *ctx, char *err, size_t errlen);
int ini_parse_buf(const char *name, const char *buf, size_t len, ini_cb cb, void *ctx,
		  char *err, size_t errlen);

/* Value helpers: return 0, or -1 with a reason in err. */
int ini_bool(const char *v, int *out, char *err, size_t errlen);
int ini_uint(const char *v, unsigned long long max, unsigned long long *out, char *err,
	     size_t errlen);
/* Durations: "60", "60s", "500ms", "10m", "2h" -> milliseconds */
int ini_duration_ms(const char *v, unsigned long long *out, char *err, size_t errlen);

#define HT_CONF_DEFAULT "/etc/hoptrace/hoptrace.conf"

#endif
