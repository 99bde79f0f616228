/*
 * cmd_kev.c — `hoptrace kev-dump`: the kernel event source's recent events
 * (docs/collector.md "Kernel events"), oldest first, one line each:
 *   TYPE pid=N [KEY=VALUE ...]
 * with --json the collector's answer as it is. Root only, as every query.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static int render(const char *json, FILE *out)
{
	cJSON *root = cJSON_Parse(json), *ev, *arr, *f;
	if (!root)
		return -1;
	arr = cJSON_GetObjectItemCaseSensitive(root, "events");
	cJSON_ArrayForEach(ev, arr) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
		fprintf(out, "%s", cJSON_IsString(t) ? t->valuestring : "?");
		cJSON_ArrayForEach(f, ev) {
			if (!f->string || !strcmp(f->string, "type"))
				continue;
			if (cJSON_IsString(f))
				fprintf(out, " %s=%s", f->string, f->valuestring);
			else if (cJSON_IsNumber(f))
				fprintf(out, " %s=%.0f", f->string, f->valuedouble);
		}
		fputc('\n', out);
	}
	cJSON_Delete(root);
	return 0;
}

int cmd_kev_dump(int argc, char **argv)
{
	struct ht_qreq r = {.op = HT_QOP_KEVENTS};

	if (argc != 1)
		return cli_usage_err("%s takes no arguments", "kev-dump");
	return cli_query(&r, render);
}
