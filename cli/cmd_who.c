/*
 * cmd_who.c — `hoptrace who LOCAL_IP:PORT REMOTE_IP:PORT`: the chain behind
 * the TCP connection whose end on this host is LOCAL (the "who" query the
 * guard asks per SYN).
 */
#include "hoptrace/chain.h"
#include "chainfmt.h"
#include "cli.h"

int cmd_who(int argc, char **argv)
{
	struct ht_qreq r = {.op = HT_QOP_WHO};
	struct ht_endpoint a, b;

	if (argc != 3)
		return cli_usage_err("usage: hoptrace who LOCAL_IP:PORT REMOTE_IP:PORT%s", NULL);
	if (ht_endpoint_parse(argv[1], &a) < 0)
		return cli_usage_err("not an endpoint (IP:PORT or [IPv6]:PORT): %s", argv[1]);
	if (ht_endpoint_parse(argv[2], &b) < 0)
		return cli_usage_err("not an endpoint (IP:PORT or [IPv6]:PORT): %s", argv[2]);
	ht_endpoint_format(&a, r.local, sizeof(r.local));
	ht_endpoint_format(&b, r.remote, sizeof(r.remote));
	return cli_query(&r, chainfmt_tree);
}
