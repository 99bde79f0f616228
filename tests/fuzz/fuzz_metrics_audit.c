/*
 * fuzz_metrics_audit.c — `hoptrace metrics` counting audit-log lines, and
 * rendering the counts with an arbitrary collector status answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_counts c = {0};
	metrics_audit_line(&c, (const char *)data, size);
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	FILE *f = fopen("/dev/null", "w");
	if (f) {
		metrics_write(f, s, &c, s);
		fclose(f);
	}
	free(s);
	return 0;
}
