/*
 * cmd_chain.c — `hoptrace chain PID`: the chain behind process PID, as if it
 * sent a SYN now (the collector's "chain" query).
 */
#include <errno.h>
#include <stdlib.h>

#include "chainfmt.h"
#include "cli.h"

int cmd_chain(int argc, char **argv)
{
	struct ht_qreq r = {.op = HT_QOP_CHAIN};
	char *end;
	long pid;

	if (argc != 2)
		return cli_usage_err("usage: hoptrace chain PID%s", NULL);
	errno = 0;
	pid = strtol(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || pid <= 0 || pid > HT_QPID_MAX)
		return cli_usage_err("not a process id: %s", argv[1]);
	r.pid = pid;
	return cli_query(&r, chainfmt_tree);
}
