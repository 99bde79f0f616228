/*
 * cli/main.c (hoptrace) — the `hoptrace` CLI's dispatcher: the global options,
 * the table of subcommands (one cmd_*.c each, cli.h) and the usage built from
 * it. The subcommands ask the local collector (nng REQ over the control
 * socket, docs/query-protocol.md) and print the answers, read the audit log,
 * check policies, and opt a shell or the whole system in to the shim.
 *
 * Exit status: 0 ok, 1 the collector answered ok:false (or a local operation
 * failed), 2 usage or configuration error, 3 the collector is unreachable.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hoptrace/ini.h"
#include "cli.h"

static int cmd_help(int argc, char **argv);

enum {
	CMD_CONF = 1,     /* reads the configuration file first */
	CMD_OWN_ARGS = 2, /* parses its own options (log has its own -f) */
};

/* The subcommands, in the order the usage lists them; help is the usage's
 * text for one ('\n' starts a continuation line, indented under the first). */
static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	int flags;
	const char *synopsis; /* NULL: not listed in the usage */
	const char *help;
} commands[] = {
	{"chain", cmd_chain, CMD_CONF, "chain PID", "the chain behind process PID"},
	{"who", cmd_who, CMD_CONF, "who LOCAL_IP:PORT REMOTE_IP:PORT",
	 "the chain behind a TCP connection"},
	{"ps", cmd_ps, CMD_CONF, "ps", "processes the collector knows"},
	{"graph", cmd_graph, CMD_CONF, "graph --dot", "the whole graph, as Graphviz dot"},
	{"status", cmd_status, CMD_CONF, "status",
	 "the collector's counters and which\nrunning processes carry the shim"},
	{"kev-dump", cmd_kev_dump, CMD_CONF, "kev-dump",
	 "the kernel events the collector read\nlately (kernel_events, root only)"},
	{"metrics", cmd_metrics, CMD_CONF, "metrics [--output FILE]",
	 "the counters in Prometheus text format"},
	{"env", cmd_env, 0, "env", "shell lines that opt a shell in:\neval \"$(hoptrace env)\""},
	{"enable", cmd_enable, 0, "enable [--preload-file FILE]",
	 "check that the shim loads, then add it\nto /etc/ld.so.preload"},
	{"disable", cmd_disable, 0, "disable [--preload-file FILE]",
	 "remove it from /etc/ld.so.preload"},
	{"log", cmd_log, CMD_CONF | CMD_OWN_ARGS, "log [-f] [FILE]",
	 "show the decision log (default: the\nconfiguration's audit_log)"},
	{"policy", cmd_policy, CMD_OWN_ARGS, "policy check FILE", "check an access list"},
	{"ca", cmd_ca, CMD_OWN_ARGS, "ca init|issue|revoke|list DIR",
	 "the fleet's CA (docs/fleet.md); options\n--days N, --out D: hoptrace ca -h"},
	{"help", cmd_help, 0, NULL, NULL},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))
#define SYNOPSIS_WIDTH 32

static void usage(FILE *f)
{
	fprintf(f, "usage: hoptrace [-f CONF] [--json] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *h = commands[i].help;
		if (!commands[i].synopsis)
			continue;
		fprintf(f, "  %-*s ", SYNOPSIS_WIDTH, commands[i].synopsis);
		for (const char *nl; (nl = strchr(h, '\n')); h = nl + 1) /* under the first */
			fprintf(f, "%.*s\n%*s", (int)(nl - h), h, SYNOPSIS_WIDTH + 3, "");
		fprintf(f, "%s\n", h);
	}
	fprintf(f,
		"\n"
		"options:\n"
		"  -f CONF        configuration file (default %s)\n"
		"  --json         print the collector's answer as JSON, unchanged\n"
		"  --preload-file FILE  the file enable/disable edit (default %s)\n"
		"  --output FILE  metrics: write FILE atomically (node_exporter textfile)\n"
		"  --timeout MS   how long to wait for the collector (default 5000)\n"
		"  -h, --help     this text\n"
		"\n"
		"exit status: 0 ok, 1 the collector answered an error, 2 usage,\n"
		"3 the collector is unreachable\n",
		HT_CONF_DEFAULT, CLI_PRELOAD_FILE_DEFAULT);
}

