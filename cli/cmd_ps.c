/*
 * cmd_ps.c — `hoptrace ps`: the processes the collector knows, alive or ended
 * within its retention window, as a table.
 */
#include "chainfmt.h"
#include "cli.h"

int cmd_ps(int argc, char **argv)
{
	struct ht_qreq r = {.op = HT_QOP_PS};

	if (argc != 1)
		return cli_usage_err("%s takes no arguments", "ps");
	return cli_query(&r, chainfmt_ps);
}
