/* fuzz_ini.c — libFuzzer target for ini_parse_buf and the value helpers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hoptrace/ini.h"

static int accept_all(void *ctx, const char *section, const char *key, const char *value,
		      char *err, size_t errlen)
{
	unsigned long long u;
	int b;
	char e[128];
	size_t *n = ctx;
	(void)err;
	(void)errlen;
	/* touch every byte so ASan sees any overrun */
	*n += strlen(section) + strlen(key) + strlen(value);
	(void)ini_bool(value, &b, e, sizeof(e));
	(void)ini_uint(value, 1000000, &u, e, sizeof(e));
	(void)ini_duration_ms(value, &u, e, sizeof(e));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	size_t n = 0;
	(void)ini_parse_buf("fuzz", (const char *)data, size, accept_all, &n, err, sizeof(err));
	(void)ini_parse_buf("fuzz", (const char *)data, size, accept_all, &n, err, 7);
	return 0;
}