static int cmd_help(int argc, char **argv)
{
	usage(stdout);
	return CLI_EX_OK;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* ---- options ---------------------------------------------------------------- */

enum { O_JSON = 256, O_PRELOAD, O_DOT, O_TIMEOUT, O_OUTPUT };

static const struct option longopts[] = {
	{"json", no_argument, NULL, O_JSON},
	{"dot", no_argument, NULL, O_DOT},
	{"preload-file", required_argument, NULL, O_PRELOAD},
	{"timeout", required_argument, NULL, O_TIMEOUT},
	{"output", required_argument, NULL, O_OUTPUT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Options are accepted before and after the command (`hoptrace chain 1 --json`).
 * permute == 0: stop at the first word (the command); optind points at it.
 * permute != 0: argv[0] is the command; every other word goes to rest[]. */
static int parse_opts(int argc, char **argv, int permute, char **rest, int *nrest)
{
	int c;

	optind = 0; /* glibc: 0 re-initialises getopt (we parse twice) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, permute ? "-:f:h" : "+:f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 1: /* a word after the command */
			rest[(*nrest)++] = optarg;
			break;
		case 'f':
			cli_opt.conf = optarg;
			cli_opt.conf_given = 1;
			break;
		case 'h':
			usage(stdout);
			exit(CLI_EX_OK);
		case O_JSON:
			cli_opt.json = 1;
			break;
		case O_DOT:
			cli_opt.dot = 1;
			break;
		case O_PRELOAD:
			if (!*optarg)
				return cli_usage_err("--preload-file needs a file%s", NULL), -1;
			cli_opt.preload_file = optarg;
			break;
		case O_OUTPUT:
			if (!*optarg)
				return cli_usage_err("--output needs a file%s", NULL), -1;
			cli_opt.output = optarg;
			break;
		case O_TIMEOUT: {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (*end || t <= 0 || t > 600000)
				return cli_usage_err("bad --timeout (milliseconds): %s", optarg), -1;
			cli_opt.timeout_ms = (int)t;
			break;
		}
		case ':':
			return cli_usage_err("option needs an argument: %s", argv[optind - 1]), -1;
		default:
			return cli_usage_err("unknown option: %s", argv[optind - 1]), -1;
		}
	}
	if (permute) /* words after "--" */
		while (optind < argc)
			rest[(*nrest)++] = argv[optind++];
	return 0;
}

/* ---- main ------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	const struct command *cmd;
	char **rest, **sub;
	int nrest = 0, nsub;

	/* global options up to the command */
	if (parse_opts(argc, argv, 0, NULL, NULL) < 0)
		return CLI_EX_USAGE;
	if (optind >= argc) {
		usage(stderr);
		return CLI_EX_USAGE;
	}
	sub = argv + optind;
	nsub = argc - optind;
	cmd = find_command(sub[0]);
	if (cmd && (cmd->flags & CMD_OWN_ARGS)) {
		if ((cmd->flags & CMD_CONF) && cli_conf_load() < 0)
			return CLI_EX_USAGE;
		return cmd->run(nsub, sub);
	}
	/* options may also follow the command words */
	if (!(rest = calloc((size_t)nsub + 1, sizeof(*rest))))
		return CLI_EX_FAIL;
	rest[nrest++] = sub[0];
	if (parse_opts(nsub, sub, 1, rest, &nrest) < 0)
		return CLI_EX_USAGE;
	rest[nrest] = NULL;
	if (!cmd)
		return cli_usage_err("unknown command: %s", sub[0]);
	if ((cmd->flags & CMD_CONF) && cli_conf_load() < 0)
		return CLI_EX_USAGE;
	return cmd->run(nrest, rest);
}
