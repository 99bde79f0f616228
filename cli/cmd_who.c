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
	struct ht_endpoint a, b;
	char la[HT_ENDPOINT_STRLEN], ra[HT_ENDPOINT_STRLEN];
	cJSON *r;

	if (argc != 3)
		return cli_usage_err("usage: hoptrace who LOCAL_IP:PORT REMOTE_IP:PORT%s", NULL);
	if (ht_endpoint_parse(argv[1], &a) < 0)
		return cli_usage_err("not an endpoint (IP:PORT or [IPv6]:PORT): %s", argv[1]);
	if (ht_endpoint_parse(argv[2], &b) < 0)
		return cli_usage_err("not an endpoint (IP:PORT or [IPv6]:PORT): %s", argv[2]);
	if (!(r = cli_req("who")))
		return CLI_EX_FAIL;
	cJSON_AddStringToObject(r, "local", ht_endpoint_format(&a, la, sizeof(la)));
	cJSON_AddStringToObject(r, "remote", ht_endpoint_format(&b, ra, sizeof(ra)));
	return cli_query(r, chainfmt_tree);
}
