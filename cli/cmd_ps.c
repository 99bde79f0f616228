/*
 * cmd_ps.c — `hoptrace ps`: the processes the collector knows, alive or ended
 * within its retention window, as a table.
 */
#include "chainfmt.h"
#include "cli.h"

int cmd_ps(int argc, char **argv)
{
	cJSON *r;

	if (argc != 1)
		return cli_usage_err("%s takes no arguments", "ps");
	if (!(r = cli_req("ps")))
		return CLI_EX_FAIL;
	return cli_query(r, chainfmt_ps);
}
