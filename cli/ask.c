/*
 * ask.c — one question to the collector over its control socket (nng REQ/REP,
 * ctlclient.c; docs/query-protocol.md) and its answer printed. Why a question
 * failed decides the exit status: the collector unreachable (3), or it
 * answered ok:false or something unreadable (1).
 */
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "chainfmt.h"
#include "cli.h"
#include "ctlclient.h"

int cli_ask(cJSON *req, char **answer)
{
	char err[512];
	char *s = cJSON_PrintUnformatted(req);
	cJSON *ans;

	cJSON_Delete(req);
	*answer = NULL;
	if (!s) {
		fprintf(stderr, "%s: out of memory\n", CLI_PROG);
		return CLI_EX_FAIL;
	}
	if (ctl_request(cli_opt.control, s, answer, cli_opt.timeout_ms, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: cannot reach collector at %s: %s\n", CLI_PROG, cli_opt.control,
			err);
		free(s);
		return CLI_EX_UNREACH;
	}
	free(s);
	ans = cJSON_Parse(*answer);
	if (!cJSON_IsObject(ans)) {
		fprintf(stderr, "%s: the collector's answer is not a JSON object\n", CLI_PROG);
		goto fail;
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok"))) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(ans, "error");
		fprintf(stderr, "%s: collector: %s\n", CLI_PROG,
			cJSON_IsString(e) ? e->valuestring : "request failed (no error text)");
		if (cli_opt.json)
			printf("%s\n", *answer);
		goto fail;
	}
	cJSON_Delete(ans);
	return CLI_EX_OK;
fail:
	cJSON_Delete(ans);
	free(*answer);
	*answer = NULL;
	return CLI_EX_FAIL;
}

int cli_query(cJSON *req, cli_render_fn render)
{
	char *text = NULL;
	int rc = cli_ask(req, &text);

	if (rc != CLI_EX_OK)
		return rc;
	if (cli_opt.json || !render) {
		printf("%s\n", text);
	} else if (render(text, stdout) < 0) {
		fprintf(stderr, "%s: cannot read the collector's answer: %s\n", CLI_PROG,
			chainfmt_error());
		rc = CLI_EX_FAIL;
	}
	free(text);
	return rc;
}

cJSON *cli_req(const char *op)
{
	cJSON *r = cJSON_CreateObject();
	if (r)
		cJSON_AddStringToObject(r, "op", op);
	return r;
}
