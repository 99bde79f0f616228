/*
 * cmd_ca.c — `hoptrace ca ...` (cli.h): the fleet's certificate authority, a directory
 * on the machine that keeps the CA key (docs/fleet.md). All the work is common/pki.c's.
 *
 *   hoptrace ca init DIR [--days N]              a new CA (default 3650 days)
 *   hoptrace ca issue DIR HOST ADDR... [--days N] [--out D]
 *       HOST.crt/.key (TLS) and HOST.sign.crt/.sign.key (chain parts), naming HOST and
 *       every ADDR, into DIR (or D); default 397 days
 *   hoptrace ca revoke DIR [HOST|CERT...] [--days N]
 *       revokes, and rewrites DIR/crl.pem (nextUpdate N days ahead, default 365);
 *       with no HOST or CERT it only refreshes crl.pem
 *   hoptrace ca list DIR                         the CA, the CRL, every certificate issued
 *
 * Exit status: 0 ok, 1 the operation failed (the reason on stderr), 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hoptrace/pki.h"
#include "cli.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: hoptrace ca init DIR [--days N]\n"
		"       hoptrace ca issue DIR HOST ADDR... [--days N] [--out D]\n"
		"       hoptrace ca revoke DIR [HOST|CERT...] [--days N]\n"
		"       hoptrace ca list DIR\n");
	return CLI_EX_USAGE;
}

enum { O_DAYS = 256, O_OUT };

static const struct option ca_longopts[] = {
	{"days", required_argument, NULL, O_DAYS},
	{"out", required_argument, NULL, O_OUT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_ca(int argc, char **argv)
{
	char err[PKI_PATH_MAX + 256] = "";
	const char *out = NULL, *what;
	int days = -1, c, rv;
	char **w;
	int nw = 0;

	if (argc < 2)
		return usage();
	what = argv[1];
	if (!(w = calloc((size_t)argc, sizeof *w)))
		return CLI_EX_FAIL;
	optind = 0;
	opterr = 0;
	/* permute: options anywhere after `ca WHAT` */
	while ((c = getopt_long(argc - 1, argv + 1, "-:h", ca_longopts, NULL)) != -1) {
		switch (c) {
		case 1:
			w[nw++] = optarg;
			break;
		case O_DAYS: {
			char *end;
			long d = strtol(optarg, &end, 10);
			if (*end || end == optarg || d < 1 || d > 36500) {
				fprintf(stderr, "hoptrace ca: bad --days (1 to 36500): %s\n", optarg);
				free(w);
				return CLI_EX_USAGE;
			}
			days = (int)d;
			break;
		}
		case O_OUT:
			if (!*optarg) {
				free(w);
				return usage();
			}
			out = optarg;
			break;
		case 'h':
			free(w);
			usage();
			return CLI_EX_OK;
		case ':':
			fprintf(stderr, "hoptrace ca: option needs an argument: %s\n", argv[1 + optind - 1]);
			free(w);
			return CLI_EX_USAGE;
		default:
			fprintf(stderr, "hoptrace ca: unknown option: %s\n", argv[1 + optind - 1]);
			free(w);
			return CLI_EX_USAGE;
		}
	}
	while (optind < argc - 1) /* after "--" */
		w[nw++] = argv[1 + optind++];

	if (!strcmp(what, "init") && nw == 1 && !out) {
		rv = pki_ca_init(w[0], days > 0 ? days : PKI_DAYS_CA, err, sizeof err);
		if (!rv)
			printf("CA in %s: ca.crt (copy to every host), ca.key (keep here, 0600), "
			       "crl.pem\n", w[0]);
	} else if (!strcmp(what, "issue") && nw >= 3) {
		rv = pki_issue(w[0], w[1], w + 2, nw - 2, days > 0 ? days : PKI_DAYS_HOST, out, err,
			       sizeof err);
		if (!rv)
			printf("%s/%s.crt %s.key (TLS), %s.sign.crt %s.sign.key (chain parts): "
			       "install as /etc/hoptrace/fleet/host.crt host.key host.sign.crt "
			       "host.sign.key\n",
			       out ? out : w[0], w[1], w[1], w[1], w[1]);
	} else if (!strcmp(what, "revoke") && nw >= 1 && !out) {
		rv = pki_revoke(w[0], w + 1, nw - 1, days > 0 ? days : PKI_CRL_DAYS, stdout, err,
				sizeof err);
	} else if (!strcmp(what, "list") && nw == 1 && !out && days < 0) {
		rv = pki_ca_list(w[0], stdout, err, sizeof err);
	} else {
		free(w);
		return usage();
	}
	free(w);
	if (rv) {
		fprintf(stderr, "hoptrace ca %s: %s\n", what, err[0] ? err : "failed");
		return CLI_EX_FAIL;
	}
	return CLI_EX_OK;
}
