/*
 * ask.c — one question to the collector over its control socket (nng REQ/REP,
 * ctlclient.c; docs/query-protocol.md) and its answer printed. The request is
 * built by the codec (ht_qreq_build), the answer's head read by it
 * (ht_qhead_parse), and what went wrong is an enum ht_qerr: the exit status
 * follows from the code, never from a message's text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chainfmt.h"
#include "cli.h"
#include "ctlclient.h"

int cli_exit_status(enum ht_qerr e)
{
	switch (e) {
	case HT_QE_OK:
		return CLI_EX_OK;
	case HT_QE_UNREACHABLE: /* this side of the transport: nobody to ask */
	case HT_QE_NOT_ROOT:
	case HT_QE_TIMEOUT:
	case HT_QE_CLOSED:
		return CLI_EX_UNREACH;
	default: /* the collector answered ok:false (no_conn, no_proc, ...), or garbage */
		return CLI_EX_FAIL;
	}
}

/* The answer, whole, must be a JSON object (as before the codec: --json
 * prints only what parses); its head (ht_qhead_parse) says whether it is ok
 * and, if not, its code and text. A head without a readable "ok" (one that is
 * not true or false) is a failure without text, as it always was. */
static enum ht_qerr read_answer(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	struct ht_qhead h;
	enum ht_qerr e;
	int obj = cJSON_IsObject(j);

	cJSON_Delete(j);
	if (!obj) {
		fprintf(stderr, "%s: the collector's answer is not a JSON object\n", CLI_PROG);
		return HT_QE_BAD_ANSWER;
	}
	if ((e = ht_qhead_parse(text, strlen(text), &h)) == HT_QE_OK && h.ok)
		return HT_QE_OK;
	fprintf(stderr, "%s: collector: %s\n", CLI_PROG,
		e == HT_QE_OK && h.text[0] ? h.text : "request failed (no error text)");
	if (cli_opt.json)
		printf("%s\n", text);
	if (e != HT_QE_OK)
		return e;
	return h.code != HT_QE_OK ? h.code : HT_QE_OTHER;
}

int cli_ask(const struct ht_qreq *req, char **answer, enum ht_qerr *code)
{
	char text[HT_QUERY_MAX], err[512];
	enum ht_qerr e;

	*answer = NULL;
	if (ht_qreq_build(text, sizeof(text), req) < 0) {
		fprintf(stderr, "%s: cannot build the %s request\n", CLI_PROG, ht_qop_name(req->op));
		e = HT_QE_BAD_REQUEST;
	} else if ((e = ctl_request(cli_opt.control, text, answer, cli_opt.timeout_ms, err,
				    sizeof(err))) != HT_QE_OK) {
		fprintf(stderr, "%s: cannot reach collector at %s: %s\n", CLI_PROG, cli_opt.control,
			err);
	} else if ((e = read_answer(*answer)) != HT_QE_OK) {
		free(*answer);
		*answer = NULL;
	}
	if (code)
		*code = e;
	return cli_exit_status(e);
}

int cli_query(const struct ht_qreq *req, cli_render_fn render)
{
	char *text = NULL;
	int rc = cli_ask(req, &text, NULL);

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
