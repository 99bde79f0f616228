/*
 * query.c — the query protocol's codec (include/hoptrace/query.h): the error
 * and operation tables. Every part names an error by its code and shows it by
 * ht_qerr_text(); the wire carries both ("code", "error").
 */
#include <string.h>

#include "hoptrace/query.h"

static const struct {
	const char *name, *text;
	int incomplete;
} qerr[HT_QE_COUNT] = {
	[HT_QE_OK] = {"ok", "ok", 0},
	[HT_QE_BAD_REQUEST] = {"bad_request", "bad request", 0},
	[HT_QE_NO_CONN] = {"no_conn", "no such TCP connection on this host", 0},
	[HT_QE_NO_HOLDER] = {"no_holder", "no process holds that connection's socket", 0},
	[HT_QE_NO_PROC] = {"no_proc", "no such process on this host", 0},
	[HT_QE_TOO_LARGE] = {"too_large", "answer too large", 1},
	[HT_QE_TOO_MANY_CHAINS] = {"too_many_chains", "answer has too many chains", 1},
	[HT_QE_PUSHED] = {"pushed", "pushed", 0},
	[HT_QE_NO_MEMORY] = {"no_memory", "out of memory", 0},
	[HT_QE_OTHER] = {"other", "collector error", 0},
	[HT_QE_UNREACHABLE] = {"unreachable", "collector unreachable", 0},
	[HT_QE_NOT_ROOT] = {"not_root", "collector socket not served by root", 0},
	[HT_QE_TIMEOUT] = {"timeout", "no answer from collector in time", 0},
	[HT_QE_CLOSED] = {"closed", "collector closed the connection", 0},
	[HT_QE_BAD_ANSWER] = {"bad_answer", "bad answer", 0},
};

static const char *const qop[HT_QOP_COUNT] = {
	[HT_QOP_NONE] = "",
	[HT_QOP_WHO] = "who",
	[HT_QOP_CHAIN] = "chain",
	[HT_QOP_PS] = "ps",
	[HT_QOP_GRAPH] = "graph",
	[HT_QOP_STATUS] = "status",
	[HT_QOP_SUBSCRIBE] = "subscribe",
	[HT_QOP_BOUND] = "bound",
};

const char *ht_qerr_name(enum ht_qerr e)
{
	return (unsigned)e < HT_QE_COUNT ? qerr[e].name : qerr[HT_QE_OTHER].name;
}

const char *ht_qerr_text(enum ht_qerr e)
{
	return (unsigned)e < HT_QE_COUNT ? qerr[e].text : qerr[HT_QE_OTHER].text;
}

enum ht_qerr ht_qerr_from_name(const char *name, size_t len)
{
	if (!name)
		return HT_QE_OTHER;
	for (unsigned i = 1; i < HT_QE_COUNT; i++)
		if (strlen(qerr[i].name) == len && !memcmp(qerr[i].name, name, len))
			return (enum ht_qerr)i;
	return HT_QE_OTHER;
}

int ht_qerr_incomplete(enum ht_qerr e)
{
	return (unsigned)e < HT_QE_COUNT && qerr[e].incomplete;
}

const char *ht_qop_name(enum ht_qop op)
{
	return (unsigned)op < HT_QOP_COUNT ? qop[op] : "";
}

enum ht_qop ht_qop_from_name(const char *name, size_t len)
{
	if (!name)
		return HT_QOP_NONE;
	for (unsigned i = 1; i < HT_QOP_COUNT; i++)
		if (strlen(qop[i]) == len && !memcmp(qop[i], name, len))
			return (enum ht_qop)i;
	return HT_QOP_NONE;
}
