/*
 * cmd_graph.c — `hoptrace graph --dot | --json`: the whole graph, as a
 * Graphviz digraph (chainfmt_dot) or the collector's JSON.
 */
#include "chainfmt.h"
#include "cli.h"

int cmd_graph(int argc, char **argv)
{
	struct ht_qreq r = {.op = HT_QOP_GRAPH};

	if (argc != 1)
		return cli_usage_err("usage: hoptrace graph --dot | --json%s", NULL);
	if (!cli_opt.dot && !cli_opt.json)
		return cli_usage_err("graph needs --dot (Graphviz) or --json%s", NULL);
	return cli_query(&r, chainfmt_dot);
}
